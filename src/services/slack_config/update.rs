//! Changing settings: validation of target channels (resolved through Slack when an
//! integration is active), saves with their audit entries.

use secrecy::SecretString;
use serde_json::{json, Value};

use super::super::Services;
use crate::db::models::audit::AuditEntry;
use crate::db::models::channel_directory::ChannelDirectory;
use crate::db::models::installation::Installation;
use crate::db::models::slack_channel::SlackChannel;
use crate::db::models::slack_settings::{OrgSlackSettings, ProjectSlackSettings};
use crate::db::{write_tx, DbConnection, DbError};
use crate::domain::access::Principal;
use crate::domain::channel::{ChannelInput, TargetChannel, MAX_TARGET_CHANNELS};
use crate::domain::ids::{OrgId, ProjectId};
use crate::domain::quiet::DuringLoadTests;
use crate::domain::rules::{EventFilter, Mention, Rule, MAX_RULES};
use crate::domain::settings::{OrgSettings, ProjectSettings, RegressionThreshold};
use crate::domain::summary::SummarySchedule;
use crate::pipeline::{channel_directory, installations};
use crate::slack::{self, ErrorClass, SlackError};

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

/// Validates notification rules with the domain rules and resolves their channels like
/// target channels (through Slack when an integration is active, all in one lookup); a
/// refused entry is a 422 naming its field (`rules[1].channel`, `rules[0].events`, ...).
pub(crate) async fn checked_rules(
    services: &Services,
    scope: &Scope,
    inputs: &[RuleInput],
) -> Result<(Vec<Rule>, Vec<(String, slack::Channel)>), ConfigError> {
    let refuse = |field: String, message: String| ConfigError::InvalidRule { field, message };
    if inputs.len() > MAX_RULES {
        return Err(refuse(
            "rules".into(),
            format!("at most {MAX_RULES} notification rules"),
        ));
    }
    let mut channels = Vec::new();
    let mut parsed = Vec::new();
    for (i, rule) in inputs.iter().enumerate() {
        let channel = ChannelInput::parse(&rule.channel)
            .map_err(|e| refuse(format!("rules[{i}].channel"), e.to_string()))?;
        let events = EventFilter::parse(&rule.events)
            .map_err(|e| refuse(format!("rules[{i}].events"), e.to_string()))?;
        let mention = match rule.mention.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(m) => Some(
                Mention::parse(m)
                    .map_err(|e| refuse(format!("rules[{i}].mention"), e.to_string()))?,
            ),
        };
        channels.push(channel);
        parsed.push((events, mention));
    }
    let typed: Vec<String> = channels.iter().map(ChannelInput::typed).collect();
    let mut unique = channels.clone();
    unique.dedup_by(|a, b| a == b);
    unique.sort_by_key(ChannelInput::typed);
    unique.dedup();
    let resolved = match resolve_channels(services, scope, unique.clone()).await {
        Ok(r) => r,
        Err(ConfigError::InvalidChannels { errors, message }) => {
            let first = errors.first().and_then(|p| p.channel.clone());
            let i = first
                .and_then(|c| typed.iter().position(|t| *t == c))
                .unwrap_or(0);
            return Err(refuse(format!("rules[{i}].channel"), message));
        }
        Err(e) => return Err(e),
    };
    let rules = channels
        .iter()
        .zip(parsed)
        .map(|(c, (events, mention))| {
            let at = unique.iter().position(|u| u == c).unwrap_or(0);
            Rule {
                channel: resolved
                    .targets
                    .get(at)
                    .cloned()
                    .unwrap_or_else(|| TargetChannel::from_input(c)),
                events,
                mention,
            }
        })
        .collect();
    Ok((rules, resolved.learned))
}

/// Validates channel entries with the domain rules and resolves the accepted ones through
/// Slack (when an integration is active), so one save reports every refused channel:
/// those the rules refuse and those Slack does not know or that are private or archived.
pub(crate) async fn checked_channels(
    services: &Services,
    scope: &Scope,
    entries: &[String],
) -> Result<ResolvedChannels, ConfigError> {
    let (inputs, refused) = ChannelInput::partition_list(entries.iter().map(String::as_str));
    if refused.is_empty() {
        return resolve_channels(services, scope, inputs).await;
    }
    let mut problems: Vec<ChannelProblem> = refused.iter().map(Into::into).collect();
    // The accepted entries are asked about too, unless there are too many to ask about.
    // Slack failing here (or an unknown scope) changes nothing: the save is refused anyway.
    if inputs.len() <= MAX_TARGET_CHANNELS {
        if let Err(ConfigError::InvalidChannels { errors, .. }) =
            resolve_channels(services, scope, inputs).await
        {
            problems.extend(errors);
        }
    }
    Err(ConfigError::invalid_channels(problems))
}

/// Target channels ready to store, and what Slack told us about them.
pub(crate) struct ResolvedChannels {
    targets: Vec<TargetChannel>,
    learned: Vec<(String, slack::Channel)>,
}

/// Resolves channels through Slack when an active integration is effective for `scope`;
/// stores them as typed otherwise.
pub(crate) async fn resolve_channels(
    services: &Services,
    scope: &Scope,
    inputs: Vec<ChannelInput>,
) -> Result<ResolvedChannels, ConfigError> {
    if inputs.is_empty() {
        return Ok(ResolvedChannels {
            targets: Vec::new(),
            learned: Vec::new(),
        });
    }
    let s = scope.clone();
    let inst = services
        .db
        .run(move |conn| {
            ensure_exists(conn, &s)?;
            Ok::<_, ConfigError>(active_installation(conn, &s)?)
        })
        .await?;
    let Some(inst) = inst else {
        return Ok(ResolvedChannels {
            targets: inputs.iter().map(TargetChannel::from_input).collect(),
            learned: Vec::new(),
        });
    };
    let directory = {
        let (team, names) = (
            inst.team_id.clone(),
            inputs
                .iter()
                .filter_map(|i| match i {
                    ChannelInput::Name(n) => Some(n.clone()),
                    ChannelInput::Id(_) => None,
                })
                .collect::<Vec<_>>(),
        );
        services
            .db
            .run(move |conn| {
                let Some(dir) = ChannelDirectory::find(conn, &team)? else {
                    return Ok::<_, DbError>(None);
                };
                Ok(Some(Directory {
                    listed: channel_directory::lookup(conn, &team, &names)?,
                    complete: dir.is_ready(),
                }))
            })
            .await?
    };
    let token = inst.decrypt_token(&services.cipher)?;
    match check_channels_in_slack(&services.slack, &token, &inst, &inputs, directory).await {
        Ok(resolved) => Ok(resolved),
        Err(ChannelCheckError::Config(e)) => Err(e),
        Err(ChannelCheckError::Slack(e)) => Err(slack_failure(services, &inst, &e).await),
    }
}

pub(crate) enum ChannelCheckError {
    Config(ConfigError),
    Slack(SlackError),
}

impl From<SlackError> for ChannelCheckError {
    fn from(e: SlackError) -> Self {
        Self::Slack(e)
    }
}

pub(crate) fn check_usable(channel: &slack::Channel, typed: &str) -> Result<(), ChannelProblem> {
    let problem = if channel.is_private || channel.is_im || channel.is_mpim || channel.is_group {
        Some("is a private channel")
    } else if channel.is_archived {
        Some("is archived")
    } else {
        None
    };
    match problem {
        Some(p) => Err(ChannelProblem::new(
            typed,
            format!("channel {typed} {p}; only public, active channels are supported"),
        )),
        None => Ok(()),
    }
}

/// The workspace's channel directory, as far as a save needs it: the directory channels
/// with the names typed, and whether the directory is complete.
pub(crate) struct Directory {
    listed: Vec<slack::Channel>,
    complete: bool,
}

/// Resolves every input: names from the workspace's channel directory when there is one
/// (a name not listed yet while it is still being built is saved unresolved and shown as
/// `resolving`), through `conversations.list` otherwise; IDs with `conversations.info`. A
/// channel Slack does not know, or that is private or archived, is collected (all of them
/// are reported together); any other Slack failure ends the check.
pub(crate) async fn check_channels_in_slack(
    api: &slack::SlackApi,
    token: &SecretString,
    inst: &Installation,
    inputs: &[ChannelInput],
    directory: Option<Directory>,
) -> Result<ResolvedChannels, ChannelCheckError> {
    let building = directory.as_ref().is_some_and(|d| !d.complete);
    let listed = match directory {
        Some(d) => d.listed,
        None if inputs.iter().any(|i| matches!(i, ChannelInput::Name(_))) => {
            api.conversations_list(token, false).await?
        }
        None => Vec::new(),
    };
    let mut out = ResolvedChannels {
        targets: Vec::new(),
        learned: Vec::new(),
    };
    let mut problems: Vec<ChannelProblem> = Vec::new();
    let unknown = |typed: &str| {
        ChannelProblem::new(
            typed,
            format!(
                "channel {typed} does not exist in the Slack workspace {} or is private; only \
                 public channels are supported",
                inst.team_name
            ),
        )
    };
    for input in inputs {
        let (channel, typed) = match input {
            ChannelInput::Name(name) => {
                let typed = format!("#{name}");
                let found = listed
                    .iter()
                    .find(|c| &c.name == name || c.name_normalized.as_deref() == Some(name));
                match found {
                    Some(found) => (found.clone(), typed),
                    None if building => {
                        // Checked once the directory is complete (a `resolving` warning
                        // until then).
                        out.targets.push(TargetChannel {
                            id: None,
                            name: Some(name.clone()),
                        });
                        continue;
                    }
                    None => {
                        problems.push(unknown(&typed));
                        continue;
                    }
                }
            }
            ChannelInput::Id(id) => match api.conversations_info(token, id).await {
                Ok(c) => (c, id.clone()),
                Err(e) if e.class() == ErrorClass::Channel => {
                    problems.push(unknown(id));
                    continue;
                }
                Err(e) => return Err(e.into()),
            },
        };
        if let Err(p) = check_usable(&channel, &typed) {
            problems.push(p);
            continue;
        }
        out.targets.push(TargetChannel {
            id: Some(channel.id.clone()),
            name: Some(channel.name.clone()),
        });
        out.learned.push((inst.team_id.clone(), channel));
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(ChannelCheckError::Config(ConfigError::invalid_channels(
            problems,
        )))
    }
}

/// Turns a failed Slack call during channel checks into an error for the admin, marking
/// the installation revoked when Slack refused its token.
pub(crate) async fn slack_failure(
    services: &Services,
    inst: &Installation,
    e: &SlackError,
) -> ConfigError {
    let code = e.code().to_owned();
    tracing::warn!(method = e.method(), code = %code, installation = %inst.id, "Slack call failed while checking channels");
    if e.class() == ErrorClass::IntegrationBroken {
        record_broken_installation(services, inst, &code).await;
        return ConfigError::SlackUnavailable(format!(
            "Slack refused the integration's token ({code}), so the target channels cannot be \
             checked; the integration is now marked revoked. Set up the Slack integration again."
        ));
    }
    ConfigError::SlackUnavailable(format!(
        "Slack could not be reached to check the target channels ({code}); nothing was \
         saved, try again shortly"
    ))
}

pub(crate) async fn record_broken_installation(
    services: &Services,
    inst: &Installation,
    code: &str,
) {
    let (inst_row, reason) = (inst.clone(), code.to_owned());
    let result = services
        .db
        .run(move |conn| {
            write_tx(conn, |c| {
                installations::mark_broken(c, &inst_row, &reason, "xtc-slack (settings)")
            })
            .map_err(DbError::from)
        })
        .await;
    if let Err(e) = settled(services, &inst.org_id, result) {
        tracing::error!(error = %e, "could not mark an installation revoked");
    }
}

pub(crate) fn record_learned(
    conn: &mut DbConnection,
    learned: &[(String, slack::Channel)],
) -> diesel::QueryResult<()> {
    for (team, c) in learned {
        SlackChannel::save(conn, team, &c.id, &c.name, c.is_private, c.is_archived)?;
    }
    Ok(())
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
