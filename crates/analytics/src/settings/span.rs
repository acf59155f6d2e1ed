//! Durations as written in `warden.yaml`: `90s`, `15m`, `2h`, `28d`, `1w`.
//!
//! Parsing only; never reads a clock.

use std::fmt;

/// Nanoseconds in one second.
pub const SECOND: i64 = 1_000_000_000;
/// Nanoseconds in one minute.
pub const MINUTE: i64 = 60 * SECOND;
/// Nanoseconds in one hour.
pub const HOUR: i64 = 60 * MINUTE;
/// Nanoseconds in one day.
pub const DAY: i64 = 24 * HOUR;

/// A span of event time, in nanoseconds (always positive once parsed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(pub i64);

impl Span {
    pub const fn secs(s: i64) -> Span {
        Span(s * SECOND)
    }
    pub const fn mins(m: i64) -> Span {
        Span(m * MINUTE)
    }
    pub const fn hours(h: i64) -> Span {
        Span(h * HOUR)
    }
    pub const fn days(d: i64) -> Span {
        Span(d * DAY)
    }
    pub fn nanos(self) -> i64 {
        self.0
    }

    /// Parse `<integer><unit>` with unit `s`, `m`, `h`, `d` or `w`.
    pub fn parse(text: &str) -> Result<Span, String> {
        let t = text.trim();
        let split = t
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| format!("`{t}` has no unit: write e.g. 90s, 15m, 2h, 28d"))?;
        let (digits, unit) = t.split_at(split);
        let n: i64 = digits
            .parse()
            .map_err(|_| format!("`{t}` must start with a whole number, e.g. 15m"))?;
        let scale = match unit {
            "s" => SECOND,
            "m" => MINUTE,
            "h" => HOUR,
            "d" => DAY,
            "w" => 7 * DAY,
            _ => {
                return Err(format!(
                    "`{t}`: unknown unit `{unit}` (use s, m, h, d or w)"
                ))
            }
        };
        if n == 0 {
            return Err(format!("`{t}` must be longer than zero"));
        }
        n.checked_mul(scale)
            .filter(|v| *v <= 3650 * DAY)
            .map(Span)
            .ok_or_else(|| format!("`{t}` is longer than ten years"))
    }
}

impl fmt::Display for Span {
    /// The largest unit that divides the span exactly (`15m`, `28d`, `90s`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (unit, scale) in [("d", DAY), ("h", HOUR), ("m", MINUTE)] {
            if n >= scale && n % scale == 0 {
                return write!(f, "{}{unit}", n / scale);
            }
        }
        write!(f, "{}s", n / SECOND)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_units() {
        assert_eq!(Span::parse("90s"), Ok(Span::secs(90)));
        assert_eq!(Span::parse("15m"), Ok(Span::mins(15)));
        assert_eq!(Span::parse(" 2h"), Ok(Span::hours(2)));
        assert_eq!(Span::parse("28d"), Ok(Span::days(28)));
        assert_eq!(Span::parse("1w"), Ok(Span::days(7)));
        assert_eq!(Span::mins(90).to_string(), "90m");
        assert_eq!(Span::secs(90).to_string(), "90s");
        assert_eq!(Span::days(28).to_string(), "28d");
    }

    #[test]
    fn rejects_nonsense() {
        assert!(Span::parse("15").is_err());
        assert!(Span::parse("m").is_err());
        assert!(Span::parse("0s").is_err());
        assert!(Span::parse("5y").is_err());
        assert!(Span::parse("99999999999d").is_err());
    }
}
