//! Splitting a condition into tokens, each with its byte offset.

use super::CompareOp;
use super::error::{ErrorKind, ParseError};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    /// `== != < <= > >=`; `in` is a word.
    Cmp(CompareOp),
    Str(String),
    Num(f64),
    /// A name, a path segment or a keyword: the parser tells them apart.
    Word(String),
    End,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub at: usize,
}

impl Tok {
    /// How an error message names it.
    pub fn describe(&self) -> String {
        match self {
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::LBracket => "'['".into(),
            Tok::RBracket => "']'".into(),
            Tok::Comma => "','".into(),
            Tok::Dot => "'.'".into(),
            Tok::Cmp(op) => format!("'{}'", op.as_str()),
            Tok::Str(s) => format!("the string {s:?}"),
            Tok::Num(n) => format!("the number {n}"),
            Tok::Word(w) => format!("'{w}'"),
            Tok::End => "the end of the condition".into(),
        }
    }
}

/// Letters (any script), digits, `_` and `-`: task ids are uuids and
/// result keys may be in any language.
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// The tokens of `src`, ending with [`Tok::End`].
pub(crate) fn tokens(src: &str) -> Result<Vec<Token>, ParseError> {
    let mut out: Vec<Token> = Vec::new();
    let mut rest = src.char_indices().peekable();
    while let Some(&(at, c)) = rest.peek() {
        let after_dot = matches!(out.last(), Some(Token { tok: Tok::Dot, .. }));
        let tok = match c {
            c if c.is_whitespace() => {
                rest.next();
                continue;
            }
            '"' => string(src, at)?,
            c if is_word_char(c) => word(src, at, after_dot)?,
            _ => punctuation(src, at)?,
        };
        let len = tok.1;
        out.push(Token { tok: tok.0, at });
        while rest.peek().is_some_and(|(i, _)| *i < at + len) {
            rest.next();
        }
    }
    out.push(Token {
        tok: Tok::End,
        at: src.len(),
    });
    Ok(out)
}

/// An operator or bracket at `at`, with its length in bytes.
fn punctuation(src: &str, at: usize) -> Result<(Tok, usize), ParseError> {
    let s = &src[at..];
    let two = |t: &str| s.starts_with(t);
    let wrong = |found, instead| {
        Err(ParseError::new(
            at,
            ErrorKind::WrongOperator { found, instead },
        ))
    };
    let c = s
        .chars()
        .next()
        .expect("punctuation is called at a character");
    Ok(match c {
        '(' => (Tok::LParen, 1),
        ')' => (Tok::RParen, 1),
        '[' => (Tok::LBracket, 1),
        ']' => (Tok::RBracket, 1),
        ',' => (Tok::Comma, 1),
        '.' => (Tok::Dot, 1),
        '=' if two("==") => (Tok::Cmp(CompareOp::Eq), 2),
        '!' if two("!=") => (Tok::Cmp(CompareOp::Ne), 2),
        '<' if two("<=") => (Tok::Cmp(CompareOp::Le), 2),
        '>' if two(">=") => (Tok::Cmp(CompareOp::Ge), 2),
        '<' => (Tok::Cmp(CompareOp::Lt), 1),
        '>' => (Tok::Cmp(CompareOp::Gt), 1),
        '=' => return wrong("=", "=="),
        '!' => return wrong("!", "not"),
        '&' if two("&&") => return wrong("&&", "and"),
        '|' if two("||") => return wrong("||", "or"),
        '\'' => return Err(ParseError::new(at, ErrorKind::SingleQuoted)),
        c => return Err(ParseError::new(at, ErrorKind::UnexpectedChar(c))),
    })
}

/// A double-quoted string starting at `at`, with its length in bytes.
fn string(src: &str, at: usize) -> Result<(Tok, usize), ParseError> {
    let mut out = String::new();
    let mut chars = src[at + 1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((Tok::Str(out), i + 2)),
            '\\' => {
                let bad = |c| ParseError::new(at + 1 + i, ErrorKind::BadEscape(c));
                let Some((_, e)) = chars.next() else { break };
                out.push(match e {
                    '"' => '"',
                    '\\' => '\\',
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    'u' => unicode_escape(&mut chars).ok_or_else(|| bad('u'))?,
                    e => return Err(bad(e)),
                });
            }
            c => out.push(c),
        }
    }
    Err(ParseError::new(at, ErrorKind::UnterminatedString))
}

/// The `{hex}` after `\u`: one to six hex digits naming a Unicode scalar.
fn unicode_escape(chars: &mut std::str::CharIndices<'_>) -> Option<char> {
    if chars.next()?.1 != '{' {
        return None;
    }
    let mut hex = String::new();
    loop {
        match chars.next()?.1 {
            '}' => break,
            c if c.is_ascii_hexdigit() && hex.len() < 6 => hex.push(c),
            _ => return None,
        }
    }
    char::from_u32(u32::from_str_radix(&hex, 16).ok()?)
}

/// A word or a number at `at`, with its length in bytes. After a `.` it is
/// always a path segment, so `A.result.2` indexes a list; elsewhere a run
/// of digits (with an optional leading `-` and decimal part) is a number.
fn word(src: &str, at: usize, after_dot: bool) -> Result<(Tok, usize), ParseError> {
    let s = &src[at..];
    let len = s.find(|c| !is_word_char(c)).unwrap_or(s.len());
    let run = &s[..len];
    let digits = run.strip_prefix('-').unwrap_or(run);
    let numeric = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    if after_dot {
        return Ok((Tok::Word(run.into()), len));
    }
    if !numeric {
        if run.starts_with('-') {
            return Err(ParseError::new(at, ErrorKind::BadNumber(run.into())));
        }
        return Ok((Tok::Word(run.into()), len));
    }
    let fraction = s[len..]
        .strip_prefix('.')
        .map(|f| f.bytes().take_while(u8::is_ascii_digit).count())
        .filter(|n| *n > 0)
        .map_or(0, |n| n + 1);
    let text = &s[..len + fraction];
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() => Ok((Tok::Num(n), text.len())),
        _ => Err(ParseError::new(at, ErrorKind::BadNumber(text.into()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok> {
        tokens(src)
            .expect("lexes")
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    fn word(w: &str) -> Tok {
        Tok::Word(w.into())
    }

    #[test]
    fn a_comparison_lexes_with_offsets() {
        let toks = tokens(r#"A.result.status == "ok""#).expect("lexes");
        let at: Vec<usize> = toks.iter().map(|t| t.at).collect();
        assert_eq!(at, [0, 1, 2, 8, 9, 16, 19, 23]);
        assert_eq!(toks[5].tok, Tok::Cmp(CompareOp::Eq));
        assert_eq!(toks[6].tok, Tok::Str("ok".into()));
    }

    #[test]
    fn numbers_are_ints_decimals_and_negatives_but_not_after_a_dot() {
        assert_eq!(
            kinds("-12 3.25 A.1.5"),
            [
                Tok::Num(-12.0),
                Tok::Num(3.25),
                word("A"),
                Tok::Dot,
                word("1"),
                Tok::Dot,
                word("5"),
                Tok::End
            ]
        );
        // A uuid is a name, not a number.
        let id = "0a1b2c3d-0000-4000-8000-000000000000";
        assert_eq!(kinds(id), [word(id), Tok::End]);
        assert_eq!(kinds("7."), [Tok::Num(7.0), Tok::Dot, Tok::End]);
    }

    #[test]
    fn bad_numbers_and_huge_ones_are_refused() {
        let err = tokens("x == -abc").expect_err("not a number");
        assert_eq!(err.at, 5);
        let huge = "9".repeat(400);
        let err = tokens(&huge).expect_err("infinite");
        assert!(matches!(err.kind, ErrorKind::BadNumber(_)));
    }

    #[test]
    fn strings_take_escapes_and_unicode() {
        assert_eq!(
            kinds(r#""a\"b\\c\n\t\r\u{e9}\u{1F600}ß""#),
            [Tok::Str("a\"b\\c\n\t\ré😀ß".into()), Tok::End]
        );
        let err = tokens(r#""abc"#).expect_err("unterminated");
        assert_eq!((err.at, err.kind), (0, ErrorKind::UnterminatedString));
        let err = tokens(r#"x == "a\qb""#).expect_err("bad escape");
        assert_eq!((err.at, err.kind), (7, ErrorKind::BadEscape('q')));
        for bad in [
            r#""\u{D800}""#,
            r#""\u{}""#,
            r#""\u{1234567}""#,
            r#""\u12""#,
        ] {
            let err = tokens(bad).expect_err(bad);
            assert_eq!(err.kind, ErrorKind::BadEscape('u'), "{bad}");
        }
        assert!(tokens("\"ends in a backslash\\").is_err());
    }

    #[test]
    fn look_alike_operators_say_what_to_write() {
        for (src, at, instead) in [
            ("A.x = 1", 4, "=="),
            ("!A", 0, "not"),
            ("a && b", 2, "and"),
            ("a || b", 2, "or"),
        ] {
            let err = tokens(src).expect_err(src);
            assert_eq!(err.at, at, "{src}");
            assert!(err.to_string().contains(instead), "{err}");
        }
        let err = tokens("a ≠ b").expect_err("not ascii");
        assert_eq!((err.at, err.kind), (2, ErrorKind::UnexpectedChar('≠')));
    }

    #[test]
    fn every_operator_lexes_and_words_may_be_in_any_script() {
        assert_eq!(
            kinds("== != < <= > >= ( ) [ ] , größe"),
            [
                Tok::Cmp(CompareOp::Eq),
                Tok::Cmp(CompareOp::Ne),
                Tok::Cmp(CompareOp::Lt),
                Tok::Cmp(CompareOp::Le),
                Tok::Cmp(CompareOp::Gt),
                Tok::Cmp(CompareOp::Ge),
                Tok::LParen,
                Tok::RParen,
                Tok::LBracket,
                Tok::RBracket,
                Tok::Comma,
                word("größe"),
                Tok::End
            ]
        );
    }
}
