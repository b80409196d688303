//! The project page's "Baselines" section: pin a run as its definition's baseline, or
//! unpin it (the JSON API's `…/slack/baselines` does the same through the same service).

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::render::{Ui, UiError};
use super::session::{require_csrf, SignedIn};
use super::{flash_notice, parse_form, project_scope, respond, see_other};
use crate::services::slack_config::{self as svc, Scope};
use crate::state::AppState;

#[derive(Deserialize)]
pub(super) struct BaselineForm {
    #[serde(default)]
    csrf: String,
    definition: String,
    #[serde(default)]
    load_test_id: String,
}

/// The project and the form of a pin or unpin, once the CSRF token checked out.
fn checked_form(
    user: &SignedIn,
    (org, project): (&str, &str),
    body: &[u8],
) -> Result<(Scope, BaselineForm), UiError> {
    let scope = project_scope(user, org, project)?;
    let form: BaselineForm = parse_form(body)?;
    require_csrf(&user.session, &form.csrf)?;
    Ok((scope, form))
}

pub(super) async fn pin_route(
    state: web::Data<AppState>,
    ui: web::Data<Ui>,
    user: SignedIn,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let result = async {
        let (scope, form) = checked_form(&user, (&path.0, &path.1), &body)?;
        let run = form.load_test_id.trim();
        if run.is_empty() {
            return Err(UiError::BadRequest(
                "Name the load test run to pin as the baseline.".to_owned(),
            ));
        }
        svc::set_baseline(
            &state.services,
            &user.principal,
            &scope,
            &form.definition,
            run,
        )
        .await?;
        flash_notice(
            &user,
            "success",
            &format!(
                "Run {run} is now the baseline of {}: later runs are compared with it, and its \
                 card in Slack says so.",
                form.definition
            ),
        );
        Ok(see_other(&format!("{}#baselines", scope.settings_page())))
    }
    .await;
    respond(&ui, &user, result)
}

pub(super) async fn unpin_route(
    state: web::Data<AppState>,
    ui: web::Data<Ui>,
    user: SignedIn,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let result = async {
        let (scope, form) = checked_form(&user, (&path.0, &path.1), &body)?;
        svc::remove_baseline(&state.services, &user.principal, &scope, &form.definition).await?;
        flash_notice(
            &user,
            "success",
            &format!(
                "{} has no pinned baseline now: each run is compared with the run before it.",
                form.definition
            ),
        );
        Ok(see_other(&format!("{}#baselines", scope.settings_page())))
    }
    .await;
    respond(&ui, &user, result)
}
