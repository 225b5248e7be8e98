//! Conditions: `--if 'A.result.status == "ok"'`, a small expression
//! language over the results of a task's dependencies. Pure: the edge
//! reads the dependencies, turns each into a [`Value`] and asks
//! [`Condition::evaluate`]; an unmet condition ends the task as skipped.
//!
//! Why a language of our own, hand-parsed: it must be checked at creation
//! (a typo is an error with a position, not a task that silently never
//! runs), evaluated by any agent with the same answer, and bounded so that
//! a hostile condition cannot exhaust an agent. A general-purpose engine
//! would give none of that for free, and the core takes no dependency.
//!
//! # Grammar
//!
//! ```text
//! condition  = or ;
//! or         = and { "or" and } ;
//! and        = not { "and" not } ;
//! not        = "not" not | primary ;
//! primary    = "(" or ")" | "exists" path | comparison ;
//! comparison = operand ( cmp operand | [ "not" ] "in" operand ) ;
//! cmp        = "==" | "!=" | "<" | "<=" | ">" | ">=" ;
//! operand    = path | literal ;
//! path       = name { "." ( segment | string ) } ;
//! literal    = string | number | "true" | "false" | "null" | list ;
//! list       = "[" [ literal { "," literal } [ "," ] ] "]" ;
//! name       = word, not a keyword ;   (* the dependency's name *)
//! segment    = word ;                  (* keywords and digits allowed *)
//! word       = { letter | digit | "_" | "-" } ;  (* one or more *)
//! number     = [ "-" ] digit { digit } [ "." digit { digit } ] ;
//! string     = '"' { char | "\" ( '"' | "\" | "n" | "r" | "t"
//!                                | "u{" hex { hex } "}" ) } '"' ;
//! ```
//!
//! Keywords (`and or not in exists true false null`) are lowercase. A
//! word made of digits alone (after an optional `-`) is a number, except
//! after a `.`, where `A.result.items.0` is the first element of a list.
//! A key that is not a word is quoted: `A.result."time (s)"`.
//! Letters are those of any script. Whitespace separates tokens and is
//! otherwise ignored. `and` binds tighter than `or`, `not` tighter than
//! `and`, and a comparison tighter than all three: `not A.x == 1 or B.y
//! == 2` is `(not (A.x == 1)) or (B.y == 2)`. A comparison is always
//! needed: `A.result.ok` alone is an error; write `A.result.ok == true`.
//!
//! # Meaning
//!
//! A path's first segment names a dependency (its id, or the step name in
//! a workflow); the edge supplies, for each, a map such as `{"status":
//! "completed", "result": {...}}`. Each later segment is a map key, or a
//! decimal index into a list. A path that leads nowhere (no such
//! dependency, key or index, or a step through a string) is `null`, and
//! `exists path` is true when it leads somewhere, even to a `null`.
//! Operators never fail: see [`compare`] for how types mix. In short,
//! values of different types are unequal and never ordered, so `A.n > 1`
//! is false when `A.n` is missing or a string, and so is `A.n <= 1`.
//!
//! # Bounds
//!
//! At most [`LENGTH_MAX`] bytes and [`DEPTH_MAX`] levels of nesting
//! (parentheses, `not`s and lists), so parsing and evaluation use a small,
//! bounded stack whatever the input.

mod bind;
mod error;
mod lexer;
mod parser;
mod value;

pub use bind::{bindings, check_names, dependency_value, names};
pub use error::{ErrorKind, ParseError};
pub use value::{Value, compare};

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

/// The longest condition accepted, in bytes.
pub const LENGTH_MAX: usize = 1_000;

/// The deepest nesting accepted (parentheses, `not`s and lists).
pub const DEPTH_MAX: usize = 32;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
}

impl CompareOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "==",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::In => "in",
            CompareOp::NotIn => "not in",
        }
    }
}

/// `A.result.status`: a dependency's name, then keys or indexes.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// At least one: the first names the dependency.
    pub segments: Vec<String>,
}

impl Path {
    /// The dependency the path reads from.
    pub fn dependency(&self) -> &str {
        self.segments.first().map_or("", String::as_str)
    }

    /// Where the path leads in `deps`, or `None` when it leads nowhere.
    pub fn resolve<'v>(&self, deps: &'v BTreeMap<String, Value>) -> Option<&'v Value> {
        let (first, rest) = self.segments.split_first()?;
        rest.iter().try_fold(deps.get(first)?, |v, key| v.get(key))
    }
}

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Path(Path),
    Literal(Value),
}

/// A parsed condition. `And` and `Or` hold two terms or more.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Compare {
        left: Operand,
        op: CompareOp,
        right: Operand,
    },
    Exists(Path),
}

/// A condition as written, and as parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    source: String,
    expr: Expr,
}

impl Condition {
    /// Parses `source`; the error says where and what is wrong, and
    /// [`ParseError::render`] draws it under the condition.
    pub fn parse(source: &str) -> Result<Condition, ParseError> {
        Ok(Condition {
            source: source.to_string(),
            expr: parser::parse(source)?,
        })
    }

    /// The condition as the user wrote it.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// The dependencies it reads, sorted, so that creation can check each
    /// is among `--after`.
    pub fn dependencies(&self) -> BTreeSet<&str> {
        let mut out = BTreeSet::new();
        self.expr.collect_dependencies(&mut out);
        out
    }

    /// Whether it holds, given each dependency by name (see the module
    /// documentation for what a dependency's value holds).
    pub fn evaluate(&self, deps: &BTreeMap<String, Value>) -> bool {
        self.expr.evaluate(deps)
    }
}

impl FromStr for Condition {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Condition::parse(s)
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Expr {
    /// Evaluates, `and` and `or` stopping at the first term that decides.
    /// The recursion is as deep as the nesting, which parsing bounds.
    pub fn evaluate(&self, deps: &BTreeMap<String, Value>) -> bool {
        match self {
            Expr::Or(terms) => terms.iter().any(|t| t.evaluate(deps)),
            Expr::And(terms) => terms.iter().all(|t| t.evaluate(deps)),
            Expr::Not(inner) => !inner.evaluate(deps),
            Expr::Exists(path) => path.resolve(deps).is_some(),
            Expr::Compare { left, op, right } => {
                compare(left.evaluate(deps), *op, right.evaluate(deps))
            }
        }
    }

    fn collect_dependencies<'a>(&'a self, out: &mut BTreeSet<&'a str>) {
        let mut add = |o: &'a Operand| {
            if let Operand::Path(p) = o {
                out.insert(p.dependency());
            }
        };
        match self {
            Expr::Or(terms) | Expr::And(terms) => {
                terms.iter().for_each(|t| t.collect_dependencies(out));
            }
            Expr::Not(inner) => inner.collect_dependencies(out),
            Expr::Exists(p) => {
                out.insert(p.dependency());
            }
            Expr::Compare { left, right, .. } => {
                add(left);
                add(right);
            }
        }
    }

    /// How tightly it binds when written out: a looser term inside a
    /// tighter one needs parentheses.
    fn rank(&self) -> u8 {
        match self {
            Expr::Or(_) => 0,
            Expr::And(_) => 1,
            Expr::Not(_) => 2,
            Expr::Compare { .. } | Expr::Exists(_) => 3,
        }
    }

    fn write_term(&self, f: &mut fmt::Formatter<'_>, parent: u8) -> fmt::Result {
        if self.rank() <= parent && self.rank() < 2 {
            write!(f, "({self})")
        } else {
            write!(f, "{self}")
        }
    }
}

impl Operand {
    fn evaluate<'v>(&'v self, deps: &'v BTreeMap<String, Value>) -> &'v Value {
        match self {
            Operand::Path(p) => p.resolve(deps).unwrap_or(&value::NULL),
            Operand::Literal(v) => v,
        }
    }
}

impl fmt::Display for Path {
    /// Segments that are not words are quoted, so it parses back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.segments.iter().enumerate() {
            f.write_str(if i > 0 { "." } else { "" })?;
            if !s.is_empty() && s.chars().all(lexer::is_word_char) {
                f.write_str(s)?;
            } else {
                value::write_string(f, s)?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Path(p) => p.fmt(f),
            Operand::Literal(v) => v.fmt(f),
        }
    }
}

impl fmt::Display for Expr {
    /// The canonical form: one space around operators, parentheses only
    /// where needed. It parses back to the same expression.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rank = self.rank();
        let join = |f: &mut fmt::Formatter<'_>, terms: &[Expr], word: &str| {
            for (i, t) in terms.iter().enumerate() {
                f.write_str(if i > 0 { word } else { "" })?;
                t.write_term(f, rank)?;
            }
            Ok(())
        };
        match self {
            Expr::Or(terms) => join(f, terms, " or "),
            Expr::And(terms) => join(f, terms, " and "),
            Expr::Not(inner) => {
                f.write_str("not ")?;
                inner.write_term(f, rank)
            }
            Expr::Exists(p) => write!(f, "exists {p}"),
            Expr::Compare { left, op, right } => write!(f, "{left} {} {right}", op.as_str()),
        }
    }
}

#[cfg(test)]
mod tests;
