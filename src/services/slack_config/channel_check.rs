//! Checking channels before a save: target channels and rules' channels validated with the
//! domain rules and resolved through Slack when an integration is active (the workspace's
//! channel directory first), every refused one reported together; a Slack failure on the
//! way marks a revoked installation.

use secrecy::SecretString;

use super::super::Services;
use crate::db::models::channel_directory::ChannelDirectory;
use crate::db::models::installation::Installation;
use crate::db::models::slack_channel::SlackChannel;
use crate::db::{write_tx, DbConnection, DbError};
use crate::domain::channel::{ChannelInput, TargetChannel, MAX_TARGET_CHANNELS};
use crate::domain::rules::{EventFilter, Mention, Rule, MAX_RULES};
use crate::pipeline::{channel_directory, installations};
use crate::slack::{self, ErrorClass, SlackError};

use super::update::RuleInput;
use super::*;

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
    pub(super) targets: Vec<TargetChannel>,
    pub(super) learned: Vec<(String, slack::Channel)>,
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
