//! Changing settings: saves with their audit entries (channels checked first by
//! `channel_check`).

use serde_json::{json, Value};

use super::super::Services;
use crate::db::models::audit::AuditEntry;
use crate::db::models::slack_settings::{OrgSlackSettings, ProjectSlackSettings};
use crate::db::write_tx;
use crate::domain::access::Principal;
use crate::domain::channel::TargetChannel;
use crate::domain::ids::{OrgId, ProjectId};
use crate::domain::quiet::DuringLoadTests;
use crate::domain::rules::Rule;
use crate::domain::settings::{OrgSettings, ProjectSettings, RegressionThreshold};
use crate::domain::summary::SummarySchedule;

use super::channel_check::{checked_channels, checked_rules, record_learned};
use super::views::{build_org_view, build_project_view};
use super::*;

/// An organization update; `None` leaves a value unchanged.
#[derive(Clone, Debug, Default)]
pub struct OrgUpdate {
    pub send_messages: Option<bool>,
    pub threads: Option<bool>,
    pub compact_messages: Option<bool>,
    /// Entries as typed (each may hold several space-separated channels).
    pub target_channels: Option<Vec<String>>,
    /// Replaces the notification rules when given.
    pub rules: Option<Vec<RuleInput>>,
    /// `Some(None)` resets it to the documented default.
    pub regression_threshold_pct: Option<Option<RegressionThreshold>>,
    pub charts: Option<bool>,
    pub during_load_tests: Option<DuringLoadTests>,
    /// `Some(None)` turns the weekly summary off.
    pub summary: Option<Option<SummarySchedule>>,
}

/// A notification rule as an admin wrote it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleInput {
    pub channel: String,
    pub events: Vec<String>,
    pub mention: Option<String>,
}

/// A project's complete own settings (replaces what was there).
#[derive(Clone, Debug, Default)]
pub struct ProjectUpdate {
    pub send_messages: bool,
    pub threads: Option<bool>,
    pub compact_messages: Option<bool>,
    /// Entries as typed; empty inherits the organization's channels.
    pub target_channels: Vec<String>,
    /// The project's own notification rules (empty: inherit the organization's); `None`
    /// keeps the ones saved (a form that does not show them).
    pub rules: Option<Vec<RuleInput>>,
    /// `None`: the organization's applies.
    pub regression_threshold_pct: Option<RegressionThreshold>,
    pub charts: Option<bool>,
    /// `None`: the organization's applies.
    pub during_load_tests: Option<DuringLoadTests>,
    pub summary: Option<SummarySchedule>,
}

/// Changed fields as `{"field": {"from": …, "to": …}}`.
pub(crate) fn changes(before: &Value, after: &Value) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(a) = after.as_object() {
        for (k, to) in a {
            let from = before.get(k).cloned().unwrap_or(Value::Null);
            if &from != to {
                out.insert(k.clone(), json!({"from": from, "to": to}));
            }
        }
    }
    Value::Object(out)
}

pub(crate) fn org_snapshot(s: &OrgSettings) -> Value {
    json!({
        "send_messages": s.send_messages,
        "threads": s.threads,
        "compact_messages": s.compact_messages,
        "target_channels": s.target_channels.iter().map(TargetChannel::display).collect::<Vec<_>>(),
        "rules": s.rules.iter().map(Rule::label).collect::<Vec<_>>(),
        "regression_threshold_pct": s.regression_threshold_pct,
        "charts": s.charts,
        "during_load_tests": s.during_load_tests,
        "summary": s.summary,
    })
}

pub(crate) fn project_snapshot(s: Option<&ProjectSettings>) -> Value {
    match s {
        None => Value::Null,
        Some(s) => json!({
            "send_messages": s.send_messages,
            "threads": s.threads,
            "compact_messages": s.compact_messages,
            "target_channels": s.target_channels.iter().map(TargetChannel::display).collect::<Vec<_>>(),
            "rules": s.rules.iter().map(Rule::label).collect::<Vec<_>>(),
            "regression_threshold_pct": s.regression_threshold_pct,
            "charts": s.charts,
            "during_load_tests": s.during_load_tests,
            "summary": s.summary,
        }),
    }
}

/// Applies an organization update (channels checked in Slack when an integration is
/// active) and returns the new view.
pub async fn update_org(
    services: &Services,
    actor: &Principal,
    org: &OrgId,
    update: OrgUpdate,
) -> Result<OrgView, ConfigError> {
    let scope = Scope::Org(org.clone());
    let resolved = match &update.target_channels {
        Some(entries) => Some(checked_channels(services, &scope, entries).await?),
        None => None,
    };
    let rules = match &update.rules {
        Some(inputs) => Some(checked_rules(services, &scope, inputs).await?),
        None => None,
    };
    let actor = actor.actor();
    let result = services
        .db
        .run(move |conn| {
            write_tx(conn, |c| {
                ensure_exists(c, &scope)?;
                let o = scope.org().as_str();
                let before = OrgSlackSettings::load(c, o)?;
                let mut after = before.clone();
                if let Some(v) = update.send_messages {
                    after.send_messages = v;
                }
                if let Some(v) = update.threads {
                    after.threads = v;
                }
                if let Some(v) = update.compact_messages {
                    after.compact_messages = v;
                }
                if let Some(v) = update.regression_threshold_pct {
                    after.regression_threshold_pct = v.unwrap_or_default();
                }
                if let Some(v) = update.charts {
                    after.charts = v;
                }
                if let Some(v) = update.during_load_tests {
                    after.during_load_tests = v;
                }
                if let Some(v) = update.summary.clone() {
                    after.summary = v;
                }
                if let Some(r) = &resolved {
                    after.target_channels = r.targets.clone();
                    record_learned(c, &r.learned)?;
                }
                if let Some((rules, learned)) = &rules {
                    after.rules = rules.clone();
                    record_learned(c, learned)?;
                }
                OrgSlackSettings::save(c, o, &after, &actor)?;
                let diff = changes(&org_snapshot(&before), &org_snapshot(&after));
                AuditEntry::insert(
                    c,
                    &actor,
                    o,
                    None,
                    "slack_settings.update",
                    &json!({ "changes": diff }),
                )?;
                Ok(build_org_view(c, o)?)
            })
        })
        .await;
    settled(services, org.as_str(), result)
}

/// Creates or replaces a project's own settings and returns the new view.
pub async fn put_project(
    services: &Services,
    actor: &Principal,
    org: &OrgId,
    project: &ProjectId,
    update: ProjectUpdate,
) -> Result<ProjectView, ConfigError> {
    let scope = Scope::Project(org.clone(), project.clone());
    let resolved = checked_channels(services, &scope, &update.target_channels).await?;
    let rules = match &update.rules {
        Some(inputs) => Some(checked_rules(services, &scope, inputs).await?),
        None => None,
    };
    let actor = actor.actor();
    let result = services
        .db
        .run(move |conn| {
            write_tx(conn, |c| {
                ensure_exists(c, &scope)?;
                let (o, p) = (
                    scope.org().as_str(),
                    scope.project_str().unwrap_or_default(),
                );
                let before = ProjectSlackSettings::find_by_project(c, o, p)?.map(|r| r.to_domain());
                let after = ProjectSettings {
                    send_messages: update.send_messages,
                    threads: update.threads,
                    compact_messages: update.compact_messages,
                    regression_threshold_pct: update.regression_threshold_pct,
                    charts: update.charts,
                    during_load_tests: update.during_load_tests,
                    summary: update.summary.clone(),
                    target_channels: resolved.targets.clone(),
                    rules: match &rules {
                        Some((rules, learned)) => {
                            record_learned(c, learned)?;
                            rules.clone()
                        }
                        None => before.as_ref().map(|b| b.rules.clone()).unwrap_or_default(),
                    },
                };
                record_learned(c, &resolved.learned)?;
                ProjectSlackSettings::save(c, o, p, &after, &actor)?;
                let diff = changes(
                    &project_snapshot(before.as_ref()),
                    &project_snapshot(Some(&after)),
                );
                AuditEntry::insert(
                    c,
                    &actor,
                    o,
                    Some(p),
                    "slack_settings.update",
                    &json!({ "created": before.is_none(), "changes": diff }),
                )?;
                Ok(build_project_view(c, o, p)?)
            })
        })
        .await;
    settled(services, org.as_str(), result)
}

/// Deletes a project's own settings (its installation, if any, stays).
pub async fn delete_project_settings(
    services: &Services,
    actor: &Principal,
    org: &OrgId,
    project: &ProjectId,
) -> Result<(), ConfigError> {
    let scope = Scope::Project(org.clone(), project.clone());
    let actor = actor.actor();
    let result = services
        .db
        .run(move |conn| {
            write_tx(conn, |c| {
                ensure_exists(c, &scope)?;
                let (o, p) = (
                    scope.org().as_str(),
                    scope.project_str().unwrap_or_default(),
                );
                if ProjectSlackSettings::delete(c, o, p)? {
                    AuditEntry::insert(c, &actor, o, Some(p), "slack_settings.delete", &json!({}))?;
                }
                Ok(())
            })
        })
        .await;
    settled(services, org.as_str(), result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_list_only_what_changed() {
        let d = changes(&json!({"a": 1, "b": 2}), &json!({"a": 1, "b": 3}));
        assert_eq!(d, json!({"b": {"from": 2, "to": 3}}));
    }
}
