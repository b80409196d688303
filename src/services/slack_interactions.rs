//! What people do with the buttons on our messages (`POST /slack/interactions`), after the
//! handler verified the signature: a click on an incident card's button is applied in one
//! transaction (`pipeline::incidents`) before Slack gets its answer, so a click Slack saw
//! acknowledged is never lost; link buttons need nothing.

use serde::Deserialize;
use serde_json::json;

use super::Services;
use crate::db::{write_tx, DbError};
use crate::domain::incident::{Action, Actor, Refusal};
use crate::domain::report::SET_BASELINE_ACTION;
use crate::pipeline::baselines::{self, BaselineClick, BaselineClickOutcome};
use crate::pipeline::incidents::{self, Click, ClickOutcome};
use crate::slack::text;

/// The longest Slack user name kept (Slack's display names are at most 80 characters).
const MAX_USER_NAME: usize = 80;

/// One interactivity request, parsed.
#[derive(Debug, Clone)]
pub enum Interaction {
    /// A click on an incident card's button.
    Click {
        click: Click,
        /// Where to answer the person who clicked (checked before use).
        response_url: Option<String>,
    },
    /// A click on "Set as baseline" on a reported run's card.
    SetBaseline {
        click: BaselineClick,
        response_url: Option<String>,
    },
    /// A link button (Slack sends those clicks too): nothing to do.
    Link,
    /// Another kind of interaction, or a button we do not know.
    Other(String),
}

/// Why a request body is not an interaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the body is not a form with a `payload` field")]
    NotAForm,
    #[error("`payload` is not the JSON of a Slack interaction")]
    NotAPayload,
    #[error("a block_actions payload without team, user, container or action")]
    Incomplete,
}

#[derive(Deserialize)]
struct Form {
    payload: String,
}

#[derive(Deserialize)]
struct RawPayload {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    team: Option<RawId>,
    #[serde(default)]
    user: Option<RawUser>,
    #[serde(default)]
    container: Option<RawContainer>,
    #[serde(default)]
    channel: Option<RawChannel>,
    #[serde(default)]
    actions: Vec<RawAction>,
    #[serde(default)]
    response_url: Option<String>,
}

#[derive(Deserialize)]
struct RawId {
    id: String,
}

#[derive(Deserialize)]
struct RawUser {
    id: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct RawContainer {
    #[serde(default)]
    channel_id: Option<String>,
    #[serde(default)]
    message_ts: Option<String>,
}

#[derive(Deserialize)]
struct RawChannel {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct RawAction {
    action_id: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    action_ts: Option<String>,
}

/// A Slack user name as we keep it: no control characters, at most 80 characters, the ID
/// when Slack gave no name.
fn user_name(u: &RawUser) -> String {
    let name = u
        .username
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .or(u.name.as_deref())
        .unwrap_or_default();
    let clean: String = name
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_USER_NAME)
        .collect();
    if clean.trim().is_empty() {
        u.id.clone()
    } else {
        clean
    }
}

/// Parses the form-encoded body of an interactivity request.
pub fn parse(body: &[u8]) -> Result<Interaction, ParseError> {
    let form: Form = serde_urlencoded::from_bytes(body).map_err(|_| ParseError::NotAForm)?;
    let raw: RawPayload =
        serde_json::from_str(&form.payload).map_err(|_| ParseError::NotAPayload)?;
    if raw.kind != "block_actions" {
        return Ok(Interaction::Other(raw.kind));
    }
    let Some(first) = raw.actions.first() else {
        return Err(ParseError::Incomplete);
    };
    if first.action_id == SET_BASELINE_ACTION {
        return baseline_click(first, raw.team, raw.user, raw.container, raw.channel).map(
            |click| Interaction::SetBaseline {
                click,
                response_url: raw.response_url,
            },
        );
    }
    let Some(action) = Action::from_action_id(&first.action_id) else {
        return Ok(
            if first.url.is_some() || first.action_id.starts_with("open.") {
                Interaction::Link
            } else {
                Interaction::Other(format!("button {}", first.action_id))
            },
        );
    };
    let at = Clicked::of(raw.team, raw.user, raw.container, raw.channel)?;
    let click = Click {
        team_id: at.team_id,
        channel_id: at.channel_id,
        channel_name: at.channel_name,
        message_ts: at.message_ts,
        user: at.user,
        action,
        value: first.value.clone().unwrap_or_default(),
        action_ts: first.action_ts.clone().unwrap_or_default(),
    };
    Ok(Interaction::Click {
        click,
        response_url: raw.response_url,
    })
}

/// Where a button was clicked and by whom (every `block_actions` click has these).
struct Clicked {
    team_id: String,
    channel_id: String,
    channel_name: Option<String>,
    message_ts: String,
    user: Actor,
}

impl Clicked {
    fn of(
        team: Option<RawId>,
        user: Option<RawUser>,
        container: Option<RawContainer>,
        channel: Option<RawChannel>,
    ) -> Result<Self, ParseError> {
        let (Some(team), Some(user), Some(container)) = (team, user, container) else {
            return Err(ParseError::Incomplete);
        };
        let channel_id = container
            .channel_id
            .or_else(|| channel.as_ref().and_then(|c| c.id.clone()));
        let (Some(channel_id), Some(message_ts)) = (channel_id, container.message_ts) else {
            return Err(ParseError::Incomplete);
        };
        Ok(Self {
            team_id: team.id,
            channel_id,
            channel_name: channel.and_then(|c| c.name),
            message_ts,
            user: Actor {
                name: user_name(&user),
                id: user.id,
            },
        })
    }
}

/// A "Set as baseline" click: the button's value names the run.
fn baseline_click(
    action: &RawAction,
    team: Option<RawId>,
    user: Option<RawUser>,
    container: Option<RawContainer>,
    channel: Option<RawChannel>,
) -> Result<BaselineClick, ParseError> {
    let at = Clicked::of(team, user, container, channel)?;
    let load_test_id = action.value.clone().ok_or(ParseError::Incomplete)?;
    Ok(BaselineClick {
        team_id: at.team_id,
        channel_id: at.channel_id,
        message_ts: at.message_ts,
        user: at.user,
        load_test_id,
        action_ts: action.action_ts.clone().unwrap_or_default(),
    })
}

/// Applies a "Set as baseline" click durably, like an incident's buttons.
pub async fn apply_baseline(
    services: &Services,
    click: BaselineClick,
) -> Result<BaselineClickOutcome, DbError> {
    let now = chrono::Utc::now();
    services
        .db
        .run(move |conn| {
            write_tx(conn, |c| baselines::apply_click(c, &click, now)).map_err(DbError::from)
        })
        .await
}

/// Applies a click durably (see the module documentation).
pub async fn apply(services: &Services, click: Click) -> Result<ClickOutcome, DbError> {
    let cipher = services.cipher.clone();
    let now = chrono::Utc::now();
    services
        .db
        .run(move |conn| {
            write_tx(conn, |c| incidents::apply_click(c, &cipher, &click, now))
                .map_err(DbError::from)
        })
        .await
}

/// Tells the person who clicked why nothing changed: an ephemeral message through the
/// click's `response_url` (only a URL Slack could have given us is called).
pub async fn tell(services: &Services, response_url: &str, refusal: &Refusal) {
    tell_text(services, response_url, &refusal.message()).await
}

/// Tells the person who clicked `message` (an ephemeral message, see [`tell`]).
pub async fn tell_text(services: &Services, response_url: &str, message: &str) {
    let message = json!({
        "response_type": "ephemeral",
        "replace_original": false,
        "text": text::escape(message),
    });
    if let Err(e) = services.slack.respond(response_url, &message).await {
        tracing::warn!(error = %e, "could not answer a click through its response_url");
    }
}
