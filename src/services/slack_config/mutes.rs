//! Mutes of monitoring incidents as admins see them: listed with the delivery log, and
//! ended from the web UI or the API (`pipeline::incidents` does the work).

use super::{ensure_exists, ConfigError, Scope};
use crate::db::write_tx;
use crate::domain::access::Principal;
use crate::domain::incident::Actor;
use crate::pipeline::incidents;
use crate::services::Services;

/// Ends the mute of `scenario`'s open incident in a project: the cards show it and each
/// thread gets "Unmuted by …". Returns the channels to wake the sender for;
/// `NotFound` when the scenario has no active mute there.
pub async fn end_mute(
    services: &Services,
    admin: &Principal,
    scope: &Scope,
    scenario: &str,
) -> Result<Vec<(String, String)>, ConfigError> {
    let (s, scenario) = (scope.clone(), scenario.to_owned());
    let by = Actor {
        id: admin.token_id.clone(),
        name: admin.name.clone(),
    };
    let audit_actor = admin.actor();
    services
        .db
        .run(move |conn| {
            ensure_exists(conn, &s)?;
            let (org, project) = (s.org().as_str(), s.project_str().unwrap_or_default());
            let now = chrono::Utc::now();
            let ended = write_tx(conn, |c| {
                let muted = incidents::active_mutes(c, org, Some(project), now.naive_utc())?
                    .iter()
                    .any(|m| m.scenario_id == scenario);
                if !muted {
                    return Ok(None);
                }
                incidents::end_mute(c, org, project, &scenario, &by, &audit_actor, now)
            })?;
            ended.ok_or_else(|| {
                ConfigError::NotFound(format!(
                    "scenario {scenario:?} of project {project:?} has no active mute"
                ))
            })
        })
        .await
}
