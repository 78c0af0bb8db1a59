//! Simulated time: milliseconds since the Unix epoch, UTC, and calendar arithmetic on it.
//!
//! Ages in conditions are calendar ages (a birthday is a birthday), so this file converts
//! between day numbers and civil dates with integer arithmetic (no time zones, no allocation).
//! Nothing here reads the wall clock.

/// A point in simulated time: milliseconds since 1970-01-01T00:00:00Z.
pub type Time = i64;

pub const SECOND: i64 = 1_000;
pub const MINUTE: i64 = 60 * SECOND;
pub const HOUR: i64 = 60 * MINUTE;
pub const DAY: i64 = 24 * HOUR;
pub const WEEK: i64 = 7 * DAY;
/// A mean Gregorian year.
pub const YEAR: i64 = 31_556_952_000;

/// A civil date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Date {
    pub fn new(year: i32, month: u32, day: u32) -> Option<Date> {
        let d = Date { year, month, day };
        ((1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month)).then_some(d)
    }

    /// Parses `YYYY-MM-DD` (or `YYYYMMDD`, as Synthea's `-r` takes it).
    pub fn parse(text: &str) -> Option<Date> {
        let t = text.trim();
        let (y, m, d) = if t.len() == 8 && t.bytes().all(|b| b.is_ascii_digit()) {
            (&t[0..4], &t[4..6], &t[6..8])
        } else {
            let mut parts = t.split('-');
            let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
            if parts.next().is_some() || y.len() != 4 {
                return None;
            }
            (y, m, d)
        };
        Date::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
    }

    /// Midnight UTC of this date.
    pub fn time(self) -> Time {
        days_from_civil(self.year, self.month, self.day) * DAY
    }

    pub fn of(time: Time) -> Date {
        let (year, month, day) = civil_from_days(time.div_euclid(DAY));
        Date { year, month, day }
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

pub fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (era-based integer arithmetic).
pub fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number (inverse of [`days_from_civil`]).
pub fn civil_from_days(days: i64) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    (year, month, day)
}

/// Whole calendar years from `birth` to `now`.
pub fn age_years(birth: Date, now: Date) -> i32 {
    let mut years = now.year - birth.year;
    if (now.month, now.day) < (birth.month, birth.day) {
        years -= 1;
    }
    years
}

/// Whole calendar months from `birth` to `now`.
pub fn age_months(birth: Date, now: Date) -> i32 {
    let mut months = (now.year - birth.year) * 12 + now.month as i32 - birth.month as i32;
    if now.day < birth.day {
        months -= 1;
    }
    months
}

/// `2024-01-31T12:00:00Z`
pub fn iso_datetime(t: Time) -> String {
    let d = Date::of(t);
    let ms = t.rem_euclid(DAY);
    format!("{d}T{:02}:{:02}:{:02}Z", ms / HOUR, (ms % HOUR) / MINUTE, (ms % MINUTE) / SECOND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_over_four_centuries() {
        for days in (-200_000..200_000).step_by(37) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(Date::parse("2000-02-29").unwrap().time(), 951_782_400_000);
    }

    #[test]
    fn ages_are_calendar_ages() {
        let birth = Date::new(2000, 2, 29).unwrap();
        assert_eq!(age_years(birth, Date::new(2001, 2, 28).unwrap()), 0);
        assert_eq!(age_years(birth, Date::new(2001, 3, 1).unwrap()), 1);
        assert_eq!(age_months(birth, Date::new(2000, 3, 28).unwrap()), 0);
        assert_eq!(age_months(birth, Date::new(2000, 3, 29).unwrap()), 1);
    }

    #[test]
    fn parses_both_date_forms_and_rejects_bad_ones() {
        assert_eq!(Date::parse("20240131"), Date::new(2024, 1, 31));
        assert_eq!(Date::parse("2024-01-31"), Date::new(2024, 1, 31));
        assert_eq!(Date::parse("2023-02-29"), None);
        assert_eq!(Date::parse("2024-13-01"), None);
        assert_eq!(Date::parse("yesterday"), None);
        assert_eq!(
            iso_datetime(Date::new(2024, 1, 31).unwrap().time() + 12 * HOUR + 5 * MINUTE),
            "2024-01-31T12:05:00Z"
        );
    }
}
