//! The organization's and project's names a message shows, looked up when it is sent (so
//! a rename shows in the next message): one lookup for deliveries, digests and card edits.

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
    Ok(MessageNames {
        org_id: org_id.to_owned(),
        org_name: org.unwrap_or_else(|| org_id.to_owned()),
        project_id: project_id.to_owned(),
        project_name: project.flatten().unwrap_or_else(|| project_id.to_owned()),
    })
}
