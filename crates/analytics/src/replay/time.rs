//! RFC 3339 timestamps to Unix nanoseconds, with a fast path for the shape Warden
//! writes (`2026-03-04T05:06:07.123456789Z`, or with a `±HH:MM` offset).
//!
//! Falls back to the `time` crate for anything else; never guesses a time zone.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Unix nanoseconds of an RFC 3339 timestamp.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    fast(s.as_bytes()).or_else(|| {
        OffsetDateTime::parse(s, &Rfc3339)
            .ok()
            .and_then(|t| i64::try_from(t.unix_timestamp_nanos()).ok())
    })
}

fn digits(b: &[u8]) -> Option<i64> {
    let mut v = 0i64;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

fn fast(b: &[u8]) -> Option<i64> {
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let frac = &b[start..i];
        if frac.is_empty() || frac.len() > 9 {
            return None;
        }
        nanos = digits(frac)? * 10i64.pow(9 - u32::try_from(frac.len()).ok()?);
    }
    let offset = match &b[i..] {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let v = digits(&[*h1, *h2])? * 3600 + digits(&[*m1, *m2])? * 60;
            if *sign == b'-' {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slow(s: &str) -> i64 {
        i64::try_from(
            OffsetDateTime::parse(s, &Rfc3339)
                .unwrap()
                .unix_timestamp_nanos(),
        )
        .unwrap()
    }

    #[test]
    fn fast_path_agrees_with_the_time_crate() {
        for s in [
            "2026-03-04T05:06:07Z",
            "2026-03-04T05:06:07.5Z",
            "2026-03-04T05:06:07.123456789Z",
            "2024-02-29T23:59:59+02:00",
            "1999-12-31T00:00:00.000001-05:30",
            "1970-01-01T00:00:00Z",
        ] {
            assert_eq!(fast(s.as_bytes()), Some(slow(s)), "{s}");
            assert_eq!(parse_rfc3339(s), Some(slow(s)));
        }
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_rfc3339("2026-13-04T05:06:07Z"), None);
    }
}
