//! Reading Slack's interactivity requests (form-encoded `payload`): clicks of our buttons and
//! the "Mute for…" dialog's submission, into the types the rest of the service applies.

use super::*;

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
    /// A click on "Mute for…": open the dialog with the click's `trigger_id`.
    OpenMuteDialog {
        dialog: DialogClick,
        response_url: Option<String>,
    },
    /// A submitted "Mute for…" dialog.
    MuteSubmission(Submission),
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
    #[error("a view_submission payload without team, user or view")]
    IncompleteView,
}

/// A click on "Mute for…", as Slack sent it.
#[derive(Debug, Clone)]
pub struct DialogClick {
    pub card: CardRef,
    pub user: Actor,
    /// Opens a dialog for this person within 3 seconds of the click.
    pub trigger_id: String,
}

/// A submitted "Mute for…" dialog, as Slack sent it (nothing checked yet).
#[derive(Debug, Clone)]
pub struct Submission {
    pub team_id: String,
    pub user: Actor,
    pub view_id: String,
    pub callback_id: String,
    /// Names the card (see `CardRef::to_metadata`).
    pub private_metadata: String,
    /// The picked option's `value`.
    pub duration: Option<String>,
    /// The picked date and time (Unix seconds).
    pub until: Option<i64>,
    pub reason: Option<String>,
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
    #[serde(default)]
    trigger_id: Option<String>,
    #[serde(default)]
    view: Option<RawView>,
}

#[derive(Deserialize)]
struct RawView {
    id: String,
    #[serde(default)]
    callback_id: Option<String>,
    #[serde(default)]
    private_metadata: Option<String>,
    #[serde(default)]
    state: Option<RawState>,
}

#[derive(Deserialize)]
struct RawState {
    #[serde(default)]
    values: HashMap<String, HashMap<String, RawInput>>,
}

/// One input's state: which field is set depends on the element.
#[derive(Deserialize)]
struct RawInput {
    #[serde(default)]
    selected_option: Option<RawOption>,
    #[serde(default)]
    selected_date_time: Option<i64>,
    #[serde(default)]
    value: Option<String>,
}

#[derive(Deserialize)]
struct RawOption {
    value: String,
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
    if raw.kind == "view_submission" {
        return submission(raw).map(Interaction::MuteSubmission);
    }
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
    let open_dialog = first.action_id == rules::MUTE_FOR_ACTION_ID;
    let action = Action::from_action_id(&first.action_id);
    if action.is_none() && !open_dialog {
        return Ok(
            if first.url.is_some() || first.action_id.starts_with("open.") {
                Interaction::Link
            } else {
                Interaction::Other(format!("button {}", first.action_id))
            },
        );
    }
    let at = Clicked::of(raw.team, raw.user, raw.container, raw.channel)?;
    let card = CardRef {
        team_id: at.team_id,
        channel_id: at.channel_id,
        channel_name: at.channel_name,
        message_ts: at.message_ts,
        value: first.value.clone().unwrap_or_default(),
    };
    let user = at.user;
    let Some(action) = action else {
        let trigger_id = raw.trigger_id.ok_or(ParseError::Incomplete)?;
        return Ok(Interaction::OpenMuteDialog {
            dialog: DialogClick {
                card,
                user,
                trigger_id,
            },
            response_url: raw.response_url,
        });
    };
    let click = Click {
        card,
        user,
        action,
        action_ts: first.action_ts.clone().unwrap_or_default(),
        comment: None,
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

/// A `view_submission`: the dialog's fields by block (each block has one element).
fn submission(raw: RawPayload) -> Result<Submission, ParseError> {
    let (Some(team), Some(user), Some(view)) = (raw.team, raw.user, raw.view) else {
        return Err(ParseError::IncompleteView);
    };
    let mut values = view.state.map(|s| s.values).unwrap_or_default();
    let mut field = |block: &str| values.remove(block).and_then(|m| m.into_values().next());
    let duration = field(DURATION_BLOCK).and_then(|i| i.selected_option.map(|o| o.value));
    let until = field(UNTIL_BLOCK).and_then(|i| i.selected_date_time);
    let reason = field(REASON_BLOCK).and_then(|i| i.value);
    Ok(Submission {
        team_id: team.id,
        user: Actor {
            name: user_name(&user),
            id: user.id,
        },
        view_id: view.id,
        callback_id: view.callback_id.unwrap_or_default(),
        private_metadata: view.private_metadata.unwrap_or_default(),
        duration,
        until,
        reason,
    })
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
