//! How an incident card is named: the opaque reference a button's `value` carries (which
//! names no tenant and cannot be made for another card), and the card as a click or a
//! dialog's `private_metadata` names it.

use serde::{Deserialize, Serialize};

use crate::crypto::Cipher;

/// What a button's `value` is on a card: an opaque reference to the card (subject,
/// workspace, channel), which names no tenant and cannot be made for another card.
pub fn card_reference(cipher: &Cipher, subject_key: &str, team_id: &str, channel: &str) -> String {
    cipher.reference(&format!("card\0{subject_key}\0{team_id}\0{channel}"))
}

/// The card a click names: its workspace, the channel and message holding the button
/// (`container`) and the button's `value` (the card's opaque reference), as Slack sent them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardRef {
    pub team_id: String,
    pub channel_id: String,
    pub channel_name: Option<String>,
    pub message_ts: String,
    /// The button's `value`: the card's opaque reference.
    pub value: String,
}

/// [`CardRef`] as a dialog's `private_metadata` carries it (tens of characters: well
/// within Slack's 3,000).
#[derive(Serialize, Deserialize)]
struct Metadata {
    team: String,
    channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    ts: String,
    #[serde(rename = "ref")]
    reference: String,
}

impl CardRef {
    /// The dialog's `private_metadata` naming this card.
    pub fn to_metadata(&self) -> String {
        let m = Metadata {
            team: self.team_id.clone(),
            channel: self.channel_id.clone(),
            name: self.channel_name.clone(),
            ts: self.message_ts.clone(),
            reference: self.value.clone(),
        };
        serde_json::to_string(&m).unwrap_or_default()
    }

    /// The card a dialog's `private_metadata` names; `None` when it is not ours.
    pub fn from_metadata(metadata: &str) -> Option<CardRef> {
        let m: Metadata = serde_json::from_str(metadata).ok()?;
        Some(CardRef {
            team_id: m.team,
            channel_id: m.channel,
            channel_name: m.name,
            message_ts: m.ts,
            value: m.reference,
        })
    }
}
