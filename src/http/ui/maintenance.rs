//! The "Maintenance windows" section's forms on both settings pages: create a window, delete
//! one. The same service calls as the JSON API's `…/slack/maintenance-windows`; here only the
//! form is read (a `datetime-local` plus its zone becomes an instant) and refusals become a
//! notice naming the field.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{NaiveDateTime, SecondsFormat};

use super::render::{Ui, UiError};
use super::session::{require_csrf, SignedIn};
use super::{flash_notice, respond, scope_of, see_other};
use crate::domain::maintenance::{local_instant, parse_zone, WeeklyInput, WindowInput};
use crate::http::maintenance::delete_and_wake;
use crate::services::slack_config::{self as svc, ConfigError, Scope};
use crate::state::AppState;

/// The label of a form field, for a refusal's notice (the service names API fields).
fn field_label(field: &str) -> &'static str {
    match field {
        "starts_at" => "Starts",
        "ends_at" => "Ends",
        "zone" => "Time zone",
        "weekly" | "kind" => "Kind",
        "weekly.days" => "Days",
        "weekly.from" => "From",
        "weekly.to" => "To",
        "weekly.timezone" => "Time zone",
        "scenarios" => "Scenarios",
        "reason" => "Reason",
        _ => "Maintenance windows",
    }
}

fn refused(field: &str, message: &str) -> ConfigError {
    ConfigError::Invalid {
        field: field.to_owned(),
        message: message.to_owned(),
    }
}

/// The fields of the create form (`days` repeats, so the pairs are read by hand).
struct Fields(Vec<(String, String)>);

impl Fields {
    fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// A `datetime-local` value (`2026-12-24T22:00`, seconds optional) in `zone`, as RFC 3339.
fn instant(field: &str, raw: &str, zone: &str) -> Result<String, ConfigError> {
    let tz = parse_zone(zone)
        .ok_or_else(|| refused("zone", &format!("{zone:?} is not a known time zone")))?;
    let local = NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| refused(field, "give a date and a time"))?;
    Ok(local_instant(tz, local.date(), local.time()).to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// The form as the API's input: a one-off window's local times become instants.
fn window_input(f: &Fields) -> Result<WindowInput, ConfigError> {
    let scenarios: Vec<String> = f
        .get("scenarios")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let mut input = WindowInput {
        scenarios: (!scenarios.is_empty()).then_some(scenarios),
        reason: f.get("reason").to_owned(),
        ..WindowInput::default()
    };
    match f.get("kind") {
        "once" => {
            let zone = f.get("zone");
            input.starts_at = Some(instant("starts_at", f.get("starts_at"), zone)?);
            input.ends_at = Some(instant("ends_at", f.get("ends_at"), zone)?);
        }
        "weekly" => {
            input.weekly = Some(WeeklyInput {
                days: f.all("days"),
                from: f.get("from").to_owned(),
                to: f.get("to").to_owned(),
                timezone: f.get("timezone").trim().to_owned(),
            });
        }
        _ => return Err(refused("kind", "choose one-off or weekly")),
    }
    Ok(input)
}

/// The scope and the form's fields, once the CSRF token checked out.
fn checked_form(
    user: &SignedIn,
    req: &HttpRequest,
    body: &[u8],
) -> Result<(Scope, Fields), UiError> {
    let scope = scope_of(user, req)?;
    let fields = Fields(url::form_urlencoded::parse(body).into_owned().collect());
    require_csrf(&user.session, fields.get("csrf"))?;
    Ok((scope, fields))
}

fn back(scope: &Scope) -> HttpResponse {
    see_other(&format!("{}#maintenance", scope.settings_page()))
}

pub(super) async fn create_route(
    state: web::Data<AppState>,
    ui: web::Data<Ui>,
    user: SignedIn,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let result = async {
        let (scope, fields) = checked_form(&user, &req, &body)?;
        let created = match window_input(&fields) {
            Ok(input) => svc::create_window(&state.services, &user.principal, &scope, input).await,
            Err(e) => Err(e),
        };
        match created {
            Ok(w) => flash_notice(
                &user,
                "success",
                &format!(
                    "Maintenance window {} created: {}.",
                    w.id,
                    match &w.active_until {
                        Some(_) => "it is active now",
                        None => "changes of the scenarios it covers are skipped while it lasts",
                    }
                ),
            ),
            Err(ConfigError::Invalid { field, message }) => flash_notice(
                &user,
                "error",
                &format!("Nothing was saved: {}: {message}.", field_label(&field)),
            ),
            Err(other) => return Err(other.into()),
        }
        Ok(back(&scope))
    }
    .await;
    respond(&ui, &user, result)
}

pub(super) async fn delete_route(
    state: web::Data<AppState>,
    ui: web::Data<Ui>,
    user: SignedIn,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let result = async {
        let (scope, _) = checked_form(&user, &req, &body)?;
        let id = req
            .match_info()
            .get("id")
            .and_then(|raw| raw.parse::<i64>().ok())
            .ok_or_else(super::no_such_page)?;
        delete_and_wake(&state, &user.principal, &scope, id).await?;
        flash_notice(
            &user,
            "success",
            &format!(
                "Maintenance window {id} deleted. An incident it held that is still failing is \
                 posted now."
            ),
        );
        Ok(back(&scope))
    }
    .await;
    respond(&ui, &user, result)
}
