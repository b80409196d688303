//! `org_slack_settings` and `project_slack_settings`: the values an admin saved.
//!
//! Target channels and rules are stored as JSON; a value that does not parse reads as
//! none and is logged and counted ([`crate::db::unreadable`]).
//! An organization without a row has the documented defaults; a project without a row
//! has no settings of its own (it inherits everything).
//!
//! A stored regression threshold outside 1..=1000 (the columns' CHECK forbids it) is a
//! read error, logged and counted, never a default.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{org_slack_settings, project_slack_settings};
use crate::db::unreadable::{read_json, write_json};
use crate::db::{now, DbConnection, FirstRowDsl};
use crate::domain::channel::TargetChannel;
use crate::domain::quiet::DuringLoadTests;
use crate::domain::rules;
use crate::domain::settings::{OrgSettings, ProjectSettings, RegressionThreshold};
use crate::domain::summary::SummarySchedule;

/// The JSON columns, as logged when one cannot be read.
const ORG_CHANNELS: &str = "org_slack_settings.target_channels";
const ORG_RULES: &str = "org_slack_settings.rules";
const PROJECT_CHANNELS: &str = "project_slack_settings.target_channels";
const PROJECT_RULES: &str = "project_slack_settings.rules";
const ORG_SUMMARY: &str = "org_slack_settings.summary";
const PROJECT_SUMMARY: &str = "project_slack_settings.summary";

/// A saved organization-level configuration.
#[allow(dead_code, reason = "the row mirrors its table")]
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = org_slack_settings)]
pub struct OrgSlackSettings {
    pub org_id: String,
    pub send_messages: bool,
    pub threads: bool,
    pub compact_messages: bool,
    pub target_channels: String,
    pub updated_at: NaiveDateTime,
    pub updated_by: String,
    /// JSON of the rules ([`crate::domain::rules::Rule`]).
    pub rules: String,
    pub regression_threshold_pct: RegressionThreshold,
    pub charts: bool,
    pub during_load_tests: DuringLoadTests,
    /// JSON of the weekly summary's schedule; `None`: off.
    pub summary: Option<String>,
}

impl OrgSlackSettings {
    pub fn find_by_org(conn: &mut DbConnection, org: &str) -> QueryResult<Option<Self>> {
        org_slack_settings::table
            .find(org)
            .select(Self::as_select())
            .first_row(conn)
            .optional()
    }

    /// Every saved organization configuration (channel health checks).
    pub fn list_all(conn: &mut DbConnection) -> QueryResult<Vec<Self>> {
        org_slack_settings::table
            .order(org_slack_settings::org_id.asc())
            .select(Self::as_select())
            .load(conn)
    }

    /// The organization's settings, or the documented defaults when none were saved.
    pub fn load(conn: &mut DbConnection, org: &str) -> QueryResult<OrgSettings> {
        Ok(Self::find_by_org(conn, org)?
            .map(|row| row.to_domain())
            .unwrap_or_default())
    }

    pub fn to_domain(&self) -> OrgSettings {
        OrgSettings {
            send_messages: self.send_messages,
            threads: self.threads,
            compact_messages: self.compact_messages,
            target_channels: read_json(ORG_CHANNELS, &self.target_channels),
            rules: read_json(ORG_RULES, &self.rules),
            regression_threshold_pct: self.regression_threshold_pct,
            charts: self.charts,
            during_load_tests: self.during_load_tests,
            summary: read_summary(ORG_SUMMARY, self.summary.as_deref()),
        }
    }

    /// Creates or replaces the organization's row.
    pub fn save(
        conn: &mut DbConnection,
        org: &str,
        settings: &OrgSettings,
        updated_by: &str,
    ) -> QueryResult<()> {
        let now = now();
        let channels = write_json(ORG_CHANNELS, &settings.target_channels, "[]");
        let updated = diesel::update(org_slack_settings::table.find(org))
            .set((
                org_slack_settings::send_messages.eq(settings.send_messages),
                org_slack_settings::threads.eq(settings.threads),
                org_slack_settings::compact_messages.eq(settings.compact_messages),
                org_slack_settings::target_channels.eq(&channels),
                org_slack_settings::rules.eq(write_json(ORG_RULES, &settings.rules, "[]")),
                org_slack_settings::regression_threshold_pct
                    .eq(stored(settings.regression_threshold_pct)),
                org_slack_settings::charts.eq(settings.charts),
                org_slack_settings::during_load_tests.eq(settings.during_load_tests),
                org_slack_settings::summary.eq(write_summary(ORG_SUMMARY, &settings.summary)),
                org_slack_settings::updated_at.eq(now),
                org_slack_settings::updated_by.eq(updated_by),
            ))
            .execute(conn)?;
        if updated == 0 {
            Self::insert(conn, org, settings, updated_by)?;
        }
        Ok(())
    }

    pub fn insert(
        conn: &mut DbConnection,
        org: &str,
        settings: &OrgSettings,
        updated_by: &str,
    ) -> QueryResult<()> {
        diesel::insert_into(org_slack_settings::table)
            .values((
                org_slack_settings::org_id.eq(org),
                org_slack_settings::send_messages.eq(settings.send_messages),
                org_slack_settings::threads.eq(settings.threads),
                org_slack_settings::compact_messages.eq(settings.compact_messages),
                org_slack_settings::target_channels.eq(write_json(
                    ORG_CHANNELS,
                    &settings.target_channels,
                    "[]",
                )),
                org_slack_settings::rules.eq(write_json(ORG_RULES, &settings.rules, "[]")),
                org_slack_settings::regression_threshold_pct
                    .eq(stored(settings.regression_threshold_pct)),
                org_slack_settings::charts.eq(settings.charts),
                org_slack_settings::during_load_tests.eq(settings.during_load_tests),
                org_slack_settings::summary.eq(write_summary(ORG_SUMMARY, &settings.summary)),
                org_slack_settings::updated_at.eq(now()),
                org_slack_settings::updated_by.eq(updated_by),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Replaces only the stored target channels (resolution after an install).
    pub fn set_target_channels(
        conn: &mut DbConnection,
        org: &str,
        channels: &[TargetChannel],
    ) -> QueryResult<usize> {
        diesel::update(org_slack_settings::table.find(org))
            .set(org_slack_settings::target_channels.eq(write_json(ORG_CHANNELS, channels, "[]")))
            .execute(conn)
    }

    /// Replaces only the stored notification rules (their channels resolved at install).
    pub fn set_rules(
        conn: &mut DbConnection,
        org: &str,
        rules: &[rules::Rule],
    ) -> QueryResult<usize> {
        diesel::update(org_slack_settings::table.find(org))
            .set(org_slack_settings::rules.eq(write_json(ORG_RULES, rules, "[]")))
            .execute(conn)
    }
}

/// A project's own settings.
#[allow(dead_code, reason = "the row mirrors its table")]
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = project_slack_settings)]
pub struct ProjectSlackSettings {
    pub org_id: String,
    pub project_id: String,
    pub send_messages: bool,
    pub threads: Option<bool>,
    pub compact_messages: Option<bool>,
    pub target_channels: String,
    pub updated_at: NaiveDateTime,
    pub updated_by: String,
    /// JSON of the rules ([`crate::domain::rules::Rule`]).
    pub rules: String,
    /// `None`: the organization's applies.
    pub regression_threshold_pct: Option<RegressionThreshold>,
    pub charts: Option<bool>,
    pub during_load_tests: Option<DuringLoadTests>,
    /// JSON of the weekly summary's schedule; `None`: the organization's applies.
    pub summary: Option<String>,
}

impl ProjectSlackSettings {
    pub fn find_by_project(
        conn: &mut DbConnection,
        org: &str,
        project: &str,
    ) -> QueryResult<Option<Self>> {
        project_slack_settings::table
            .find((org, project))
            .select(Self::as_select())
            .first_row(conn)
            .optional()
    }

    /// The own settings of those of `projects` in `org` that have any (one statement for
    /// an organization's projects, `pipeline::effective::resolve_projects`).
    pub fn find_by_projects(
        conn: &mut DbConnection,
        org: &str,
        projects: &[&str],
    ) -> QueryResult<Vec<Self>> {
        project_slack_settings::table
            .filter(project_slack_settings::org_id.eq(org))
            .filter(project_slack_settings::project_id.eq_any(projects))
            .select(Self::as_select())
            .load(conn)
    }

    /// Every project's own settings (channel health checks).
    pub fn list_all(conn: &mut DbConnection) -> QueryResult<Vec<Self>> {
        project_slack_settings::table
            .order((
                project_slack_settings::org_id.asc(),
                project_slack_settings::project_id.asc(),
            ))
            .select(Self::as_select())
            .load(conn)
    }

    pub fn to_domain(&self) -> ProjectSettings {
        ProjectSettings {
            send_messages: self.send_messages,
            threads: self.threads,
            compact_messages: self.compact_messages,
            target_channels: read_json(PROJECT_CHANNELS, &self.target_channels),
            rules: read_json(PROJECT_RULES, &self.rules),
            regression_threshold_pct: self.regression_threshold_pct,
            charts: self.charts,
            during_load_tests: self.during_load_tests,
            summary: read_summary(PROJECT_SUMMARY, self.summary.as_deref()),
        }
    }

    /// Creates or replaces the project's own settings.
    pub fn save(
        conn: &mut DbConnection,
        org: &str,
        project: &str,
        settings: &ProjectSettings,
        updated_by: &str,
    ) -> QueryResult<()> {
        let channels = write_json(PROJECT_CHANNELS, &settings.target_channels, "[]");
        let updated = diesel::update(project_slack_settings::table.find((org, project)))
            .set((
                project_slack_settings::send_messages.eq(settings.send_messages),
                project_slack_settings::threads.eq(settings.threads),
                project_slack_settings::compact_messages.eq(settings.compact_messages),
                project_slack_settings::target_channels.eq(&channels),
                project_slack_settings::rules.eq(write_json(PROJECT_RULES, &settings.rules, "[]")),
                project_slack_settings::regression_threshold_pct
                    .eq(settings.regression_threshold_pct.map(stored)),
                project_slack_settings::charts.eq(settings.charts),
                project_slack_settings::during_load_tests.eq(settings.during_load_tests),
                project_slack_settings::summary
                    .eq(write_summary(PROJECT_SUMMARY, &settings.summary)),
                project_slack_settings::updated_at.eq(now()),
                project_slack_settings::updated_by.eq(updated_by),
            ))
            .execute(conn)?;
        if updated == 0 {
            Self::insert(conn, org, project, settings, updated_by)?;
        }
        Ok(())
    }

    pub fn insert(
        conn: &mut DbConnection,
        org: &str,
        project: &str,
        settings: &ProjectSettings,
        updated_by: &str,
    ) -> QueryResult<()> {
        diesel::insert_into(project_slack_settings::table)
            .values((
                project_slack_settings::org_id.eq(org),
                project_slack_settings::project_id.eq(project),
                project_slack_settings::send_messages.eq(settings.send_messages),
                project_slack_settings::threads.eq(settings.threads),
                project_slack_settings::compact_messages.eq(settings.compact_messages),
                project_slack_settings::target_channels.eq(write_json(
                    PROJECT_CHANNELS,
                    &settings.target_channels,
                    "[]",
                )),
                project_slack_settings::rules.eq(write_json(PROJECT_RULES, &settings.rules, "[]")),
                project_slack_settings::regression_threshold_pct
                    .eq(settings.regression_threshold_pct.map(stored)),
                project_slack_settings::charts.eq(settings.charts),
                project_slack_settings::during_load_tests.eq(settings.during_load_tests),
                project_slack_settings::summary
                    .eq(write_summary(PROJECT_SUMMARY, &settings.summary)),
                project_slack_settings::updated_at.eq(now()),
                project_slack_settings::updated_by.eq(updated_by),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Removes the project's own settings; returns whether there were any.
    /// Replaces only the stored target channels (resolution after an install).
    pub fn set_target_channels(
        conn: &mut DbConnection,
        org: &str,
        project: &str,
        channels: &[TargetChannel],
    ) -> QueryResult<usize> {
        diesel::update(project_slack_settings::table.find((org, project)))
            .set(project_slack_settings::target_channels.eq(write_json(
                PROJECT_CHANNELS,
                channels,
                "[]",
            )))
            .execute(conn)
    }

    /// Replaces only the stored notification rules (their channels resolved at install).
    pub fn set_rules(
        conn: &mut DbConnection,
        org: &str,
        project: &str,
        rules: &[rules::Rule],
    ) -> QueryResult<usize> {
        diesel::update(project_slack_settings::table.find((org, project)))
            .set(project_slack_settings::rules.eq(write_json(PROJECT_RULES, rules, "[]")))
            .execute(conn)
    }

    pub fn delete(conn: &mut DbConnection, org: &str, project: &str) -> QueryResult<bool> {
        let n = diesel::delete(project_slack_settings::table.find((org, project))).execute(conn)?;
        Ok(n > 0)
    }
}

/// A stored schedule (`None` stays `None`; an unreadable one is logged, counted and off).
fn read_summary(column: &str, json: Option<&str>) -> Option<SummarySchedule> {
    json.and_then(|j| read_json::<Option<SummarySchedule>>(column, j))
}

fn write_summary(column: &str, schedule: &Option<SummarySchedule>) -> Option<String> {
    schedule.as_ref().map(|s| write_json(column, s, "null"))
}

/// The stored form of a threshold (read back through its `FromSql`, which checks it).
fn stored(t: RegressionThreshold) -> i32 {
    i32::from(t.pct())
}

impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Integer, DB> for RegressionThreshold
where
    DB: diesel::backend::Backend,
    i32: diesel::deserialize::FromSql<diesel::sql_types::Integer, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
        let raw =
            <i32 as diesel::deserialize::FromSql<diesel::sql_types::Integer, DB>>::from_sql(bytes)?;
        RegressionThreshold::parse(raw.into()).map_err(|e| {
            let error = format!("not a valid RegressionThreshold: {raw} ({e})");
            crate::db::unreadable::note_unreadable("RegressionThreshold", &error);
            error.into()
        })
    }
}
