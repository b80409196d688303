//! `ConfigResolver`: owns the cache of effective Slack settings per project.
//!
//! Resolution itself is `services::slack_config::load_effective` (which applies
//! `domain::settings::resolve`, the one home of the rules). Entries live for
//! [`CACHE_TTL`] and are dropped at once when this instance changes an org's settings
//! ([`Invalidate`]); other instances' changes apply within the TTL. An entry in use is
//! refreshed in the background once it is half its TTL old ([`Refresh`]), so a project
//! with steady traffic never waits for a resolution (on PostgreSQL, the expiry of every
//! project's entry at once made a wave of waiting events every TTL).
//!
//! The actor fills and invalidates the cache; readers on the ingest path look into it
//! through an [`EffectiveCache`] handle first, so a hit costs no message round trip to
//! the actor's thread.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use actix::prelude::*;

use crate::db::models::project::Project;
use crate::db::{Db, DbError};
use crate::pipeline::ingest::Resolved;

/// How long a resolved configuration is reused.
pub const CACHE_TTL: Duration = Duration::from_secs(2);
/// Cache entries are swept this often.
const SWEEP_INTERVAL: Duration = Duration::from_secs(30);

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

    fn get_at(&self, org: &str, project: &str, now: Instant) -> Option<(Resolved, bool)> {
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
    fn mark_refreshing(&self, key: &(String, String), on: bool) -> bool {
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

    fn put(&self, key: (String, String), resolved: Resolved) {
        if let Ok(mut entries) = self.0.write() {
            entries.insert(key, (Instant::now(), resolved, false));
        }
    }

    /// Drops every cached configuration of `org`, at once.
    pub fn invalidate_org(&self, org: &str) {
        self.retain(|(o, _), _| o != org);
    }

    fn retain(&self, keep: impl Fn(&(String, String), &(Instant, Resolved, bool)) -> bool) {
        if let Ok(mut entries) = self.0.write() {
            entries.retain(|k, v| keep(k, v));
        }
    }
}

/// Resolves effective settings for an org's project.
pub struct ConfigResolver {
    db: Db,
    cache: EffectiveCache,
}

impl ConfigResolver {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            cache: EffectiveCache::default(),
        }
    }

    /// A read handle on this resolver's cache.
    pub fn cache(&self) -> EffectiveCache {
        self.cache.clone()
    }
}

impl Actor for ConfigResolver {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(SWEEP_INTERVAL, |act, _| {
            act.cache.retain(|_, (at, _, _)| at.elapsed() < CACHE_TTL);
        });
    }
}

/// The effective settings of `project` in `org`, and whether it is registered.
#[derive(Message)]
#[rtype(result = "Result<Resolved, DbError>")]
pub struct Resolve {
    pub org: String,
    pub project: String,
}

/// Forget what is cached for an organization (its settings or integrations changed).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Invalidate {
    pub org: String,
}

/// Resolve a cached project again in the background (see the module documentation).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Refresh {
    pub org: String,
    pub project: String,
}

impl ConfigResolver {
    /// Loads a project's settings and caches them.
    fn load(&self, key: (String, String)) -> ResponseActFuture<Self, Result<Resolved, DbError>> {
        let db = self.db.clone();
        let (org, project) = key.clone();
        let fetched = async move {
            db.run(move |conn| {
                let effective =
                    crate::services::slack_config::load_effective(conn, &org, Some(&project))?;
                let project_registered = Project::exists(conn, &org, &project)?;
                Ok::<_, DbError>(Resolved {
                    effective,
                    project_registered,
                })
            })
            .await
        };
        Box::pin(fetched.into_actor(self).map(move |result, act, _| {
            match &result {
                Ok(resolved) => act.cache.put(key, resolved.clone()),
                // Let a later event ask again.
                Err(_) => {
                    act.cache.mark_refreshing(&key, false);
                }
            }
            result
        }))
    }
}

impl Handler<Resolve> for ConfigResolver {
    type Result = ResponseActFuture<Self, Result<Resolved, DbError>>;

    fn handle(&mut self, msg: Resolve, _: &mut Self::Context) -> Self::Result {
        if let Some((resolved, _)) = self.cache.get(&msg.org, &msg.project) {
            return Box::pin(async move { Ok(resolved) }.into_actor(self));
        }
        self.load((msg.org, msg.project))
    }
}

impl Handler<Refresh> for ConfigResolver {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, msg: Refresh, _: &mut Self::Context) -> Self::Result {
        Box::pin(self.load((msg.org, msg.project)).map(|_, _, _| ()))
    }
}

impl Handler<Invalidate> for ConfigResolver {
    type Result = ();

    fn handle(&mut self, msg: Invalidate, _: &mut Self::Context) {
        self.cache.invalidate_org(&msg.org);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::settings::{resolve, OrgSettings};

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
