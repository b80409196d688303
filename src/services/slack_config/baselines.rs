//! Baselines as admins see them: each definition of a project with its pinned run (API and
//! web UI), pinned and unpinned by an admin (`pipeline::baselines` does the work).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{ensure_exists, ConfigError, Scope};
use crate::db::models::run_report::{BaselineRow, RunReport};
use crate::db::{write_tx, DbConnection};
use crate::domain::access::Principal;
use crate::domain::report::BaselineRun;
use crate::pipeline::baselines::{self, PinRefusal, PinnedBy};
use crate::pipeline::events::ReportSummary;
use crate::services::Services;

/// The most recent reported runs looked at for the web UI's list of definitions.
const DEFINITIONS_FROM_RUNS: i64 = 500;

/// A definition's pinned baseline (`GET …/slack/baselines`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BaselineView {
    /// The definition's id, or the runs' name when they name no definition.
    pub definition: String,
    pub load_test_id: String,
    pub set_by: String,
    pub set_at: DateTime<Utc>,
    /// The pinned run's final figures (`null` once its history was pruned).
    pub summary: Option<ReportSummary>,
}

/// A definition with its newest reported run and its pinned baseline (the web UI's list).
#[derive(Debug, Clone)]
pub struct DefinitionView {
    pub definition: String,
    pub latest: BaselineRun,
    pub baseline: Option<BaselineView>,
}

fn view(conn: &mut DbConnection, row: &BaselineRow) -> diesel::QueryResult<BaselineView> {
    let run = RunReport::find(conn, &row.load_test_id)?;
    Ok(BaselineView {
        definition: row.definition.clone(),
        load_test_id: row.load_test_id.clone(),
        set_by: row.set_by.clone(),
        set_at: row.set_at.and_utc(),
        summary: run.as_ref().map(baselines::summary_of),
    })
}

fn project_of(scope: &Scope) -> (String, String) {
    (
        scope.org().to_string(),
        scope.project().map(ToString::to_string).unwrap_or_default(),
    )
}

/// The project's pinned baselines.
pub async fn list_baselines(
    services: &Services,
    scope: &Scope,
) -> Result<Vec<BaselineView>, ConfigError> {
    let s = scope.clone();
    services
        .db
        .run(move |conn| {
            ensure_exists(conn, &s)?;
            let (org, project) = project_of(&s);
            let mut out = Vec::new();
            for row in BaselineRow::list(conn, (&org, &project))? {
                out.push(view(conn, &row)?);
            }
            Ok(out)
        })
        .await
}

/// The project's definitions that have reported runs, newest run first, with baselines.
pub async fn list_definitions(
    services: &Services,
    scope: &Scope,
) -> Result<Vec<DefinitionView>, ConfigError> {
    let s = scope.clone();
    services
        .db
        .run(move |conn| {
            ensure_exists(conn, &s)?;
            let (org, project) = project_of(&s);
            let listed = baselines::definitions(conn, (&org, &project), DEFINITIONS_FROM_RUNS)?;
            let mut out = Vec::with_capacity(listed.len());
            for d in listed {
                let baseline = match &d.baseline {
                    Some((row, _)) => Some(view(conn, row)?),
                    None => None,
                };
                out.push(DefinitionView {
                    definition: d.definition,
                    latest: d.latest,
                    baseline,
                });
            }
            Ok(out)
        })
        .await
}

fn refused(e: PinRefusal) -> ConfigError {
    ConfigError::Invalid {
        field: "load_test_id".into(),
        message: e.to_string(),
    }
}

/// Pins `load_test_id` as the baseline of `definition`: the run's cards say so, the old
/// baseline's no longer do (audited).
pub async fn set_baseline(
    services: &Services,
    admin: &Principal,
    scope: &Scope,
    definition: &str,
    load_test_id: &str,
) -> Result<BaselineView, ConfigError> {
    let (s, definition, id) = (
        scope.clone(),
        definition.to_owned(),
        load_test_id.to_owned(),
    );
    let (actor, name) = (admin.actor(), admin.name.clone());
    services
        .db
        .run(move |conn| {
            ensure_exists(conn, &s)?;
            let (org, project) = project_of(&s);
            let by = PinnedBy {
                audit_actor: &actor,
                shown: &name,
            };
            let now = Utc::now();
            write_tx(conn, |c| {
                baselines::pin(c, (&org, &project), Some(&definition), &id, &by, now)
            })?
            .map_err(refused)?;
            let row = BaselineRow::find(conn, (&org, &project), &definition)?
                .ok_or_else(|| ConfigError::NotFound(format!("no baseline of {definition:?}")))?;
            Ok(view(conn, &row)?)
        })
        .await
}

/// Unpins the baseline of `definition` (later runs compare with their previous run);
/// `NotFound` when none is pinned.
pub async fn remove_baseline(
    services: &Services,
    admin: &Principal,
    scope: &Scope,
    definition: &str,
) -> Result<(), ConfigError> {
    let (s, definition) = (scope.clone(), definition.to_owned());
    let actor = admin.actor();
    services
        .db
        .run(move |conn| {
            ensure_exists(conn, &s)?;
            let (org, project) = project_of(&s);
            let removed = write_tx(conn, |c| {
                baselines::unpin(c, (&org, &project), &definition, &actor, Utc::now())
            })?;
            if removed {
                Ok(())
            } else {
                Err(ConfigError::NotFound(format!(
                    "the definition {definition:?} of project {project:?} has no pinned baseline"
                )))
            }
        })
        .await
}
