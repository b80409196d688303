//! The admin web UI (API.md "Web UI"): sign-in with an admin token and the Slack
//! integration form of organizations and projects, server-rendered with handlebars.
//!
//! Handlers stay thin: they check the session and the CSRF token, parse the path and the
//! form, call [`crate::services::slack_config`] (the same service as the JSON API) and
//! render a page or redirect (post/redirect/get, with one-shot notices in the session).

#[cfg(test)]
mod contrast;
pub mod cookies;
pub mod render;
pub mod session;
pub mod views;

use actix_session::{Session, SessionExt};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use self::render::{home_page, Ui, UiError};
use self::session::{require_csrf, set_flash, take_flash, Flash, Notice, SignedIn};
use self::views::{Choice, Frame, LogFilters, OrgLists, ProjectLink, Rejected, SettingsForm};
use crate::db::models::delivery::LogFilter;
use crate::db::models::organization::Organization;
use crate::db::models::project::Project;
use crate::db::DbError;
use crate::domain::access::{AdminTarget, Role};
use crate::domain::ids::{OrgId, ProjectId};
use crate::domain::settings::Source;
use crate::services::slack_config::{
    self as svc, ConfigError, OrgUpdate, ProjectUpdate, RevokeOutcome, RuleInput, Scope,
};
use crate::state::AppState;

/// How many deliveries the project and organization pages list.
const DELIVERY_LOG_LINES: i64 = 25;

/// Registers the UI's routes, each behind the session middleware.
pub fn configure(cfg: &mut web::ServiceConfig, ui: &Ui) {
    let data = web::Data::new(ui.clone());
    let org = "/{org}/slack";
    let project = "/{org}/projects/{project}/slack";
    cfg.app_data(data)
        .service(
            web::resource("/")
                .wrap(ui.cookies.middleware())
                .route(web::get().to(home))
                .route(web::post().to(sign_in)),
        )
        .service(
            web::resource("/signout")
                .wrap(ui.cookies.middleware())
                .route(web::post().to(sign_out)),
        );
    let mut scope = web::scope("/orgs")
        .wrap(ui.cookies.middleware())
        .route(org, web::get().to(page_route))
        .route(org, web::post().to(org_save))
        .route(project, web::get().to(page_route))
        .route(project, web::post().to(project_save))
        .route(&format!("{project}/reset"), web::post().to(project_reset))
        .route(
            &format!("{project}/mutes/{{scenario}}/end"),
            web::post().to(end_mute_route),
        );
    // The same pages and forms at both levels.
    for base in [org, project] {
        scope = scope
            .route(&format!("{base}/install"), web::get().to(install_route))
            .route(
                &format!("{base}/remove"),
                web::get().to(remove_confirm_route),
            )
            .route(&format!("{base}/remove"), web::post().to(remove_route))
            .route(&format!("{base}/test"), web::post().to(test_route))
            .route(&format!("{base}/rules"), web::post().to(rules_route));
    }
    cfg.service(scope.default_service(web::to(not_found)));
}

// ---------------------------------------------------------------------------------------
// Sign-in

#[derive(Deserialize)]
struct HomeQuery {
    signed_out: Option<String>,
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
}

fn sign_in_page(
    ui: &Ui,
    session: &Session,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&str>,
) -> HttpResponse {
    let csrf = session::csrf_token(session);
    ui.page(
        status,
        "Sign in",
        "signin",
        &serde_json::json!({ "csrf": csrf, "error": error, "notice": notice }),
        None,
    )
}

/// `GET /`: the sign-in page, or the admin's settings page when signed in.
async fn home(
    req: HttpRequest,
    ui: web::Data<Ui>,
    state: web::Data<AppState>,
    query: web::Query<HomeQuery>,
) -> HttpResponse {
    let session = req.get_session();
    match session::current_principal(&state, &session).await {
        Ok(Some(p)) => see_other(&home_page(&p)),
        Ok(None) => {
            let notice = query
                .signed_out
                .as_ref()
                .map(|_| "You have been signed out.");
            sign_in_page(&ui, &session, StatusCode::OK, None, notice)
        }
        Err(e) => ui.error_page(&e, None),
    }
}

/// `POST /`: signs in with an admin token.
async fn sign_in(
    req: HttpRequest,
    ui: web::Data<Ui>,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let session = req.get_session();
    let Ok(form) = serde_urlencoded::from_bytes::<SignInForm>(&body) else {
        return ui.error_page(
            &UiError::BadRequest("The form could not be read.".into()),
            None,
        );
    };
    if let Err(e) = require_csrf(&session, &form.csrf) {
        return ui.error_page(&e, None);
    }
    let token = form.token.trim().to_owned();
    if token.is_empty() {
        return sign_in_page(
            &ui,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Enter your admin token."),
            None,
        );
    }
    let found = state.token_checks.principal(&token).await;
    let principal = match found {
        Ok(Some(p)) => p,
        Ok(None) => {
            return sign_in_page(
                &ui,
                &session,
                StatusCode::UNAUTHORIZED,
                Some("This token is not valid or has been revoked."),
                None,
            )
        }
        Err(e) => return ui.error_page(&UiError::internal(e), None),
    };
    if principal.role != Role::Admin || principal.org.is_none() {
        return sign_in_page(
            &ui,
            &session,
            StatusCode::FORBIDDEN,
            Some(
                "This is a service token, which cannot sign in here. Sign in with an admin \
                 token of your organization or project.",
            ),
            None,
        );
    }
    if let Err(e) = session::sign_in(&state, &session, &principal).await {
        return ui.error_page(&e, None);
    }
    tracing::info!(token_id = %principal.token_id, "web UI sign-in");
    see_other(&home_page(&principal))
}

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// `POST /signout`.
async fn sign_out(
    req: HttpRequest,
    ui: web::Data<Ui>,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let session = req.get_session();
    let csrf = serde_urlencoded::from_bytes::<CsrfOnly>(&body)
        .map(|f| f.csrf)
        .unwrap_or_default();
    if let Err(e) = require_csrf(&session, &csrf) {
        return ui.error_page(&e, None);
    }
    if let Err(e) = session::sign_out(&state, &session).await {
        return ui.error_page(&e, None);
    }
    see_other("/?signed_out=1")
}

// ---------------------------------------------------------------------------------------
// Shared pieces

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

/// Answers `result`, rendering an error as its page.
fn respond(ui: &Ui, user: &SignedIn, result: Result<HttpResponse, UiError>) -> HttpResponse {
    result.unwrap_or_else(|e| ui.error_page(&e, Some((&user.principal, &user.csrf))))
}

fn org_scope(user: &SignedIn, org: &str) -> Result<Scope, UiError> {
    let org = OrgId::parse(org).map_err(|_| no_such_page())?;
    if !user.principal.may_admin(AdminTarget::Org(&org)) {
        return Err(forbidden(user));
    }
    Ok(Scope::Org(org))
}

fn project_scope(user: &SignedIn, org: &str, project: &str) -> Result<Scope, UiError> {
    let org = OrgId::parse(org).map_err(|_| no_such_page())?;
    let project = ProjectId::parse(project).map_err(|_| no_such_page())?;
    if !user
        .principal
        .may_admin(AdminTarget::Project(&org, &project))
    {
        return Err(forbidden(user));
    }
    Ok(Scope::Project(org, project))
}

/// The organization or project a `/orgs/{org}[/projects/{project}]/slack…` route names,
/// if this admin may see it (one place for both levels of every page and form).
fn scope_of(user: &SignedIn, req: &HttpRequest) -> Result<Scope, UiError> {
    let org = req.match_info().get("org").unwrap_or_default();
    match req.match_info().get("project") {
        Some(project) => project_scope(user, org, project),
        None => org_scope(user, org),
    }
}

async fn page_route(
    user: SignedIn,
    ui: web::Data<Ui>,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<PageQuery>,
) -> HttpResponse {
    let result = async {
        let scope = scope_of(&user, &req)?;
        let log = LogQuery {
            status: query.status.clone(),
            project: query.project.clone(),
        };
        settings_page(
            &ui,
            &state,
            &user,
            &scope,
            None,
            query.installed.is_some(),
            log,
        )
        .await
    }
    .await;
    respond(&ui, &user, result)
}

async fn install_route(
    user: SignedIn,
    ui: web::Data<Ui>,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> HttpResponse {
    let result = async { install(&state, &user, scope_of(&user, &req)?).await }.await;
    respond(&ui, &user, result)
}

async fn remove_confirm_route(
    user: SignedIn,
    ui: web::Data<Ui>,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> HttpResponse {
    let result = async { remove_confirm(&ui, &state, &user, scope_of(&user, &req)?).await }.await;
    respond(&ui, &user, result)
}

async fn remove_route(
    user: SignedIn,
    ui: web::Data<Ui>,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let result = async { remove(&state, &user, scope_of(&user, &req)?, &body).await }.await;
    respond(&ui, &user, result)
}

async fn test_route(
    user: SignedIn,
    ui: web::Data<Ui>,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let result = async { test_message(&state, &user, scope_of(&user, &req)?, &body).await }.await;
    respond(&ui, &user, result)
}

/// The notification rules form: one row per rule (`rule_channel_N`, `rule_events_N` once
/// per ticked box, `rule_mention_N`, `rule_remove_N`), plus an empty row to add one. Saves
/// the rules only; the other settings stay as they are.
async fn rules_route(
    user: SignedIn,
    state: web::Data<AppState>,
    ui: web::Data<Ui>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let result = async {
        let scope = scope_of(&user, &req)?;
        let fields: Vec<(String, String)> =
            url::form_urlencoded::parse(&body).into_owned().collect();
        let value = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        require_csrf(&user.session, &value("csrf"))?;
        let mut indices: Vec<usize> = fields
            .iter()
            .filter_map(|(k, _)| k.strip_prefix("rule_channel_")?.parse().ok())
            .collect();
        indices.sort_unstable();
        indices.dedup();
        let rules: Vec<RuleInput> = indices
            .into_iter()
            .filter(|i| value(&format!("rule_remove_{i}")).is_empty())
            .filter(|i| !value(&format!("rule_channel_{i}")).trim().is_empty())
            .map(|i| RuleInput {
                channel: value(&format!("rule_channel_{i}")).trim().to_owned(),
                events: fields
                    .iter()
                    .filter(|(k, _)| *k == format!("rule_events_{i}"))
                    .map(|(_, v)| v.clone())
                    .collect(),
                mention: Some(value(&format!("rule_mention_{i}"))).filter(|m| !m.trim().is_empty()),
            })
            .collect();
        let saved = match &scope {
            Scope::Org(org) => {
                let update = OrgUpdate {
                    rules: Some(rules),
                    ..OrgUpdate::default()
                };
                svc::update_org(&state.services, &user.principal, org, update)
                    .await
                    .map(drop)
            }
            Scope::Project(org, project) => {
                // Only the rules change; the project's other values are kept (a project
                // without settings of its own gets them, sending as it does now).
                let view = svc::project_view(&state.services, org, project).await?;
                let own = view.own.as_ref();
                let update = ProjectUpdate {
                    send_messages: own
                        .map_or(view.effective.send_messages.value, |o| o.send_messages),
                    threads: own.and_then(|o| o.threads),
                    compact_messages: own.and_then(|o| o.compact_messages),
                    target_channels: own.map(|o| o.target_channels.clone()).unwrap_or_default(),
                    rules: Some(rules),
                };
                svc::put_project(&state.services, &user.principal, org, project, update)
                    .await
                    .map(drop)
            }
        };
        match saved {
            Ok(()) => flash_notice(&user, "success", "Notification rules saved."),
            Err(e) => {
                let message = match e {
                    ConfigError::InvalidRule { field, message } => {
                        format!("Nothing was saved. {}: {message}", rule_field_label(&field))
                    }
                    ConfigError::InvalidChannels { message, .. } => {
                        format!("Nothing was saved. {}", render::capitalize(&message))
                    }
                    other => return Err(other.into()),
                };
                flash_notice(&user, "error", &message);
            }
        }
        Ok(see_other(&format!("{}#rules", scope.settings_page())))
    }
    .await;
    respond(&ui, &user, result)
}

/// `rules[1].events` → "Rule 2, events".
fn rule_field_label(field: &str) -> String {
    let Some(rest) = field.strip_prefix("rules[") else {
        return render::capitalize(field);
    };
    match rest.split_once("].") {
        Some((n, what)) => {
            let n: usize = n.parse().unwrap_or(0);
            format!("Rule {}, {what}", n + 1)
        }
        None => "Rules".to_owned(),
    }
}

fn no_such_page() -> UiError {
    UiError::NotFound("There is no such page.".to_owned())
}

/// 403, decided from the token alone (whether or not the target exists).
fn forbidden(user: &SignedIn) -> UiError {
    let p = &user.principal;
    let mine = match (&p.org, &p.project) {
        (Some(o), Some(pr)) => format!("project {o}/{pr}"),
        (Some(o), None) => format!("organization {o}"),
        _ => "nothing".to_owned(),
    };
    UiError::Forbidden(format!(
        "You are signed in as an administrator of {mine}. This page belongs to an \
         organization or project you do not administer."
    ))
}

fn frame(user: &SignedIn, scope: &Scope, org_name: String, project_name: Option<String>) -> Frame {
    Frame {
        scope: scope.clone(),
        org_name,
        project_name,
        csrf: user.csrf.clone(),
        org_admin: user.principal.may_admin(AdminTarget::Org(scope.org())),
    }
}

/// Display names of the organization (and project), and what the page lists with them:
/// the org's projects, and the recent deliveries (of the project, or across the
/// organization as filtered).
struct Names {
    org: String,
    project: Option<String>,
    projects: Vec<ProjectLink>,
    deliveries: Vec<super::deliveries::DeliveryEntry>,
    /// Active mutes of monitoring incidents (the project's, or the organization's).
    mutes: Vec<super::deliveries::MuteEntry>,
    /// Organization page: the log's filters as applied.
    filters: Option<LogFilters>,
}

/// The log filters as asked for (`?status=failed&project=webshop`; a project page has
/// only `status`).
#[derive(Clone, Default, Deserialize)]
struct LogQuery {
    status: Option<String>,
    project: Option<String>,
}

async fn names(state: &AppState, scope: &Scope, query: LogQuery) -> Result<Names, UiError> {
    let (o, p) = (
        scope.org().to_string(),
        scope.project().map(ToString::to_string),
    );
    state
        .db
        .run(move |conn| {
            let Some(org) = Organization::find_by_id(conn, &o)? else {
                return Ok(None);
            };
            // Unknown filter values are named and ignored, never guessed.
            let mut problems = Vec::new();
            let status = match super::deliveries::parse_status(query.status.as_deref()) {
                Ok(s) => s,
                Err(_) => {
                    problems.push("an unknown status");
                    None
                }
            };
            let problem = |problems: &[&str]| {
                (!problems.is_empty()).then(|| {
                    format!(
                        "The filter asked for {}, so it shows everything instead.",
                        problems.join(" and ")
                    )
                })
            };
            let names = match &p {
                Some(p) => {
                    let Some(project) = Project::find_by_id(conn, &o, p)? else {
                        return Ok(None);
                    };
                    let filter = LogFilter {
                        org: &o,
                        project: Some(p),
                        status,
                        limit: DELIVERY_LOG_LINES,
                    };
                    Names {
                        org: org.name,
                        project: Some(project.name),
                        projects: Vec::new(),
                        deliveries: super::deliveries::load_log(conn, filter)?,
                        mutes: super::deliveries::load_mutes(conn, &o, Some(p))?,
                        filters: Some(LogFilters::new(status, None, &[], problem(&problems))),
                    }
                }
                None => {
                    let projects: Vec<ProjectLink> = Project::list_by_org(conn, &o)?
                        .into_iter()
                        .map(|pr| ProjectLink {
                            url: format!("/orgs/{o}/projects/{}/slack", pr.id),
                            id: pr.id,
                            name: pr.name,
                        })
                        .collect();
                    let project = query.project.as_deref().filter(|q| !q.is_empty());
                    let project = match project {
                        Some(q) if projects.iter().any(|pr| pr.id == q) => Some(q),
                        Some(_) => {
                            problems.push("an unknown project");
                            None
                        }
                        None => None,
                    };
                    let filter = LogFilter {
                        org: &o,
                        project,
                        status,
                        limit: DELIVERY_LOG_LINES,
                    };
                    let deliveries = super::deliveries::load_log(conn, filter)?;
                    let filters = LogFilters::new(status, project, &projects, problem(&problems));
                    Names {
                        org: org.name,
                        project: None,
                        projects,
                        deliveries,
                        mutes: super::deliveries::load_mutes(conn, &o, None)?,
                        filters: Some(filters),
                    }
                }
            };
            Ok::<_, DbError>(Some(names))
        })
        .await
        .map_err(UiError::internal)?
        .ok_or_else(|| {
            UiError::NotFound(match scope.project() {
                Some(p) => format!(
                    "Project {p} of organization {} is not registered with xtc-slack.",
                    scope.org()
                ),
                None => format!(
                    "Organization {} is not registered with xtc-slack.",
                    scope.org()
                ),
            })
        })
}

#[derive(Deserialize)]
struct PageQuery {
    installed: Option<String>,
    status: Option<String>,
    project: Option<String>,
}

/// Renders the settings page of `scope`, optionally with a rejected form.
async fn settings_page(
    ui: &Ui,
    state: &AppState,
    user: &SignedIn,
    scope: &Scope,
    rejected: Option<(StatusCode, Rejected<'_>)>,
    installed: bool,
    log: LogQuery,
) -> Result<HttpResponse, UiError> {
    let mut names = names(state, scope, log).await?;
    let flash = if rejected.is_some() {
        Flash::default()
    } else {
        take_flash(&user.session)
    };
    let (status, rejected) = match rejected {
        Some((s, r)) => (s, Some(r)),
        None => (StatusCode::OK, None),
    };
    let org_view = svc::org_view(&state.services, scope.org()).await?;
    let fr = frame(user, scope, names.org.clone(), names.project.clone());
    let (title, mut page) = match scope.project() {
        None => (
            format!("Slack · {}", names.org),
            views::org_page(
                fr,
                &org_view,
                rejected,
                &flash,
                installed,
                OrgLists {
                    projects: names.projects,
                    deliveries: &names.deliveries,
                    filters: names
                        .filters
                        .take()
                        .unwrap_or_else(|| LogFilters::new(None, None, &[], None)),
                },
            ),
        ),
        Some(p) => {
            let view = svc::project_view(&state.services, scope.org(), p).await?;
            (
                format!(
                    "Slack · {} · {}",
                    names.org,
                    names.project.as_deref().unwrap_or_default()
                ),
                views::project_page(
                    fr,
                    &view,
                    &org_view,
                    rejected,
                    &flash,
                    installed,
                    &names.deliveries,
                ),
            )
        }
    };
    page.set_mutes(&names.mutes, scope.org().as_str());
    page.set_log_filters(names.filters);
    let slack = &state.settings.slack;
    page.set_slack_app(slack.client_id.is_some() && slack.client_secret.is_some());
    Ok(ui.page(
        status,
        &title,
        "settings",
        &page,
        Some((&user.principal, &user.csrf)),
    ))
}

fn parse_form<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, UiError> {
    serde_urlencoded::from_bytes(body)
        .map_err(|_| UiError::BadRequest("The form could not be read.".to_owned()))
}

fn bad_choice(field: &str) -> UiError {
    UiError::BadRequest(format!(
        "The form sent an unknown value for {field}. Reload the page and try again."
    ))
}

/// A save that Slack or validation refused: the form again, as typed, with the error at
/// Target Channels (where every such error belongs).
async fn rejected_save(
    ui: &Ui,
    state: &AppState,
    user: &SignedIn,
    scope: &Scope,
    form: &SettingsForm,
    error: ConfigError,
) -> Result<HttpResponse, UiError> {
    let (status, rejected) = match error {
        ConfigError::InvalidChannels { message, errors } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Rejected::channels(form, &message, &errors),
        ),
        ConfigError::SlackUnavailable(message) => (
            StatusCode::BAD_GATEWAY,
            Rejected {
                form,
                message: render::capitalize(&message),
                channel: None,
                errors: Vec::new(),
                lead: true,
            },
        ),
        other => return Err(other.into()),
    };
    settings_page(
        ui,
        state,
        user,
        scope,
        Some((status, rejected)),
        false,
        LogQuery::default(),
    )
    .await
}

// ---------------------------------------------------------------------------------------
// Pages

// ---------------------------------------------------------------------------------------
// Saving

async fn org_save(
    user: SignedIn,
    ui: web::Data<Ui>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let result = async {
        let form: SettingsForm = parse_form(&body)?;
        require_csrf(&user.session, &form.csrf)?;
        let scope = org_scope(&user, &path)?;
        let flag = |raw: &str, field: &str| match Choice::parse(raw, false) {
            Some(Choice::Set(b)) => Ok(b),
            _ => Err(bad_choice(field)),
        };
        let update = OrgUpdate {
            send_messages: Some(flag(&form.send_messages, "Send messages")?),
            threads: Some(flag(&form.threads, "Threads")?),
            compact_messages: Some(flag(&form.compact_messages, "Compact messages")?),
            target_channels: Some(vec![form.target_channels.clone()]),
            rules: None,
        };
        match svc::update_org(&state.services, &user.principal, scope.org(), update).await {
            Ok(_) => {
                flash_notice(&user, "success", "Settings saved.");
                Ok(see_other(&scope.settings_page()))
            }
            Err(e) => rejected_save(&ui, &state, &user, &scope, &form, e).await,
        }
    }
    .await;
    respond(&ui, &user, result)
}

async fn project_save(
    user: SignedIn,
    ui: web::Data<Ui>,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let result = async {
        let form: SettingsForm = parse_form(&body)?;
        require_csrf(&user.session, &form.csrf)?;
        let scope = project_scope(&user, &path.0, &path.1)?;
        let Scope::Project(org, project) = &scope else {
            return Err(no_such_page());
        };
        let send = Choice::parse(&form.send_messages, true).ok_or(bad_choice("Send messages"))?;
        let threads = Choice::parse(&form.threads, true).ok_or(bad_choice("Threads"))?;
        let compact =
            Choice::parse(&form.compact_messages, true).ok_or(bad_choice("Compact messages"))?;
        let view = svc::project_view(&state.services, org, project).await?;
        let nothing_own = threads == Choice::Inherit
            && compact == Choice::Inherit
            && form.target_channels.trim().is_empty();
        let mut notes = vec![Notice::new("success", "Settings saved.")];
        let send_messages = match (send, &view.own) {
            (Choice::Set(b), _) => b,
            (Choice::Inherit, None) if nothing_own => {
                flash_notice(
                    &user,
                    "info",
                    "Nothing to save: this project inherits everything from the organization.",
                );
                return Ok(see_other(&scope.settings_page()));
            }
            // Rule 1: a project with own settings always decides `send_messages`, so
            // saving any override fixes it at the organization's current value.
            (Choice::Inherit, None) => {
                let v = view.effective.send_messages.value;
                notes.push(Notice::new(
                    "info",
                    format!(
                        "Send messages is now set on this project ({}, the organization's \
                         current value): a project with settings of its own always decides it.",
                        if v { "Enabled" } else { "Disabled" }
                    ),
                ));
                v
            }
            (Choice::Inherit, Some(_)) => return Err(bad_choice("Send messages")),
        };
        let update = ProjectUpdate {
            send_messages,
            threads: threads.as_option(),
            compact_messages: compact.as_option(),
            target_channels: vec![form.target_channels.clone()],
            rules: None,
        };
        match svc::put_project(&state.services, &user.principal, org, project, update).await {
            Ok(_) => {
                set_flash(
                    &user.session,
                    &Flash {
                        notices: notes,
                        test_results: None,
                    },
                );
                Ok(see_other(&scope.settings_page()))
            }
            Err(e) => rejected_save(&ui, &state, &user, &scope, &form, e).await,
        }
    }
    .await;
    respond(&ui, &user, result)
}

fn flash_notice(user: &SignedIn, kind: &str, text: &str) {
    set_flash(
        &user.session,
        &Flash {
            notices: vec![Notice::new(kind, text)],
            test_results: None,
        },
    );
}

async fn project_reset(
    user: SignedIn,
    ui: web::Data<Ui>,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let result = async {
        let form: CsrfOnly = parse_form(&body)?;
        require_csrf(&user.session, &form.csrf)?;
        let scope = project_scope(&user, &path.0, &path.1)?;
        let Scope::Project(org, project) = &scope else {
            return Err(no_such_page());
        };
        svc::delete_project_settings(&state.services, &user.principal, org, project).await?;
        flash_notice(
            &user,
            "success",
            "This project now inherits all settings from the organization. (A Slack \
             integration installed for the project itself stays until you remove it.)",
        );
        Ok(see_other(&scope.settings_page()))
    }
    .await;
    respond(&ui, &user, result)
}

// ---------------------------------------------------------------------------------------
// Installing, removing, testing

async fn install(state: &AppState, user: &SignedIn, scope: Scope) -> Result<HttpResponse, UiError> {
    let url = svc::start_install(&state.services, &user.principal, &scope).await?;
    // A full URL of Slack's authorize page, built by the service from settings.
    Ok(see_other(&url))
}

async fn remove_confirm(
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
    let data = views::ConfirmRemove {
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

async fn remove(
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

async fn test_message(
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

async fn end_mute_route(
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
struct EndMuteForm {
    #[serde(default)]
    csrf: String,
    /// `org` when the button was on the organization's page (where to go back to).
    #[serde(default)]
    from: String,
}

/// Anything else under `/orgs`: the 404 page.
async fn not_found(ui: web::Data<Ui>) -> HttpResponse {
    ui.error_page(&no_such_page(), None)
}
