//! The organization's and project's names a message shows, looked up when it is sent (so
//! a rename shows in the next message): one lookup for deliveries, digests and card edits.

use crate::db::models::installation::Installation;
use crate::db::models::organization::Organization;
use crate::db::{DbConnection, DbError};

use super::render::MessageNames;

/// The organization's and project's names as they are now (each its ID when it is gone).
pub(crate) fn names_of(
    conn: &mut DbConnection,
    org_id: &str,
    project_id: &str,
) -> Result<MessageNames, DbError> {
    let (org, project) = Organization::names(conn, org_id, project_id)?.unzip();
    Ok(found(org_id, project_id, org, project.flatten()))
}

/// Installation `installation_id` and the names a message of organization `org_id`'s
/// project `project_id` shows, in one statement (a delivery's load before it is sent);
/// `None`: no such installation.
pub(crate) fn installation_and_names(
    conn: &mut DbConnection,
    installation_id: &str,
    org_id: &str,
    project_id: &str,
) -> Result<Option<(Installation, MessageNames)>, DbError> {
    let row = Installation::find_with_names(conn, installation_id, org_id, project_id)?;
    Ok(row.map(|(installation, org, project)| {
        (installation, found(org_id, project_id, org, project))
    }))
}

/// The names found (each its ID when it is gone).
fn found(
    org_id: &str,
    project_id: &str,
    org: Option<String>,
    project: Option<String>,
) -> MessageNames {
    MessageNames {
        org_id: org_id.to_owned(),
        org_name: org.unwrap_or_else(|| org_id.to_owned()),
        project_id: project_id.to_owned(),
        project_name: project.unwrap_or_else(|| project_id.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::DatabaseUrl;

    /// The installation comes with the organization's and the project's names, each its ID
    /// when it is gone; no installation, nothing.
    #[test]
    fn a_delivery_loads_its_installation_with_the_names() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = DatabaseUrl::Sqlite(dir.path().join("n.db"))
            .connect()
            .unwrap();
        crate::db::run_migrations(&mut conn).unwrap();
        crate::db::scratch::seed_installation(&mut conn, "webshop", ("inst", "T1"));
        let names = |conn: &mut DbConnection, inst: &str, org: &str, project: &str| {
            installation_and_names(conn, inst, org, project)
                .unwrap()
                .map(|(i, n)| (i.team_id, n.org_name, n.project_name))
        };
        let row = |a: &str, b: &str, c: &str| Some((a.to_owned(), b.to_owned(), c.to_owned()));
        assert_eq!(
            names(&mut conn, "inst", "acme", "webshop"),
            row("T1", "Acme Corp", "Web shop")
        );
        assert_eq!(
            names(&mut conn, "inst", "acme", "gone"),
            row("T1", "Acme Corp", "gone")
        );
        assert_eq!(
            names(&mut conn, "inst", "nobody", "webshop"),
            row("T1", "nobody", "webshop")
        );
        assert_eq!(names(&mut conn, "other", "acme", "webshop"), None);
    }
}
