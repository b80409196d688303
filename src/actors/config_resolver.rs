//! `ConfigResolver`: owns the cache of effective Slack settings per project.
//!
//! Resolution itself is `services::slack_config::load_effective` (which applies
//! `domain::settings::resolve`, the one home of the rules). Entries live for
//! [`CACHE_TTL`] and are dropped at once when this instance changes an org's settings
//! ([`Invalidate`]); other instances' changes apply within the TTL.
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

type Entries = HashMap<(String, String), (Instant, Resolved)>;

/// A read handle on the resolver's cache.
#[derive(Clone, Default)]
pub struct EffectiveCache(Arc<RwLock<Entries>>);

impl EffectiveCache {
    /// The cached configuration of a project, while fresh.
    pub fn get(&self, org: &str, project: &str) -> Option<Resolved> {
        let entries = self.0.read().ok()?;
        entries
            .get(&(org.to_owned(), project.to_owned()))
            .filter(|(at, _)| at.elapsed() < CACHE_TTL)
            .map(|(_, e)| e.clone())
    }

    fn put(&self, key: (String, String), resolved: Resolved) {
        if let Ok(mut entries) = self.0.write() {
            entries.insert(key, (Instant::now(), resolved));
        }
    }

    /// Drops every cached configuration of `org`, at once.
    pub fn invalidate_org(&self, org: &str) {
        self.retain(|(o, _), _| o != org);
    }

    fn retain(&self, keep: impl Fn(&(String, String), &(Instant, Resolved)) -> bool) {
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
            act.cache.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
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

impl Handler<Resolve> for ConfigResolver {
    type Result = ResponseActFuture<Self, Result<Resolved, DbError>>;

    fn handle(&mut self, msg: Resolve, _: &mut Self::Context) -> Self::Result {
        if let Some(effective) = self.cache.get(&msg.org, &msg.project) {
            return Box::pin(async move { Ok(effective) }.into_actor(self));
        }
        let db = self.db.clone();
        let key = (msg.org, msg.project);
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
            if let Ok(resolved) = &result {
                act.cache.put(key, resolved.clone());
            }
            result
        }))
    }
}

impl Handler<Invalidate> for ConfigResolver {
    type Result = ();

    fn handle(&mut self, msg: Invalidate, _: &mut Self::Context) {
        self.cache.invalidate_org(&msg.org);
    }
}
