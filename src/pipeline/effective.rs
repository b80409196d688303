//! Effective settings: what the five resolution rules (`domain::settings::resolve`) give
//! for a project, loaded from the database, and the cache the ingest path reads them from.
//!
//! The `ConfigResolver` actor fills the cache; readers look into it through an
//! [`EffectiveCache`] handle first, so a hit costs no message round trip. Entries live for
//! [`CACHE_TTL`] and are dropped at once when this instance changes an org's settings or
//! integrations ([`EffectiveCache::invalidate_org`]); other instances' changes apply within
//! the TTL.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::ingest::Resolved;
use crate::db::models::installation::Installation;
use crate::db::models::project::Project;
use crate::db::models::slack_settings::{OrgSlackSettings, ProjectSlackSettings};
use crate::db::{DbConnection, DbError};
use crate::domain::settings::{resolve, Effective};

/// The effective configuration of `project` in `org` (or of the organization itself with
/// `project = None`): org settings (defaults when none were saved), the project's own
/// settings, both installations, resolved by [`resolve`].
pub fn load_effective(
    conn: &mut DbConnection,
    org: &str,
    project: Option<&str>,
) -> diesel::QueryResult<Effective> {
    let org_settings = OrgSlackSettings::load(conn, org)?;
    let org_inst = Installation::find_by_scope(conn, org, None)?.map(|i| i.to_integration());
    let (own, own_inst) = match project {
        Some(p) => (
            ProjectSlackSettings::find_by_project(conn, org, p)?.map(|r| r.to_domain()),
            Installation::find_by_scope(conn, org, Some(p))?.map(|i| i.to_integration()),
        ),
        None => (None, None),
    };
    Ok(resolve(
        &org_settings,
        org_inst.as_ref(),
        own.as_ref(),
        own_inst.as_ref(),
    ))
}

/// A project's effective settings and whether it is registered (what an event of it is
/// ingested with).
pub fn resolve_project(
    conn: &mut DbConnection,
    org: &str,
    project: &str,
) -> Result<Resolved, DbError> {
    let effective = load_effective(conn, org, Some(project))?;
    let project_registered = Project::exists(conn, org, project)?;
    Ok(Resolved {
        effective,
        project_registered,
    })
}

/// How long a resolved configuration is reused.
pub const CACHE_TTL: Duration = Duration::from_secs(2);

/// When an entry was resolved, the entry, and whether a refresh is under way.
type Entries = HashMap<(String, String), (Instant, Resolved, bool)>;

/// A read handle on the resolver's cache.
#[derive(Clone, Default)]
pub struct EffectiveCache(Arc<RwLock<Entries>>);

impl EffectiveCache {
    /// The cached configuration of a project, while fresh, and whether the caller should
    /// ask for a [`Refresh`] (the entry is half its TTL old and nobody has asked yet).
    pub fn get(&self, org: &str, project: &str) -> Option<(Resolved, bool)> {
        self.get_at(org, project, Instant::now())
    }

    pub(crate) fn get_at(
        &self,
        org: &str,
        project: &str,
        now: Instant,
    ) -> Option<(Resolved, bool)> {
        let key = (org.to_owned(), project.to_owned());
        let (resolved, aging) = {
            let entries = self.0.read().ok()?;
            let (at, resolved, refreshing) = entries.get(&key)?;
            let age = now.saturating_duration_since(*at);
            if age >= CACHE_TTL {
                return None;
            }
            (resolved.clone(), age >= CACHE_TTL / 2 && !refreshing)
        };
        let refresh = aging && self.mark_refreshing(&key, true);
        Some((resolved, refresh))
    }

    /// Sets the entry's refresh flag; returns whether it changed.
    pub(crate) fn mark_refreshing(&self, key: &(String, String), on: bool) -> bool {
        let Ok(mut entries) = self.0.write() else {
            return false;
        };
        match entries.get_mut(key) {
            Some((_, _, refreshing)) if *refreshing != on => {
                *refreshing = on;
                true
            }
            _ => false,
        }
    }

    pub(crate) fn put(&self, key: (String, String), resolved: Resolved) {
        if let Ok(mut entries) = self.0.write() {
            entries.insert(key, (Instant::now(), resolved, false));
        }
    }

    /// Drops every cached configuration of `org`, at once.
    pub fn invalidate_org(&self, org: &str) {
        self.retain(|(o, _), _| o != org);
    }

    pub(crate) fn retain(
        &self,
        keep: impl Fn(&(String, String), &(Instant, Resolved, bool)) -> bool,
    ) {
        if let Ok(mut entries) = self.0.write() {
            entries.retain(|k, v| keep(k, v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::settings::OrgSettings;

    fn resolved() -> Resolved {
        Resolved {
            effective: resolve(&OrgSettings::default(), None, None, None),
            project_registered: true,
        }
    }

    #[test]
    fn entries_are_refreshed_once_after_half_their_ttl_and_dropped_after_it() {
        let cache = EffectiveCache::default();
        let key = ("acme".to_owned(), "shop".to_owned());
        cache.put(key.clone(), resolved());
        let put_at = Instant::now();
        let get = |after: Duration| {
            cache
                .get_at("acme", "shop", put_at + after)
                .map(|(_, refresh)| refresh)
        };
        assert_eq!(get(Duration::ZERO), Some(false), "fresh");
        assert_eq!(
            get(CACHE_TTL / 2 + Duration::from_millis(1)),
            Some(true),
            "aging: refresh"
        );
        assert_eq!(
            get(CACHE_TTL / 2 + Duration::from_millis(2)),
            Some(false),
            "asked already"
        );
        assert_eq!(get(CACHE_TTL + Duration::from_millis(1)), None, "expired");
        // A refresh that failed lets the next caller ask again.
        assert!(cache.mark_refreshing(&key, false));
        assert_eq!(get(CACHE_TTL / 2 + Duration::from_millis(3)), Some(true));
        // A completed refresh starts a new lifetime.
        cache.put(key, resolved());
        assert_eq!(cache.get("acme", "shop").map(|(_, r)| r), Some(false));
        assert!(cache.get("acme", "other").is_none());
    }
}
