//! `ConfigResolver`: fills the cache of effective Slack settings per project.
//!
//! Resolution itself is `pipeline::effective::load_effective` (which applies
//! `domain::settings::resolve`, the one home of the rules). Entries live for
//! [`CACHE_TTL`] and are dropped at once when this instance changes an org's settings or
//! integrations (the services and the sender call `EffectiveCache::invalidate_org`);
//! other instances' changes apply within the TTL. An entry in use is refreshed in the
//! background once it is half its TTL old ([`Refresh`]), so a project with steady traffic
//! never waits for a resolution (on PostgreSQL, the expiry of every project's entry at
//! once made a wave of waiting events every TTL). The refresh covers every cached project
//! of the organization, with one resolution for all of them
//! (`effective::resolve_projects`: five statements, not five per project).
//!
//! Readers on the ingest path look into the cache through an [`EffectiveCache`] handle
//! first, so a hit costs no message round trip to the actor's thread.

use std::time::Duration;

use actix::prelude::*;

use crate::db::{Db, DbError};
use crate::pipeline::effective::{self, EffectiveCache, CACHE_TTL};
use crate::pipeline::ingest::Resolved;

/// Cache entries are swept this often.
const SWEEP_INTERVAL: Duration = Duration::from_secs(30);

/// Resolves effective settings for an org's project.
pub struct ConfigResolver {
    /// For an event that waits for its settings (a cache miss).
    db: Db,
    /// For the refreshes in the background (the background pool: a wave of them must not
    /// take the connections requests need).
    background: Db,
    cache: EffectiveCache,
}

impl ConfigResolver {
    pub fn new(db: Db, background: Db) -> Self {
        Self {
            db,
            background,
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

/// Resolve an organization's cached projects again in the background, together (see the
/// module documentation).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Refresh {
    pub org: String,
}

impl ConfigResolver {
    /// Loads a project's settings and caches them.
    fn load(&self, key: (String, String)) -> ResponseActFuture<Self, Result<Resolved, DbError>> {
        let db = self.db.clone();
        let (org, project) = key.clone();
        let fetched = async move {
            db.run(move |conn| effective::resolve_project(conn, &org, &project))
                .await
        };
        Box::pin(fetched.into_actor(self).map(move |result, act, _| {
            if let Ok(resolved) = &result {
                act.cache.put(key, resolved.clone());
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
        let projects = self.cache.refreshing(&msg.org);
        let db = self.background.clone();
        let (org, asked) = (msg.org.clone(), projects.clone());
        let fetched = async move {
            db.run(move |conn| {
                let ids: Vec<&str> = asked.iter().map(String::as_str).collect();
                effective::resolve_projects(conn, &org, &ids).map_err(DbError::from)
            })
            .await
        };
        let org = msg.org;
        Box::pin(fetched.into_actor(self).map(move |result, act, _| match result {
            Ok(resolved) => {
                for (project, r) in projects.into_iter().zip(resolved) {
                    act.cache.put_refreshed((org.clone(), project), r);
                }
            }
            // Let a later event ask again.
            Err(e) => {
                tracing::warn!(error = %e, org = %org, "could not refresh an organization's settings");
                for project in projects {
                    act.cache.mark_refreshing(&(org.clone(), project), false);
                }
            }
        }))
    }
}
