//! Saving the settings forms: an organization's values, a project's (or its reset to
//! inheriting everything), and the notification rules of either.

use crate::domain::summary::{SummaryDay, SummarySchedule, TimeOfDay, WeeklySchedule, Zone};
use actix_web::{web, HttpRequest, HttpResponse};

use super::render::UiError;
use super::render::{self, Ui};
use super::session::{require_csrf, set_flash, Flash, Notice, SignedIn};
use super::settings_page::rejected_save;
use super::views::form::{parse_during, Choice, SettingsForm};
use super::{
    bad_choice, flash_notice, no_such_page, org_scope, parse_form, project_scope, respond,
    scope_of, see_other, CsrfOnly,
};
use crate::domain::settings::RegressionThreshold;
use crate::services::slack_config::{
    self as svc, ConfigError, OrgUpdate, ProjectUpdate, RuleInput, Scope,
};
use crate::state::AppState;

/// The notification rules form: one row per rule (`rule_channel_N`, `rule_events_N` once
/// per ticked box, `rule_mention_N`, `rule_remove_N`), plus an empty row to add one. Saves
/// the rules only; the other settings stay as they are.
pub(super) async fn rules_route(
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
                    regression_threshold_pct: own.and_then(|o| o.regression_threshold_pct),
                    charts: own.and_then(|o| o.charts),
                    during_load_tests: own.and_then(|o| o.during_load_tests),
                    summary: own.and_then(|o| o.summary.clone()),
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
pub(super) fn rule_field_label(field: &str) -> String {
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

/// The label of the charts select, as errors name it.
const CHARTS: &str = "Charts in report threads";
/// The label of the During load tests select.
const DURING: &str = "During load tests";

/// A typed Regression threshold (%): empty is `None` (the default or inherit); anything
/// but a whole number from 1 to 1000 is refused before anything is saved.
fn threshold(raw: &str) -> Result<Option<RegressionThreshold>, UiError> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    RegressionThreshold::parse_text(raw).map(Some).map_err(|e| {
        UiError::BadRequest(format!(
            "Nothing was saved: Regression threshold (%) {e}, not {raw:?}. Go back and \
                 correct it."
        ))
    })
}

/// The weekly summary fieldset: `None` when the form did not send it, `Some(None)` with
/// no day chosen (off, or inherit on a project).
fn summary_field(form: &SettingsForm) -> Result<Option<Option<SummarySchedule>>, UiError> {
    let Some(day) = form.summary_day.as_deref().map(str::trim) else {
        return Ok(None);
    };
    if day.is_empty() {
        return Ok(Some(None));
    }
    let refuse = |label: &str, e: String| {
        UiError::BadRequest(format!(
            "Nothing was saved: Weekly summary {label} {e}. Go back and correct it."
        ))
    };
    let text = |v: &Option<String>| v.as_deref().unwrap_or_default().trim().to_owned();
    let schedule = WeeklySchedule {
        day: SummaryDay::parse(day).map_err(|e| refuse("day", e))?,
        time: TimeOfDay::parse(&text(&form.summary_time)).map_err(|e| refuse("time", e))?,
        timezone: Zone::parse(&text(&form.summary_timezone)).map_err(|e| refuse("time zone", e))?,
    };
    Ok(Some(Some(SummarySchedule::Weekly(schedule))))
}

pub(super) async fn org_save(
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
            // Empty: back to the default.
            regression_threshold_pct: form
                .regression_threshold_pct
                .as_deref()
                .map(threshold)
                .transpose()?,
            charts: form
                .charts
                .as_deref()
                .map(|raw| flag(raw, CHARTS))
                .transpose()?,
            during_load_tests: form
                .during_load_tests
                .as_deref()
                .map(|raw| parse_during(raw, false).flatten().ok_or(bad_choice(DURING)))
                .transpose()?,
            summary: summary_field(&form)?,
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

pub(super) async fn project_save(
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
        let own = view.own.as_ref();
        // A form without these fields keeps what is saved.
        let charts = match form.charts.as_deref() {
            Some(raw) => Choice::parse(raw, true).ok_or(bad_choice(CHARTS))?,
            None => own
                .and_then(|o| o.charts)
                .map_or(Choice::Inherit, Choice::Set),
        };
        let during_load_tests = match form.during_load_tests.as_deref() {
            Some(raw) => parse_during(raw, true).ok_or(bad_choice(DURING))?,
            None => own.and_then(|o| o.during_load_tests),
        };
        // Empty: inherit the organization's.
        let regression_threshold_pct = match form.regression_threshold_pct.as_deref() {
            Some(raw) => threshold(raw)?,
            None => own.and_then(|o| o.regression_threshold_pct),
        };
        // A form without the fieldset keeps what is saved.
        let summary = match summary_field(&form)? {
            Some(v) => v,
            None => own.and_then(|o| o.summary.clone()),
        };
        let nothing_own = threads == Choice::Inherit
            && summary.is_none()
            && compact == Choice::Inherit
            && charts == Choice::Inherit
            && during_load_tests.is_none()
            && regression_threshold_pct.is_none()
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
            regression_threshold_pct,
            charts: charts.as_option(),
            during_load_tests,
            summary,
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

pub(super) async fn project_reset(
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
