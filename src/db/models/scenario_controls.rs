//! `scenario_controls`: the acknowledgement and mute of a scenario's current incident.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::{scenario_controls, scenarios};
use crate::db::{DbConnection, FirstRowDsl};
use crate::domain::incident::{Ack, Actor, Controls, Mute};

#[derive(Queryable, Selectable, Insertable, AsChangeset, Debug, Clone)]
// None is a bound NULL, not DEFAULT (and an update writes it): one SQL text per statement.
#[diesel(
    table_name = scenario_controls,
    treat_none_as_default_value = false,
    treat_none_as_null = true
)]
pub struct ControlsRow {
    pub scenario_id: String,
    pub org_id: String,
    pub project_id: String,
    pub incident: i64,
    pub acked_by_id: Option<String>,
    pub acked_by: Option<String>,
    pub acked_at: Option<NaiveDateTime>,
    pub muted_by_id: Option<String>,
    pub muted_by: Option<String>,
    pub muted_at: Option<NaiveDateTime>,
    pub muted_until: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
    pub mute_comment: Option<String>,
}

/// An active mute with its scenario, for the delivery log's `mutes` and the web UI.
#[derive(Debug, Clone)]
pub struct MuteListing {
    pub scenario_id: String,
    pub scenario_name: String,
    pub org_id: String,
    pub project_id: String,
    pub incident: i64,
    pub mute: Mute,
}

impl ControlsRow {
    /// The domain view.
    pub fn controls(&self) -> Controls {
        let actor = |id: &Option<String>, name: &Option<String>| Actor {
            id: id.clone().unwrap_or_default(),
            name: name.clone().unwrap_or_default(),
        };
        Controls {
            incident: self.incident,
            ack: self.acked_at.map(|at| Ack {
                by: actor(&self.acked_by_id, &self.acked_by),
                at: at.and_utc(),
            }),
            mute: self.muted_at.map(|at| Mute {
                by: actor(&self.muted_by_id, &self.muted_by),
                at: at.and_utc(),
                until: self.muted_until.map(|u| u.and_utc()),
                comment: self.mute_comment.clone(),
            }),
        }
    }

    /// The row holding `c` for a scenario.
    pub fn of(scenario_id: &str, org_id: &str, project_id: &str, c: &Controls) -> Self {
        Self {
            scenario_id: scenario_id.to_owned(),
            org_id: org_id.to_owned(),
            project_id: project_id.to_owned(),
            incident: c.incident,
            acked_by_id: c.ack.as_ref().map(|a| a.by.id.clone()),
            acked_by: c.ack.as_ref().map(|a| a.by.name.clone()),
            acked_at: c.ack.as_ref().map(|a| a.at.naive_utc()),
            muted_by_id: c.mute.as_ref().map(|m| m.by.id.clone()),
            muted_by: c.mute.as_ref().map(|m| m.by.name.clone()),
            muted_at: c.mute.as_ref().map(|m| m.at.naive_utc()),
            muted_until: c.mute.as_ref().and_then(|m| m.until.map(|u| u.naive_utc())),
            updated_at: Utc::now().naive_utc(),
            mute_comment: c.mute.as_ref().and_then(|m| m.comment.clone()),
        }
    }

    pub fn find(conn: &mut DbConnection, scenario_id: &str) -> QueryResult<Option<Self>> {
        scenario_controls::table
            .find(scenario_id)
            .select(Self::as_select())
            .first_row(conn)
            .optional()
    }

    /// Inserts or replaces the scenario's row.
    pub fn save(conn: &mut DbConnection, row: &Self) -> QueryResult<()> {
        let updated = diesel::update(scenario_controls::table.find(&row.scenario_id))
            .set(row)
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(scenario_controls::table)
                .values(row)
                .execute(conn)?;
        }
        Ok(())
    }

    /// Mutes holding at `now` on open incidents of an organization (one project, or all).
    pub fn active_mutes(
        conn: &mut DbConnection,
        org_id: &str,
        project_id: Option<&str>,
        now: NaiveDateTime,
    ) -> QueryResult<Vec<MuteListing>> {
        let mut q = scenario_controls::table
            .inner_join(scenarios::table)
            .filter(scenario_controls::org_id.eq(org_id))
            .filter(scenario_controls::muted_at.is_not_null())
            .filter(
                scenario_controls::muted_until
                    .is_null()
                    .or(scenario_controls::muted_until.gt(now)),
            )
            .filter(scenario_controls::incident.eq(scenarios::incident))
            .filter(scenarios::failing_since.is_not_null())
            .into_boxed();
        if let Some(p) = project_id {
            q = q.filter(scenario_controls::project_id.eq(p.to_owned()));
        }
        let rows: Vec<(Self, String)> = q
            .order(scenario_controls::muted_at.desc())
            .limit(200)
            .select((Self::as_select(), scenarios::name))
            .load(conn)?;
        Ok(rows
            .into_iter()
            .filter_map(|(row, name)| {
                let mute = row.controls().mute?;
                Some(MuteListing {
                    scenario_id: row.scenario_id,
                    scenario_name: name,
                    org_id: row.org_id,
                    project_id: row.project_id,
                    incident: row.incident,
                    mute,
                })
            })
            .collect())
    }

    /// Rows whose timed mute ended by `now` (still marked muted).
    pub fn expired_mutes(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<Vec<Self>> {
        scenario_controls::table
            .filter(scenario_controls::muted_at.is_not_null())
            .filter(scenario_controls::muted_until.le(now))
            .limit(500)
            .select(Self::as_select())
            .load(conn)
    }
}
