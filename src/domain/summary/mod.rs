//! The weekly summary (API.md "Weekly summary"): its setting and when it is due; its
//! figures from plain inputs are in [`figures`]. Pure: the pipeline gathers the inputs and
//! queues the message.
//!
//! Schedule rules, in the setting's time zone:
//! - a week's summary is due at the latest scheduled instant at or before now; only that
//!   one is ever due (after downtime the older ones are not, so none piles up);
//! - a time inside a spring-forward gap (02:30 when clocks jump from 02:00 to 03:00) is
//!   read with the offset in force before the gap (so 03:30 local), like most calendars;
//! - a time that happens twice on a fall-back day is its first occurrence, so it fires once;
//! - a period runs from the previous week's scheduled instant to this one (167 or 169
//!   hours across a change of clocks).

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, Offset, TimeZone, Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

mod figures;

pub use figures::{
    p95_trend, scenario_figures, MaintenanceWindow, P95Series, P95Trend, Regression, RunCounts,
    RunOutcome, ScenarioFigures, ScenarioInput, SummaryFigures,
};

/// The `summary` setting's value when on: `{"weekly": {"day", "time", "timezone"}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SummarySchedule {
    Weekly(WeeklySchedule),
}

/// When a weekly summary is posted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklySchedule {
    pub day: SummaryDay,
    pub time: TimeOfDay,
    pub timezone: Zone,
}

/// A weekday as the setting spells it: `mon` … `sun`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "mon")]
pub struct SummaryDay(chrono::Weekday);

/// A time of day, `HH:MM` on a 24-hour clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "09:00")]
pub struct TimeOfDay(NaiveTime);

/// An IANA time zone (`Europe/Berlin`, `UTC`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "Europe/Berlin")]
pub struct Zone(Tz);

const DAYS: [(&str, chrono::Weekday); 7] = [
    ("mon", chrono::Weekday::Mon),
    ("tue", chrono::Weekday::Tue),
    ("wed", chrono::Weekday::Wed),
    ("thu", chrono::Weekday::Thu),
    ("fri", chrono::Weekday::Fri),
    ("sat", chrono::Weekday::Sat),
    ("sun", chrono::Weekday::Sun),
];

impl SummaryDay {
    pub fn parse(text: &str) -> Result<Self, String> {
        DAYS.iter()
            .find(|(name, _)| *name == text)
            .map(|(_, d)| Self(*d))
            .ok_or_else(|| "must be one of mon, tue, wed, thu, fri, sat, sun".to_owned())
    }

    pub fn as_str(self) -> &'static str {
        DAYS.iter()
            .find(|(_, d)| *d == self.0)
            .map_or("mon", |(name, _)| name)
    }

    pub fn weekday(self) -> chrono::Weekday {
        self.0
    }
}

impl TimeOfDay {
    /// Exactly `HH:MM`, 00:00 to 23:59.
    pub fn parse(text: &str) -> Result<Self, String> {
        let refuse = || "must be a time HH:MM on a 24-hour clock, e.g. 09:00".to_owned();
        let b = text.as_bytes();
        if b.len() != 5 || b[2] != b':' {
            return Err(refuse());
        }
        let num = |s: &str| {
            s.parse::<u32>()
                .ok()
                .filter(|_| s.bytes().all(|c| c.is_ascii_digit()))
        };
        match (num(&text[..2]), num(&text[3..])) {
            (Some(h), Some(m)) => NaiveTime::from_hms_opt(h, m, 0)
                .map(Self)
                .ok_or_else(refuse),
            _ => Err(refuse()),
        }
    }

    pub fn time(self) -> NaiveTime {
        self.0
    }
}

impl Zone {
    pub fn parse(text: &str) -> Result<Self, String> {
        text.parse::<Tz>()
            .map(Self)
            .map_err(|_| "must be an IANA time zone, e.g. Europe/Berlin or UTC".to_owned())
    }

    pub fn tz(self) -> Tz {
        self.0
    }
}

macro_rules! text_newtype {
    ($t:ty, $show:expr) => {
        impl TryFrom<String> for $t {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                Self::parse(&s)
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                #[allow(clippy::redundant_closure_call)]
                ($show)(v)
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&String::from(*self))
            }
        }
    };
}

text_newtype!(SummaryDay, |d: SummaryDay| d.as_str().to_owned());
text_newtype!(TimeOfDay, |t: TimeOfDay| t.0.format("%H:%M").to_string());
text_newtype!(Zone, |z: Zone| z.0.name().to_owned());

/// A summary's period: `from` (inclusive) to `to` (exclusive, the scheduled instant).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl WeeklySchedule {
    /// The scheduled instant on a local date (see the module's rules for gaps and folds).
    fn instant_on(&self, date: NaiveDate) -> DateTime<Utc> {
        let local = date.and_time(self.time.0);
        let tz = self.timezone.0;
        match tz.from_local_datetime(&local) {
            LocalResult::Single(t) => t.with_timezone(&Utc),
            LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
            LocalResult::None => {
                // In a gap: the offset in force before it (gaps are at most a few hours).
                let offset = tz
                    .offset_from_utc_datetime(&(local - Duration::hours(6)))
                    .fix();
                (local - Duration::seconds(i64::from(offset.local_minus_utc()))).and_utc()
            }
        }
    }

    /// The latest scheduled instant at or before `now`.
    pub fn latest_due(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let today = now.with_timezone(&self.timezone.0).date_naive();
        // Today's slot may still be ahead; the one a week earlier is then the latest.
        (0..=8)
            .filter_map(|back| today.checked_sub_days(chrono::Days::new(back)))
            .filter(|d| d.weekday() == self.day.0)
            .map(|d| self.instant_on(d))
            .find(|t| *t <= now)
            .unwrap_or(now)
    }

    /// The period a summary due at `due` (a scheduled instant) covers.
    pub fn period_ending(&self, due: DateTime<Utc>) -> Period {
        let date = due.with_timezone(&self.timezone.0).date_naive();
        let from = date
            .checked_sub_days(chrono::Days::new(7))
            .map_or(due - Duration::days(7), |d| self.instant_on(d));
        Period { from, to: due }
    }
}

/// The last seven days up to `now` (previews and "send now").
pub fn last_seven_days(now: DateTime<Utc>) -> Period {
    Period {
        from: now - Duration::days(7),
        to: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn weekly(day: &str, time: &str, tz: &str) -> WeeklySchedule {
        WeeklySchedule {
            day: SummaryDay::parse(day).unwrap(),
            time: TimeOfDay::parse(time).unwrap(),
            timezone: Zone::parse(tz).unwrap(),
        }
    }

    #[test]
    fn the_setting_reads_and_writes_the_contract_shape() {
        let json = r#"{"weekly":{"day":"mon","time":"09:00","timezone":"Europe/Berlin"}}"#;
        let s: SummarySchedule = serde_json::from_str(json).unwrap();
        assert_eq!(
            s,
            SummarySchedule::Weekly(weekly("mon", "09:00", "Europe/Berlin"))
        );
        assert_eq!(serde_json::to_string(&s).unwrap(), json);
    }

    #[test]
    fn bad_values_are_refused_with_a_reason() {
        for bad in ["", "Mon", "monday", "mo", "xyz"] {
            assert!(SummaryDay::parse(bad).is_err(), "{bad:?}");
        }
        for bad in [
            "9:00", "24:00", "09:60", "0900", "09:00:00", "+9:00", "ab:cd", " 9:00",
        ] {
            assert!(TimeOfDay::parse(bad).is_err(), "{bad:?}");
        }
        for ok in ["00:00", "23:59", "09:05"] {
            assert_eq!(TimeOfDay::parse(ok).unwrap().to_string(), ok);
        }
        for bad in ["Europe/Nowhere", "", "CEST+1"] {
            assert!(Zone::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Zone::parse("UTC").unwrap().to_string(), "UTC");
    }

    #[test]
    fn the_latest_due_instant_is_at_or_before_now() {
        let s = weekly("mon", "09:00", "Europe/Berlin");
        // Monday 2026-11-30 09:00 CET is 08:00 UTC.
        assert_eq!(
            s.latest_due(at("2026-11-30T08:00:00Z")),
            at("2026-11-30T08:00:00Z")
        );
        assert_eq!(
            s.latest_due(at("2026-11-30T07:59:59Z")),
            at("2026-11-23T08:00:00Z")
        );
        assert_eq!(
            s.latest_due(at("2026-12-06T23:00:00Z")),
            at("2026-11-30T08:00:00Z")
        );
        let p = s.period_ending(at("2026-11-30T08:00:00Z"));
        assert_eq!(p.from, at("2026-11-23T08:00:00Z"));
    }

    #[test]
    fn a_time_in_the_spring_forward_gap_maps_to_one_defined_instant() {
        // Berlin 2027-03-28: 02:00 CET jumps to 03:00 CEST; 02:30 is read as CET (01:30 UTC).
        let s = weekly("sun", "02:30", "Europe/Berlin");
        let due = s.latest_due(at("2027-03-28T12:00:00Z"));
        assert_eq!(due, at("2027-03-28T01:30:00Z"));
        // The week before, 02:30 CET is 01:30 UTC; the period is 168 hours then.
        assert_eq!(s.period_ending(due).from, at("2027-03-21T01:30:00Z"));
        // The week after, 02:30 CEST is 00:30 UTC: a 167-hour period.
        let next = s.latest_due(at("2027-04-04T12:00:00Z"));
        assert_eq!(next, at("2027-04-04T00:30:00Z"));
        assert_eq!(s.period_ending(next).from, due);
    }

    #[test]
    fn a_fall_back_day_fires_once_at_the_first_occurrence() {
        // Berlin 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice.
        let s = weekly("sun", "02:30", "Europe/Berlin");
        let first = at("2026-10-25T00:30:00Z");
        assert_eq!(s.latest_due(first), first);
        // An hour later (the second 02:30 local) the latest due is still the first one.
        assert_eq!(s.latest_due(at("2026-10-25T01:30:00Z")), first);
        assert_eq!(s.latest_due(at("2026-10-25T01:29:00Z")), first);
        // And the next week's period starts there: 169 hours long.
        let next = s.latest_due(at("2026-11-01T12:00:00Z"));
        assert_eq!(next, at("2026-11-01T01:30:00Z"));
        assert_eq!(s.period_ending(next).from, first);
    }

    #[test]
    fn after_downtime_only_the_latest_missed_week_is_due() {
        let s = weekly("fri", "17:00", "UTC");
        // Down from Nov 1 to Dec 7: one due instant, the latest.
        assert_eq!(
            s.latest_due(at("2026-12-07T10:00:00Z")),
            at("2026-12-04T17:00:00Z")
        );
    }
}
