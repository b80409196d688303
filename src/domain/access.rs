//! Who may do what: roles and scopes of API tokens (API.md, "Authentication and roles").

use super::ids::{OrgId, ProjectId};

/// The role of an API token.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, diesel::AsExpression, diesel::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The orchestrator and the monitoring scheduler: registry and events, any org.
    Service,
    /// An organization or project administrator: Slack settings within its scope.
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "service" => Some(Self::Service),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Service => "service",
            Self::Admin => "admin",
        }
    }
}

/// The stored form of an API token (the hex SHA-256 of its clear text, `auth`): what a check
/// looks up. Not the token: it cannot be used to call the API; still, `Debug` shows only
/// its first characters, so no log line carries it whole.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = self.0.get(..8).unwrap_or("");
        write!(f, "TokenHash({shown}…)")
    }
}

impl TokenHash {
    /// Wraps a hash computed by `auth` (64 hex digits).
    pub fn new(hex: String) -> Self {
        Self(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The token's id (never the token itself); recorded in the audit log.
    pub token_id: String,
    pub name: String,
    pub role: Role,
    /// For admins: the organization they administer.
    pub org: Option<OrgId>,
    /// For project admins: the one project they administer.
    pub project: Option<ProjectId>,
}

/// What a caller wants to administer.
#[derive(Clone, Copy, Debug)]
pub enum AdminTarget<'a> {
    Org(&'a OrgId),
    Project(&'a OrgId, &'a ProjectId),
}

impl Principal {
    /// A short "who" for audit entries: `name (token id)`.
    pub fn actor(&self) -> String {
        format!("{} ({})", self.name, self.token_id)
    }

    pub fn is_service(&self) -> bool {
        self.role == Role::Service
    }

    /// Whether this caller administers `target`. Decided from the token alone, before
    /// looking anything up, so that callers cannot probe what exists outside their scope.
    pub fn may_admin(&self, target: AdminTarget<'_>) -> bool {
        if self.role != Role::Admin {
            return false;
        }
        let Some(my_org) = &self.org else {
            return false;
        };
        match (target, &self.project) {
            (AdminTarget::Org(org), None) => org == my_org,
            (AdminTarget::Org(_), Some(_)) => false,
            (AdminTarget::Project(org, _), None) => org == my_org,
            (AdminTarget::Project(org, project), Some(my_project)) => {
                org == my_org && project == my_project
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn p(role: Role, org: Option<&str>, project: Option<&str>) -> Principal {
        Principal {
            token_id: "tok_1".into(),
            name: "t".into(),
            role,
            org: org.map(|o| OrgId::parse(o).unwrap()),
            project: project.map(|p| ProjectId::parse(p).unwrap()),
        }
    }

    #[test]
    fn scopes_follow_the_contract() {
        let acme = OrgId::parse("acme").unwrap();
        let other = OrgId::parse("other").unwrap();
        let shop = ProjectId::parse("shop").unwrap();
        let blog = ProjectId::parse("blog").unwrap();
        let org_admin = p(Role::Admin, Some("acme"), None);
        let project_admin = p(Role::Admin, Some("acme"), Some("shop"));
        let service = p(Role::Service, None, None);

        assert!(org_admin.may_admin(AdminTarget::Org(&acme)));
        assert!(org_admin.may_admin(AdminTarget::Project(&acme, &shop)));
        assert!(!org_admin.may_admin(AdminTarget::Org(&other)));
        assert!(!org_admin.may_admin(AdminTarget::Project(&other, &shop)));

        assert!(project_admin.may_admin(AdminTarget::Project(&acme, &shop)));
        assert!(!project_admin.may_admin(AdminTarget::Project(&acme, &blog)));
        assert!(!project_admin.may_admin(AdminTarget::Org(&acme)));

        assert!(!service.may_admin(AdminTarget::Org(&acme)));
        assert!(!service.may_admin(AdminTarget::Project(&acme, &shop)));
        assert!(service.is_service());
    }
}
