//! The weekly summary (API.md "Weekly summary"): its setting, when it is due, and its
//! figures from plain inputs. Pure: the pipeline gathers the inputs and queues the message.
//!
//! Schedule rules, in the setting's time zone:
//! - a week's summary is due at the latest scheduled instant at or before now; only that
//!   one is ever due (after downtime the older ones are not, so none piles up);
//! - a time inside a spring-forward gap (02:30 when clocks jump from 02:00 to 03:00) is
//!   read with the offset in force before the gap (so 03:30 local), like most calendars;
//! - a time that happens twice on a fall-back day is its first occurrence, so it fires once;
//! - a period runs from the previous week's scheduled instant to this one (167 or 169
//!   hours across a change of clocks).

use std::collections::BTreeMap;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, Offset, TimeZone, Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::lifecycle::LoadTestState;
use super::monitoring::Health;
use super::report::FigureChange;

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

/// How a load test of the period ended (or that it has not).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// Finished or reported.
    Passed,
    Failed,
    Aborted,
    Running,
}

impl RunOutcome {
    /// A run's outcome by its latest state (`reported` follows `finished`).
    pub fn of(state: LoadTestState) -> Self {
        match state {
            LoadTestState::Finished | LoadTestState::Reported => Self::Passed,
            LoadTestState::Error => Self::Failed,
            LoadTestState::Aborted => Self::Aborted,
            LoadTestState::New | LoadTestState::Started | LoadTestState::Running => Self::Running,
        }
    }
}

/// The period's load tests by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCounts {
    pub passed: usize,
    pub failed: usize,
    pub aborted: usize,
    pub running: usize,
}

impl RunCounts {
    pub fn count(&mut self, outcome: RunOutcome) {
        self.add(outcome, 1);
    }

    /// Counts `n` runs of one outcome.
    pub fn add(&mut self, outcome: RunOutcome, n: usize) {
        *match outcome {
            RunOutcome::Passed => &mut self.passed,
            RunOutcome::Failed => &mut self.failed,
            RunOutcome::Aborted => &mut self.aborted,
            RunOutcome::Running => &mut self.running,
        } += n;
    }

    pub fn total(&self) -> usize {
        self.passed + self.failed + self.aborted + self.running
    }
}

/// A regression against a baseline in the period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Regression {
    pub name: String,
    pub url: Option<String>,
    /// The worst figure's change, e.g. `P95 +23 %`.
    pub worst: String,
    /// How far that figure moved, in percent (∞ from zero), to pick the worst run.
    pub magnitude: f64,
}

impl Regression {
    /// A run's regression by its worst figure.
    pub fn new(name: String, url: Option<String>, worst: &FigureChange) -> Self {
        Regression {
            name,
            url,
            worst: worst.short(),
            magnitude: worst.pct().map_or(f64::INFINITY, f64::abs),
        }
    }
}

/// A definition's final P95 values in the period, oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct P95Series {
    pub definition: String,
    pub values: Vec<f64>,
}

/// A scenario's inputs: its results (time, health) oldest first, its incidents' starts,
/// acknowledgements and recoveries within the period.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScenarioInput {
    pub name: String,
    pub url: Option<String>,
    pub results: Vec<(DateTime<Utc>, Health)>,
    /// (incident number, when it started failing).
    pub incidents: Vec<(i64, DateTime<Utc>)>,
    /// (incident number, when it was first acknowledged).
    pub acks: Vec<(i64, DateTime<Utc>)>,
    /// How long each recovered incident was down, in seconds.
    pub recoveries: Vec<i64>,
}

/// A scenario's figures for the period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScenarioFigures {
    pub name: String,
    pub url: Option<String>,
    /// Share of the observed time its results were ok, 0..=1 (`None`: no result).
    pub availability: Option<f64>,
    pub incidents: usize,
    /// Seconds of the longest stretch of failing results within the period.
    pub longest_outage_secs: i64,
    pub mtta_secs: Option<i64>,
    pub mttr_secs: Option<i64>,
}

/// A scenario's figures: each result's health holds until the next result (the last one
/// until the period's end); time before the first result of the period is not observed.
pub fn scenario_figures(input: &ScenarioInput, period: Period) -> ScenarioFigures {
    let mut ok = 0i64;
    let mut observed = 0i64;
    let mut longest = 0i64;
    let mut outage = 0i64;
    let results: Vec<_> = input
        .results
        .iter()
        .filter(|(t, _)| *t >= period.from && *t < period.to)
        .collect();
    for (i, (at, health)) in results.iter().enumerate() {
        let until = results.get(i + 1).map_or(period.to, |(t, _)| *t);
        let span = (until - *at).num_seconds().max(0);
        observed += span;
        if *health == Health::Ok {
            ok += span;
            outage = 0;
        } else {
            outage += span;
            longest = longest.max(outage);
        }
    }
    let started: BTreeMap<i64, DateTime<Utc>> = input.incidents.iter().copied().collect();
    let mut first_ack: BTreeMap<i64, DateTime<Utc>> = BTreeMap::new();
    for (incident, at) in &input.acks {
        first_ack
            .entry(*incident)
            .and_modify(|t| *t = (*t).min(*at))
            .or_insert(*at);
    }
    let ack_delays: Vec<i64> = first_ack
        .iter()
        .filter_map(|(n, acked)| started.get(n).map(|s| (*acked - *s).num_seconds().max(0)))
        .collect();
    ScenarioFigures {
        name: input.name.clone(),
        url: input.url.clone(),
        availability: (observed > 0).then(|| ok as f64 / observed as f64),
        incidents: input.incidents.len(),
        longest_outage_secs: longest,
        mtta_secs: mean(&ack_delays),
        mttr_secs: mean(&input.recoveries),
    }
}

fn mean(values: &[i64]) -> Option<i64> {
    let n = i64::try_from(values.len()).ok().filter(|n| *n > 0)?;
    Some(values.iter().sum::<i64>() / n)
}

/// A definition's P95 trend: first and last value of the period and their change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct P95Trend {
    pub definition: String,
    pub runs: usize,
    pub first_ms: f64,
    pub last_ms: f64,
    /// `None` with one run or from zero.
    pub change_pct: Option<f64>,
}

impl P95Trend {
    /// From the first and last P95 of `runs` runs.
    pub fn new(definition: String, runs: usize, first_ms: f64, last_ms: f64) -> Self {
        P95Trend {
            definition,
            runs,
            first_ms,
            last_ms,
            change_pct: (runs > 1 && first_ms > 0.0)
                .then(|| (last_ms - first_ms) / first_ms * 100.0),
        }
    }
}

pub fn p95_trend(series: &P95Series) -> Option<P95Trend> {
    let (first, last) = (*series.values.first()?, *series.values.last()?);
    Some(P95Trend::new(
        series.definition.clone(),
        series.values.len(),
        first,
        last,
    ))
}

/// A maintenance window used in the period (shown by name).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceWindow {
    pub name: String,
}

/// Everything a summary shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SummaryFigures {
    pub period: Period,
    pub runs: RunCounts,
    pub regressions: Vec<Regression>,
    pub trends: Vec<P95Trend>,
    pub scenarios: Vec<ScenarioFigures>,
    pub mutes: usize,
    pub maintenance: Vec<MaintenanceWindow>,
}

impl SummaryFigures {
    /// No load test, no incident and no outage (one that began the week before counts):
    /// the message is one line.
    pub fn is_quiet(&self) -> bool {
        self.runs.total() == 0
            && self
                .scenarios
                .iter()
                .all(|s| s.incidents == 0 && s.longest_outage_secs == 0)
    }

    /// The regression that moved its figure the most.
    pub fn worst_regression(&self) -> Option<&Regression> {
        self.regressions
            .iter()
            .max_by(|a, b| a.magnitude.total_cmp(&b.magnitude))
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

    #[test]
    fn availability_integrates_health_over_time_between_results() {
        let p = Period {
            from: at("2026-11-30T00:00:00Z"),
            to: at("2026-11-30T10:00:00Z"),
        };
        let input = ScenarioInput {
            name: "Checkout".into(),
            results: vec![
                (at("2026-11-29T23:00:00Z"), Health::Failure), // before the period
                (at("2026-11-30T00:00:00Z"), Health::Ok),
                (at("2026-11-30T04:00:00Z"), Health::Failure),
                (at("2026-11-30T05:00:00Z"), Health::Error),
                (at("2026-11-30T06:00:00Z"), Health::Ok),
                (at("2026-11-30T09:00:00Z"), Health::Failure),
            ],
            incidents: vec![
                (1, at("2026-11-30T04:00:00Z")),
                (2, at("2026-11-30T09:00:00Z")),
            ],
            acks: vec![
                (1, at("2026-11-30T04:20:00Z")),
                (1, at("2026-11-30T04:10:00Z")),
                (9, at("2026-11-30T04:10:00Z")), // an incident of an earlier period
            ],
            recoveries: vec![7200],
            ..ScenarioInput::default()
        };
        let f = scenario_figures(&input, p);
        assert_eq!(f.availability, Some(0.7));
        assert_eq!(f.incidents, 2);
        assert_eq!(f.longest_outage_secs, 7200);
        assert_eq!(f.mtta_secs, Some(600));
        assert_eq!(f.mttr_secs, Some(7200));
        let none = scenario_figures(&ScenarioInput::default(), p);
        assert_eq!(
            (none.availability, none.mtta_secs, none.mttr_secs),
            (None, None, None)
        );
    }

    #[test]
    fn a_p95_trend_compares_the_first_and_last_run() {
        let t = p95_trend(&P95Series {
            definition: "checkout".into(),
            values: vec![200.0, 260.0, 250.0],
        })
        .unwrap();
        assert_eq!((t.runs, t.change_pct), (3, Some(25.0)));
        let one = p95_trend(&P95Series {
            definition: "x".into(),
            values: vec![200.0],
        })
        .unwrap();
        assert_eq!(one.change_pct, None);
        assert!(p95_trend(&P95Series {
            definition: "x".into(),
            values: vec![]
        })
        .is_none());
    }
}
