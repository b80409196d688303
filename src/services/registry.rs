//! Organizations and projects as the orchestrator registers them (created or renamed by
//! id), and their names as the web UI shows them.

use super::slack_config::{ConfigError, Scope};
use super::Services;
use crate::db::models::organization::Organization;
use crate::db::models::project::Project;
use crate::db::write_tx;
use crate::domain::ids::{OrgId, ProjectId};

/// Whether a save made a new row or renamed (or kept) an existing one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Saved {
    Created,
    Updated,
}

impl Saved {
    fn from_created(created: bool) -> Self {
        if created {
            Self::Created
        } else {
            Self::Updated
        }
    }
}

/// Registers the organization `org` as `name`, or renames it.
pub async fn save_org(services: &Services, org: &OrgId, name: &str) -> Result<Saved, ConfigError> {
    let (id, name) = (org.to_string(), name.to_owned());
    services
        .db
        .run(move |conn| {
            write_tx(conn, |c| {
                Ok::<_, ConfigError>(Organization::save(c, &id, &name)?)
            })
        })
        .await
        .map(Saved::from_created)
}

/// Registers the project `project` of `org` as `name`, or renames it; `NotFound` when the
/// organization is not registered.
pub async fn save_project(
    services: &Services,
    org: &OrgId,
    project: &ProjectId,
    name: &str,
) -> Result<Saved, ConfigError> {
    let (o, p, n) = (org.to_string(), project.to_string(), name.to_owned());
    services
        .db
        .run(move |conn| {
            write_tx(conn, |c| {
                if !Organization::exists(c, &o)? {
                    return Err(ConfigError::NotFound(format!(
                        "organization {o:?} is not registered"
                    )));
                }
                Ok(Project::save(c, &o, &p, &n)?)
            })
        })
        .await
        .map(Saved::from_created)
}

/// A registered project: its id and display name.
#[derive(Clone, Debug)]
pub struct ProjectName {
    pub id: String,
    pub name: String,
}

/// The display names of a scope: the organization's, the project's (project scope), and
/// the organization's projects (organization scope; none for a project).
#[derive(Clone, Debug)]
pub struct ScopeNames {
    pub org: String,
    pub project: Option<String>,
    pub projects: Vec<ProjectName>,
}

/// The names of `scope`; `None` when its organization or project is not registered.
pub async fn names(services: &Services, scope: &Scope) -> Result<Option<ScopeNames>, ConfigError> {
    let (o, p) = (
        scope.org().to_string(),
        scope.project().map(ToString::to_string),
    );
    services
        .db
        .run(move |conn| {
            let Some(org) = Organization::find_by_id(conn, &o)? else {
                return Ok(None);
            };
            let names = match &p {
                Some(p) => {
                    let Some(project) = Project::find_by_id(conn, &o, p)? else {
                        return Ok(None);
                    };
                    ScopeNames {
                        org: org.name,
                        project: Some(project.name),
                        projects: Vec::new(),
                    }
                }
                None => ScopeNames {
                    org: org.name,
                    project: None,
                    projects: Project::list_by_org(conn, &o)?
                        .into_iter()
                        .map(|pr| ProjectName {
                            id: pr.id,
                            name: pr.name,
                        })
                        .collect(),
                },
            };
            Ok(Some(names))
        })
        .await
}
