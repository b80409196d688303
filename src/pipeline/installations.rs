//! The one rule for "an installation broke": Slack refused its token (`token_revoked`,
//! `invalid_auth`, an uninstall, a failed token refresh...). Used by the sender, the
//! settings checks and the Slack Events handler alike.

use serde_json::json;

use crate::db::models::audit::AuditEntry;
use crate::db::models::delivery::Delivery;
use crate::db::models::installation::Installation;
use crate::db::DbConnection;
use crate::domain::delivery_reason::DeliveryReason;

/// Marks `inst` revoked with `code`, fails its pending deliveries with that reason, and
/// writes the audit entry (`actor` names who noticed), in the caller's transaction.
/// Returns how many deliveries failed. The caller then clears the effective-settings cache
/// of `inst.org_id`, so new events stop resolving to it.
pub fn mark_broken(
    conn: &mut DbConnection,
    inst: &Installation,
    code: &str,
    actor: &str,
) -> diesel::QueryResult<usize> {
    Installation::mark_revoked(conn, &inst.id, code)?;
    let reason = DeliveryReason::IntegrationBroken {
        code: code.to_owned(),
    };
    let failed = Delivery::fail_pending_for_installation(conn, &inst.id, &reason)?;
    AuditEntry::insert(
        conn,
        actor,
        &inst.org_id,
        inst.project(),
        "slack_integration.revoked",
        &json!({
            "installation_id": inst.id,
            "team_id": inst.team_id,
            "reason": code,
            "failed_deliveries": failed,
        }),
    )?;
    Ok(failed)
}
