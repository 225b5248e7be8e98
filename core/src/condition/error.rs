//! Why a condition was refused, and where.

use super::{DEPTH_MAX, LENGTH_MAX};

/// A condition that does not parse: what is wrong, at which byte.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at {at}")]
pub struct ParseError {
    /// Byte offset into the condition, 0 for its first character.
    pub at: usize,
    pub kind: ErrorKind,
}

/// What is wrong. Each message says what would be right instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    #[error("the condition is {len} bytes long, more than the {LENGTH_MAX} allowed")]
    TooLong { len: usize },
    #[error("the condition nests more than {DEPTH_MAX} levels deep (parentheses, not, lists)")]
    TooDeep,
    #[error("the condition is empty; write one such as A.result.status == \"ok\"")]
    Empty,
    #[error("unexpected character '{0}'")]
    UnexpectedChar(char),
    #[error("'{found}' is not an operator; write '{instead}'")]
    WrongOperator {
        found: &'static str,
        instead: &'static str,
    },
    #[error("strings are double-quoted: write \"ok\", not 'ok'")]
    SingleQuoted,
    #[error("this string has no closing '\"'")]
    UnterminatedString,
    #[error("unknown escape '\\{0}' (valid: \\\" \\\\ \\n \\r \\t \\u{{hex}})")]
    BadEscape(char),
    #[error("'{0}' is not a number (write digits, optionally a '-' before and a '.' between)")]
    BadNumber(String),
    #[error("expected {expected}, found {found}")]
    Expected {
        expected: &'static str,
        found: String,
    },
}

impl ParseError {
    pub(crate) fn new(at: usize, kind: ErrorKind) -> ParseError {
        ParseError { at, kind }
    }

    /// The condition with a caret under the error, then the message:
    ///
    /// ```text
    /// A.result.x = 1
    ///            ^ '=' is not an operator; write '==' at 11
    /// ```
    ///
    /// Control characters show as spaces so the caret stays in place; a
    /// long condition is cut to 80 characters around the error. The caret
    /// counts characters, so it may sit left of its place after
    /// double-width ones (CJK, emoji).
    pub fn render(&self, source: &str) -> String {
        const WINDOW: usize = 80;
        let chars: Vec<char> = source
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let col = source
            .char_indices()
            .take_while(|(i, _)| *i < self.at)
            .count();
        let start = col.saturating_sub(WINDOW / 2);
        let end = chars.len().min(start + WINDOW);
        let mut line = String::new();
        if start > 0 {
            line.push('…');
        }
        line.extend(&chars[start..end]);
        if end < chars.len() {
            line.push('…');
        }
        let pad = col - start + usize::from(start > 0);
        format!("{line}\n{}^ {self}", " ".repeat(pad))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caret_sits_under_the_character_even_after_unicode() {
        let e = ParseError::new(3, ErrorKind::UnexpectedChar('$'));
        assert_eq!(
            e.render("ü $ x"),
            "ü $ x\n  ^ unexpected character '$' at 3"
        );
        let e = ParseError::new(3, ErrorKind::UnexpectedChar('$'));
        assert_eq!(
            e.render("a\tb$"),
            "a b$\n   ^ unexpected character '$' at 3"
        );
    }

    #[test]
    fn a_caret_at_the_end_points_past_the_last_character() {
        let e = ParseError::new(
            3,
            ErrorKind::Expected {
                expected: "a value",
                found: "the end".into(),
            },
        );
        assert_eq!(
            e.render("A =="),
            "A ==\n   ^ expected a value, found the end at 3"
        );
    }

    #[test]
    fn a_long_condition_is_cut_around_the_error() {
        let source = format!("{}$ {}", "x".repeat(500), "y".repeat(500));
        let e = ParseError::new(500, ErrorKind::UnexpectedChar('$'));
        let shown = e.render(&source);
        let (line, caret) = shown.split_once('\n').expect("two lines");
        assert!(line.starts_with('…') && line.ends_with('…'), "{line}");
        assert_eq!(line.chars().count(), 82);
        let caret_col = caret.find('^').expect("a caret");
        assert_eq!(line.chars().nth(caret_col), Some('$'));
    }
}
