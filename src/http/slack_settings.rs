//! Slack settings of organizations and projects (role `admin`), API.md "Slack settings".
//!
//! Every handler checks the caller's scope first (403 whether or not the target exists),
//! parses the path and body into domain types and calls [`crate::services::slack_config`].

use actix_web::{delete, get, post, put, web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::auth::Authenticated;
use super::error::ApiError;
use super::json::ApiJson;
use super::params;
use super::responses::{
    sorted_keys, BadRequest, Conflict, Denied, NotFound, PayloadTooLarge, Unavailable,
    Unprocessable,
};
use crate::domain::access::AdminTarget;
use crate::domain::ids::{OrgId, ProjectId};
use crate::domain::quiet::DuringLoadTests;
use crate::domain::settings::RegressionThreshold;
use crate::domain::summary::SummarySchedule;
use crate::services::slack_config::{
    self as svc, OrgUpdate, OrgView, ProjectUpdate, ProjectView, RuleInput, Scope, TestResult,
};
use crate::state::AppState;

/// `target_channels`: a space-separated string or an array of entries.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ChannelsField {
    Text(String),
    List(Vec<String>),
}

impl ChannelsField {
    fn into_entries(self) -> Vec<String> {
        match self {
            Self::Text(s) => vec![s],
            Self::List(v) => v,
        }
    }
}

/// A notification rule in a settings body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleBody {
    /// A public channel (`#name`, `name` or `C…`), validated like target channels.
    channel: String,
    /// Event kinds (`load_test.started` … `monitoring.recovered`), `all` or `failures`.
    events: Vec<String>,
    /// `@here`, `@channel`, a user group ID (`S…`) or user IDs (`U…`/`W…`).
    #[serde(default)]
    mention: Option<String>,
}

impl From<RuleBody> for RuleInput {
    fn from(r: RuleBody) -> Self {
        Self {
            channel: r.channel,
            events: r.events,
            mention: r.mention,
        }
    }
}

/// `PUT …/orgs/{org}/slack`: every field optional (strict: an unknown key is refused).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgSettingsBody {
    #[serde(default)]
    send_messages: Option<bool>,
    #[serde(default)]
    threads: Option<bool>,
    #[serde(default)]
    compact_messages: Option<bool>,
    #[serde(default)]
    target_channels: Option<ChannelsField>,
    /// Replaces the organization's notification rules when given.
    #[serde(default)]
    rules: Option<Vec<RuleBody>>,
    /// Percent (1 to 1000) a report figure may get worse than its baseline's before it is
    /// a regression; `null` resets it to the default, 10.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<RegressionThreshold>)]
    regression_threshold_pct: Option<Option<RegressionThreshold>>,
    /// Report charts in the run's thread.
    #[serde(default)]
    charts: Option<bool>,
    /// `notify`, `annotate` or `hold`: a scenario's incident while a load test of its
    /// project runs.
    #[serde(default)]
    during_load_tests: Option<DuringLoadTests>,
    /// The weekly summary of all its projects; `null` turns it off.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<SummarySchedule>)]
    summary: Option<Option<SummarySchedule>>,
}

/// A key that is present, `null` included (`None` is left for a missing key).
fn present<'de, T, D>(d: D) -> Result<Option<T>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    T::deserialize(d).map(Some)
}

/// `PUT …/projects/{project}/slack`: `send_messages` required, the rest nullable.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectSettingsBody {
    send_messages: bool,
    #[serde(default)]
    threads: Option<bool>,
    #[serde(default)]
    compact_messages: Option<bool>,
    #[serde(default)]
    target_channels: Option<ChannelsField>,
    /// The project's own notification rules (none or empty: inherit the organization's).
    #[serde(default)]
    rules: Option<Vec<RuleBody>>,
    /// 1 to 1000 (none or `null`: inherit the organization's).
    #[serde(default)]
    regression_threshold_pct: Option<RegressionThreshold>,
    /// None or `null`: inherit the organization's.
    #[serde(default)]
    charts: Option<bool>,
    /// `notify`, `annotate` or `hold` (none or `null`: inherit the organization's).
    #[serde(default)]
    during_load_tests: Option<DuringLoadTests>,
    /// The project's own weekly summary (none or `null`: the organization's applies).
    #[serde(default)]
    summary: Option<SummarySchedule>,
}

/// `POST …/slack/install`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AuthorizeUrl {
    /// Slack's consent page with client_id, scope, redirect_uri and state.
    pub authorize_url: String,
}

/// `POST …/slack/test-message`: one result per target channel.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TestMessageResults {
    #[serde(serialize_with = "sorted_keys")]
    pub results: Vec<TestResult>,
}

/// Parses the org path and checks the caller administers it.
pub(super) fn org_scope(auth: &Authenticated, org: &str) -> Result<OrgId, ApiError> {
    let org = params::org(org)?;
    auth.require_admin(AdminTarget::Org(&org))?;
    Ok(org)
}

/// Parses the project path and checks the caller administers it.
pub(super) fn project_scope(
    auth: &Authenticated,
    org: &str,
    project: &str,
) -> Result<(OrgId, ProjectId), ApiError> {
    let org = params::org(org)?;
    let project = params::project(project)?;
    auth.require_admin(AdminTarget::Project(&org, &project))?;
    Ok((org, project))
}

#[utoipa::path(
    tag = "slack settings",
    params(("org" = String, Path, description = "organization id")),
    responses(
        (status = 200, description = "The organization's Slack settings", body = OrgView),
        BadRequest, Denied, NotFound,
    ),
    security(("bearer" = []))
)]
#[get("/orgs/{org}/slack")]
pub async fn get_org(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<OrgView>, ApiError> {
    let org = org_scope(&auth, &path)?;
    let view = svc::org_view(&state.services, &org).await?;
    Ok(web::Json(view))
}

#[utoipa::path(
    tag = "slack settings",
    // Not the function's name: `registry::put_org` has it, and an operationId is unique.
    operation_id = "put_org_slack_settings",
    params(("org" = String, Path, description = "organization id")),
    request_body = OrgSettingsBody,
    responses(
        (status = 200, description = "Saved", body = OrgView),
        BadRequest, Denied, NotFound, PayloadTooLarge, Unprocessable, Unavailable,
    ),
    security(("bearer" = []))
)]
#[put("/orgs/{org}/slack")]
pub async fn put_org(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: ApiJson<OrgSettingsBody>,
) -> Result<web::Json<OrgView>, ApiError> {
    let org = org_scope(&auth, &path)?;
    let body = body.0;
    let update = OrgUpdate {
        send_messages: body.send_messages,
        threads: body.threads,
        compact_messages: body.compact_messages,
        target_channels: body.target_channels.map(ChannelsField::into_entries),
        rules: body
            .rules
            .map(|rules| rules.into_iter().map(RuleInput::from).collect()),
        regression_threshold_pct: body.regression_threshold_pct,
        charts: body.charts,
        during_load_tests: body.during_load_tests,
        summary: body.summary,
    };
    let view = svc::update_org(&state.services, &auth.0, &org, update).await?;
    Ok(web::Json(view))
}

#[utoipa::path(
    tag = "slack settings",
    params(
        ("org" = String, Path, description = "organization id"),
        ("project" = String, Path, description = "project id"),
    ),
    responses(
        (status = 200, description = "Own and effective settings", body = ProjectView),
        BadRequest, Denied, NotFound,
    ),
    security(("bearer" = []))
)]
#[get("/orgs/{org}/projects/{project}/slack")]
pub async fn get_project(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<ProjectView>, ApiError> {
    let (org, project) = project_scope(&auth, &path.0, &path.1)?;
    let view = svc::project_view(&state.services, &org, &project).await?;
    Ok(web::Json(view))
}

#[utoipa::path(
    tag = "slack settings",
    operation_id = "put_project_slack_settings",
    params(
        ("org" = String, Path, description = "organization id"),
        ("project" = String, Path, description = "project id"),
    ),
    request_body = ProjectSettingsBody,
    responses(
        (status = 200, description = "Saved", body = ProjectView),
        BadRequest, Denied, NotFound, PayloadTooLarge, Unprocessable, Unavailable,
    ),
    security(("bearer" = []))
)]
#[put("/orgs/{org}/projects/{project}/slack")]
pub async fn put_project(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: ApiJson<ProjectSettingsBody>,
) -> Result<web::Json<ProjectView>, ApiError> {
    let (org, project) = project_scope(&auth, &path.0, &path.1)?;
    let body = body.0;
    let update = ProjectUpdate {
        send_messages: body.send_messages,
        threads: body.threads,
        compact_messages: body.compact_messages,
        target_channels: body
            .target_channels
            .map(ChannelsField::into_entries)
            .unwrap_or_default(),
        // A PUT replaces the project's own settings: no rules given, none of its own.
        rules: Some(
            body.rules
                .unwrap_or_default()
                .into_iter()
                .map(RuleInput::from)
                .collect(),
        ),
        regression_threshold_pct: body.regression_threshold_pct,
        charts: body.charts,
        during_load_tests: body.during_load_tests,
        summary: body.summary,
    };
    let view = svc::put_project(&state.services, &auth.0, &org, &project, update).await?;
    Ok(web::Json(view))
}

#[utoipa::path(
    tag = "slack settings",
    params(
        ("org" = String, Path, description = "organization id"),
        ("project" = String, Path, description = "project id"),
    ),
    responses(
        (status = 204, description = "The project inherits everything again"),
        BadRequest, Denied, NotFound,
    ),
    security(("bearer" = []))
)]
#[delete("/orgs/{org}/projects/{project}/slack")]
pub async fn delete_project(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (org, project) = project_scope(&auth, &path.0, &path.1)?;
    svc::delete_project_settings(&state.services, &auth.0, &org, &project).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn install(
    auth: &Authenticated,
    state: &AppState,
    scope: Scope,
) -> Result<web::Json<AuthorizeUrl>, ApiError> {
    let authorize_url = svc::start_install(&state.services, &auth.0, &scope).await?;
    Ok(web::Json(AuthorizeUrl { authorize_url }))
}

#[utoipa::path(
    tag = "slack settings",
    params(("org" = String, Path, description = "organization id")),
    responses(
        (status = 200, description = "Where to send the admin", body = AuthorizeUrl),
        BadRequest, Denied, NotFound, Conflict,
    ),
    security(("bearer" = []))
)]
#[post("/orgs/{org}/slack/install")]
pub async fn install_org(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<AuthorizeUrl>, ApiError> {
    let org = org_scope(&auth, &path)?;
    install(&auth, &state, Scope::Org(org)).await
}

#[utoipa::path(
    tag = "slack settings",
    params(
        ("org" = String, Path, description = "organization id"),
        ("project" = String, Path, description = "project id"),
    ),
    responses(
        (status = 200, description = "Where to send the admin", body = AuthorizeUrl),
        BadRequest, Denied, NotFound, Conflict,
    ),
    security(("bearer" = []))
)]
#[post("/orgs/{org}/projects/{project}/slack/install")]
pub async fn install_project(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<AuthorizeUrl>, ApiError> {
    let (org, project) = project_scope(&auth, &path.0, &path.1)?;
    install(&auth, &state, Scope::Project(org, project)).await
}

/// 204 in every case; `X-Slack-Revoke` says whether Slack revoked the token.
async fn remove(
    auth: &Authenticated,
    state: &AppState,
    scope: Scope,
) -> Result<HttpResponse, ApiError> {
    let outcome = svc::remove_integration(&state.services, &auth.0, &scope).await?;
    Ok(HttpResponse::NoContent()
        .insert_header(("X-Slack-Revoke", outcome.as_str()))
        .finish())
}

#[utoipa::path(
    tag = "slack settings",
    params(("org" = String, Path, description = "organization id")),
    responses(
        (status = 204, description = "Removed; X-Slack-Revoke says whether Slack revoked the token"),
        BadRequest, Denied, NotFound,
    ),
    security(("bearer" = []))
)]
#[delete("/orgs/{org}/slack/integration")]
pub async fn remove_org(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let org = org_scope(&auth, &path)?;
    remove(&auth, &state, Scope::Org(org)).await
}

#[utoipa::path(
    tag = "slack settings",
    params(
        ("org" = String, Path, description = "organization id"),
        ("project" = String, Path, description = "project id"),
    ),
    responses(
        (status = 204, description = "Removed; X-Slack-Revoke says whether Slack revoked the token"),
        BadRequest, Denied, NotFound,
    ),
    security(("bearer" = []))
)]
#[delete("/orgs/{org}/projects/{project}/slack/integration")]
pub async fn remove_project(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (org, project) = project_scope(&auth, &path.0, &path.1)?;
    remove(&auth, &state, Scope::Project(org, project)).await
}

async fn test_message(
    auth: &Authenticated,
    state: &AppState,
    scope: Scope,
) -> Result<web::Json<TestMessageResults>, ApiError> {
    let results = svc::send_test_message(&state.services, &auth.0, &scope).await?;
    Ok(web::Json(TestMessageResults { results }))
}

#[utoipa::path(
    tag = "slack settings",
    params(("org" = String, Path, description = "organization id")),
    responses(
        (status = 200, description = "One result per target channel", body = TestMessageResults),
        BadRequest, Denied, NotFound, Conflict,
    ),
    security(("bearer" = []))
)]
#[post("/orgs/{org}/slack/test-message")]
pub async fn test_message_org(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<TestMessageResults>, ApiError> {
    let org = org_scope(&auth, &path)?;
    test_message(&auth, &state, Scope::Org(org)).await
}

#[utoipa::path(
    tag = "slack settings",
    params(
        ("org" = String, Path, description = "organization id"),
        ("project" = String, Path, description = "project id"),
    ),
    responses(
        (status = 200, description = "One result per target channel", body = TestMessageResults),
        BadRequest, Denied, NotFound, Conflict,
    ),
    security(("bearer" = []))
)]
#[post("/orgs/{org}/projects/{project}/slack/test-message")]
pub async fn test_message_project(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<TestMessageResults>, ApiError> {
    let (org, project) = project_scope(&auth, &path.0, &path.1)?;
    test_message(&auth, &state, Scope::Project(org, project)).await
}
