//! Times are stored as TEXT in one fixed-width UTC format, so that string order is time
//! order on every engine.

use time::OffsetDateTime;
use time::macros::format_description;

fn format(at: OffsetDateTime) -> String {
    at.format(format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"))
        .unwrap_or_default()
}

pub fn now_rfc3339() -> String {
    format(OffsetDateTime::now_utc())
}

/// Now plus (or minus, for a negative count) this many seconds.
pub fn rfc3339_in(seconds: i64) -> String {
    format(OffsetDateTime::now_utc() + time::Duration::seconds(seconds))
}

/// The start of today (UTC), in the stored format.
pub fn today_start() -> String {
    let now = OffsetDateTime::now_utc();
    format(now.replace_time(time::Time::MIDNIGHT))
}

/// Seconds from now until `at` (negative when past); `None` when `at` does not parse.
pub fn seconds_until(at: &str) -> Option<i64> {
    let parsed = OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).ok()?;
    Some((parsed - OffsetDateTime::now_utc()).whole_seconds())
}

/// The last `count` days (UTC) as "YYYY-MM-DD", oldest first, today last.
pub fn last_days(count: u32) -> Vec<String> {
    let today = OffsetDateTime::now_utc().date();
    (0..i64::from(count)).rev().map(|back| (today - time::Duration::days(back)).to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_times_sort_as_strings() {
        let (a, b) = (rfc3339_in(-1), rfc3339_in(1));
        assert_eq!(a.len(), b.len());
        assert!(a < b);
        assert!(today_start() <= a && today_start().ends_with("T00:00:00.000000Z"));
        assert!(seconds_until(&b).is_some_and(|s| (0..=1).contains(&s)));
    }
}
