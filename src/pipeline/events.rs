//! The event bodies of API.md, parsed at the edge into validated events, and the
//! normalised payload stored with each event (what the message templates show).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::ids::{EventId, LoadTestId, OrgId, ProjectId, ScenarioId};
use crate::domain::lifecycle::LoadTestEventType;
use crate::domain::monitoring::Health;
use crate::domain::report::{Figures, Metric};
use crate::domain::user_text::{self, Lines};

mod payload;

pub use payload::{
    BaselineSetPayload, HoldRecoveredPayload, IncidentActionPayload, LoadTestPayload, Payload,
    ScenarioPayload, WeeklySummaryPayload,
};

/// A field that failed validation (becomes 422 naming the field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

fn field_err(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// User text is kept whole at any length within the body limit (messages cut it for
/// display); the one rule it must follow lives in `domain::user_text`.
fn text_of(field: &str, value: &str, lines: Lines) -> Result<String, FieldError> {
    user_text::check(value, lines).map_err(|e| field_err(field, format!("{field} {e}")))?;
    Ok(value.to_owned())
}

fn text(field: &str, value: &str) -> Result<String, FieldError> {
    text_of(field, value, Lines::One)
}

fn opt_text(field: &str, value: Option<&str>) -> Result<Option<String>, FieldError> {
    value.map(|v| text(field, v)).transpose()
}

/// The earliest `occurred_at` accepted, and how far ahead of our clock one may be.
const EARLIEST_YEAR: i32 = 2000;
const MAX_CLOCK_SKEW_HOURS: i64 = 24;

fn occurred_at(
    value: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, FieldError> {
    let Some(t) = value else { return Ok(now) };
    let latest = now + chrono::Duration::hours(MAX_CLOCK_SKEW_HOURS);
    if t.year() < EARLIEST_YEAR || t > latest {
        return Err(field_err(
            "occurred_at",
            format!("occurred_at must lie between {EARLIEST_YEAR}-01-01 and 24 hours from now"),
        ));
    }
    Ok(t)
}

/// Report figures are counts, rates and durations: finite and not negative.
const MAX_FIGURE: f64 = 1e15;

fn figure(field: &str, value: Option<f64>) -> Result<Option<f64>, FieldError> {
    match value {
        Some(v) if !v.is_finite() || !(0.0..=MAX_FIGURE).contains(&v) => Err(field_err(
            field,
            format!("{field} must be a number from 0 to {MAX_FIGURE:e}"),
        )),
        other => Ok(other),
    }
}

fn summary(s: Option<ReportSummary>) -> Result<Option<ReportSummary>, FieldError> {
    let Some(s) = s else { return Ok(None) };
    for (key, value) in &s.extra {
        if let Some(n) = value.as_f64() {
            figure(&format!("report.summary.{key}"), Some(n))?;
        }
    }
    let checked = |name: &str, v: Option<f64>| figure(&format!("report.summary.{name}"), v);
    let error_rate = checked("error_rate", s.error_rate)?;
    if error_rate.is_some_and(|r| r > 1.0) {
        return Err(field_err(
            "report.summary.error_rate",
            "report.summary.error_rate is a share from 0 to 1 (0.02 = 2 %)",
        ));
    }
    Ok(Some(ReportSummary {
        throughput: checked("throughput", s.throughput)?,
        errors: checked("errors", s.errors)?,
        p95_ms: checked("p95_ms", s.p95_ms)?,
        requests: checked("requests", s.requests)?,
        error_rate,
        p50_ms: checked("p50_ms", s.p50_ms)?,
        p99_ms: checked("p99_ms", s.p99_ms)?,
        mean_ms: checked("mean_ms", s.mean_ms)?,
        duration_s: checked("duration_s", s.duration_s)?,
        users: checked("users", s.users)?,
        extra: s.extra,
    }))
}

/// The most points a series array may hold (API.md).
pub const MAX_SERIES_POINTS: usize = 2_000;
/// The longest interval between two points of a series: a day.
const MAX_INTERVAL_S: f64 = 86_400.0;

fn series(s: Option<ReportSeries>) -> Result<Option<ReportSeries>, FieldError> {
    let Some(s) = s else { return Ok(None) };
    if !(s.interval_s.is_finite() && s.interval_s > 0.0 && s.interval_s <= MAX_INTERVAL_S) {
        return Err(field_err(
            "report.series.interval_s",
            format!("report.series.interval_s must be a number of seconds above 0 and at most {MAX_INTERVAL_S}"),
        ));
    }
    let arrays = [
        ("throughput", &s.throughput),
        ("p95_ms", &s.p95_ms),
        ("errors", &s.errors),
    ];
    let mut length = None;
    for (name, values) in arrays {
        if values.is_empty() {
            continue;
        }
        let field = format!("report.series.{name}");
        if values.len() > MAX_SERIES_POINTS {
            return Err(field_err(
                &field,
                format!(
                    "{field} holds {} points; at most {MAX_SERIES_POINTS}",
                    values.len()
                ),
            ));
        }
        if length.is_some_and(|l| l != values.len()) {
            return Err(field_err(
                &field,
                format!("{field} must have as many points as the other arrays of report.series"),
            ));
        }
        length = Some(values.len());
        for v in values.iter() {
            figure(&field, Some(*v))?;
        }
    }
    if length.is_none() {
        return Err(field_err(
            "report.series",
            "report.series needs at least one of throughput, p95_ms, errors",
        ));
    }
    Ok(Some(s))
}

fn definition(d: Option<DefinitionInfo>) -> Result<Option<DefinitionInfo>, FieldError> {
    let Some(d) = d else { return Ok(None) };
    crate::domain::ids::LoadTestId::parse(&d.id).map_err(|e| {
        field_err(
            "load_test.definition.id",
            format!("load_test.definition.id {e}"),
        )
    })?;
    Ok(Some(DefinitionInfo {
        name: opt_text("load_test.definition.name", d.name.as_deref())?,
        id: d.id,
    }))
}

/// A fingerprint of an event body: SHA-256 of its canonical JSON (fields in declaration
/// order, maps sorted), so a retry that differs only in spacing or key order matches and
/// a reused `event_id` with another body does not.
fn fingerprint(body: &impl Serialize) -> String {
    use sha2::Digest;
    let canonical = serde_json::to_vec(body).unwrap_or_default();
    hex::encode(sha2::Sha256::digest(canonical))
}

/// An absolute http(s) URL of any length within the body limit. Messages link it where it
/// fits Slack's limits and say so where it does not (`slack::limits`).
fn url(field: &str, value: Option<&str>) -> Result<Option<String>, FieldError> {
    let Some(raw) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    match url::Url::parse(raw) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            Ok(Some(u.to_string()))
        }
        _ => Err(field_err(
            field,
            format!("{field} must be an absolute http:// or https:// URL"),
        )),
    }
}

fn common_ids(
    event_id: &str,
    org: &str,
    project: &str,
) -> Result<(EventId, OrgId, ProjectId), FieldError> {
    let event_id =
        EventId::parse(event_id).map_err(|e| field_err("event_id", format!("event_id {e}")))?;
    let org = OrgId::parse(org).map_err(|e| field_err("org", format!("org {e}")))?;
    let project =
        ProjectId::parse(project).map_err(|e| field_err("project", format!("project {e}")))?;
    Ok((event_id, org, project))
}

/// `load_test` of a load-test event.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
pub struct LoadTestInfo {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub started_by: Option<String>,
    /// The test definition whose runs are compared (absent: runs of the same name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<DefinitionInfo>,
}

/// `load_test.definition`: the test definition a run belongs to.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
pub struct DefinitionInfo {
    /// A slug like the other IDs.
    #[schema(max_length = 64, pattern = "^[a-z0-9][a-z0-9_.-]{0,63}$")]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `error` of an `error` event.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ErrorInfo {
    #[serde(default)]
    pub step: Option<String>,
    pub message: String,
}

/// Summary figures of a report (all optional); unknown figures are kept and shown too.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ReportSummary {
    /// Requests per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<f64>,
    /// A share from 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<f64>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl ReportSummary {
    /// The known figures, as the comparison reads them.
    pub fn figures(&self) -> Figures {
        use Metric as M;
        Figures::new(
            [
                (M::Throughput, self.throughput),
                (M::Errors, self.errors),
                (M::P95, self.p95_ms),
                (M::Requests, self.requests),
                (M::ErrorRate, self.error_rate),
                (M::P50, self.p50_ms),
                (M::P99, self.p99_ms),
                (M::Mean, self.mean_ms),
                (M::Duration, self.duration_s),
                (M::Users, self.users),
            ]
            .into_iter()
            .filter_map(|(m, v)| Some((m, v?))),
        )
    }
}

/// `report.series`: figures over time, one point every `interval_s` seconds (at most
/// 2,000 points per array, all arrays of one length).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ReportSeries {
    pub interval_s: f64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub throughput: Vec<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub p95_ms: Vec<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<f64>,
}

/// `report` of the two report events.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ReportInfo {
    pub url: String,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub summary: Option<ReportSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<ReportSeries>,
}

/// The body of `POST /api/v1/load-tests/{id}/events` (at most 64 KiB). Lenient: unknown
/// keys are ignored, so the orchestrator may send more than we read. User text (names,
/// `started_by`, error messages) has no length limit of its own: it is stored whole and cut
/// only for display.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct LoadTestEventBody {
    /// Unique per load test: 1-200 visible ASCII characters.
    #[schema(min_length = 1, max_length = 200)]
    pub event_id: String,
    #[schema(max_length = 64, pattern = "^[a-z0-9][a-z0-9_.-]{0,63}$")]
    pub org: String,
    #[schema(max_length = 64, pattern = "^[a-z0-9][a-z0-9_.-]{0,63}$")]
    pub project: String,
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub load_test: Option<LoadTestInfo>,
    #[serde(default)]
    pub error: Option<ErrorInfo>,
    #[serde(default)]
    pub report: Option<ReportInfo>,
    #[serde(default)]
    pub aborted_by: Option<String>,
}

/// A validated load-test event.
#[derive(Debug, Clone)]
pub struct LoadTestEvent {
    pub event_id: EventId,
    /// [`fingerprint`] of the body (a reused `event_id` with another body is refused).
    pub fingerprint: String,
    pub org: OrgId,
    pub project: ProjectId,
    pub load_test: LoadTestId,
    pub event_type: LoadTestEventType,
    pub occurred_at: DateTime<Utc>,
    pub info: LoadTestInfo,
    pub error: Option<ErrorInfo>,
    pub report: Option<ReportInfo>,
    pub aborted_by: Option<String>,
}

impl LoadTestEventBody {
    /// Validates the body; `now` stands in for a missing `occurred_at`.
    pub fn validate(
        self,
        load_test: LoadTestId,
        now: DateTime<Utc>,
    ) -> Result<LoadTestEvent, FieldError> {
        let fingerprint = fingerprint(&self);
        let (event_id, org, project) = common_ids(&self.event_id, &self.org, &self.project)?;
        let occurred_at = occurred_at(self.occurred_at, now)?;
        let event_type = LoadTestEventType::parse(&self.event_type).ok_or_else(|| {
            field_err(
                "type",
                "type must be one of started, running, finished, aborted, error, intermediate_report, report_available",
            )
        })?;
        let info = self.load_test.unwrap_or_default();
        let name = match info.name.as_deref().map(str::trim) {
            Some("") => {
                return Err(field_err(
                    "load_test.name",
                    "load_test.name must not be empty",
                ))
            }
            other => opt_text("load_test.name", other)?,
        };
        let info = LoadTestInfo {
            name,
            url: url("load_test.url", info.url.as_deref())?,
            started_by: opt_text("load_test.started_by", info.started_by.as_deref())?,
            definition: definition(info.definition)?,
        };
        let error = match (event_type, self.error) {
            (LoadTestEventType::Error, None) => {
                return Err(field_err("error", "error is required for an error event"))
            }
            (_, Some(e)) => Some(ErrorInfo {
                step: opt_text("error.step", e.step.as_deref())?,
                message: text_of("error.message", &e.message, Lines::Many)?,
            }),
            (_, None) => None,
        };
        let needs_report = matches!(
            event_type,
            LoadTestEventType::IntermediateReport | LoadTestEventType::ReportAvailable
        );
        let report = match (needs_report, self.report) {
            (true, None) => {
                return Err(field_err(
                    "report",
                    format!("report is required for a {} event", event_type.as_str()),
                ))
            }
            (_, Some(r)) => Some(ReportInfo {
                url: url("report.url", Some(&r.url))?
                    .ok_or_else(|| field_err("report.url", "report.url is required"))?,
                kind: opt_text("report.kind", r.kind.as_deref())?,
                summary: summary(r.summary)?,
                series: series(r.series)?,
            }),
            (false, None) => None,
        };
        Ok(LoadTestEvent {
            event_id,
            fingerprint,
            org,
            project,
            load_test,
            event_type,
            occurred_at,
            info,
            error,
            report,
            aborted_by: opt_text("aborted_by", self.aborted_by.as_deref())?,
        })
    }
}

/// `scenario` of a monitoring event.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ScenarioInfo {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

/// `execution` of a monitoring event.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ExecutionInfo {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
}

/// One failed sensor.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
pub struct FailedSensor {
    pub name: String,
    #[serde(default)]
    pub message: Option<String>,
}

/// The body of `POST /api/v1/monitoring/scenarios/{id}/events`. Lenient like load-test
/// event bodies; `failed_sensors` may hold any number (within the body limit): messages
/// list the first ones and count the rest.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct MonitoringEventBody {
    /// Unique per scenario: 1-200 visible ASCII characters.
    #[schema(min_length = 1, max_length = 200)]
    pub event_id: String,
    #[schema(max_length = 64, pattern = "^[a-z0-9][a-z0-9_.-]{0,63}$")]
    pub org: String,
    #[schema(max_length = 64, pattern = "^[a-z0-9][a-z0-9_.-]{0,63}$")]
    pub project: String,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub scenario: Option<ScenarioInfo>,
    #[serde(default)]
    pub notify_via: Vec<String>,
    pub state: String,
    #[serde(default)]
    pub execution: Option<ExecutionInfo>,
    #[serde(default)]
    pub failed_sensors: Vec<FailedSensor>,
}

/// A validated monitoring event.
#[derive(Debug, Clone)]
pub struct MonitoringEvent {
    pub event_id: EventId,
    /// [`fingerprint`] of the body.
    pub fingerprint: String,
    pub org: OrgId,
    pub project: ProjectId,
    pub scenario: ScenarioId,
    pub occurred_at: DateTime<Utc>,
    pub info: ScenarioInfo,
    pub notify_slack: bool,
    pub health: Health,
    pub execution: Option<ExecutionInfo>,
    pub failed_sensors: Vec<FailedSensor>,
}

impl MonitoringEventBody {
    pub fn validate(
        self,
        scenario: ScenarioId,
        now: DateTime<Utc>,
    ) -> Result<MonitoringEvent, FieldError> {
        let fingerprint = fingerprint(&self);
        let (event_id, org, project) = common_ids(&self.event_id, &self.org, &self.project)?;
        let occurred_at = occurred_at(self.occurred_at, now)?;
        let health = Health::parse(&self.state)
            .ok_or_else(|| field_err("state", "state must be one of ok, failure, error, fatal"))?;
        let info = self.scenario.unwrap_or_default();
        let info = ScenarioInfo {
            name: match info.name.as_deref().map(str::trim) {
                Some("") => {
                    return Err(field_err(
                        "scenario.name",
                        "scenario.name must not be empty",
                    ))
                }
                other => opt_text("scenario.name", other)?,
            },
            url: url("scenario.url", info.url.as_deref())?,
        };
        let execution = match self.execution {
            Some(e) => Some(ExecutionInfo {
                id: opt_text("execution.id", e.id.as_deref())?,
                url: url("execution.url", e.url.as_deref())?,
                location: opt_text("execution.location", e.location.as_deref())?,
            }),
            None => None,
        };
        let failed_sensors = self
            .failed_sensors
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                Ok(FailedSensor {
                    name: text(&format!("failed_sensors[{i}].name"), &s.name)?,
                    message: s
                        .message
                        .as_deref()
                        .map(|m| text_of(&format!("failed_sensors[{i}].message"), m, Lines::Many))
                        .transpose()?,
                })
            })
            .collect::<Result<Vec<_>, FieldError>>()?;
        Ok(MonitoringEvent {
            event_id,
            fingerprint,
            org,
            project,
            scenario,
            occurred_at,
            info,
            notify_slack: self
                .notify_via
                .iter()
                .any(|v| v.eq_ignore_ascii_case("slack")),
            health,
            execution,
            failed_sensors,
        })
    }
}
