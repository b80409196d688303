//! Settings resolution: the five rules of API.md, and the only place they live.
//!
//! 1. `send_messages`: a project with own settings always decides; otherwise the org.
//! 2. `integration`: the project's installation if it has one, else the org's.
//! 3. `target_channels`: the project's list if non-empty, else the org's.
//! 4. `threads`, `compact_messages`, `charts`, `regression_threshold_pct`,
//!    `during_load_tests`, `summary`: the project's value if set, else the org's (org
//!    defaults: off, off, on, 10 %, `annotate`, off).
//! 5. `complete`: an active integration and at least one target channel or rule.
//! 6. `rules`: the project's list if non-empty, else the org's (like target channels).
//!
//! Also here: what the effective settings warn about ([`Effective::warnings`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::channel::TargetChannel;
use super::delivery_reason::DeliveryReason;
use super::quiet::DuringLoadTests;
use super::rules::Rule;
use super::summary::SummarySchedule;

/// Organization-level settings. `Default` is the documented default: everything off
/// but charts, a regression threshold of 10 %.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgSettings {
    pub send_messages: bool,
    pub threads: bool,
    pub compact_messages: bool,
    pub target_channels: Vec<TargetChannel>,
    pub rules: Vec<Rule>,
    pub regression_threshold_pct: RegressionThreshold,
    /// Report charts uploaded into the run's thread.
    pub charts: bool,
    /// What a scenario's incident does while a load test of its project runs.
    pub during_load_tests: DuringLoadTests,
    /// The weekly summary of all its projects (`None`: off, the default).
    pub summary: Option<SummarySchedule>,
}

impl Default for OrgSettings {
    fn default() -> Self {
        Self {
            send_messages: false,
            threads: false,
            compact_messages: false,
            target_channels: Vec::new(),
            rules: Vec::new(),
            regression_threshold_pct: RegressionThreshold::default(),
            charts: true,
            during_load_tests: DuringLoadTests::default(),
            summary: None,
        }
    }
}

/// How much worse than its baseline a report figure may get before it is a regression, in
/// whole percent: 1 to 1000 (API.md "Report figures, baselines and regressions").
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    diesel::FromSqlRow,
)]
#[serde(try_from = "i64", into = "u16")]
pub struct RegressionThreshold(u16);

/// A regression threshold outside 1..=1000.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "must be a whole number of percent from {} to {}",
    RegressionThreshold::MIN,
    RegressionThreshold::MAX
)]
pub struct ThresholdError;

impl RegressionThreshold {
    pub const MIN: u16 = 1;
    pub const MAX: u16 = 1000;
    /// The documented default.
    pub const DEFAULT: Self = Self(10);

    pub fn parse(pct: i64) -> Result<Self, ThresholdError> {
        u16::try_from(pct)
            .ok()
            .filter(|p| (Self::MIN..=Self::MAX).contains(p))
            .map(Self)
            .ok_or(ThresholdError)
    }

    /// As typed into a form: a whole number, surrounding spaces ignored.
    pub fn parse_text(text: &str) -> Result<Self, ThresholdError> {
        text.trim()
            .parse::<i64>()
            .map_err(|_| ThresholdError)
            .and_then(Self::parse)
    }

    pub fn pct(self) -> u16 {
        self.0
    }
}

impl Default for RegressionThreshold {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl TryFrom<i64> for RegressionThreshold {
    type Error = ThresholdError;

    fn try_from(pct: i64) -> Result<Self, ThresholdError> {
        Self::parse(pct)
    }
}

impl From<RegressionThreshold> for u16 {
    fn from(t: RegressionThreshold) -> u16 {
        t.0
    }
}

impl std::fmt::Display for RegressionThreshold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl utoipa::PartialSchema for RegressionThreshold {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
            .minimum(Some(f64::from(Self::MIN)))
            .maximum(Some(f64::from(Self::MAX)))
            .description(Some(
                "Percent a report figure may get worse than its baseline's before it is a \
                 regression",
            ))
            .into()
    }
}

impl utoipa::ToSchema for RegressionThreshold {}

/// A project's own settings (present only once saved for the project).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProjectSettings {
    /// Always decides when the project has own settings (rule 1).
    pub send_messages: bool,
    pub threads: Option<bool>,
    pub compact_messages: Option<bool>,
    /// Empty means "inherit" (rule 3).
    pub target_channels: Vec<TargetChannel>,
    /// Empty means "inherit" (rule 6).
    pub rules: Vec<Rule>,
    pub regression_threshold_pct: Option<RegressionThreshold>,
    pub charts: Option<bool>,
    pub during_load_tests: Option<DuringLoadTests>,
    /// The project's own weekly summary (`None`: the organization's applies).
    pub summary: Option<SummarySchedule>,
}

/// Whether an installation can still post.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    utoipa::ToSchema,
    diesel::AsExpression,
    diesel::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationStatus {
    Active,
    /// Uninstalled or token revoked in Slack, or Slack refused the token.
    Revoked,
}

impl IntegrationStatus {
    pub const ALL: [Self; 2] = [Self::Active, Self::Revoked];

    /// `None` for anything else: a stored value that is neither is an error, not "revoked".
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Revoked => "revoked",
        }
    }
}

/// A Slack installation as settings see it (the token stays in the database).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Integration {
    pub installation_id: String,
    pub team_id: String,
    pub team_name: String,
    pub installed_at: DateTime<Utc>,
    pub status: IntegrationStatus,
    /// Why it is revoked, when it is.
    pub status_reason: Option<String>,
    /// Since when Slack has been failing for it (an outage; deliveries wait and retry).
    pub failing_since: Option<DateTime<Utc>>,
    /// Whether it was granted [`FILES_WRITE`] (installations made before charts were not):
    /// without it no chart is attempted and the settings warn.
    pub can_upload_files: bool,
}

/// The bot scope file uploads (report charts) need.
pub const FILES_WRITE: &str = "files:write";

impl Integration {
    /// Whether Slack's comma-separated list of granted bot scopes allows file uploads.
    pub fn scopes_allow_uploads(granted: &str) -> bool {
        granted.split(',').any(|s| s.trim() == FILES_WRITE)
    }
}

/// Something about the effective settings an admin should fix (API: `warnings`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettingsWarning {
    /// The effective integration lacks a bot scope a setting in use needs.
    MissingScope { scope: &'static str },
}

impl SettingsWarning {
    /// The stable code of the API's `problem`.
    pub fn problem(self) -> &'static str {
        match self {
            Self::MissingScope { .. } => "missing_scope",
        }
    }

    /// What it means and how to fix it, for people.
    pub fn message(self) -> String {
        match self {
            Self::MissingScope { scope } => format!(
                "This Slack installation was made without the {scope} permission, so report \
                 charts are not posted. Install again to add charts."
            ),
        }
    }
}

/// Where an effective value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Organization,
    Project,
}

/// A value and its source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

fn from_org<T>(value: T) -> Sourced<T> {
    Sourced {
        value,
        source: Source::Organization,
    }
}

fn from_project<T>(value: T) -> Sourced<T> {
    Sourced {
        value,
        source: Source::Project,
    }
}

/// Rule 4: a project's value where it set one, else the organization's.
fn own_or_org<T>(own: Option<T>, org: T) -> Sourced<T> {
    match own {
        Some(v) => from_project(v),
        None => from_org(org),
    }
}

/// The settings that apply to a project's notifications.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effective {
    pub send_messages: Sourced<bool>,
    pub threads: Sourced<bool>,
    pub compact_messages: Sourced<bool>,
    pub target_channels: Sourced<Vec<TargetChannel>>,
    pub integration: Sourced<Option<Integration>>,
    pub rules: Sourced<Vec<Rule>>,
    pub regression_threshold_pct: Sourced<RegressionThreshold>,
    pub charts: Sourced<bool>,
    pub during_load_tests: Sourced<DuringLoadTests>,
    /// The weekly summary schedule (rule 4; `None`: off).
    pub summary: Sourced<Option<SummarySchedule>>,
}

impl Effective {
    /// The regression threshold in percent (`regression_threshold_pct`).
    pub fn regression_threshold(&self) -> u32 {
        u32::from(self.regression_threshold_pct.value.pct())
    }

    /// Rule 5.
    pub fn complete(&self) -> bool {
        self.missing().is_empty()
    }

    /// What a complete configuration still lacks (for `incomplete_config` answers).
    pub fn missing(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        match &self.integration.value {
            None => missing.push("integration"),
            Some(i) if i.status != IntegrationStatus::Active => missing.push("active_integration"),
            Some(_) => {}
        }
        if self.target_channels.value.is_empty() && self.rules.value.is_empty() {
            missing.push("target_channels");
        }
        missing
    }

    /// Whether a report's chart is to be uploaded: charts on and an integration that may
    /// upload files.
    pub fn posts_charts(&self) -> bool {
        self.charts.value
            && self
                .integration
                .value
                .as_ref()
                .is_some_and(|i| i.can_upload_files)
    }

    /// What an admin should fix. An installation without `files:write` is named only
    /// while charts are on: with charts off nothing is missing.
    pub fn warnings(&self) -> Vec<SettingsWarning> {
        let lacks_uploads = self
            .integration
            .value
            .as_ref()
            .is_some_and(|i| !i.can_upload_files);
        if self.charts.value && lacks_uploads {
            vec![SettingsWarning::MissingScope { scope: FILES_WRITE }]
        } else {
            Vec::new()
        }
    }

    /// Why nothing is sent for an event, or `None` when messages go out.
    pub fn skip_reason(&self) -> Option<DeliveryReason> {
        if !self.send_messages.value {
            return Some(DeliveryReason::SendingDisabled(self.send_messages.source));
        }
        let missing = self.missing();
        (!missing.is_empty()).then(|| {
            DeliveryReason::ConfigurationIncomplete(missing.iter().map(|m| m.to_string()).collect())
        })
    }
}

/// Resolves the effective settings of a project, or of the organization itself when
/// `project` and `project_integration` are `None`.
pub fn resolve(
    org: &OrgSettings,
    org_integration: Option<&Integration>,
    project: Option<&ProjectSettings>,
    project_integration: Option<&Integration>,
) -> Effective {
    let send_messages = match project {
        Some(p) => from_project(p.send_messages),
        None => from_org(org.send_messages),
    };
    let integration = match project_integration {
        Some(i) => from_project(Some(i.clone())),
        None => from_org(org_integration.cloned()),
    };
    let target_channels = match project {
        Some(p) if !p.target_channels.is_empty() => from_project(p.target_channels.clone()),
        _ => from_org(org.target_channels.clone()),
    };
    let threads = own_or_org(project.and_then(|p| p.threads), org.threads);
    let compact_messages = own_or_org(
        project.and_then(|p| p.compact_messages),
        org.compact_messages,
    );
    let rules = match project {
        Some(p) if !p.rules.is_empty() => from_project(p.rules.clone()),
        _ => from_org(org.rules.clone()),
    };
    let regression_threshold_pct = own_or_org(
        project.and_then(|p| p.regression_threshold_pct),
        org.regression_threshold_pct,
    );
    let charts = own_or_org(project.and_then(|p| p.charts), org.charts);
    let during_load_tests = own_or_org(
        project.and_then(|p| p.during_load_tests),
        org.during_load_tests,
    );
    let summary = match project.and_then(|p| p.summary.clone()) {
        Some(own) => from_project(Some(own)),
        None => from_org(org.summary.clone()),
    };
    Effective {
        during_load_tests,
        rules,
        regression_threshold_pct,
        charts,
        summary,
        send_messages,
        threads,
        compact_messages,
        target_channels,
        integration,
    }
}

#[cfg(test)]
mod tests;
