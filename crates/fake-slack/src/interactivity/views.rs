//! Modals (docs/slack-api.md §10 "Modals"): `views.open` with a click's `trigger_id`
//! (valid 3 s, once), the open views drawn on the page as dialogs, and their submission sent
//! to the app as Slack sends it: a signed `view_submission` whose `view.state.values` hold
//! what was picked and typed. An answer `{"response_action": "errors", …}` keeps the view
//! open with the messages under its fields; an empty 200 closes it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{base_url, ClickError};
use crate::{
    events,
    state::{random_alnum, random_digits, Params, Reply, World},
    FakeUser, Shared,
};

/// How long a click's `trigger_id` opens a view (Slack: 3 seconds).
pub(crate) const TRIGGER_TTL: Duration = Duration::from_secs(3);
/// Slack's limits of a modal.
const MAX_TITLE: usize = 24;
const MAX_BLOCKS: usize = 100;
const MAX_PRIVATE_METADATA: usize = 3_000;
const MAX_BUTTON_TEXT: usize = 24;
/// Keep the view log bounded for long demos.
const MAX_VIEWS: usize = 200;

/// A `trigger_id` handed out with a click: who clicked and when; used once.
#[derive(Debug, Clone)]
pub(crate) struct Trigger {
    pub user: String,
    pub issued: Instant,
}

/// A `trigger_id` as Slack makes them (`13 digits.13 digits.32 hex-ish`).
pub(crate) fn new_trigger_id() -> String {
    format!(
        "{}.{}.{}",
        random_digits(13),
        random_digits(13),
        random_alnum(32).to_lowercase()
    )
}

/// A view opened with `views.open`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FakeView {
    pub id: String,
    /// Who it was opened for (the user who clicked).
    pub user: String,
    /// The view as the app sent it.
    pub view: Value,
    pub open: bool,
    /// The app's field errors of the last submission: block ID → message.
    pub errors: BTreeMap<String, String>,
    /// What the person picked and typed last: block ID → value (as submitted).
    pub values: BTreeMap<String, String>,
    /// The submissions sent, oldest first: the payload, the app's status and body.
    pub submissions: Vec<Submitted>,
    pub opened_at: DateTime<Utc>,
}

/// One `view_submission` sent to the app and its answer.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Submitted {
    pub payload: Value,
    pub status: Option<u16>,
    pub body: Option<String>,
    pub error: Option<String>,
}

/// The input blocks of a view: (block_id, element type, action_id, optional, label).
pub(crate) fn inputs(view: &Value) -> Vec<(String, String, String, bool, String)> {
    view["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == "input")
        .map(|b| {
            (
                b["block_id"].as_str().unwrap_or_default().to_owned(),
                b["element"]["type"].as_str().unwrap_or_default().to_owned(),
                b["element"]["action_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                b["optional"].as_bool().unwrap_or(false),
                b["label"]["text"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn plain_text(v: &Value, max: usize) -> Result<(), String> {
    if v["type"] != "plain_text" {
        return Err("must be a plain_text object".into());
    }
    let n = v["text"].as_str().map_or(0, |t| t.chars().count());
    if n == 0 || n > max {
        return Err(format!("text must be 1 to {max} characters"));
    }
    Ok(())
}

/// Checks a modal as Slack does; the messages of `response_metadata.messages`.
pub(crate) fn validate(view: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    let mut check = |r: Result<(), String>, at: &str| {
        if let Err(e) = r {
            errs.push(format!("[ERROR] {e} [json-pointer:/view{at}]"));
        }
    };
    check(
        (view["type"] == "modal")
            .then_some(())
            .ok_or_else(|| "must be modal".into()),
        "/type",
    );
    check(plain_text(&view["title"], MAX_TITLE), "/title");
    for key in ["submit", "close"] {
        if !view[key].is_null() {
            check(plain_text(&view[key], MAX_BUTTON_TEXT), &format!("/{key}"));
        }
    }
    let meta = view["private_metadata"].as_str().unwrap_or_default();
    check(
        (meta.chars().count() <= MAX_PRIVATE_METADATA)
            .then_some(())
            .ok_or_else(|| format!("must be at most {MAX_PRIVATE_METADATA} characters")),
        "/private_metadata",
    );
    let blocks = view["blocks"].as_array().cloned().unwrap_or_default();
    check(
        (!blocks.is_empty() && blocks.len() <= MAX_BLOCKS)
            .then_some(())
            .ok_or_else(|| format!("must have 1 to {MAX_BLOCKS} blocks")),
        "/blocks",
    );
    let has_input = blocks.iter().any(|b| b["type"] == "input");
    if has_input && view["submit"].is_null() {
        check(Err("a view with inputs needs `submit`".into()), "/submit");
    }
    for (i, b) in blocks.iter().enumerate() {
        if b["type"] != "input" {
            continue;
        }
        let at = format!("/blocks/{i}");
        check(plain_text(&b["label"], 2_000), &format!("{at}/label"));
        let kind = b["element"]["type"].as_str().unwrap_or_default();
        let known = ["static_select", "datetimepicker", "plain_text_input"].contains(&kind);
        check(
            known
                .then_some(())
                .ok_or_else(|| format!("unsupported element type `{kind}`")),
            &format!("{at}/element/type"),
        );
        let action_id = b["element"]["action_id"].as_str().unwrap_or_default();
        check(
            (!action_id.is_empty() && action_id.len() <= 255)
                .then_some(())
                .ok_or_else(|| "action_id must be 1 to 255 characters".into()),
            &format!("{at}/element/action_id"),
        );
        if kind == "static_select" {
            let n = b["element"]["options"].as_array().map_or(0, Vec::len);
            check(
                (1..=100)
                    .contains(&n)
                    .then_some(())
                    .ok_or_else(|| "options must have 1 to 100 items".into()),
                &format!("{at}/element/options"),
            );
        }
    }
    errs
}

impl World {
    /// `views.open`: a known, fresh `trigger_id` (used once) and a valid modal.
    pub(crate) fn views_open(
        &mut self,
        params: &Params,
        now: Instant,
        wall: DateTime<Utc>,
    ) -> Result<Reply, Reply> {
        self.authed(params)?;
        let trigger_id = params
            .str("trigger_id")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Reply::error("invalid_arguments"))?;
        let view = match params.map.get("view") {
            Some(Value::String(s)) => {
                serde_json::from_str(s).map_err(|_| Reply::error("invalid_arguments"))?
            }
            Some(v @ Value::Object(_)) => v.clone(),
            _ => return Err(Reply::error("invalid_arguments")),
        };
        let trigger = self
            .triggers
            .remove(&trigger_id)
            .ok_or_else(|| Reply::error("invalid_trigger_id"))?;
        if now.saturating_duration_since(trigger.issued) > TRIGGER_TTL {
            return Err(Reply::error("expired_trigger_id"));
        }
        let errs = validate(&view);
        if !errs.is_empty() {
            return Err(Reply::error("invalid_arguments")
                .with("response_metadata", json!({"messages": errs})));
        }
        let id = format!("V{}", random_alnum(10));
        if self.views.len() >= MAX_VIEWS {
            self.views.remove(0);
        }
        self.views.push(FakeView {
            id: id.clone(),
            user: trigger.user,
            view: view.clone(),
            open: true,
            errors: BTreeMap::new(),
            values: BTreeMap::new(),
            submissions: Vec::new(),
            opened_at: wall,
        });
        let mut shown = view;
        shown["id"] = json!(id);
        shown["team_id"] = json!(self.config.team_id);
        shown["state"] = json!({"values": {}});
        shown["hash"] = json!(format!("{}.{}", wall.timestamp(), random_alnum(8)));
        Ok(Reply::ok(json!({"view": shown})))
    }

    /// Remembers a click's `trigger_id` (expired ones are dropped).
    pub(crate) fn remember_trigger(&mut self, trigger_id: &str, user: &str, now: Instant) {
        self.triggers
            .retain(|_, t| now.saturating_duration_since(t.issued) <= TRIGGER_TTL);
        self.triggers.insert(
            trigger_id.to_owned(),
            Trigger {
                user: user.to_owned(),
                issued: now,
            },
        );
    }

    /// The open views of `user`, newest first.
    pub(crate) fn open_views(&self, user: &str) -> Vec<&FakeView> {
        self.views
            .iter()
            .rev()
            .filter(|v| v.open && v.user == user)
            .collect()
    }
}

/// What a submission fills in: block ID → value (option `value`, Unix seconds or
/// `YYYY-MM-DDTHH:MM` in UTC for a date and time, text).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SubmitRequest {
    #[serde(default)]
    pub values: BTreeMap<String, Value>,
    /// Send the last submission again, unchanged (a replay), even of a closed view.
    #[serde(default)]
    pub replay: bool,
    /// Negative tests: the `private_metadata` sent instead of the view's.
    pub private_metadata: Option<String>,
    /// Negative tests: the team the payload claims.
    pub team_id: Option<String>,
    /// Negative tests: sign with this secret instead of the configured one.
    pub signing_secret: Option<String>,
}

/// A value as a string (numbers as their digits).
fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Unix seconds of a date and time field: digits, or `YYYY-MM-DDTHH:MM[:SS]` read as UTC
/// (the fake's people all live in UTC).
fn date_time(s: &str) -> Option<i64> {
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(s, f).ok())
        .map(|d| d.and_utc().timestamp())
}

/// The state of the view's inputs from `values`, as Slack sends it, or the messages Slack
/// itself shows without asking the app (a required field left empty, an unknown option).
fn state(
    view: &Value,
    values: &BTreeMap<String, String>,
) -> Result<Value, BTreeMap<String, String>> {
    let mut out = Map::new();
    let mut errors = BTreeMap::new();
    for (block, kind, action, optional, _) in inputs(view) {
        let given = values.get(&block).map(|s| s.trim()).unwrap_or_default();
        if given.is_empty() {
            if !optional {
                errors.insert(block.clone(), "Please complete this required field.".into());
            }
            let empty = match kind.as_str() {
                "static_select" => json!({"type": kind, "selected_option": null}),
                "datetimepicker" => json!({"type": kind, "selected_date_time": null}),
                _ => json!({"type": kind, "value": null}),
            };
            out.insert(block, json!({ action: empty }));
            continue;
        }
        let element = &view["blocks"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|b| b["block_id"] == block.as_str())
            .map(|b| b["element"].clone())
            .unwrap_or_default();
        let value = match kind.as_str() {
            "static_select" => {
                let option = element["options"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|o| o["value"] == given);
                match option {
                    Some(o) => json!({"type": kind, "selected_option": o}),
                    None => {
                        errors.insert(block.clone(), "Pick one of the options.".into());
                        continue;
                    }
                }
            }
            "datetimepicker" => match date_time(given) {
                Some(ts) => json!({"type": kind, "selected_date_time": ts}),
                None => {
                    errors.insert(block.clone(), "Pick a date and a time.".into());
                    continue;
                }
            },
            _ => {
                let max = element["max_length"].as_u64().unwrap_or(3_000);
                if given.chars().count() as u64 > max {
                    errors.insert(block.clone(), format!("At most {max} characters."));
                    continue;
                }
                json!({"type": kind, "value": given})
            }
        };
        out.insert(block, json!({ action: value }));
    }
    if errors.is_empty() {
        Ok(Value::Object(out))
    } else {
        Err(errors)
    }
}

/// A submission ready to send (built under the lock, sent without it).
struct Prepared {
    url: String,
    secret: String,
    body: Vec<u8>,
    payload: Value,
}

impl World {
    /// Builds the `view_submission` of view `id` with `req`'s values (or the last one again).
    fn prepare_submission(
        &mut self,
        id: &str,
        req: &SubmitRequest,
    ) -> Result<Prepared, ClickError> {
        let url = self.config.interactivity_url.clone().ok_or_else(|| {
            ClickError::new(
                409,
                "no_interactivity_url",
                "no interactivity URL is configured",
            )
        })?;
        let secret = req
            .signing_secret
            .clone()
            .unwrap_or_else(|| self.config.signing_secret.clone());
        let team_id = self.config.team_id.clone();
        let domain = self.config.team_domain();
        let app_id = self.config.app_id.clone();
        let bot_id = self.config.bot_id.clone();
        let i = self
            .views
            .iter()
            .position(|v| v.id == id)
            .ok_or_else(|| ClickError::new(404, "view_not_found", "no view with this ID"))?;
        if req.replay {
            let last = self.views[i].submissions.last().ok_or_else(|| {
                ClickError::new(409, "not_submitted", "the view was never submitted")
            })?;
            let payload = last.payload.clone();
            return Ok(Prepared {
                url,
                secret,
                body: form(&payload),
                payload,
            });
        }
        if !self.views[i].open {
            return Err(ClickError::new(409, "view_closed", "the view is closed"));
        }
        let user = self
            .user(&self.views[i].user)
            .unwrap_or_else(|| FakeUser::new(&self.views[i].user, "someone"));
        let view = &mut self.views[i];
        view.values = req
            .values
            .iter()
            .map(|(k, v)| (k.clone(), as_text(v)))
            .collect();
        let values = match state(&view.view, &view.values) {
            Ok(v) => v,
            Err(errors) => {
                view.errors = errors;
                return Err(ClickError::new(
                    422,
                    "invalid_input",
                    format!("Slack refuses to send it: {:?}", view.errors),
                ));
            }
        };
        let team = req.team_id.clone().unwrap_or(team_id);
        let mut shown = view.view.clone();
        shown["id"] = json!(view.id);
        shown["team_id"] = json!(team);
        shown["state"] = json!({ "values": values });
        shown["hash"] = json!(format!(
            "{}.{}",
            view.opened_at.timestamp(),
            random_alnum(8)
        ));
        shown["previous_view_id"] = Value::Null;
        shown["root_view_id"] = json!(view.id);
        shown["app_id"] = json!(app_id);
        shown["bot_id"] = json!(bot_id);
        if let Some(m) = &req.private_metadata {
            shown["private_metadata"] = json!(m);
        }
        let payload = json!({
            "type": "view_submission",
            "team": {"id": team, "domain": domain},
            "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": team},
            "api_app_id": app_id,
            "token": events::VERIFICATION_TOKEN,
            "trigger_id": new_trigger_id(),
            "view": shown,
            "response_urls": [],
            "is_enterprise_install": false,
            "enterprise": null,
        });
        Ok(Prepared {
            url,
            secret,
            body: form(&payload),
            payload,
        })
    }

    /// Applies the app's answer to a submission: errors keep the view open with them,
    /// an empty 2xx closes it.
    fn record_submission(&mut self, id: &str, sent: Submitted) {
        let Some(view) = self.views.iter_mut().find(|v| v.id == id) else {
            return;
        };
        let answer: Option<Value> = sent
            .body
            .as_deref()
            .filter(|b| !b.trim().is_empty())
            .and_then(|b| serde_json::from_str(b).ok());
        let ok = sent.status.is_some_and(|s| (200..300).contains(&s));
        match answer {
            Some(a) if ok && a["response_action"] == "errors" => {
                view.errors = a["errors"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), as_text(v)))
                    .collect();
            }
            _ if ok => {
                view.open = false;
                view.errors.clear();
            }
            // Slack shows "We had some trouble connecting" and keeps the view open.
            _ => {}
        }
        view.submissions.push(sent);
    }
}

fn form(payload: &Value) -> Vec<u8> {
    serde_urlencoded::to_string([("payload", payload.to_string())])
        .unwrap_or_default()
        .into_bytes()
}

/// Submits view `id` (see [`SubmitRequest`]) and records the app's answer.
pub(crate) async fn submit(
    shared: &Shared,
    id: &str,
    req: &SubmitRequest,
) -> Result<Submitted, ClickError> {
    let prepared = shared.world().prepare_submission(id, req)?;
    let answer = events::post_signed(
        &prepared.url,
        "application/x-www-form-urlencoded",
        &prepared.secret,
        Utc::now().timestamp(),
        &prepared.body,
    )
    .await;
    let (status, body, error) = match answer {
        Ok((status, body)) => (Some(status), Some(body), None),
        Err(e) => (None, None, Some(e)),
    };
    let sent = Submitted {
        payload: prepared.payload,
        status,
        body,
        error,
    };
    shared.world().record_submission(id, sent.clone());
    Ok(sent)
}

/// `GET /_fake/api/views`: the views opened, oldest first (open or closed, the app's
/// errors, the submissions).
pub(crate) async fn list(shared: web::Data<Shared>) -> HttpResponse {
    let world = shared.world();
    HttpResponse::Ok().json(json!({"ok": true, "views": world.views}))
}

/// `POST /_fake/api/views/{id}/submit`: a person fills in the view and submits it.
pub(crate) async fn submit_api(
    id: web::Path<String>,
    body: web::Json<SubmitRequest>,
    shared: web::Data<Shared>,
) -> HttpResponse {
    match submit(&shared, &id, &body).await {
        Err(e) => e.response(),
        Ok(sent) => {
            let view = shared.world().views.iter().find(|v| v.id == *id).cloned();
            HttpResponse::Ok().json(json!({
                "ok": true,
                "status": sent.status,
                "body": sent.body,
                "error": sent.error,
                "payload": sent.payload,
                "open": view.as_ref().is_some_and(|v| v.open),
                "errors": view.map(|v| v.errors).unwrap_or_default(),
            }))
        }
    }
}

/// The page's dialog form: `v.<block_id>` fields, `as` and `view` to go back to.
#[derive(Debug, Default, Deserialize)]
struct PageForm {
    #[serde(rename = "as")]
    acting: Option<String>,
    view: Option<String>,
    #[serde(flatten)]
    fields: BTreeMap<String, String>,
}

/// `POST /_fake/views/{id}/submit` (the page's dialog): submits, then back to the page,
/// where the view stays open with its errors or is gone.
pub(crate) async fn submit_page(
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let _ = base_url(&req);
    let form: PageForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let values = form
        .fields
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("v.").map(|b| (b.to_owned(), json!(v))))
        .collect();
    let request = SubmitRequest {
        values,
        ..SubmitRequest::default()
    };
    let notice = match submit(&shared, &id, &request).await {
        Ok(sent) => match (sent.status, sent.error) {
            (Some(status), _) => {
                let open = shared.world().views.iter().any(|v| v.id == *id && v.open);
                if open {
                    format!("Submitted: app answered {status}; correct the fields")
                } else {
                    format!("Submitted: app answered {status}")
                }
            }
            (None, e) => format!(
                "Submitted: the app did not answer ({})",
                e.unwrap_or_default()
            ),
        },
        Err(e) => format!("Not submitted: {}", e.message),
    };
    back(
        &form.view,
        form.acting.as_deref().unwrap_or_default(),
        &notice,
    )
}

/// `POST /_fake/views/{id}/close` (the dialog's Cancel): closes it.
pub(crate) async fn close_page(
    id: web::Path<String>,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let form: PageForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    if let Some(v) = shared.world().views.iter_mut().find(|v| v.id == *id) {
        v.open = false;
    }
    back(
        &form.view,
        form.acting.as_deref().unwrap_or_default(),
        "Closed the dialog",
    )
}

fn back(channel: &Option<String>, acting: &str, notice: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((
            actix_web::http::header::LOCATION,
            crate::page::page_href(channel.as_deref(), acting, Some(notice)),
        ))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{click, world_with_card};
    use super::*;

    fn modal() -> Value {
        json!({"type": "modal", "callback_id": "cb", "private_metadata": "m",
            "title": {"type": "plain_text", "text": "Mute incident"},
            "submit": {"type": "plain_text", "text": "Mute"},
            "blocks": [
                {"type": "input", "block_id": "d", "label": {"type": "plain_text", "text": "For"},
                 "element": {"type": "static_select", "action_id": "d", "options": [
                    {"text": {"type": "plain_text", "text": "1 hour"}, "value": "1h"}]}},
                {"type": "input", "block_id": "u", "optional": true,
                 "label": {"type": "plain_text", "text": "Until"},
                 "element": {"type": "datetimepicker", "action_id": "u"}},
                {"type": "input", "block_id": "r", "optional": true,
                 "label": {"type": "plain_text", "text": "Reason"},
                 "element": {"type": "plain_text_input", "action_id": "r", "max_length": 5}}]})
    }

    fn open(w: &mut World, trigger: &str, view: Value, now: Instant) -> Result<Reply, Reply> {
        let token = w.mint_bot_token(vec!["chat:write".into()], None);
        let mut p = Params {
            token: Some(token),
            ..Params::default()
        };
        p.map.insert("trigger_id".into(), json!(trigger));
        p.map.insert("view".into(), view);
        w.views_open(&p, now, Utc::now())
    }

    #[test]
    fn a_trigger_opens_one_view_within_three_seconds() {
        let (mut w, ts) = world_with_card();
        let now = Instant::now();
        let p = w
            .prepare_click(&click(&ts, "incident.ack"), "http://x", now, Utc::now())
            .unwrap();
        let trigger = p.payload["trigger_id"].as_str().unwrap().to_owned();
        let late = open(
            &mut w,
            &trigger,
            modal(),
            now + Duration::from_millis(3_100),
        );
        assert_eq!(late.unwrap_err().error_code(), Some("expired_trigger_id"));

        let p = w
            .prepare_click(&click(&ts, "incident.ack"), "http://x", now, Utc::now())
            .unwrap();
        let trigger = p.payload["trigger_id"].as_str().unwrap().to_owned();
        let ok = open(
            &mut w,
            &trigger,
            modal(),
            now + Duration::from_millis(2_000),
        )
        .unwrap();
        assert!(ok.body["view"]["id"].as_str().unwrap().starts_with('V'));
        assert_eq!(w.open_views("U0FAKEUSR01").len(), 1);
        let again = open(&mut w, &trigger, modal(), now);
        assert_eq!(again.unwrap_err().error_code(), Some("invalid_trigger_id"));
    }

    #[test]
    fn views_are_checked_like_slacks() {
        let long_title = {
            let mut v = modal();
            v["title"]["text"] = json!("x".repeat(25));
            v
        };
        assert!(validate(&long_title)[0].contains("/view/title"));
        let mut meta = modal();
        meta["private_metadata"] = json!("m".repeat(3_001));
        assert!(validate(&meta)[0].contains("/private_metadata"));
        let mut many = modal();
        many["blocks"] = json!(vec![json!({"type": "divider"}); 101]);
        assert!(!validate(&many).is_empty());
        assert!(validate(&modal()).is_empty());
    }

    #[test]
    fn submitted_state_has_slacks_shape_and_required_fields() {
        let v = modal();
        let values = BTreeMap::from([
            ("d".to_owned(), "1h".to_owned()),
            ("u".to_owned(), "2026-12-08T09:30".to_owned()),
            ("r".to_owned(), "why".to_owned()),
        ]);
        let s = state(&v, &values).unwrap();
        assert_eq!(s["d"]["d"]["selected_option"]["value"], "1h");
        assert_eq!(s["u"]["u"]["selected_date_time"], 1_796_722_200);
        assert_eq!(s["r"]["r"]["value"], "why");
        let errors = state(&v, &BTreeMap::new()).unwrap_err();
        assert_eq!(errors.keys().collect::<Vec<_>>(), ["d"]);
        let too_long = BTreeMap::from([
            ("d".to_owned(), "1h".to_owned()),
            ("r".to_owned(), "123456".to_owned()),
        ]);
        assert!(state(&v, &too_long).unwrap_err().contains_key("r"));
    }
}
