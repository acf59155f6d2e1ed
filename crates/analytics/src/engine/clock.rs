//! Event time into local calendar positions (day number, hour, weekday) under the
//! configured fixed UTC offset.
//!
//! Never reads the wall clock: every time comes from a record.

use crate::settings::span::{DAY, HOUR, MINUTE};

/// A position in local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Local {
    /// Days since 1970-01-01 (local).
    pub day: i64,
    /// 0..24.
    pub hour: usize,
    /// Minutes after local midnight.
    pub minute: u32,
    /// Monday = 0.
    pub weekday: usize,
}

/// `time` (Unix ns) at `offset` seconds east of UTC.
pub fn local(time: i64, offset: i64) -> Local {
    let t = time + offset * 1_000_000_000;
    let day = t.div_euclid(DAY);
    let in_day = t.rem_euclid(DAY);
    Local {
        day,
        hour: usize::try_from(in_day / HOUR).unwrap_or(0),
        minute: u32::try_from(in_day / MINUTE).unwrap_or(0),
        weekday: weekday(day),
    }
}

/// Monday = 0 for a local day number (1970-01-01 was a Thursday).
pub fn weekday(day: i64) -> usize {
    usize::try_from((day + 3).rem_euclid(7)).unwrap_or(0)
}

/// `2026-03-04` for a day number.
pub fn date(day: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(day * 86_400)
        .map(|t| t.date().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_positions() {
        // 2024-01-01T10:30:00Z was a Monday.
        let t = 1_704_105_000 * 1_000_000_000;
        let l = local(t, 0);
        assert_eq!((l.hour, l.minute, l.weekday), (10, 630, 0));
        assert_eq!(date(l.day), "2024-01-01");
        let east = local(t, 14 * 3600);
        assert_eq!((east.hour, east.weekday), (0, 1));
        let west = local(t, -11 * 3600);
        assert_eq!((west.hour, west.weekday), (23, 6));
    }
}
