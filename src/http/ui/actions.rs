//! The settings pages' buttons: set up the Slack integration, remove it (after a
//! confirmation page), send a test message, end a mute.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::render::{self, Ui, UiError};
use super::session::{require_csrf, set_flash, Flash, Notice, SignedIn};
use super::views::ConfirmRemove;
use super::{flash_notice, parse_form, project_scope, respond, scope_of, see_other, CsrfOnly};
use crate::domain::settings::Source;
use crate::services::slack_config::{self as svc, ConfigError, RevokeOutcome, Scope};
use crate::state::AppState;

pub(super) async fn install_route(
    user: SignedIn,
    ui: web::Data<Ui>,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> HttpResponse {
    let result = async { install(&state, &user, scope_of(&user, &req)?).await }.await;
    respond(&ui, &user, result)
}

pub(super) async fn remove_confirm_route(
    user: SignedIn,
    ui: web::Data<Ui>,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> HttpResponse {
    let result = async { remove_confirm(&ui, &state, &user, scope_of(&user, &req)?).await }.await;
    respond(&ui, &user, result)
}

pub(super) async fn remove_route(
    user: SignedIn,
    ui: web::Data<Ui>,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let result = async { remove(&state, &user, scope_of(&user, &req)?, &body).await }.await;
    respond(&ui, &user, result)
}

pub(super) async fn test_route(
    user: SignedIn,
    ui: web::Data<Ui>,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let result = async { test_message(&state, &user, scope_of(&user, &req)?, &body).await }.await;
    respond(&ui, &user, result)
}

pub(super) async fn summary_route(
    user: SignedIn,
    ui: web::Data<Ui>,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let result = async { send_summary(&state, &user, scope_of(&user, &req)?, &body).await }.await;
    respond(&ui, &user, result)
}

/// "Send summary now": queued to the target channels like a scheduled one.
pub(super) async fn send_summary(
    state: &AppState,
    user: &SignedIn,
    scope: Scope,
    body: &[u8],
) -> Result<HttpResponse, UiError> {
    let form: CsrfOnly = parse_form(body)?;
    require_csrf(&user.session, &form.csrf)?;
    let (kind, text) = match svc::send_summary_now(&state.services, &user.principal, &scope).await {
        Ok(()) => (
            "success",
            "Weekly summary of the last 7 days sent to the target channels. It is listed in \
                 the delivery log below."
                .to_owned(),
        ),
        Err(e @ ConfigError::Incomplete { .. }) => ("error", render::capitalize(&e.to_string())),
        Err(e) => return Err(e.into()),
    };
    flash_notice(user, kind, &text);
    Ok(see_other(&scope.settings_page()))
}

pub(super) async fn install(
    state: &AppState,
    user: &SignedIn,
    scope: Scope,
) -> Result<HttpResponse, UiError> {
    let url = svc::start_install(&state.services, &user.principal, &scope).await?;
    // A full URL of Slack's authorize page, built by the service from settings.
    Ok(see_other(&url))
}

pub(super) async fn remove_confirm(
    ui: &Ui,
    state: &AppState,
    user: &SignedIn,
    scope: Scope,
) -> Result<HttpResponse, UiError> {
    let org_view = svc::org_view(&state.services, scope.org()).await?;
    let own = match scope.project() {
        None => org_view.integration.clone(),
        Some(p) => {
            let view = svc::project_view(&state.services, scope.org(), p).await?;
            let i = view.effective.integration;
            i.value.filter(|_| i.source == Source::Project)
        }
    };
    let page = scope.settings_page();
    let Some(own) = own else {
        flash_notice(
            user,
            "info",
            "There is no Slack integration to remove here.",
        );
        return Ok(see_other(&page));
    };
    let data = ConfirmRemove {
        csrf: user.csrf.clone(),
        action: format!("{page}/remove"),
        back: page,
        team_name: Some(own.team_name),
        is_project: scope.project().is_some(),
        org_team_name: org_view.integration.map(|i| i.team_name),
    };
    Ok(ui.page(
        StatusCode::OK,
        "Remove Slack Integration",
        "confirm",
        &data,
        Some((&user.principal, &user.csrf)),
    ))
}

pub(super) async fn remove(
    state: &AppState,
    user: &SignedIn,
    scope: Scope,
    body: &[u8],
) -> Result<HttpResponse, UiError> {
    let form: CsrfOnly = parse_form(body)?;
    require_csrf(&user.session, &form.csrf)?;
    let outcome = svc::remove_integration(&state.services, &user.principal, &scope).await?;
    let removed = outcome != RevokeOutcome::NothingInstalled;
    let mut text = match outcome {
        RevokeOutcome::NothingInstalled => "There was no Slack integration to remove.".to_owned(),
        RevokeOutcome::Revoked | RevokeOutcome::SkippedShared => {
            "Slack integration removed.".to_owned()
        }
        RevokeOutcome::Failed(code) => format!(
            "Slack integration removed here; Slack could not revoke its token ({code}), so \
             you may also want to remove the app in Slack."
        ),
    };
    if scope.project().is_some() && removed {
        text.push_str(" The organization's integration now takes effect for this project.");
    }
    flash_notice(user, "success", &text);
    Ok(see_other(&scope.settings_page()))
}

pub(super) async fn test_message(
    state: &AppState,
    user: &SignedIn,
    scope: Scope,
    body: &[u8],
) -> Result<HttpResponse, UiError> {
    let form: CsrfOnly = parse_form(body)?;
    require_csrf(&user.session, &form.csrf)?;
    let flash = match svc::send_test_message(&state.services, &user.principal, &scope).await {
        Ok(results) => {
            let sent = results.iter().filter(|r| r.ok).count();
            let (kind, text) = if sent == results.len() {
                (
                    "success",
                    format!(
                        "Test message sent to {sent} channel(s). Check your Slack client to see \
                         that it arrived."
                    ),
                )
            } else {
                (
                    "warning",
                    format!(
                        "The test message reached {sent} of {} channel(s); see the results below.",
                        results.len()
                    ),
                )
            };
            Flash {
                notices: vec![Notice::new(kind, text)],
                test_results: Some(
                    results
                        .into_iter()
                        .map(|r| (r.channel, r.ok, r.error))
                        .collect(),
                ),
            }
        }
        Err(e @ ConfigError::Incomplete { .. }) | Err(e @ ConfigError::SlackUnavailable(_)) => {
            Flash {
                notices: vec![Notice::new("error", render::capitalize(&e.to_string()))],
                test_results: None,
            }
        }
        Err(e) => return Err(e.into()),
    };
    set_flash(&user.session, &flash);
    Ok(see_other(&format!("{}#test", scope.settings_page())))
}

pub(super) async fn end_mute_route(
    state: web::Data<AppState>,
    ui: web::Data<Ui>,
    user: SignedIn,
    path: web::Path<(String, String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let result = async {
        let scope = project_scope(&user, &path.0, &path.1)?;
        let form: EndMuteForm = parse_form(&body)?;
        require_csrf(&user.session, &form.csrf)?;
        let channels = svc::end_mute(&state.services, &user.principal, &scope, &path.2).await?;
        if !channels.is_empty() {
            state.actors.sender().do_send(crate::actors::slack_sender::Wake { channels });
        }
        flash_notice(
            &user,
            "success",
            "The mute ended: the scenario's changes are sent to Slack again, and its incident card shows it.",
        );
        // Back where the button was: the project's or the organization's page.
        let back = if form.from == "org" {
            format!("{}#mutes", Scope::Org(scope.org().clone()).settings_page())
        } else {
            format!("{}#mutes", scope.settings_page())
        };
        Ok(see_other(&back))
    }
    .await;
    respond(&ui, &user, result)
}

#[derive(Deserialize)]
pub(super) struct EndMuteForm {
    #[serde(default)]
    csrf: String,
    /// `org` when the button was on the organization's page (where to go back to).
    #[serde(default)]
    from: String,
}
