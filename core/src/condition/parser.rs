//! A recursive-descent parser, one function per rule of the grammar in
//! the module documentation.

use super::error::{ErrorKind, ParseError};
use super::lexer::{Tok, Token, tokens};
use super::value::Value;
use super::{CompareOp, DEPTH_MAX, Expr, LENGTH_MAX, Operand, Path};

/// Parses a whole condition.
pub(crate) fn parse(src: &str) -> Result<Expr, ParseError> {
    if src.len() > LENGTH_MAX {
        return Err(ParseError::new(
            LENGTH_MAX,
            ErrorKind::TooLong { len: src.len() },
        ));
    }
    let toks = tokens(src)?;
    if toks.len() == 1 {
        return Err(ParseError::new(0, ErrorKind::Empty));
    }
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
    };
    let expr = p.or()?;
    p.expect(&Tok::End, "'and', 'or' or the end of the condition")?;
    Ok(expr)
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    /// Parentheses, `not`s and lists open around the current token.
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        // The lexer always ends with Tok::End, which is never consumed
        // past, so `pos` stays in bounds; `last` covers it regardless.
        let last = self.toks.len() - 1;
        &self.toks[self.pos.min(last)]
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if t.tok != Tok::End {
            self.pos += 1;
        }
        t
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(&self.peek().tok, Tok::Word(x) if x == w)
    }

    fn error(&self, expected: &'static str) -> ParseError {
        let t = self.peek();
        let found = t.tok.describe();
        ParseError::new(t.at, ErrorKind::Expected { expected, found })
    }

    fn expect(&mut self, tok: &Tok, expected: &'static str) -> Result<(), ParseError> {
        if &self.peek().tok == tok {
            self.bump();
            Ok(())
        } else {
            Err(self.error(expected))
        }
    }

    /// Enters one level of nesting, opened by the token at `at`.
    fn nest(&mut self, at: usize) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > DEPTH_MAX {
            return Err(ParseError::new(at, ErrorKind::TooDeep));
        }
        Ok(())
    }

    /// `or = and { "or" and }`
    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut terms = vec![self.and()?];
        while self.is_word("or") {
            self.bump();
            terms.push(self.and()?);
        }
        Ok(flatten(terms, Expr::Or))
    }

    /// `and = not { "and" not }`
    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut terms = vec![self.not()?];
        while self.is_word("and") {
            self.bump();
            terms.push(self.not()?);
        }
        Ok(flatten(terms, Expr::And))
    }

    /// `not = "not" not | primary`
    fn not(&mut self) -> Result<Expr, ParseError> {
        if !self.is_word("not") {
            return self.primary();
        }
        self.nest(self.peek().at)?;
        self.bump();
        let inner = self.not()?;
        self.depth -= 1;
        Ok(Expr::Not(Box::new(inner)))
    }

    /// `primary = "(" or ")" | "exists" path | comparison`
    fn primary(&mut self) -> Result<Expr, ParseError> {
        if self.peek().tok == Tok::LParen {
            self.nest(self.peek().at)?;
            self.bump();
            let inner = self.or()?;
            self.expect(&Tok::RParen, "')' or a comparison operator")?;
            self.depth -= 1;
            return Ok(inner);
        }
        if self.is_word("exists") {
            self.bump();
            return match self.operand()? {
                Operand::Path(p) => Ok(Expr::Exists(p)),
                Operand::Literal(_) => Err(self.error_before("a path after 'exists'")),
            };
        }
        self.comparison()
    }

    /// An error about the token just consumed.
    fn error_before(&self, expected: &'static str) -> ParseError {
        let t = &self.toks[self.pos.saturating_sub(1)];
        let found = t.tok.describe();
        ParseError::new(t.at, ErrorKind::Expected { expected, found })
    }

    /// `comparison = operand ( cmp operand | [ "not" ] "in" operand )`
    fn comparison(&mut self) -> Result<Expr, ParseError> {
        let left = self.operand()?;
        let op = match self.peek().tok.clone() {
            Tok::Cmp(op) => op,
            Tok::Word(w) if w == "in" => CompareOp::In,
            Tok::Word(w) if w == "not" => {
                self.bump();
                if !self.is_word("in") {
                    return Err(self.error("'in' after 'not'"));
                }
                CompareOp::NotIn
            }
            _ => {
                return Err(self.error(
                    "a comparison operator (==, !=, <, <=, >, >=, in); \
                     to test a flag write == true",
                ));
            }
        };
        self.bump();
        let right = self.operand()?;
        Ok(Expr::Compare { left, op, right })
    }

    /// `operand = path | literal`
    fn operand(&mut self) -> Result<Operand, ParseError> {
        let t = self.peek().clone();
        match t.tok {
            Tok::Word(w) if !is_keyword(&w) => self.path(w).map(Operand::Path),
            Tok::Word(ref w) if matches!(w.as_str(), "true" | "false" | "null") => {
                self.literal().map(Operand::Literal)
            }
            Tok::Str(_) | Tok::Num(_) | Tok::LBracket => self.literal().map(Operand::Literal),
            _ => Err(self.error("a value or a path such as A.result.status")),
        }
    }

    /// `path = name { "." ( segment | string ) }`, at a name already peeked.
    fn path(&mut self, first: String) -> Result<Path, ParseError> {
        self.bump();
        let mut segments = vec![first];
        while self.peek().tok == Tok::Dot {
            self.bump();
            match self.bump().tok {
                Tok::Word(w) | Tok::Str(w) => segments.push(w),
                _ => return Err(self.error_before("a field name after '.'")),
            }
        }
        Ok(Path { segments })
    }

    /// `literal = string | number | "true" | "false" | "null" | list`
    fn literal(&mut self) -> Result<Value, ParseError> {
        let t = self.bump();
        Ok(match t.tok {
            Tok::Str(s) => Value::String(s),
            Tok::Num(n) => Value::Number(n),
            Tok::Word(w) if w == "true" => Value::Bool(true),
            Tok::Word(w) if w == "false" => Value::Bool(false),
            Tok::Word(w) if w == "null" => Value::Null,
            Tok::LBracket => self.list(t.at)?,
            _ => {
                return Err(self
                    .error_before("a literal (a string, a number, true, false, null or a list)"));
            }
        })
    }

    /// `list = "[" [ literal { "," literal } [ "," ] ] "]"`, after its `[`
    /// (at `at`).
    fn list(&mut self, at: usize) -> Result<Value, ParseError> {
        self.nest(at)?;
        let mut items = Vec::new();
        while self.peek().tok != Tok::RBracket {
            items.push(self.literal()?);
            if self.peek().tok != Tok::Comma {
                break;
            }
            self.bump();
        }
        self.expect(&Tok::RBracket, "',' or ']'")?;
        self.depth -= 1;
        Ok(Value::List(items))
    }
}

/// Words that cannot start a path (they can be a later segment:
/// `A.result.in` is fine).
fn is_keyword(w: &str) -> bool {
    matches!(
        w,
        "and" | "or" | "not" | "in" | "exists" | "true" | "false" | "null"
    )
}

/// One term stays itself; several become one n-ary node, so a long chain
/// of `and`s is flat rather than a deep tree.
fn flatten(mut terms: Vec<Expr>, node: fn(Vec<Expr>) -> Expr) -> Expr {
    if terms.len() == 1 {
        terms.pop().expect("checked: one term")
    } else {
        node(terms)
    }
}
