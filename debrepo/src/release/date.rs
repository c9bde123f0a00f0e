//! The RFC 2822 / RFC 1123 dates of Release files
//! (`Sat, 12 Sep 2026 07:55:41 UTC`), as seconds since the Unix epoch.

/// A date that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid date {0:?} (expected e.g. 'Sat, 12 Sep 2026 07:55:41 UTC')")]
pub struct DateError(pub String);

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Parse `[Day, ]DD Mon YYYY HH:MM:SS ZONE` where ZONE is `UTC`, `GMT`, `Z`
/// or a numeric offset `+HHMM`/`-HHMM`; returns Unix seconds.
pub fn parse(s: &str) -> Result<i64, DateError> {
    let err = || DateError(s.to_owned());
    let body = match s.split_once(',') {
        Some((_, rest)) => rest,
        None => s,
    };
    let mut it = body.split_ascii_whitespace();
    let mut next = || it.next().ok_or_else(err);
    let day: u32 = next()?.parse().map_err(|_| err())?;
    let mon = next()?;
    let month = MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(mon))
        .ok_or_else(err)? as u32
        + 1;
    let year: i64 = next()?.parse().map_err(|_| err())?;
    let time = next()?;
    let mut hms = time.split(':').map(|p| p.parse::<u32>().map_err(|_| err()));
    let hour = hms.next().ok_or_else(err)??;
    let min = hms.next().ok_or_else(err)??;
    let sec = hms.next().transpose()?.unwrap_or(0);
    if hms.next().is_some() {
        return Err(err());
    }
    let zone = it.next().unwrap_or("UTC");
    let offset = match zone {
        "UTC" | "GMT" | "Z" | "UT" => 0,
        z if z.len() == 5 && (z.starts_with('+') || z.starts_with('-')) => {
            let n: i64 = z[1..].parse().map_err(|_| err())?;
            let secs = (n / 100) * 3600 + (n % 100) * 60;
            if z.starts_with('-') {
                -secs
            } else {
                secs
            }
        }
        _ => return Err(err()),
    };
    if it.next().is_some()
        || !(1..=31).contains(&day)
        || hour > 23
        || min > 59
        || sec > 60
        || day > days_in_month(year, month)
    {
        return Err(err());
    }
    let days = days_from_civil(year, month, day);
    Ok(days * 86400 + (hour * 3600 + min * 60 + sec) as i64 - offset)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn dates() {
        assert_eq!(parse("Thu, 01 Jan 1970 00:00:00 UTC"), Ok(0));
        assert_eq!(parse("Sat, 12 Sep 2026 07:55:41 UTC"), Ok(1789199741));
        assert_eq!(parse("12 Sep 2026 07:55:41 +0100"), Ok(1789199741 - 3600));
        assert_eq!(parse("Sat, 29 Feb 2020 00:00:00 GMT"), Ok(1582934400));
        assert!(parse("Sat, 30 Feb 2020 00:00:00 UTC").is_err());
        assert!(parse("Sat, 12 Sept 2026 07:55:41 UTC").is_err());
        assert!(parse("yesterday").is_err());
    }
}

/// Unix seconds of a UTC date and time; `None` if a part is out of range.
pub fn from_parts(y: i64, m: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<i64> {
    let valid =
        (1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m) && h < 24 && mi < 60 && s < 61;
    valid.then(|| days_from_civil(y, m, d) * 86400 + (h * 3600 + mi * 60 + s) as i64)
}

/// The UTC date and time of Unix seconds: (year, month, day, hour, minute, second).
pub fn parts(t: i64) -> (i64, u32, u32, u32, u32, u32) {
    let (y, m, d) = civil_from_days(t.div_euclid(86400));
    let secs = t.rem_euclid(86400) as u32;
    (y, m, d, secs / 3600, secs % 3600 / 60, secs % 60)
}

/// Format Unix seconds as in Release files (`Sat, 12 Sep 2026 07:55:41 UTC`).
pub fn format(t: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    let days = t.div_euclid(86400);
    let secs = t.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} UTC",
        DAYS[days.rem_euclid(7) as usize],
        d,
        MONTHS[m as usize - 1],
        y,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod format_tests {
    #[test]
    fn round_trip() {
        for t in [0, 1_789_199_741, 1_582_934_400, 2_082_758_400, 951_782_400] {
            assert_eq!(
                super::parse(&super::format(t)),
                Ok(t),
                "{}",
                super::format(t)
            );
        }
        assert_eq!(
            super::format(1_789_199_741),
            "Sat, 12 Sep 2026 07:55:41 UTC"
        );
    }
}
