//! Effective settings: what the five resolution rules (`domain::settings::resolve`) give
//! for a project, loaded from the database, and the cache the ingest path reads them from.
//!
//! The `ConfigResolver` actor fills the cache; readers look into it through an
//! [`EffectiveCache`] handle first, so a hit costs no message round trip. Entries live for
//! [`CACHE_TTL`] and are dropped at once when this instance changes an org's settings or
//! integrations ([`EffectiveCache::invalidate_org`]); other instances' changes apply within
//! the TTL.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::db::models::installation::Installation;
use crate::db::models::project::Project;
use crate::db::models::slack_settings::{OrgSlackSettings, ProjectSlackSettings};
use crate::db::{DbConnection, DbError};
use crate::domain::settings::{resolve, Effective, Integration, IntegrationStatus, OrgSettings};

/// What an event of a project is ingested with: the project's effective settings (from
/// the `ConfigResolver`) and whether the project was seen registered when they were
/// resolved. Projects are never removed, so `true` saves the ingest transaction its
/// lookup; `false` is checked again there (the project may have been registered since).
#[derive(Debug, Clone)]
pub struct Resolved {
    pub effective: Effective,
    pub project_registered: bool,
}

/// The effective configuration of `project` in `org` (or of the organization itself with
/// `project = None`): org settings (defaults when none were saved), the project's own
/// settings, both installations, resolved by [`resolve`].
pub fn load_effective(
    conn: &mut DbConnection,
    org: &str,
    project: Option<&str>,
) -> diesel::QueryResult<Effective> {
    match project {
        Some(p) => Ok(one(resolve_projects(conn, org, &[p])?).effective),
        None => {
            let (org_settings, org_inst) = org_level(conn, org)?;
            Ok(resolve(&org_settings, org_inst.as_ref(), None, None))
        }
    }
}

/// A project's effective settings and its integration when that is active (what a message
/// queued outside an event's ingest, or a card edit, is addressed with); `None` without.
pub fn with_active_integration(
    conn: &mut DbConnection,
    org: &str,
    project: &str,
) -> diesel::QueryResult<Option<(Effective, Integration)>> {
    let effective = load_effective(conn, org, Some(project))?;
    let integration = effective
        .integration
        .value
        .clone()
        .filter(|i| i.status == IntegrationStatus::Active);
    Ok(integration.map(|i| (effective, i)))
}

/// A project's effective settings and whether it is registered (what an event of it is
/// ingested with).
pub fn resolve_project(
    conn: &mut DbConnection,
    org: &str,
    project: &str,
) -> Result<Resolved, DbError> {
    Ok(one(resolve_projects(conn, org, &[project])?))
}

/// The one answer of [`resolve_projects`] asked for one project.
fn one(mut resolved: Vec<Resolved>) -> Resolved {
    resolved.swap_remove(0)
}

/// The organization's settings (defaults when none were saved) and its integration.
fn org_level(
    conn: &mut DbConnection,
    org: &str,
) -> diesel::QueryResult<(OrgSettings, Option<Integration>)> {
    let settings = OrgSlackSettings::load(conn, org)?;
    let integration = Installation::find_by_scope(conn, org, None)?.map(|i| i.to_integration());
    Ok((settings, integration))
}

/// Projects looked up by one statement of [`resolve_projects`].
const RESOLVED_AT_ONCE: usize = 1_000;

/// The effective settings of several projects of `org`, as [`resolve_project`] gives
/// each, with five statements for all of them (the cache's refresh of an organization's
/// projects: one statement per project and table was most of the resolver's work).
pub fn resolve_projects(
    conn: &mut DbConnection,
    org: &str,
    projects: &[&str],
) -> diesel::QueryResult<Vec<Resolved>> {
    let (org_settings, org_inst) = org_level(conn, org)?;
    let (mut own, mut own_inst, mut registered) = (HashMap::new(), HashMap::new(), HashSet::new());
    // In slices, so an organization with very many projects stays within SQLite's limit
    // of bound parameters per statement.
    for some in projects.chunks(RESOLVED_AT_ONCE) {
        own.extend(
            ProjectSlackSettings::find_by_projects(conn, org, some)?
                .into_iter()
                .map(|r| (r.project_id.clone(), r.to_domain())),
        );
        own_inst.extend(
            Installation::find_by_projects(conn, org, some)?
                .into_iter()
                .map(|i| (i.project_id.clone(), i.to_integration())),
        );
        registered.extend(Project::existing(conn, org, some)?);
    }
    Ok(projects
        .iter()
        .map(|p| Resolved {
            effective: resolve(
                &org_settings,
                org_inst.as_ref(),
                own.remove(*p).as_ref(),
                own_inst.remove(*p).as_ref(),
            ),
            project_registered: registered.contains(*p),
        })
        .collect())
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
    /// ask for a refresh of its organization (the entry is half its TTL old and nobody has
    /// asked yet; every cached project of the organization is then refreshed with it, so an
    /// organization's projects age together and are refreshed by one resolution).
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
        let refresh = aging && self.mark_org_refreshing(org);
        Some((resolved, refresh))
    }

    /// Marks every cached project of `org` as being refreshed; returns whether any was
    /// not yet.
    fn mark_org_refreshing(&self, org: &str) -> bool {
        let Ok(mut entries) = self.0.write() else {
            return false;
        };
        let mut changed = false;
        for ((o, _), (_, _, refreshing)) in entries.iter_mut() {
            if o == org && !*refreshing {
                *refreshing = true;
                changed = true;
            }
        }
        changed
    }

    /// The projects of `org` whose entries are marked as being refreshed.
    pub(crate) fn refreshing(&self, org: &str) -> Vec<String> {
        let Ok(entries) = self.0.read() else {
            return Vec::new();
        };
        entries
            .iter()
            .filter(|((o, _), (_, _, refreshing))| o == org && *refreshing)
            .map(|((_, p), _)| p.clone())
            .collect()
    }

    /// Stores a refresh's result, unless the entry was dropped meanwhile (its organization
    /// changed on this instance: the refresh may have read the settings before the change).
    pub(crate) fn put_refreshed(&self, key: (String, String), resolved: Resolved) {
        if let Ok(mut entries) = self.0.write() {
            if let Some(entry) = entries
                .get_mut(&key)
                .filter(|(_, _, refreshing)| *refreshing)
            {
                *entry = (Instant::now(), resolved, false);
            }
        }
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

    /// When one project of an organization needs a refresh, every cached project of that
    /// organization is refreshed with it (and no other organization's); a refresh that
    /// comes back after the organization's entries were dropped stores nothing.
    #[test]
    fn an_aging_entry_refreshes_its_whole_organization_once() {
        let cache = EffectiveCache::default();
        for (org, project) in [("acme", "shop"), ("acme", "blog"), ("globex", "api")] {
            cache.put((org.to_owned(), project.to_owned()), resolved());
        }
        let aging = Instant::now() + CACHE_TTL / 2 + Duration::from_millis(1);
        let refresh = |org, project| cache.get_at(org, project, aging).map(|(_, r)| r);
        assert_eq!(refresh("acme", "shop"), Some(true));
        assert_eq!(refresh("acme", "blog"), Some(false), "refreshed with shop");
        let mut asked = cache.refreshing("acme");
        asked.sort();
        assert_eq!(asked, ["blog", "shop"]);
        assert!(cache.refreshing("globex").is_empty());
        assert_eq!(refresh("globex", "api"), Some(true), "its own organization");

        cache.put_refreshed(("acme".into(), "shop".into()), resolved());
        assert_eq!(cache.refreshing("acme"), ["blog"]);
        cache.invalidate_org("acme");
        cache.put_refreshed(("acme".into(), "blog".into()), resolved());
        assert!(
            cache.get("acme", "blog").is_none(),
            "dropped meanwhile: not stored"
        );
    }

    /// `resolve_projects` gives each project what resolving it alone from its rows gives
    /// (org settings and integration, its own settings and integration, registration).
    #[test]
    fn projects_resolved_together_equal_each_resolved_from_its_own_rows() {
        use crate::crypto::Cipher;
        use crate::db::models::installation::NewInstallation;
        use crate::db::models::organization::Organization;
        use crate::db::{run_migrations, DatabaseUrl};
        use crate::domain::channel::TargetChannel;
        use crate::domain::quiet::DuringLoadTests;
        use crate::domain::settings::{OrgSettings, ProjectSettings, RegressionThreshold};
        use secrecy::SecretString;

        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::Sqlite(dir.path().join("effective.db"));
        let conn = &mut url.connect().unwrap();
        run_migrations(conn).unwrap();
        let cipher = Cipher::for_tests();
        let channel = |id: &str, name: &str| TargetChannel {
            id: Some(id.into()),
            name: Some(name.into()),
        };
        Organization::save(conn, "acme", "Acme").unwrap();
        for p in ["own-settings", "own-install", "plain"] {
            Project::save(conn, "acme", p, p).unwrap();
        }
        let org = OrgSettings {
            send_messages: true,
            threads: true,
            compact_messages: false,
            target_channels: vec![channel("C1", "load-tests")],
            rules: vec![],
            regression_threshold_pct: RegressionThreshold::parse(25).unwrap(),
            charts: false,
            during_load_tests: DuringLoadTests::Hold,
            summary: None,
        };
        OrgSlackSettings::save(conn, "acme", &org, "test").unwrap();
        let own = ProjectSettings {
            send_messages: true,
            threads: Some(false),
            compact_messages: Some(true),
            target_channels: vec![channel("C2", "shop")],
            rules: vec![],
            regression_threshold_pct: Some(RegressionThreshold::parse(5).unwrap()),
            charts: Some(true),
            during_load_tests: Some(DuringLoadTests::Notify),
            summary: None,
        };
        ProjectSlackSettings::save(conn, "acme", "own-settings", &own, "test").unwrap();
        let token = SecretString::from("xoxb-test".to_owned());
        for (id, project, team) in [("inst-org", "", "T1"), ("inst-p", "own-install", "T2")] {
            let new = NewInstallation {
                id,
                org_id: "acme",
                project_id: project,
                team_id: team,
                team_name: team,
                app_id: "A1",
                bot_user_id: "U1",
                scopes: "chat:write",
                bot_token: &token,
                rotation: None,
                installed_by: "test",
            };
            Installation::insert(conn, &cipher, &new).unwrap();
        }

        let projects = ["own-settings", "own-install", "plain", "unregistered"];
        let together = resolve_projects(conn, "acme", &projects).unwrap();
        assert_eq!(together.len(), projects.len());
        for (p, got) in projects.iter().zip(&together) {
            let org_settings = OrgSlackSettings::load(conn, "acme").unwrap();
            let org_inst = Installation::find_by_scope(conn, "acme", None).unwrap();
            let own = ProjectSlackSettings::find_by_project(conn, "acme", p).unwrap();
            let own_inst = Installation::find_by_scope(conn, "acme", Some(p)).unwrap();
            let alone = resolve(
                &org_settings,
                org_inst.map(|i| i.to_integration()).as_ref(),
                own.map(|r| r.to_domain()).as_ref(),
                own_inst.map(|i| i.to_integration()).as_ref(),
            );
            assert_eq!(got.effective, alone, "{p}");
            assert_eq!(got.project_registered, *p != "unregistered", "{p}");
        }
        // Past one slice of lookups: the project after a thousand unknown ones is found.
        let many: Vec<String> = (0..RESOLVED_AT_ONCE)
            .map(|i| format!("missing-{i}"))
            .collect();
        let mut ids: Vec<&str> = many.iter().map(String::as_str).collect();
        ids.push("own-settings");
        let resolved = resolve_projects(conn, "acme", &ids).unwrap();
        assert_eq!(resolved.len(), RESOLVED_AT_ONCE + 1);
        assert!(resolved[..RESOLVED_AT_ONCE]
            .iter()
            .all(|r| !r.project_registered));
        let last = &resolved[RESOLVED_AT_ONCE];
        assert!(last.project_registered);
        assert_eq!(last.effective, together[0].effective);
        // The report settings reach the pipeline per value, with the installation's scopes.
        let report = |r: &Resolved| {
            (
                r.effective.regression_threshold_pct.value.pct(),
                r.effective.charts.value,
                r.effective.posts_charts(),
            )
        };
        assert_eq!(report(&together[0]), (5, true, false), "own settings");
        assert_eq!(report(&together[2]), (25, false, false), "the org's");
        // So does what an incident does during a load test (stored, read back per value).
        let during = |r: &Resolved| r.effective.during_load_tests.value;
        assert_eq!(
            during(&together[0]),
            DuringLoadTests::Notify,
            "own settings"
        );
        assert_eq!(during(&together[2]), DuringLoadTests::Hold, "the org's");
        assert!(
            together[1]
                .effective
                .integration
                .value
                .as_ref()
                .is_some_and(|i| !i.can_upload_files),
            "installed with chat:write only"
        );
        // The cases differ from each other, so the comparison above means something.
        assert_ne!(together[0].effective, together[2].effective);
        assert_ne!(together[1].effective, together[2].effective);
    }
}
