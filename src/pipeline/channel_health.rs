//! Channel health: asks Slack (`conversations.info`) about every stored target channel of
//! every active installation and records what it says in `slack_channels` (archived,
//! deleted or no longer visible, turned private), so the settings views warn before the
//! next load test's messages fail. Calls are sequential with a pause between them, and a
//! rate-limited call waits out `Retry-After`: the check is background work and must never
//! compete with deliveries for Slack's rate limits.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::effective::load_effective;
use crate::crypto::Cipher;
use crate::db::models::channel_directory::ChannelDirectory;
use crate::db::models::installation::Installation;
use crate::db::models::slack_channel::SlackChannel;
use crate::db::models::slack_settings::{OrgSlackSettings, ProjectSlackSettings};
use crate::db::{write_tx, Db, DbConnection, DbError};
use crate::domain::settings::IntegrationStatus;
use crate::metrics::Metrics;
use crate::pipeline::channel_directory;
use crate::pipeline::installed_channels::{self, SavedList};
use crate::slack::{Channel, ChannelRefusal, ErrorClass, SlackApi, SlackError};

/// Pause between two Slack calls of one check (`conversations.info` is Tier 3, ~50/min).
pub const CALL_PAUSE: Duration = Duration::from_millis(250);
/// Longest wait for a rate-limited call before it is tried once more.
const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// What a check needs.
pub struct HealthDeps {
    pub db: Db,
    pub slack: SlackApi,
    pub cipher: Cipher,
    pub metrics: Metrics,
    /// Pause between calls.
    pub pause: Duration,
}

/// What one check found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CheckSummary {
    /// Channels Slack was asked about.
    pub checked: usize,
    /// Of those, channels that are archived, deleted/not found or private.
    pub problems: usize,
    /// Channels that could not be checked (Slack unavailable, token refused).
    pub errors: usize,
}

/// The channels to check, grouped by the installation that sends to them.
fn targets(
    conn: &mut DbConnection,
    org: Option<&str>,
) -> diesel::QueryResult<Vec<(Installation, Vec<String>)>> {
    let mut scopes: BTreeSet<(String, Option<String>)> = BTreeSet::new();
    for r in OrgSlackSettings::list_all(conn)? {
        scopes.insert((r.org_id, None));
    }
    for r in ProjectSlackSettings::list_all(conn)? {
        scopes.insert((r.org_id, Some(r.project_id)));
    }
    for i in Installation::list_all(conn)? {
        let project = i.project().map(str::to_owned);
        scopes.insert((i.org_id, project));
    }
    let mut by_installation: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (o, p) in scopes.iter().filter(|(o, _)| org.is_none_or(|f| f == o)) {
        let effective = load_effective(conn, o, p.as_deref())?;
        let Some(integration) = effective.integration.value else {
            continue;
        };
        // Revoked installations cannot ask Slack anything.
        if integration.status != IntegrationStatus::Active {
            continue;
        }
        let ids = effective
            .target_channels
            .value
            .iter()
            .filter_map(|c| c.id.clone());
        by_installation
            .entry(integration.installation_id)
            .or_default()
            .extend(ids);
    }
    let mut out = Vec::new();
    for (id, channels) in by_installation {
        if channels.is_empty() {
            continue;
        }
        if let Some(inst) = Installation::find_by_id(conn, &id)? {
            out.push((inst, channels.into_iter().collect()));
        }
    }
    Ok(out)
}

/// What Slack said about one channel.
enum Finding {
    Seen(Box<Channel>),
    NotFound,
    /// Slack wants `groups:read` to show it: the channel is private now.
    Private,
}

/// Resolves target channel names that were saved without an integration (or that could not
/// be resolved at install) in the workspace of the installation that sends to them.
/// Returns how many names are still unknown there (each is a checked channel with a
/// problem; the resolved ones are checked by ID right after).
async fn resolve_saved_names(deps: &HealthDeps, org: Option<String>) -> Result<usize, DbError> {
    let (pending, from_directory) = deps
        .db
        .run(move |conn| {
            let mut out = Vec::new();
            let mut from_directory = 0;
            let mut resolved_teams = BTreeSet::new();
            for inst in Installation::list_all(conn)? {
                if inst.status() != IntegrationStatus::Active
                    || org.as_deref().is_some_and(|o| o != inst.org_id)
                {
                    continue;
                }
                // A workspace with a channel directory resolves from it (once it is
                // complete; names wait as `resolving` while it is built).
                if let Some(dir) = ChannelDirectory::find(conn, &inst.team_id)? {
                    // (Once per workspace: it resolves for all its installations.)
                    if dir.is_ready() && resolved_teams.insert(inst.team_id.clone()) {
                        from_directory += write_tx(conn, |c| {
                            channel_directory::resolve_saved_names(c, &inst.team_id)
                        })?;
                    }
                    continue;
                }
                let lists = installed_channels::served_lists(conn, &inst.org_id, inst.project())?;
                if installed_channels::needs_lookup(&lists, false) {
                    out.push((inst, lists));
                }
            }
            Ok::<_, DbError>((out, from_directory))
        })
        .await?;
    let mut looked_up = from_directory;
    for (inst, mut lists) in pending {
        let Ok(token) = inst.decrypt_token(&deps.cipher) else {
            continue;
        };
        let listed = match deps.slack.conversations_list(&token, false).await {
            Ok(listed) => listed,
            Err(e) => {
                tracing::warn!(installation = %inst.id, code = e.code(), "could not list channels to resolve saved names");
                continue;
            }
        };
        let mut learned = Vec::new();
        for channel in lists.iter_mut().flat_map(SavedList::channels_mut) {
            if channel.id.is_some() {
                continue;
            }
            *channel = installed_channels::resolve_one(channel, &listed, false);
            if channel.id.is_none() {
                looked_up += 1;
            }
            if let Some(c) = channel
                .id
                .as_ref()
                .and_then(|id| listed.iter().find(|c| &c.id == id))
            {
                learned.push(c.clone());
            }
        }
        let team = inst.team_id.clone();
        deps.db
            .run(move |conn| {
                write_tx(conn, |c| {
                    installed_channels::save_lists(c, &lists)?;
                    for l in &learned {
                        SlackChannel::save(c, &team, &l.id, &l.name, l.is_private, l.is_archived)?;
                    }
                    Ok::<_, diesel::result::Error>(())
                })
                .map_err(DbError::from)
            })
            .await?;
    }
    Ok(looked_up)
}

/// Checks every target channel (of `org` only, when given) once, after resolving names
/// that were saved before an integration existed.
pub async fn check(deps: Arc<HealthDeps>, org: Option<String>) -> Result<CheckSummary, DbError> {
    let unresolved = resolve_saved_names(&deps, org.clone()).await?;
    let found = deps
        .db
        .run(move |conn| targets(conn, org.as_deref()).map_err(DbError::from))
        .await?;
    let mut summary = CheckSummary {
        checked: unresolved,
        problems: unresolved,
        errors: 0,
    };
    let mut first = true;
    for (inst, channels) in found {
        let Ok(token) = inst.decrypt_token(&deps.cipher) else {
            tracing::warn!(installation = %inst.id, "channel check skipped: the stored token cannot be decrypted");
            summary.errors += channels.len();
            continue;
        };
        let mut findings = Vec::new();
        for (i, channel) in channels.iter().enumerate() {
            if !first {
                actix_web::rt::time::sleep(deps.pause).await;
            }
            first = false;
            match info(&deps.slack, &token, channel).await {
                Ok(f) => findings.push((channel.clone(), f)),
                Err(e) if e.class() == ErrorClass::IntegrationBroken => {
                    // The delivery path marks the installation revoked on its next send.
                    tracing::warn!(installation = %inst.id, code = e.code(), "channel check stopped: Slack refused the token");
                    summary.errors += channels.len() - i;
                    deps.metrics
                        .channel_checks
                        .with_label_values(&["error"])
                        .inc();
                    break;
                }
                Err(e) => {
                    tracing::warn!(channel = %channel, code = e.code(), "channel check failed");
                    summary.errors += 1;
                    deps.metrics
                        .channel_checks
                        .with_label_values(&["error"])
                        .inc();
                }
            }
        }
        let team = inst.team_id.clone();
        let problems = deps
            .db
            .run(move |conn| write_tx(conn, |c| record(c, &team, &findings)).map_err(DbError::from))
            .await?;
        for (channel, problem) in &problems {
            deps.metrics
                .channel_checks
                .with_label_values(&[problem.unwrap_or("ok")])
                .inc();
            summary.checked += 1;
            if let Some(problem) = problem {
                summary.problems += 1;
                tracing::warn!(channel = %channel, problem, team_id = %inst.team_id, "target channel cannot receive messages");
            }
        }
    }
    tracing::info!(
        checked = summary.checked,
        problems = summary.problems,
        errors = summary.errors,
        "channel health check done"
    );
    Ok(summary)
}

/// `conversations.info`, waiting out one rate limit.
async fn info(
    api: &SlackApi,
    token: &secrecy::SecretString,
    channel: &str,
) -> Result<Finding, SlackError> {
    for attempt in 0..2 {
        match api.conversations_info(token, channel).await {
            Ok(c) => return Ok(Finding::Seen(Box::new(c))),
            Err(e) if e.channel_refusal() == Some(ChannelRefusal::NotFound) => {
                return Ok(Finding::NotFound)
            }
            Err(e) if e.channel_refusal() == Some(ChannelRefusal::Private) => {
                return Ok(Finding::Private)
            }
            Err(e) if attempt == 0 && matches!(e, SlackError::RateLimited { .. }) => {
                let wait = e
                    .retry_after()
                    .unwrap_or(Duration::from_secs(1))
                    .min(MAX_RATE_LIMIT_WAIT);
                actix_web::rt::time::sleep(wait).await;
            }
            Err(e) => return Err(e),
        }
    }
    Err(SlackError::RateLimited {
        method: "conversations.info",
        retry_after: None,
    })
}

/// Stores the findings; returns each channel's problem.
fn record(
    conn: &mut DbConnection,
    team: &str,
    findings: &[(String, Finding)],
) -> diesel::QueryResult<Vec<(String, Option<&'static str>)>> {
    let mut out = Vec::new();
    for (id, finding) in findings {
        match finding {
            Finding::Seen(c) => {
                SlackChannel::save(conn, team, &c.id, &c.name, c.is_private, c.is_archived)?;
            }
            Finding::Private => {
                let known = SlackChannel::find_by_id(conn, team, id)?;
                let (name, archived) =
                    known.map_or((id.clone(), false), |k| (k.name, k.is_archived));
                SlackChannel::save(conn, team, id, &name, true, archived)?;
            }
            Finding::NotFound => {
                if SlackChannel::mark_deleted(conn, team, id)? == 0 {
                    // Never seen before: remember it under its ID.
                    SlackChannel::save(conn, team, id, id, false, false)?;
                    SlackChannel::mark_deleted(conn, team, id)?;
                }
            }
        }
        let problem = SlackChannel::find_by_id(conn, team, id)?.and_then(|c| c.problem());
        out.push((id.clone(), problem));
    }
    Ok(out)
}
