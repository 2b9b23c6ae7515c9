//! Allowed hours in a subscriber's local time, and when a window next opens. Local
//! times that do not exist (the spring-forward gap) open at the first instant after the
//! gap; times that occur twice (fall back) open at the earlier one.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Hours when delivery is allowed. `until` before `from` means the window spans
/// midnight; `from == until` means all day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllowedWindow {
    pub from: NaiveTime,
    pub until: NaiveTime,
}

impl AllowedWindow {
    pub fn contains(&self, local: NaiveTime) -> bool {
        if self.from == self.until {
            true
        } else if self.from < self.until {
            self.from <= local && local < self.until
        } else {
            local >= self.from || local < self.until
        }
    }

    /// `None` when `at` is inside the window in `zone`; otherwise the next instant the
    /// window opens.
    pub fn next_opening(&self, zone: Tz, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = at.with_timezone(&zone);
        if self.contains(local.time()) {
            return None;
        }
        let today = local.date_naive();
        // Today and the next two days always hold an opening after `at`, whatever offsets
        // change in between. A window lying wholly inside a DST gap does not exist that
        // day: its "opening" lands past the window, so that day is skipped.
        // A `from` that happens twice (clocks went back) opens the window twice.
        let regular = (0..3)
            .filter_map(|days| today.checked_add_signed(Duration::days(days)))
            .flat_map(|date| occurrences_on(zone, date, self.from))
            .find(|opening| *opening > at && self.contains(opening.with_timezone(&zone).time()));
        // When clocks go back, wall times repeat: the window can reopen at the change
        // without passing `from` again.
        let horizon = regular.unwrap_or(at + Duration::hours(72));
        let by_change = offset_changes(zone, at, horizon)
            .into_iter()
            .find(|change| self.contains(change.with_timezone(&zone).time()));
        match (regular, by_change) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

fn offset_at(zone: Tz, at: DateTime<Utc>) -> i32 {
    use chrono::Offset;
    at.with_timezone(&zone).offset().fix().local_minus_utc()
}

/// Instants in `(from, to]` at which the zone's UTC offset changes, to the minute.
fn offset_changes(zone: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut changes = Vec::new();
    let mut start = from;
    while start < to {
        let end = (start + Duration::hours(1)).min(to);
        let before = offset_at(zone, start);
        if offset_at(zone, end) != before {
            // Binary search for the first minute with the new offset.
            let (mut low, mut high) = (start, end);
            while high - low > Duration::minutes(1) {
                let middle = low + (high - low) / 2;
                if offset_at(zone, middle) == before {
                    low = middle;
                } else {
                    high = middle;
                }
            }
            let minute = high.timestamp().div_euclid(60) * 60;
            let change = DateTime::from_timestamp(minute, 0).unwrap_or(high);
            changes.push(if offset_at(zone, change) == before {
                high
            } else {
                change
            });
        }
        start = end;
    }
    changes
}

/// The instants `time` happens on `date` in `zone`, in order: both when clocks went
/// back over it, else the one [`opening_on`] gives.
fn occurrences_on(zone: Tz, date: NaiveDate, time: NaiveTime) -> Vec<DateTime<Utc>> {
    match zone.from_local_datetime(&date.and_time(time)) {
        LocalResult::Ambiguous(earlier, later) => {
            vec![earlier.with_timezone(&Utc), later.with_timezone(&Utc)]
        }
        _ => vec![opening_on(zone, date, time)],
    }
}

/// The instant `time` happens on `date` in `zone`, moved past a gap if it does not exist.
pub(crate) fn opening_on(zone: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let mut wanted = date.and_time(time);
    // Gaps are at most a few hours; step a minute at a time to the first valid instant.
    for _ in 0..(24 * 60) {
        match zone.from_local_datetime(&wanted) {
            LocalResult::Single(t) => return t.with_timezone(&Utc),
            LocalResult::Ambiguous(earlier, _) => return earlier.with_timezone(&Utc),
            LocalResult::None => match wanted.checked_add_signed(Duration::minutes(1)) {
                Some(next) => wanted = next,
                None => break,
            },
        }
    }
    // Unreachable for real zones; fall back to reading the wall time as UTC.
    Utc.from_utc_datetime(&date.and_time(time))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn window(from: (u32, u32), until: (u32, u32)) -> AllowedWindow {
        AllowedWindow {
            from: NaiveTime::from_hms_opt(from.0, from.1, 0).unwrap(),
            until: NaiveTime::from_hms_opt(until.0, until.1, 0).unwrap(),
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn inside_the_window_sends_now() {
        let w = window((8, 0), (21, 0));
        assert_eq!(
            w.next_opening(chrono_tz::Europe::Berlin, utc("2026-06-01T10:00:00Z")),
            None
        );
    }

    #[test]
    fn at_night_defers_to_the_local_morning() {
        let w = window((8, 0), (21, 0));
        // 22:30 in Berlin (UTC+2 in summer) → 08:00 Berlin next day = 06:00 UTC.
        let next = w.next_opening(chrono_tz::Europe::Berlin, utc("2026-06-01T20:30:00Z"));
        assert_eq!(next, Some(utc("2026-06-02T06:00:00Z")));
    }

    #[test]
    fn spring_forward_gap_opens_after_the_gap() {
        // Berlin skips 02:00–03:00 on 2026-03-29; a 02:30 opening happens at 03:00 CEST.
        let w = window((2, 30), (5, 0));
        let next = w.next_opening(chrono_tz::Europe::Berlin, utc("2026-03-28T23:00:00Z"));
        assert_eq!(next, Some(utc("2026-03-29T01:00:00Z")));
    }

    #[test]
    fn a_window_inside_the_gap_opens_the_next_day() {
        let w = window((2, 30), (2, 45));
        let next = w.next_opening(chrono_tz::Europe::Berlin, utc("2026-03-28T23:00:00Z"));
        assert_eq!(next, Some(utc("2026-03-30T00:30:00Z")));
    }

    #[test]
    fn fall_back_overlap_opens_at_the_first_occurrence() {
        // New York repeats 01:00–02:00 on 2026-11-01; 01:30 first happens at 05:30 UTC (EDT).
        let w = window((1, 30), (4, 0));
        let next = w.next_opening(chrono_tz::America::New_York, utc("2026-11-01T03:00:00Z"));
        assert_eq!(next, Some(utc("2026-11-01T05:30:00Z")));
    }

    #[test]
    fn repeated_wall_time_after_fall_back_reopens_the_window() {
        // Lord Howe goes from 02:00 back to 01:30 on 2027-04-04 (15:00 UTC). A window
        // 22:51–01:32 is closed at 01:40 daylight time but open again at 01:30 standard.
        let w = window((22, 51), (1, 32));
        let next = w.next_opening(chrono_tz::Australia::Lord_Howe, utc("2027-04-03T14:40:00Z"));
        assert_eq!(next, Some(utc("2027-04-03T15:00:00Z")));
    }

    #[test]
    fn a_window_inside_the_repeated_hour_opens_again_after_fall_back() {
        // Berlin goes from 03:00 back to 02:00 on 2027-10-31 (01:00 UTC): 02:01–02:16
        // happens at 00:01 UTC and again at 01:01 UTC.
        let w = window((2, 1), (2, 16));
        let next = w.next_opening(chrono_tz::Europe::Berlin, utc("2027-10-31T00:30:00Z"));
        assert_eq!(next, Some(utc("2027-10-31T01:01:00Z")));
    }

    #[test]
    fn a_window_across_midnight_is_open_at_night() {
        let w = window((22, 0), (6, 0));
        assert_eq!(
            w.next_opening(chrono_tz::Asia::Tokyo, utc("2026-01-10T15:00:00Z")),
            None
        ); // 00:00 Tokyo
        let next = w.next_opening(chrono_tz::Asia::Tokyo, utc("2026-01-10T03:00:00Z")); // 12:00 Tokyo
        assert_eq!(next, Some(utc("2026-01-10T13:00:00Z")));
    }

    const ZONES: [Tz; 6] = [
        chrono_tz::Europe::Berlin,
        chrono_tz::America::New_York,
        chrono_tz::Australia::Sydney,
        chrono_tz::Asia::Kolkata,
        chrono_tz::Pacific::Chatham,
        chrono_tz::Australia::Lord_Howe,
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Across two years (every DST change in these zones, including half-hour and
        /// 45-minute offsets and Lord Howe's half-hour DST), an opening is after `at`,
        /// inside the window, within two days and an hour, and no earlier minute was
        /// allowed.
        #[test]
        fn openings_are_correct_and_minimal(
            zone in 0..ZONES.len(),
            minutes in 0i64..(2 * 366 * 24 * 60),
            from in 0u32..(24 * 60),
            length in 1u32..(24 * 60),
        ) {
            let zone = ZONES[zone];
            let at = utc("2026-01-01T00:00:00Z") + Duration::minutes(minutes);
            let until = (from + length) % (24 * 60);
            let w = AllowedWindow {
                from: NaiveTime::from_hms_opt(from / 60, from % 60, 0).unwrap(),
                until: NaiveTime::from_hms_opt(until / 60, until % 60, 0).unwrap(),
            };
            match w.next_opening(zone, at) {
                None => prop_assert!(w.contains(at.with_timezone(&zone).time())),
                Some(next) => {
                    prop_assert!(next > at);
                    // Within two days and the hour a clock change moves: a window that
                    // lies in the hour skipped by a change to summer time has no minute
                    // that day, so it opens the day after.
                    prop_assert!(next - at <= Duration::hours(49), "{} after {}", next, at);
                    prop_assert!(w.contains(next.with_timezone(&zone).time()), "opening {} is outside", next);
                    let mut probe = at;
                    while probe < next {
                        prop_assert!(!w.contains(probe.with_timezone(&zone).time()), "{} was already allowed", probe);
                        probe += Duration::minutes(15);
                    }
                }
            }
        }
    }
}
