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
mod tests;
