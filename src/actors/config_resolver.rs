//! `ConfigResolver`: owns the cache of effective Slack settings per project.
//!
//! Resolution itself is `services::slack_config::load_effective` (which applies
//! `domain::settings::resolve`, the one home of the rules). Entries live for
//! [`CACHE_TTL`] and are dropped at once when this instance changes an org's settings
//! ([`Invalidate`]); other instances' changes apply within the TTL.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix::prelude::*;

use crate::db::{Db, DbError};
use crate::domain::settings::Effective;

/// How long a resolved configuration is reused.
pub const CACHE_TTL: Duration = Duration::from_secs(2);
/// Cache entries are swept this often.
const SWEEP_INTERVAL: Duration = Duration::from_secs(30);

/// Resolves effective settings for an org's project.
pub struct ConfigResolver {
    db: Db,
    cache: HashMap<(String, String), (Instant, Effective)>,
}

impl ConfigResolver {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            cache: HashMap::new(),
        }
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

/// The effective settings of `project` in `org`.
#[derive(Message)]
#[rtype(result = "Result<Effective, DbError>")]
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
    type Result = ResponseActFuture<Self, Result<Effective, DbError>>;

    fn handle(&mut self, msg: Resolve, _: &mut Self::Context) -> Self::Result {
        let key = (msg.org, msg.project);
        if let Some((at, effective)) = self.cache.get(&key) {
            if at.elapsed() < CACHE_TTL {
                let effective = effective.clone();
                return Box::pin(async move { Ok(effective) }.into_actor(self));
            }
        }
        let db = self.db.clone();
        let (org, project) = key.clone();
        let fetched = async move {
            db.run(move |conn| {
                crate::services::slack_config::load_effective(conn, &org, Some(&project))
                    .map_err(DbError::from)
            })
            .await
        };
        Box::pin(fetched.into_actor(self).map(move |result, act, _| {
            if let Ok(effective) = &result {
                act.cache.insert(key, (Instant::now(), effective.clone()));
            }
            result
        }))
    }
}

impl Handler<Invalidate> for ConfigResolver {
    type Result = ();

    fn handle(&mut self, msg: Invalidate, _: &mut Self::Context) {
        self.cache.retain(|(org, _), _| *org != msg.org);
    }
}
