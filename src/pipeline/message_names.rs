//! The organization's and project's names a message shows, looked up when it is sent (so
//! a rename shows in the next message): one lookup for deliveries, digests and card edits.

use crate::db::models::organization::Organization;
use crate::db::models::project::Project;
use crate::db::{DbConnection, DbError};

use super::render::MessageNames;

/// The organization's and project's names as they are now.
pub(crate) fn names_of(
    conn: &mut DbConnection,
    org_id: &str,
    project_id: &str,
) -> Result<MessageNames, DbError> {
    let org = Organization::find_by_id(conn, org_id)?;
    let project = Project::find_by_id(conn, org_id, project_id)?;
    Ok(MessageNames {
        org_id: org_id.to_owned(),
        org_name: org.map_or_else(|| org_id.to_owned(), |o| o.name),
        project_id: project_id.to_owned(),
        project_name: project.map_or_else(|| project_id.to_owned(), |p| p.name),
    })
}
