//! The settings page of an organization or a project (`GET`), also shown again with a
//! refused form: its names, its delivery log as filtered, and the service's views.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::render::{self, Ui, UiError};
use super::session::take_flash;
use super::session::{Flash, SignedIn};
use super::views::delivery_log::{LogFilters, ProjectLink};
use super::views::form::{Rejected, SettingsForm};
use super::views::org_page::{org_page, OrgLists};
use super::views::project_page::project_page;
use super::views::summary::SummaryBox;
use super::views::Frame;
use super::{respond, scope_of};
use crate::domain::access::AdminTarget;
use crate::domain::delivery_status::DeliveryStatus;
use crate::domain::ids::ProjectId;
use crate::services::delivery_log::{self, DeliveryEntry, LogOf, MuteEntry};
use crate::services::registry;
use crate::services::slack_config::{self as svc, ConfigError, Scope};
use crate::state::AppState;

/// How many deliveries the project and organization pages list.
const DELIVERY_LOG_LINES: i64 = 25;

pub(super) async fn page_route(
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
struct PageContent {
    org: String,
    project: Option<String>,
    projects: Vec<ProjectLink>,
    deliveries: Vec<DeliveryEntry>,
    /// Active mutes of monitoring incidents (the project's, or the organization's).
    mutes: Vec<MuteEntry>,
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

async fn names(state: &AppState, scope: &Scope, query: LogQuery) -> Result<PageContent, UiError> {
    let Some(names) = registry::names(&state.services, scope).await? else {
        return Err(UiError::NotFound(match scope.project() {
            Some(p) => format!(
                "Project {p} of organization {} is not registered with xtc-slack.",
                scope.org()
            ),
            None => format!(
                "Organization {} is not registered with xtc-slack.",
                scope.org()
            ),
        }));
    };
    // Unknown filter values are named and ignored, never guessed.
    let mut problems = Vec::new();
    let status = match query.status.as_deref() {
        None | Some("") => None,
        Some(s) => DeliveryStatus::parse(s).or_else(|| {
            problems.push("an unknown status");
            None
        }),
    };
    let org = scope.org().clone();
    let projects: Vec<ProjectLink> = names
        .projects
        .into_iter()
        .map(|pr| ProjectLink {
            url: format!("/orgs/{org}/projects/{}/slack", pr.id),
            id: pr.id,
            name: pr.name,
        })
        .collect();
    let (of, project) = match scope.project() {
        Some(p) => (LogOf::Project(org, p.clone()), None),
        None => {
            let asked = query.project.as_deref().filter(|q| !q.is_empty());
            let known = asked.and_then(|q| {
                projects
                    .iter()
                    .any(|pr| pr.id == q)
                    .then(|| ProjectId::parse(q).ok())
                    .flatten()
            });
            if asked.is_some() && known.is_none() {
                problems.push("an unknown project");
            }
            (LogOf::Org(org, known.clone()), known)
        }
    };
    let log = delivery_log::list(&state.services, of, status, DELIVERY_LOG_LINES).await?;
    let problem = (!problems.is_empty()).then(|| {
        format!(
            "The filter asked for {}, so it shows everything instead.",
            problems.join(" and ")
        )
    });
    let filters = LogFilters::new(
        status,
        project.as_ref().map(ProjectId::as_str),
        &projects,
        problem,
    );
    Ok(PageContent {
        org: names.org,
        project: names.project,
        projects,
        deliveries: log.deliveries,
        mutes: log.mutes,
        filters: Some(filters),
    })
}

#[derive(Deserialize)]
pub(super) struct PageQuery {
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
            org_page(
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
                project_page(
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
    if scope.project().is_some() {
        page.set_definitions(&svc::list_definitions(&state.services, scope).await?);
    }
    page.set_windows(scope, &svc::list_windows(&state.services, scope).await?);
    page.set_summary(summary_box(state, scope).await?);
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

/// The weekly summary's schedule (own and, on a project, effective) and its preview.
async fn summary_box(state: &AppState, scope: &Scope) -> Result<SummaryBox, UiError> {
    let preview = svc::preview_summary(&state.services, scope).await?;
    Ok(match scope.project() {
        None => {
            let view = svc::org_view(&state.services, scope.org()).await?;
            SummaryBox::new(false, view.summary.as_ref(), None, Some(&preview))
        }
        Some(p) => {
            let view = svc::project_view(&state.services, scope.org(), p).await?;
            let e = &view.effective.summary;
            SummaryBox::new(
                true,
                view.own.as_ref().and_then(|o| o.summary.as_ref()),
                Some((e.value.as_ref(), e.source)),
                Some(&preview),
            )
        }
    })
}

/// A save that Slack or validation refused: the form again, as typed, with the error at
/// Target Channels (where every such error belongs).
pub(super) async fn rejected_save(
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
