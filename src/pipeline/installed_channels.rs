//! What an install changes for the channels already configured:
//!
//! - names saved while no integration existed are resolved to IDs in the installed
//!   workspace (and reported when they cannot be);
//! - a re-install into another workspace re-resolves every stored channel by name there
//!   (stored IDs belong to the old workspace);
//! - the pending deliveries of a replaced installation are handed to its replacement, so a
//!   re-install loses no backlog (only a removal without replacement fails them).

use std::collections::HashMap;

use diesel::QueryResult;

use crate::db::models::delivery::Delivery;
use crate::db::models::installation::Installation;
use crate::db::models::project::Project;
use crate::db::models::slack_settings::{OrgSlackSettings, ProjectSlackSettings};
use crate::db::DbConnection;
use crate::domain::channel::TargetChannel;
use crate::domain::delivery_reason::DeliveryReason;
use crate::domain::rules::Rule;
use crate::slack;

/// Whose saved target channels a list is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    Org(String),
    Project(String, String),
}

/// A saved list of target channels, the notification rules (whose channels are resolved
/// the same way) and their owner.
#[derive(Clone, Debug)]
pub(crate) struct SavedList {
    pub owner: Owner,
    pub channels: Vec<TargetChannel>,
    pub rules: Vec<Rule>,
}

impl SavedList {
    /// Every stored channel: the target channels, then each rule's channel.
    pub(crate) fn channels_mut(&mut self) -> impl Iterator<Item = &mut TargetChannel> {
        self.channels
            .iter_mut()
            .chain(self.rules.iter_mut().map(|r| &mut r.channel))
    }

    fn all_channels(&self) -> impl Iterator<Item = &TargetChannel> {
        self.channels
            .iter()
            .chain(self.rules.iter().map(|r| &r.channel))
    }

    fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.rules.is_empty()
    }
}

/// The saved channel lists an installation of `org` (or of `project`) sends to: its own
/// scope's list, and for an organization also those of its projects that have channels
/// of their own but no installation of their own.
pub(crate) fn served_lists(
    conn: &mut DbConnection,
    org: &str,
    project: Option<&str>,
) -> QueryResult<Vec<SavedList>> {
    let mut out = Vec::new();
    if let Some(p) = project {
        if let Some(row) = ProjectSlackSettings::find_by_project(conn, org, p)? {
            let settings = row.to_domain();
            out.push(SavedList {
                owner: Owner::Project(org.to_owned(), p.to_owned()),
                channels: settings.target_channels,
                rules: settings.rules,
            });
        }
        return Ok(out.into_iter().filter(|l| !l.is_empty()).collect());
    }
    if let Some(row) = OrgSlackSettings::find_by_org(conn, org)? {
        let settings = row.to_domain();
        out.push(SavedList {
            owner: Owner::Org(org.to_owned()),
            channels: settings.target_channels,
            rules: settings.rules,
        });
    }
    for p in Project::list_by_org(conn, org)? {
        if Installation::find_by_scope(conn, org, Some(&p.id))?.is_some() {
            continue;
        }
        if let Some(row) = ProjectSlackSettings::find_by_project(conn, org, &p.id)? {
            let settings = row.to_domain();
            out.push(SavedList {
                owner: Owner::Project(org.to_owned(), p.id.clone()),
                channels: settings.target_channels,
                rules: settings.rules,
            });
        }
    }
    Ok(out.into_iter().filter(|l| !l.is_empty()).collect())
}

/// Whether resolving `lists` needs the workspace's channel list: a name was never
/// resolved, or the workspace changed (every stored ID is then foreign).
pub(crate) fn needs_lookup(lists: &[SavedList], workspace_changed: bool) -> bool {
    lists
        .iter()
        .flat_map(SavedList::all_channels)
        .any(|c| workspace_changed || (c.id.is_none() && c.name.is_some()))
}

/// Resolves one stored channel against the channels of the installed workspace: by name
/// when it was never resolved or belongs to another workspace. A name that is unknown
/// there (or private, or archived) stays unresolved and shows as a warning.
pub(crate) fn resolve_one(
    channel: &TargetChannel,
    listed: &[slack::Channel],
    workspace_changed: bool,
) -> TargetChannel {
    if channel.id.is_some() && !workspace_changed {
        return channel.clone();
    }
    let Some(name) = &channel.name else {
        // An ID typed without a name cannot be looked up elsewhere; keep it (it fails
        // visibly as an unknown channel rather than being dropped silently).
        return channel.clone();
    };
    let found = listed.iter().find(|c| {
        (&c.name == name || c.name_normalized.as_deref() == Some(name))
            && !(c.is_private || c.is_im || c.is_mpim || c.is_group || c.is_archived)
    });
    match found {
        Some(c) => TargetChannel {
            id: Some(c.id.clone()),
            name: Some(c.name.clone()),
        },
        None => TargetChannel {
            id: None,
            name: Some(name.clone()),
        },
    }
}

/// Writes resolved lists back (only the target channels change).
pub(crate) fn save_lists(conn: &mut DbConnection, lists: &[SavedList]) -> QueryResult<()> {
    for list in lists {
        match &list.owner {
            Owner::Org(org) => {
                OrgSlackSettings::set_target_channels(conn, org, &list.channels)?;
                OrgSlackSettings::set_rules(conn, org, &list.rules)?
            }
            Owner::Project(org, project) => {
                ProjectSlackSettings::set_target_channels(conn, org, project, &list.channels)?;
                ProjectSlackSettings::set_rules(conn, org, project, &list.rules)?
            }
        };
    }
    Ok(())
}

/// Hands the pending deliveries of `old` to the installation `new` replacing it. In the
/// same workspace the channels stay; in another one each delivery is re-addressed through
/// `readdress` (old address → the channel resolved there), and one whose channel could not
/// be found there fails with a reason that names it.
pub(crate) fn hand_over_pending(
    conn: &mut DbConnection,
    old: &Installation,
    new: &Installation,
    readdress: &HashMap<String, TargetChannel>,
) -> QueryResult<usize> {
    if old.team_id == new.team_id {
        return Delivery::hand_over_pending(conn, &old.id, &new.id, &new.team_id, None);
    }
    let mut moved = 0;
    for (old_address, channel) in Delivery::pending_channels_of(conn, &old.id)? {
        match readdress.get(&old_address).filter(|c| c.id.is_some()) {
            Some(target) => {
                moved += Delivery::hand_over_pending(
                    conn,
                    &old.id,
                    &new.id,
                    &new.team_id,
                    Some((&old_address, &target.address(), &target.display())),
                )?;
            }
            None => {
                let shown = channel.unwrap_or(old_address.clone());
                Delivery::fail_pending_in_channel(
                    conn,
                    &old.id,
                    &old_address,
                    &DeliveryReason::ChannelNotFoundAfterReinstall {
                        channel: shown,
                        workspace: new.team_name.clone(),
                    },
                )?;
            }
        }
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(id: &str, name: &str, archived: bool) -> slack::Channel {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": name, "is_channel": true, "is_archived": archived
        }))
        .unwrap()
    }

    fn target(id: Option<&str>, name: &str) -> TargetChannel {
        TargetChannel {
            id: id.map(str::to_owned),
            name: Some(name.to_owned()),
        }
    }

    #[test]
    fn unresolved_names_resolve_and_unknown_or_archived_ones_stay_unresolved() {
        let workspace = [listed("C1", "pre-alerts", false), listed("C2", "old", true)];
        assert_eq!(
            resolve_one(&target(None, "pre-alerts"), &workspace, false),
            target(Some("C1"), "pre-alerts")
        );
        assert_eq!(
            resolve_one(&target(None, "typo-channel"), &workspace, false),
            target(None, "typo-channel")
        );
        assert_eq!(
            resolve_one(&target(None, "old"), &workspace, false),
            target(None, "old")
        );
        // A resolved channel stays in its workspace, and is looked up by name in another.
        assert_eq!(
            resolve_one(&target(Some("C9"), "pre-alerts"), &workspace, false),
            target(Some("C9"), "pre-alerts")
        );
        assert_eq!(
            resolve_one(&target(Some("C9"), "pre-alerts"), &workspace, true),
            target(Some("C1"), "pre-alerts")
        );
    }
}
