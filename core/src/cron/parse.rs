//! The hand-written parser of 5-field cron expressions.
//!
//! Hand-written rather than a crate because the core takes no dependency
//! beyond serde, jiff, uuid and thiserror, and because a person typing
//! `vayu schedule create --cron …` deserves an error that names the field
//! and the byte where it went wrong, which no cron crate gives.

use std::fmt;

/// The maximum length of an expression, in bytes. A list of all 60
/// minutes is 169 bytes; twice that and more is room enough for any
/// expression a person writes, and the bound keeps an error message that
/// quotes the input short.
pub const MAX_LEN: usize = 512;

/// The macros and the expressions they stand for (Vixie cron's, minus
/// `@reboot`, which has no meaning when no process owns the schedule).
const MACROS: [(&str, &str); 7] = [
    ("@hourly", "0 * * * *"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@weekly", "0 0 * * 0"),
    ("@monthly", "0 0 1 * *"),
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
];

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// The longest month each month can have (February in a leap year).
const MONTH_DAYS: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/// One of the five fields, in their order in an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

impl Field {
    const ALL: [Field; 5] = [
        Field::Minute,
        Field::Hour,
        Field::DayOfMonth,
        Field::Month,
        Field::DayOfWeek,
    ];

    /// The values a field admits. Day-of-week admits 7 as Sunday, as
    /// every cron since Vixie's does.
    fn bounds(self) -> (u32, u32) {
        match self {
            Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::DayOfWeek => (0, 7),
        }
    }

    /// The names a field admits, and the value of the first one.
    fn names(self) -> (&'static [&'static str], u32) {
        match self {
            Field::Month => (&MONTHS, 1),
            Field::DayOfWeek => (&WEEKDAYS, 0),
            _ => (&[], 0),
        }
    }

    /// What an item of this field may be, for an error message.
    fn expected(self) -> &'static str {
        match self {
            Field::Minute => "'*' or a number 0-59",
            Field::Hour => "'*' or a number 0-23",
            Field::DayOfMonth => "'*' or a number 1-31",
            Field::Month => "'*', a number 1-12 or a name jan-dec",
            Field::DayOfWeek => "'*', a number 0-7 (0 and 7 are sunday) or a name sun-sat",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
        })
    }
}

/// Why an expression does not parse. Every variant says where (a byte
/// offset into the expression as given) and what would have been right.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error(
        "empty cron expression: expected 5 fields (minute hour day-of-month month day-of-week) or a macro such as @daily"
    )]
    Empty,
    #[error("cron expression is {len} bytes long: at most {MAX_LEN} are allowed")]
    TooLong { len: usize },
    #[error(
        "expected 5 fields (minute hour day-of-month month day-of-week), found {found} at {pos}"
    )]
    FieldCount { found: usize, pos: usize },
    #[error(
        "unknown macro '{name}' at {pos}: expected one of @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually"
    )]
    UnknownMacro { name: String, pos: usize },
    #[error("a macro stands alone: expected nothing after it, found '{found}' at {pos}")]
    AfterMacro { found: String, pos: usize },
    #[error("{field}: {problem} at {pos}")]
    Field {
        field: Field,
        problem: Problem,
        pos: usize,
    },
}

/// What is wrong inside one field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("{value} is out of range {lo}-{hi}")]
    OutOfRange { value: String, lo: u32, hi: u32 },
    #[error("expected {expected}, found {found}")]
    Unexpected {
        expected: &'static str,
        found: String,
    },
    #[error("range {lo}-{hi} runs backwards: expected its start to be at most its end")]
    Backwards { lo: u32, hi: u32 },
    #[error("a step needs a range to step through: write '{value}-{hi}/{step}' or '*/{step}'")]
    StepWithoutRange { value: u32, hi: u32, step: String },
    #[error(
        "'{days}' never falls in the allowed months (february has 29 days at most): expected a day that exists in one of them"
    )]
    NeverOccurs { days: String },
}

/// The five fields as bit sets (bit n set: value n allowed), and whether
/// day-of-month and day-of-week began with `*` (Vixie's rule for how the
/// two combine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Sets {
    pub minutes: u64,
    pub hours: u64,
    pub days: u64,
    pub months: u64,
    pub weekdays: u64,
    pub day_star: bool,
    pub weekday_star: bool,
}

/// Parses `text` (surrounding whitespace allowed) into its sets.
pub(super) fn parse(text: &str) -> Result<Sets, CronError> {
    if text.len() > MAX_LEN {
        return Err(CronError::TooLong { len: text.len() });
    }
    let tokens = tokens(text);
    let Some(&(first_pos, first)) = tokens.first() else {
        return Err(CronError::Empty);
    };
    if first.starts_with('@') {
        if let Some(&(pos, extra)) = tokens.get(1) {
            return Err(CronError::AfterMacro {
                found: extra.to_string(),
                pos,
            });
        }
        let (_, expansion) = MACROS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(first))
            .ok_or_else(|| CronError::UnknownMacro {
                name: first.to_string(),
                pos: first_pos,
            })?;
        return parse(expansion);
    }
    if tokens.len() != 5 {
        let pos = tokens.get(5).map_or(text.len(), |&(pos, _)| pos);
        return Err(CronError::FieldCount {
            found: tokens.len(),
            pos,
        });
    }
    let mut bits = [0u64; 5];
    for (i, &(pos, token)) in tokens.iter().enumerate() {
        bits[i] = parse_field(token, pos, Field::ALL[i])?;
    }
    let sets = Sets {
        minutes: bits[0],
        hours: bits[1],
        days: bits[2],
        months: bits[3],
        weekdays: bits[4],
        day_star: tokens[2].1.starts_with('*'),
        weekday_star: tokens[4].1.starts_with('*'),
    };
    check_occurs(&sets, tokens[2])?;
    Ok(sets)
}

/// The whitespace-separated tokens of `text` with their byte offsets.
fn tokens(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, b) in text.bytes().enumerate() {
        match (b.is_ascii_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, &text[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &text[s..]));
    }
    out
}

/// Refuses a day-of-month that no allowed month has (`0 0 30 2 *`), when
/// day-of-week does not widen it: such a schedule would never fire, and
/// saying so at creation beats a schedule that silently does nothing.
fn check_occurs(sets: &Sets, (pos, days): (usize, &str)) -> Result<(), CronError> {
    let widened = !sets.day_star && !sets.weekday_star;
    let occurs = (1..=12u32).any(|m| {
        sets.months & (1 << m) != 0
            && (1..=MONTH_DAYS[m as usize - 1]).any(|d| sets.days & (1 << d) != 0)
    });
    if widened || occurs {
        return Ok(());
    }
    Err(CronError::Field {
        field: Field::DayOfMonth,
        problem: Problem::NeverOccurs {
            days: days.to_string(),
        },
        pos,
    })
}

/// One field: items separated by commas. Bit 7 of day-of-week (Sunday
/// written as 7) is folded into bit 0.
fn parse_field(token: &str, pos: usize, field: Field) -> Result<u64, CronError> {
    let mut bits = 0u64;
    let mut offset = 0;
    for item in token.split(',') {
        bits |= parse_item(item, pos + offset, field)?;
        offset += item.len() + 1;
    }
    if field == Field::DayOfWeek && bits & (1 << 7) != 0 {
        bits = (bits & !(1 << 7)) | 1;
    }
    Ok(bits)
}

/// One item: `*`, `v` or `a-b`, then optionally `/step`.
fn parse_item(item: &str, pos: usize, field: Field) -> Result<u64, CronError> {
    let (lo_bound, hi_bound) = field.bounds();
    let (range, step) = match item.split_once('/') {
        Some((range, step)) => (range, Some(step)),
        None => (item, None),
    };
    let (lo, hi, is_range) = if range == "*" {
        (lo_bound, hi_bound, true)
    } else if let Some((a, b)) = range.split_once('-') {
        let lo = value(a, pos, field)?;
        let hi = value(b, pos + a.len() + 1, field)?;
        if lo > hi {
            return Err(field_error(field, Problem::Backwards { lo, hi }, pos));
        }
        (lo, hi, true)
    } else {
        let v = value(range, pos, field)?;
        (v, v, false)
    };
    let step = match step {
        None => 1,
        Some(text) => {
            let step_pos = pos + range.len() + 1;
            if !is_range {
                let problem = Problem::StepWithoutRange {
                    value: lo,
                    hi: hi_bound,
                    step: text.to_string(),
                };
                return Err(field_error(field, problem, pos));
            }
            number(text, step_pos, field, (1, hi_bound))?
        }
    };
    Ok((lo..=hi)
        .step_by(step as usize)
        .fold(0, |acc, v| acc | 1 << v))
}

/// A value: a number within the field's bounds, or one of its names.
fn value(text: &str, pos: usize, field: Field) -> Result<u32, CronError> {
    let (names, first) = field.names();
    if !names.is_empty() && text.bytes().all(|b| b.is_ascii_alphabetic()) && !text.is_empty() {
        return names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(text))
            .map(|i| first + i as u32)
            .ok_or_else(|| unexpected(field, text, pos));
    }
    number(text, pos, field, field.bounds())
}

/// A decimal number in `lo..=hi`.
fn number(text: &str, pos: usize, field: Field, (lo, hi): (u32, u32)) -> Result<u32, CronError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(unexpected(field, text, pos));
    }
    // Nine digits cannot overflow a u32; anything longer is out of range.
    let n = if text.len() <= 9 {
        text.parse::<u32>().ok()
    } else {
        None
    };
    match n {
        Some(n) if (lo..=hi).contains(&n) => Ok(n),
        _ => {
            let value = text.to_string();
            Err(field_error(
                field,
                Problem::OutOfRange { value, lo, hi },
                pos,
            ))
        }
    }
}

fn unexpected(field: Field, found: &str, pos: usize) -> CronError {
    let found = if found.is_empty() {
        "nothing".to_string()
    } else {
        format!("'{found}'")
    };
    let expected = field.expected();
    field_error(field, Problem::Unexpected { expected, found }, pos)
}

fn field_error(field: Field, problem: Problem, pos: usize) -> CronError {
    CronError::Field {
        field,
        problem,
        pos,
    }
}
