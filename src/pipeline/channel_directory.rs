//! The channel directory: per Slack workspace, every public channel (archived ones
//! included) in `slack_channels`, so that settings saves resolve `#names` without listing
//! the workspace. A directory is built once after install in the background, one
//! `conversations.list` page (200 channels) at a time with a pause between pages that keeps
//! within the method's tier (Tier 2, ~20 calls a minute) and waiting out `Retry-After`;
//! the cursor is stored after each page, so a restart resumes where the build stopped. It
//! is rebuilt every [`REBUILD_AFTER`] and kept current in between by the Events API
//! (`channel_created`, `channel_rename`, `channel_archive`, `channel_unarchive`,
//! `channel_deleted`). When a first build ends, the names saved while it was building are
//! resolved from it (or become `not_found` warnings).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::NaiveDateTime;

use crate::crypto::Cipher;
use crate::db::models::channel_directory::ChannelDirectory;
use crate::db::models::installation::Installation;
use crate::db::models::slack_channel::SlackChannel;
use crate::db::{now, write_tx, Db, DbConnection, DbError};
use crate::domain::settings::IntegrationStatus;
use crate::pipeline::installed_channels::{self, SavedList};
use crate::slack::{ConversationsListRequest, SlackApi, SlackError};

/// Pause between two pages (`conversations.list` is Tier 2: ~20 calls a minute, one every
/// 3 s; the extra 200 ms keep timer jitter from landing a call a few milliseconds early,
/// which Slack answers with a 429).
pub const PAGE_PAUSE: Duration = Duration::from_millis(3200);
/// A ready directory is listed again after this long (events keep it current meanwhile).
pub const REBUILD_AFTER: chrono::TimeDelta = chrono::TimeDelta::hours(24);
/// Wait after a failed page (other than a rate limit) before the next try.
const ERROR_WAIT: Duration = Duration::from_secs(60);
/// Longest `Retry-After` honoured as given.
const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(300);

/// What the builder needs.
#[derive(Clone)]
pub struct DirectoryDeps {
    pub db: Db,
    pub slack: SlackApi,
    pub cipher: Cipher,
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing to list.
    Idle,
    /// Listed one page of this workspace (`done`: it was the last one).
    Listed { team_id: String, done: bool },
    /// Wait this long before the next step (rate limited, or Slack failing).
    Wait(Duration),
}

/// Whether a directory is in the middle of a (re)build.
fn in_progress(d: &ChannelDirectory) -> bool {
    !d.is_ready() || d.cursor.is_some() || d.pages == 0
}

/// The workspace to list next, with an installation able to list it; starts a build
/// (or a due rebuild) when none is in progress.
fn next_work(
    conn: &mut DbConnection,
    at: NaiveDateTime,
) -> diesel::QueryResult<Option<(Installation, ChannelDirectory)>> {
    let mut teams: BTreeMap<String, Installation> = BTreeMap::new();
    for i in Installation::list_all(conn)? {
        if i.status() == IntegrationStatus::Active {
            teams.entry(i.team_id.clone()).or_insert(i);
        }
    }
    let dirs: BTreeMap<String, ChannelDirectory> = ChannelDirectory::list_all(conn)?
        .into_iter()
        .map(|d| (d.team_id.clone(), d))
        .collect();
    // A build in progress first, then a workspace without a directory, then a rebuild.
    let pick = teams
        .keys()
        .find(|t| dirs.get(*t).is_some_and(in_progress))
        .or_else(|| teams.keys().find(|t| !dirs.contains_key(*t)))
        .or_else(|| {
            teams.keys().find(|t| {
                dirs.get(*t)
                    .is_some_and(|d| d.updated_at + REBUILD_AFTER <= at)
            })
        })
        .cloned();
    let Some(team) = pick else {
        return Ok(None);
    };
    if !dirs.get(&team).is_some_and(in_progress) {
        ChannelDirectory::start(conn, &team)?;
    }
    let dir = ChannelDirectory::find(conn, &team)?;
    Ok(dir.and_then(|d| teams.remove(&team).map(|i| (i, d))))
}

/// Lists one page of the workspace most in need of it and stores what it says.
pub async fn step(deps: &DirectoryDeps) -> Result<Step, DbError> {
    let work = deps
        .db
        .run(|conn| write_tx(conn, |c| next_work(c, now())).map_err(DbError::from))
        .await?;
    let Some((inst, dir)) = work else {
        return Ok(Step::Idle);
    };
    let Ok(token) = inst.decrypt_token(&deps.cipher) else {
        tracing::warn!(installation = %inst.id, "channel directory: the stored token cannot be decrypted");
        return Ok(Step::Wait(ERROR_WAIT));
    };
    let req = ConversationsListRequest {
        cursor: dir.cursor.clone(),
        ..ConversationsListRequest::default()
    };
    let page = match deps.slack.conversations_list_page(&token, &req).await {
        Ok(page) => page,
        Err(e @ SlackError::RateLimited { .. }) => {
            let wait = e
                .retry_after()
                .unwrap_or(PAGE_PAUSE * 10)
                .min(MAX_RATE_LIMIT_WAIT);
            tracing::info!(team_id = %inst.team_id, wait_secs = wait.as_secs(), "channel directory: rate limited; waiting");
            return Ok(Step::Wait(wait));
        }
        Err(e) => {
            tracing::warn!(team_id = %inst.team_id, code = e.code(), "channel directory: could not list a page");
            return Ok(Step::Wait(ERROR_WAIT));
        }
    };
    let team = inst.team_id.clone();
    let done = page.next_cursor.is_none();
    let pages = dir.pages + 1;
    deps.db
        .run(move |conn| {
            write_tx(conn, |c| {
                for ch in &page.channels {
                    SlackChannel::save(c, &team, &ch.id, &ch.name, ch.is_private, ch.is_archived)?;
                }
                ChannelDirectory::advance(c, &team, pages, page.next_cursor.as_deref())?;
                if done {
                    // What this pass did not list is gone (a deletion whose event we missed).
                    if let Some(since) = dir.pass_started_at {
                        let gone = SlackChannel::mark_unlisted_deleted(c, &team, since)?;
                        if gone > 0 {
                            tracing::info!(team_id = %team, gone, "channel directory: channels no longer listed are marked deleted");
                        }
                    }
                    resolve_saved_names(c, &team)?;
                }
                Ok::<_, diesel::result::Error>(())
            })
            .map_err(DbError::from)
        })
        .await?;
    if done {
        tracing::info!(team_id = %inst.team_id, pages, "channel directory ready");
    }
    Ok(Step::Listed {
        team_id: inst.team_id,
        done,
    })
}

/// The workspace's directory channels with these names, as Slack would list them.
pub(crate) fn lookup(
    conn: &mut DbConnection,
    team_id: &str,
    names: &[String],
) -> diesel::QueryResult<Vec<crate::slack::Channel>> {
    Ok(SlackChannel::find_by_names(conn, team_id, names)?
        .iter()
        .map(SlackChannel::to_slack)
        .collect())
}

/// Resolves, from the (ready) directory of `team_id`, the names saved unresolved in the
/// lists its active installations serve; unknown ones stay unresolved (`not_found`).
/// Returns how many are still unresolved.
pub(crate) fn resolve_saved_names(
    conn: &mut DbConnection,
    team_id: &str,
) -> diesel::QueryResult<usize> {
    let mut unresolved = 0;
    for inst in Installation::list_all(conn)? {
        if inst.team_id != team_id || inst.status() != IntegrationStatus::Active {
            continue;
        }
        let mut lists = installed_channels::served_lists(conn, &inst.org_id, inst.project())?;
        if !installed_channels::needs_lookup(&lists, false) {
            continue;
        }
        let names: Vec<String> = lists
            .iter_mut()
            .flat_map(SavedList::channels_mut)
            .filter(|c| c.id.is_none())
            .filter_map(|c| c.name.clone())
            .collect();
        let listed = lookup(conn, team_id, &names)?;
        for channel in lists.iter_mut().flat_map(SavedList::channels_mut) {
            if channel.id.is_none() {
                *channel = installed_channels::resolve_one(channel, &listed, false);
                unresolved += usize::from(channel.id.is_none());
            }
        }
        installed_channels::save_lists(conn, &lists)?;
    }
    Ok(unresolved)
}
