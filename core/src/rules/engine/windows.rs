//! Where a frequency-cap window starts for a subscriber: clock hours and rolling windows
//! are the same everywhere; days and weeks begin at local midnight (Monday for weeks), so
//! "3 a day" means the subscriber's own day.

use chrono::{DateTime, Datelike, Duration, DurationRound, Utc};
use chrono_tz::Tz;

use crate::rules::params::{CapWindow, FrequencyCapParams};
use crate::rules::quiet_hours::opening_on;

/// Whether the start depends on the subscriber's zone.
pub fn is_local(cap: &FrequencyCapParams) -> bool {
    matches!(cap.window, CapWindow::Day | CapWindow::Week)
}

pub fn window_start(cap: &FrequencyCapParams, zone: Tz, now: DateTime<Utc>) -> DateTime<Utc> {
    start_of(cap.window, cap.rolling_secs, zone, now)
}

/// Where a window of `window` (rolling: `rolling_secs` long) that holds `now` starts.
pub fn start_of(
    window: CapWindow,
    rolling_secs: Option<u32>,
    zone: Tz,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    match window {
        CapWindow::Hour => now.duration_trunc(Duration::hours(1)).unwrap_or(now),
        CapWindow::Rolling => now - Duration::seconds(i64::from(rolling_secs.unwrap_or(3600))),
        CapWindow::Day => local_midnight(zone, now.with_timezone(&zone).date_naive()),
        CapWindow::Week => {
            let today = now.with_timezone(&zone).date_naive();
            let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
            local_midnight(zone, monday)
        }
    }
}

/// Where the next hour, day or week after the one holding `now` starts (a rolling
/// window has no next one: `now`).
pub fn next_start(window: CapWindow, zone: Tz, now: DateTime<Utc>) -> DateTime<Utc> {
    match window {
        CapWindow::Hour => start_of(window, None, zone, now) + Duration::hours(1),
        CapWindow::Rolling => now,
        CapWindow::Day => local_midnight(
            zone,
            now.with_timezone(&zone).date_naive() + Duration::days(1),
        ),
        CapWindow::Week => {
            let today = now.with_timezone(&zone).date_naive();
            let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
            local_midnight(zone, monday + Duration::days(7))
        }
    }
}

/// The first instant of a local date (after the gap, where midnight is skipped).
fn local_midnight(zone: Tz, date: chrono::NaiveDate) -> DateTime<Utc> {
    opening_on(zone, date, chrono::NaiveTime::MIN)
}

/// Words for a window in a reason: "per day", "per 2 hours".
pub fn describe(cap: &FrequencyCapParams) -> String {
    match cap.window {
        CapWindow::Hour => "per hour".into(),
        CapWindow::Day => "per day".into(),
        CapWindow::Week => "per week".into(),
        CapWindow::Rolling => {
            format!("per {} s", cap.rolling_secs.unwrap_or(3600))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::params::CapPer;

    fn cap(window: CapWindow) -> FrequencyCapParams {
        FrequencyCapParams {
            max: 1,
            window,
            rolling_secs: (window == CapWindow::Rolling).then_some(600),
            per: CapPer::Channel,
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn days_and_weeks_start_at_local_midnight() {
        let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
        // 2026-03-04 (Wednesday) 20:00 UTC is Thursday 05:00 in Tokyo.
        let now = utc("2026-03-04T20:00:00Z");
        assert_eq!(
            window_start(&cap(CapWindow::Day), tokyo, now),
            utc("2026-03-04T15:00:00Z")
        );
        assert_eq!(
            window_start(&cap(CapWindow::Week), tokyo, now),
            utc("2026-03-01T15:00:00Z")
        );
        assert_eq!(
            window_start(&cap(CapWindow::Hour), tokyo, utc("2026-03-04T20:59:59Z")),
            utc("2026-03-04T20:00:00Z")
        );
        assert_eq!(
            window_start(&cap(CapWindow::Rolling), tokyo, now),
            utc("2026-03-04T19:50:00Z")
        );
    }

    #[test]
    fn the_next_window_starts_at_the_next_local_hour_midnight_or_monday() {
        let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
        let now = utc("2026-03-04T20:00:00Z"); // Thursday 05:00 in Tokyo
        assert_eq!(
            next_start(CapWindow::Hour, tokyo, now),
            utc("2026-03-04T21:00:00Z")
        );
        assert_eq!(
            next_start(CapWindow::Day, tokyo, now),
            utc("2026-03-05T15:00:00Z")
        );
        assert_eq!(
            next_start(CapWindow::Week, tokyo, now),
            utc("2026-03-08T15:00:00Z")
        );
    }

    #[test]
    fn a_day_that_starts_in_a_dst_gap_starts_after_it() {
        // Havana springs forward at midnight: 2026-03-08 begins at 01:00 CDT.
        let havana: Tz = "America/Havana".parse().unwrap();
        let start = window_start(&cap(CapWindow::Day), havana, utc("2026-03-08T12:00:00Z"));
        assert_eq!(start, utc("2026-03-08T05:00:00Z"));
    }
}
