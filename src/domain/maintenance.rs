//! Maintenance windows (API.md "Maintenance windows"): one-off or weekly times in which the
//! changes of the scenarios a window covers are skipped, and the incidents still open at
//! its end are posted then. Pure: the window types, their validation and the occurrence
//! math (which instants a window covers, across midnight and daylight-saving changes).

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The longest reason, in characters (user text, shown as typed).
pub const MAX_REASON: usize = 500;
/// The most scenarios one window names.
pub const MAX_SCENARIOS: usize = 100;
/// The longest scenario id (the ids events carry).
const MAX_SCENARIO_ID: usize = 200;

/// When a window applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// From `starts_at` (inclusive) to `ends_at` (exclusive).
    Once {
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
    },
    Weekly(Weekly),
}

/// Every week on `days`, from `from` to `to` local time in `timezone`; `to` at or before
/// `from` ends the next day (an occurrence belongs to the day it starts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Weekly {
    /// Monday first, each once.
    pub days: Vec<Weekday>,
    pub from: NaiveTime,
    pub to: NaiveTime,
    pub timezone: Tz,
}

/// A validated window (without its id and scope).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowSpec {
    pub schedule: Schedule,
    /// `None`: every scenario of the scope.
    pub scenarios: Option<Vec<String>>,
    pub reason: String,
}

/// One occurrence of a window: `start <= t < end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Occurrence {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The weekly part of a window as the API reads it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklyInput {
    /// `mon` … `sun`, at least one.
    #[serde(default)]
    pub days: Vec<String>,
    /// Local start, `HH:MM`.
    #[serde(default)]
    pub from: String,
    /// Local end, `HH:MM`; at or before `from`: the next day.
    #[serde(default)]
    pub to: String,
    /// An IANA time zone, e.g. `Europe/Berlin`.
    #[serde(default)]
    pub timezone: String,
}

/// A window as the API reads it: `starts_at` and `ends_at`, or `weekly`.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowInput {
    /// RFC 3339.
    #[serde(default)]
    pub starts_at: Option<String>,
    /// RFC 3339, after `starts_at`.
    #[serde(default)]
    pub ends_at: Option<String>,
    #[serde(default)]
    pub weekly: Option<WeeklyInput>,
    /// Scenario ids; `null` (or absent): every scenario.
    #[serde(default)]
    pub scenarios: Option<Vec<String>>,
    /// Why (1 to 500 characters), shown as typed.
    #[serde(default)]
    pub reason: String,
}

/// A refused window: the field and what is wrong with it (422).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct WindowError {
    pub field: String,
    pub message: String,
}

fn refuse(field: &str, message: impl Into<String>) -> WindowError {
    WindowError {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// The API's day names.
pub const DAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
];

pub fn day_name(d: Weekday) -> &'static str {
    DAYS.iter().find(|(_, w)| *w == d).map_or("mon", |(n, _)| n)
}

pub fn parse_day(s: &str) -> Option<Weekday> {
    DAYS.iter().find(|(n, _)| *n == s).map(|(_, w)| *w)
}

/// `HH:MM` (00:00 to 23:59).
pub fn parse_hhmm(s: &str) -> Option<NaiveTime> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !(h.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit()) {
        return None;
    }
    NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)
}

pub fn parse_zone(s: &str) -> Option<Tz> {
    s.parse::<Tz>().ok()
}

fn rfc3339(field: &str, s: &str) -> Result<DateTime<Utc>, WindowError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            refuse(
                field,
                format!("{field} must be a date and time in RFC 3339, e.g. 2026-12-24T22:00:00Z"),
            )
        })
}

/// Weekly days from their names (each once, Monday first).
pub fn weekly_days(names: &[String]) -> Result<Vec<Weekday>, WindowError> {
    let field = "weekly.days";
    if names.is_empty() {
        return Err(refuse(
            field,
            "weekly.days must name at least one day (mon … sun)",
        ));
    }
    let mut days = Vec::new();
    for n in names {
        let d = parse_day(n).ok_or_else(|| {
            refuse(
                field,
                format!("weekly.days: {n:?} is not a day; use mon, tue, wed, thu, fri, sat, sun"),
            )
        })?;
        if !days.contains(&d) {
            days.push(d);
        }
    }
    days.sort_by_key(|d| d.num_days_from_monday());
    Ok(days)
}

fn weekly(w: &WeeklyInput) -> Result<Weekly, WindowError> {
    let days = weekly_days(&w.days)?;
    let time = |field: &str, s: &str| {
        parse_hhmm(s)
            .ok_or_else(|| refuse(field, format!("{field} must be a time HH:MM, e.g. 22:00")))
    };
    let from = time("weekly.from", &w.from)?;
    let to = time("weekly.to", &w.to)?;
    if from == to {
        return Err(refuse(
            "weekly.to",
            "weekly.to must differ from weekly.from",
        ));
    }
    let timezone = parse_zone(&w.timezone).ok_or_else(|| {
        refuse(
            "weekly.timezone",
            format!(
                "weekly.timezone: {:?} is not a known time zone; use an IANA name such as \
                 Europe/Berlin",
                w.timezone
            ),
        )
    })?;
    Ok(Weekly {
        days,
        from,
        to,
        timezone,
    })
}

/// A scenario id as events carry it: 1 to 200 visible ASCII characters.
fn scenario_id_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_SCENARIO_ID && s.bytes().all(|b| b.is_ascii_graphic())
}

impl WindowInput {
    /// Validates the input; `now` refuses a one-off window that is over already.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<WindowSpec, WindowError> {
        let schedule = match (&self.starts_at, &self.ends_at, &self.weekly) {
            (Some(s), Some(e), None) => {
                let starts_at = rfc3339("starts_at", s)?;
                let ends_at = rfc3339("ends_at", e)?;
                if ends_at <= starts_at {
                    return Err(refuse("ends_at", "ends_at must be after starts_at"));
                }
                if ends_at <= now {
                    return Err(refuse("ends_at", "ends_at is in the past"));
                }
                Schedule::Once { starts_at, ends_at }
            }
            (None, None, Some(w)) => Schedule::Weekly(weekly(w)?),
            (_, _, Some(_)) => {
                return Err(refuse(
                    "weekly",
                    "give either starts_at and ends_at, or weekly, not both",
                ))
            }
            (None, _, None) => {
                return Err(refuse(
                    "starts_at",
                    "starts_at and ends_at (or weekly) are required",
                ))
            }
            (Some(_), None, None) => return Err(refuse("ends_at", "ends_at is required")),
        };
        let scenarios = match &self.scenarios {
            None => None,
            Some(list) => {
                if list.is_empty() || list.len() > MAX_SCENARIOS {
                    return Err(refuse(
                        "scenarios",
                        format!(
                            "scenarios must name 1 to {MAX_SCENARIOS} scenario ids, or be null \
                             for every scenario"
                        ),
                    ));
                }
                if let Some(bad) = list.iter().find(|s| !scenario_id_ok(s)) {
                    return Err(refuse(
                        "scenarios",
                        format!("scenarios: {bad:?} is not a scenario id"),
                    ));
                }
                let mut ids = list.clone();
                ids.sort();
                ids.dedup();
                Some(ids)
            }
        };
        let reason = self.reason.trim();
        if reason.is_empty() || reason.chars().count() > MAX_REASON {
            return Err(refuse(
                "reason",
                format!("reason must be 1 to {MAX_REASON} characters"),
            ));
        }
        if reason.chars().any(|c| c.is_control() && c != '\n') {
            return Err(refuse(
                "reason",
                "reason must not contain control characters",
            ));
        }
        Ok(WindowSpec {
            schedule,
            scenarios,
            reason: reason.to_owned(),
        })
    }
}

/// The instant of a local date and time in `tz`: a time that does not exist (skipped by a
/// daylight-saving change) is the first valid instant after it, an ambiguous one (repeated
/// when the clocks go back) the earlier.
pub fn local_instant(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let mut local = date.and_time(time);
    // Gaps are at most a few hours; step to the first local time that exists.
    for _ in 0..=(24 * 60) {
        match tz.from_local_datetime(&local) {
            LocalResult::Single(t) => return t.with_timezone(&Utc),
            LocalResult::Ambiguous(a, b) => return a.min(b).with_timezone(&Utc),
            LocalResult::None => local += Duration::minutes(1),
        }
    }
    // Unreachable for real zones; read the time as UTC rather than fail.
    date.and_time(time).and_utc()
}

impl Weekly {
    /// The occurrence starting on local date `day` (whether or not `day` is one of `days`).
    fn on(&self, day: NaiveDate) -> Occurrence {
        let end_day = if self.to <= self.from {
            day.succ_opt().unwrap_or(day)
        } else {
            day
        };
        Occurrence {
            start: local_instant(self.timezone, day, self.from),
            end: local_instant(self.timezone, end_day, self.to),
        }
    }

    fn occurrence_at(&self, t: DateTime<Utc>) -> Option<Occurrence> {
        let today = t.with_timezone(&self.timezone).date_naive();
        // An occurrence lasts less than a day (plus a daylight-saving hour): it started
        // today or yesterday, local time.
        [today.pred_opt(), Some(today)]
            .into_iter()
            .flatten()
            .filter(|d| self.days.contains(&d.weekday()))
            .map(|d| self.on(d))
            .find(|o| o.start <= t && t < o.end)
    }
}

impl Schedule {
    /// The occurrence that covers `t`, if any.
    pub fn occurrence_at(&self, t: DateTime<Utc>) -> Option<Occurrence> {
        match self {
            Self::Once { starts_at, ends_at } => {
                (*starts_at <= t && t < *ends_at).then_some(Occurrence {
                    start: *starts_at,
                    end: *ends_at,
                })
            }
            Self::Weekly(w) => w.occurrence_at(t),
        }
    }

    /// Whether an occurrence overlaps `[from, to)` (the weekly summary's "windows used").
    pub fn occurs_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
        match self {
            Self::Once { starts_at, ends_at } => *starts_at < to && *ends_at > from,
            Self::Weekly(w) => {
                let first = from.with_timezone(&w.timezone).date_naive();
                let last = to.with_timezone(&w.timezone).date_naive();
                // An occurrence that started the day before `from` may still run into it.
                let mut day = first.pred_opt().unwrap_or(first);
                while day <= last {
                    if w.days.contains(&day.weekday()) {
                        let o = w.on(day);
                        if o.start < to && o.end > from {
                            return true;
                        }
                    }
                    match day.succ_opt() {
                        Some(next) => day = next,
                        None => break,
                    }
                }
                false
            }
        }
    }

    /// Whether no occurrence ends after `now` (a one-off window that is over).
    pub fn is_over(&self, now: DateTime<Utc>) -> bool {
        matches!(self, Self::Once { ends_at, .. } if *ends_at <= now)
    }
}

/// What an incident posted at the end of a maintenance window says: it has been failing
/// since `failing_since`, during maintenance for `reason`. Stored with its event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceNote {
    pub failing_since: DateTime<Utc>,
    pub reason: String,
}

/// A stored window as ingest sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub id: i64,
    pub spec: WindowSpec,
}

impl Window {
    /// Whether the window names `scenario` (or every scenario).
    pub fn covers(&self, scenario: &str) -> bool {
        self.spec
            .scenarios
            .as_ref()
            .is_none_or(|list| list.iter().any(|s| s == scenario))
    }
}

/// The window that holds a change of `scenario` at `t`: of those covering it then, the one
/// whose occurrence ends last (then the smaller id), with that occurrence.
pub fn holding(
    windows: &[Window],
    scenario: &str,
    t: DateTime<Utc>,
) -> Option<(Window, Occurrence)> {
    windows
        .iter()
        .filter(|w| w.covers(scenario))
        .filter_map(|w| w.spec.schedule.occurrence_at(t).map(|o| (w, o)))
        .max_by(|(a, oa), (b, ob)| oa.end.cmp(&ob.end).then_with(|| b.id.cmp(&a.id)))
        .map(|(w, o)| (w.clone(), o))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn weekly_input(days: &[&str], from: &str, to: &str, tz: &str) -> WindowInput {
        WindowInput {
            weekly: Some(WeeklyInput {
                days: days.iter().map(|d| (*d).to_owned()).collect(),
                from: from.into(),
                to: to.into(),
                timezone: tz.into(),
            }),
            reason: "Database upgrade".into(),
            ..WindowInput::default()
        }
    }

    fn schedule(input: &WindowInput) -> Schedule {
        input
            .validate(utc("2026-01-01T00:00:00Z"))
            .unwrap()
            .schedule
    }

    #[test]
    fn a_window_occurs_in_a_period_when_one_of_its_occurrences_overlaps_it() {
        let s = schedule(&weekly_input(&["sat"], "22:00", "02:00", "Europe/Berlin"));
        // Saturday 2026-01-10 21:00 UTC to Sunday 01:00 UTC.
        let overlaps = |from: &str, to: &str| s.occurs_between(utc(from), utc(to));
        assert!(overlaps("2026-01-05T00:00:00Z", "2026-01-12T00:00:00Z"));
        // A period starting inside Saturday's occurrence (after midnight) still sees it.
        assert!(overlaps("2026-01-11T00:30:00Z", "2026-01-11T05:00:00Z"));
        assert!(!overlaps("2026-01-11T01:00:00Z", "2026-01-17T21:00:00Z"));
        let once = Schedule::Once {
            starts_at: utc("2026-01-10T10:00:00Z"),
            ends_at: utc("2026-01-10T12:00:00Z"),
        };
        assert!(once.occurs_between(utc("2026-01-10T11:00:00Z"), utc("2026-01-11T00:00:00Z")));
        assert!(!once.occurs_between(utc("2026-01-10T12:00:00Z"), utc("2026-01-11T00:00:00Z")));
    }

    #[test]
    fn a_window_across_midnight_belongs_to_the_day_it_starts() {
        // Saturday and Sunday 22:00 to 02:00 in Berlin (winter: UTC+1).
        let s = schedule(&weekly_input(
            &["sat", "sun"],
            "22:00",
            "02:00",
            "Europe/Berlin",
        ));
        // Saturday 2026-01-10 22:00 CET = 21:00 UTC, to Sunday 02:00 CET = 01:00 UTC.
        let sat = s.occurrence_at(utc("2026-01-10T23:30:00Z")).unwrap();
        assert_eq!(sat.start, utc("2026-01-10T21:00:00Z"));
        assert_eq!(sat.end, utc("2026-01-11T01:00:00Z"));
        // Early Sunday belongs to Saturday's occurrence; Sunday night to Sunday's.
        assert_eq!(s.occurrence_at(utc("2026-01-11T00:59:59Z")), Some(sat));
        assert_eq!(s.occurrence_at(utc("2026-01-11T01:00:00Z")), None);
        let sun = s.occurrence_at(utc("2026-01-11T21:00:00Z")).unwrap();
        assert_eq!(sun.end, utc("2026-01-12T01:00:00Z"));
        // Monday early is Sunday's; Monday night is no window's (not a listed day), nor
        // is early Saturday (Friday is not listed).
        assert!(s.occurrence_at(utc("2026-01-12T00:30:00Z")).is_some());
        assert_eq!(s.occurrence_at(utc("2026-01-12T21:30:00Z")), None);
        assert_eq!(s.occurrence_at(utc("2026-01-10T00:30:00Z")), None);
        assert_eq!(s.occurrence_at(utc("2026-01-10T20:59:59Z")), None);
    }

    #[test]
    fn spring_forward_starts_a_window_in_the_gap_at_the_first_valid_instant() {
        // Berlin 2026-03-29 (Sunday): 02:00 CET jumps to 03:00 CEST (01:00 UTC).
        let s = schedule(&weekly_input(&["sun"], "02:30", "04:00", "Europe/Berlin"));
        let o = s.occurrence_at(utc("2026-03-29T01:30:00Z")).unwrap();
        assert_eq!(
            o.start,
            utc("2026-03-29T01:00:00Z"),
            "02:30 does not exist: 03:00 CEST"
        );
        assert_eq!(o.end, utc("2026-03-29T02:00:00Z"), "04:00 CEST");
        assert_eq!(s.occurrence_at(utc("2026-03-29T00:59:59Z")), None);
        // A window across midnight into that night lasts an hour less.
        let n = schedule(&weekly_input(&["sat"], "22:00", "06:00", "Europe/Berlin"));
        let o = n.occurrence_at(utc("2026-03-29T03:00:00Z")).unwrap();
        assert_eq!(o.start, utc("2026-03-28T21:00:00Z"));
        assert_eq!(o.end, utc("2026-03-29T04:00:00Z"));
        assert_eq!(o.end - o.start, Duration::hours(7));
    }

    #[test]
    fn fall_back_reads_an_ambiguous_time_as_the_earlier_instant() {
        // Berlin 2026-10-25 (Sunday): 03:00 CEST goes back to 02:00 CET; 02:30 happens twice.
        let s = schedule(&weekly_input(&["sun"], "02:30", "05:00", "Europe/Berlin"));
        let o = s.occurrence_at(utc("2026-10-25T01:00:00Z")).unwrap();
        assert_eq!(
            o.start,
            utc("2026-10-25T00:30:00Z"),
            "the first 02:30 (CEST)"
        );
        assert_eq!(o.end, utc("2026-10-25T04:00:00Z"), "05:00 CET");
        let n = schedule(&weekly_input(&["sat"], "22:00", "06:00", "Europe/Berlin"));
        let o = n.occurrence_at(utc("2026-10-25T02:00:00Z")).unwrap();
        assert_eq!(o.start, utc("2026-10-24T20:00:00Z"), "22:00 CEST");
        assert_eq!(o.end, utc("2026-10-25T05:00:00Z"), "06:00 CET");
        assert_eq!(o.end - o.start, Duration::hours(9));
        assert_eq!(
            local_instant(
                Tz::Europe__Berlin,
                NaiveDate::from_ymd_opt(2026, 10, 25).unwrap(),
                NaiveTime::from_hms_opt(2, 0, 0).unwrap()
            ),
            utc("2026-10-25T00:00:00Z")
        );
    }

    #[test]
    fn a_one_off_window_covers_its_start_but_not_its_end() {
        let w = WindowInput {
            starts_at: Some("2026-12-24T22:00:00+01:00".into()),
            ends_at: Some("2026-12-25T02:00:00+01:00".into()),
            reason: "  Shop freeze ".into(),
            ..WindowInput::default()
        };
        let spec = w.validate(utc("2026-12-01T00:00:00Z")).unwrap();
        assert_eq!(spec.reason, "Shop freeze");
        let s = spec.schedule;
        assert!(s.occurrence_at(utc("2026-12-24T21:00:00Z")).is_some());
        assert!(s.occurrence_at(utc("2026-12-25T00:59:59Z")).is_some());
        assert!(s.occurrence_at(utc("2026-12-25T01:00:00Z")).is_none());
        assert!(s.occurrence_at(utc("2026-12-24T20:59:59Z")).is_none());
        assert!(s.is_over(utc("2026-12-25T01:00:00Z")));
        assert!(!s.is_over(utc("2026-12-25T00:00:00Z")));
    }

    #[test]
    fn bad_windows_are_refused_naming_the_field() {
        let now = utc("2026-12-01T00:00:00Z");
        let once = |s: &str, e: &str| WindowInput {
            starts_at: Some(s.into()),
            ends_at: Some(e.into()),
            reason: "r".into(),
            ..WindowInput::default()
        };
        let field = |w: WindowInput| w.validate(now).unwrap_err().field;
        assert_eq!(field(once("tomorrow", "2026-12-02T00:00:00Z")), "starts_at");
        assert_eq!(
            field(once("2026-12-02T00:00:00Z", "2026-12-02 01:00")),
            "ends_at"
        );
        assert_eq!(
            field(once("2026-12-02T01:00:00Z", "2026-12-02T00:00:00Z")),
            "ends_at"
        );
        assert_eq!(
            field(once("2026-12-02T01:00:00Z", "2026-12-02T01:00:00Z")),
            "ends_at"
        );
        assert_eq!(
            field(once("2026-11-02T01:00:00Z", "2026-11-03T01:00:00Z")),
            "ends_at"
        );
        assert_eq!(
            field(weekly_input(&[], "22:00", "02:00", "UTC")),
            "weekly.days"
        );
        assert_eq!(
            field(weekly_input(&["sa"], "22:00", "02:00", "UTC")),
            "weekly.days"
        );
        assert_eq!(
            field(weekly_input(&["sat"], "24:00", "02:00", "UTC")),
            "weekly.from"
        );
        assert_eq!(
            field(weekly_input(&["sat"], "22:00", "2:00", "UTC")),
            "weekly.to"
        );
        assert_eq!(
            field(weekly_input(&["sat"], "22:00", "22:00", "UTC")),
            "weekly.to"
        );
        assert_eq!(
            field(weekly_input(&["sat"], "22:00", "02:00", "Mars/Base")),
            "weekly.timezone"
        );
        let mut both = weekly_input(&["sat"], "22:00", "02:00", "UTC");
        both.starts_at = Some("2026-12-02T00:00:00Z".into());
        assert_eq!(field(both), "weekly");
        assert_eq!(
            field(WindowInput {
                reason: "r".into(),
                ..WindowInput::default()
            }),
            "starts_at"
        );
        let mut long = weekly_input(&["sat"], "22:00", "02:00", "UTC");
        long.reason = "x".repeat(MAX_REASON + 1);
        assert_eq!(field(long), "reason");
        let mut blank = weekly_input(&["sat"], "22:00", "02:00", "UTC");
        blank.reason = "  ".into();
        assert_eq!(field(blank), "reason");
        let mut none = weekly_input(&["sat"], "22:00", "02:00", "UTC");
        none.scenarios = Some(vec![]);
        assert_eq!(field(none), "scenarios");
        let mut spaced = weekly_input(&["sat"], "22:00", "02:00", "UTC");
        spaced.scenarios = Some(vec!["shop checkout".into()]);
        assert_eq!(field(spaced), "scenarios");
    }

    #[test]
    fn the_window_ending_last_holds_a_change() {
        let spec = |s: &str, e: &str, scenarios: Option<Vec<String>>| WindowSpec {
            schedule: Schedule::Once {
                starts_at: utc(s),
                ends_at: utc(e),
            },
            scenarios,
            reason: "r".into(),
        };
        let windows = vec![
            Window {
                id: 1,
                spec: spec("2026-12-01T00:00:00Z", "2026-12-01T02:00:00Z", None),
            },
            Window {
                id: 2,
                spec: spec(
                    "2026-12-01T00:30:00Z",
                    "2026-12-01T03:00:00Z",
                    Some(vec!["a".into()]),
                ),
            },
        ];
        let at = utc("2026-12-01T01:00:00Z");
        assert_eq!(holding(&windows, "a", at).unwrap().0.id, 2);
        assert_eq!(holding(&windows, "b", at).unwrap().0.id, 1);
        assert!(holding(&windows, "a", utc("2026-12-01T03:00:00Z")).is_none());
    }
}
