//! Target channel rules: public channels only, by name (`#name`, `name`) or ID (`C…`).

use serde::{Deserialize, Serialize};

/// Most channels one settings level may target.
pub const MAX_TARGET_CHANNELS: usize = 20;

/// A channel as the admin typed it, validated.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ChannelInput {
    /// A channel ID (`C…`).
    Id(String),
    /// A channel name, without the `#`.
    Name(String),
}

/// Why a channel entry was refused; the message is shown to the admin as is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    #[error("{0:?} is a user; only public channels are supported")]
    User(String),
    #[error("{0:?} is a direct message; only public channels are supported")]
    DirectMessage(String),
    #[error("{0:?} is a private channel; only public channels are supported")]
    Private(String),
    #[error("{0:?} is not a valid channel name: Slack channel names have 1-80 lowercase letters, digits, '-' and '_' (only public channels are supported)")]
    BadName(String),
    #[error("at most {MAX_TARGET_CHANNELS} target channels are supported")]
    TooMany,
}

impl ChannelError {
    /// The entry that was refused (for per-channel errors in the UI).
    pub fn entry(&self) -> Option<&str> {
        match self {
            Self::User(s) | Self::DirectMessage(s) | Self::Private(s) | Self::BadName(s) => Some(s),
            Self::TooMany => None,
        }
    }
}

fn is_slack_id(s: &str, prefixes: &[char]) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| prefixes.contains(&c))
        && s.len() >= 9
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// Slack's naming rule: 1-80 characters of lowercase letters (of any script: `#日本語`,
/// `#général`), digits, `-`, `_`, at least one of them a letter or digit. Scripts without
/// case count as lowercase; their combining marks are allowed. No spaces, periods or other
/// ASCII punctuation, no capitals, no invisible or control characters.
pub fn is_valid_channel_name(name: &str) -> bool {
    let allowed = |c: char| {
        if c.is_ascii() {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
        } else {
            !c.is_uppercase()
                && !c.is_whitespace()
                && !c.is_control()
                && crate::domain::user_text::check(
                    c.encode_utf8(&mut [0; 4]),
                    crate::domain::user_text::Lines::One,
                )
                .is_ok()
                && !matches!(c, '\u{200B}'..='\u{200F}' | '\u{FEFF}')
        }
    };
    !name.is_empty()
        && name.chars().count() <= 80
        && name.chars().all(allowed)
        && name.chars().any(char::is_alphanumeric)
}

impl ChannelInput {
    /// The entry as refusals name it: `#name` or the ID.
    pub fn typed(&self) -> String {
        match self {
            Self::Name(name) => format!("#{name}"),
            Self::Id(id) => id.clone(),
        }
    }

    /// Parses one entry.
    pub fn parse(raw: &str) -> Result<Self, ChannelError> {
        let s = raw.trim();
        if s.starts_with('@') {
            return Err(ChannelError::User(s.to_owned()));
        }
        if let Some(name) = s.strip_prefix('#') {
            return if is_valid_channel_name(name) {
                Ok(Self::Name(name.to_owned()))
            } else {
                Err(ChannelError::BadName(s.to_owned()))
            };
        }
        if is_slack_id(s, &['U', 'W']) {
            return Err(ChannelError::User(s.to_owned()));
        }
        if is_slack_id(s, &['D']) {
            return Err(ChannelError::DirectMessage(s.to_owned()));
        }
        if is_slack_id(s, &['G']) {
            return Err(ChannelError::Private(s.to_owned()));
        }
        if is_slack_id(s, &['C']) {
            return Ok(Self::Id(s.to_owned()));
        }
        if is_valid_channel_name(s) {
            Ok(Self::Name(s.to_owned()))
        } else {
            Err(ChannelError::BadName(s.to_owned()))
        }
    }

    /// Parses a space-separated list (or the entries of an array), dropping duplicates;
    /// stops at the first refused entry. [`Self::parse_list_all`] reports every one.
    pub fn parse_list<'a>(
        entries: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<Self>, ChannelError> {
        Self::parse_list_all(entries).map_err(|mut errors| errors.swap_remove(0))
    }

    /// Parses a space-separated list (or the entries of an array), dropping duplicates,
    /// and collects every refused entry in the order typed (each refused text once). The
    /// error list is never empty; [`ChannelError::TooMany`] comes last, when the valid
    /// entries alone are too many.
    pub fn parse_list_all<'a>(
        entries: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<Self>, Vec<ChannelError>> {
        let (out, errors) = Self::partition_list(entries);
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// Like [`Self::parse_list_all`], but returns the accepted entries too (deduplicated,
    /// in the order typed) next to every refused one, so callers can check the accepted
    /// ones further and report all problems of a list at once.
    pub fn partition_list<'a>(
        entries: impl IntoIterator<Item = &'a str>,
    ) -> (Vec<Self>, Vec<ChannelError>) {
        let mut out: Vec<Self> = Vec::new();
        let mut errors: Vec<ChannelError> = Vec::new();
        for entry in entries.into_iter().flat_map(str::split_whitespace) {
            match Self::parse(entry) {
                Ok(parsed) if !out.contains(&parsed) => out.push(parsed),
                Ok(_) => {}
                Err(e) if !errors.contains(&e) => errors.push(e),
                Err(_) => {}
            }
        }
        if out.len() > MAX_TARGET_CHANNELS {
            errors.push(ChannelError::TooMany);
        }
        (out, errors)
    }
}

/// A stored target channel: the ID once resolved through Slack, and the last known name.
/// Delivery uses the ID when known, so a rename in Slack changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TargetChannel {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl TargetChannel {
    /// An unresolved channel as typed.
    pub fn from_input(input: &ChannelInput) -> Self {
        match input {
            ChannelInput::Id(id) => Self {
                id: Some(id.clone()),
                name: None,
            },
            ChannelInput::Name(name) => Self {
                id: None,
                name: Some(name.clone()),
            },
        }
    }

    /// What people see: `#name`, or the ID while the name is unknown.
    pub fn display(&self) -> String {
        match (&self.name, &self.id) {
            (Some(name), _) => format!("#{name}"),
            (None, Some(id)) => id.clone(),
            (None, None) => String::new(),
        }
    }

    /// What `chat.postMessage` gets: the ID when known, else `#name`.
    pub fn address(&self) -> String {
        match (&self.id, &self.name) {
            (Some(id), _) => id.clone(),
            (None, Some(name)) => format!("#{name}"),
            (None, None) => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_public_names_and_ids() {
        assert_eq!(
            ChannelInput::parse("#load-tests"),
            Ok(ChannelInput::Name("load-tests".into()))
        );
        assert_eq!(
            ChannelInput::parse("perf_team"),
            Ok(ChannelInput::Name("perf_team".into()))
        );
        assert_eq!(
            ChannelInput::parse("C0123ABCD"),
            Ok(ChannelInput::Id("C0123ABCD".into()))
        );
        assert_eq!(
            ChannelInput::parse(&"a".repeat(80)),
            Ok(ChannelInput::Name("a".repeat(80)))
        );
    }

    #[test]
    fn refuses_users_dms_private_and_bad_names() {
        assert!(matches!(
            ChannelInput::parse("@jane"),
            Err(ChannelError::User(_))
        ));
        assert!(matches!(
            ChannelInput::parse("U0123ABCD"),
            Err(ChannelError::User(_))
        ));
        assert!(matches!(
            ChannelInput::parse("W0123ABCD"),
            Err(ChannelError::User(_))
        ));
        assert!(matches!(
            ChannelInput::parse("D0123ABCD"),
            Err(ChannelError::DirectMessage(_))
        ));
        assert!(matches!(
            ChannelInput::parse("G0123ABCD"),
            Err(ChannelError::Private(_))
        ));
        for bad in [
            "#General",
            "#",
            "#a b",
            "#--",
            "#a.b",
            "Perf",
            &"a".repeat(81),
            "#<!channel>",
        ] {
            assert!(
                matches!(ChannelInput::parse(bad), Err(ChannelError::BadName(_))),
                "{bad}"
            );
        }
        for err in [
            ChannelInput::parse("@jane"),
            ChannelInput::parse("D0123ABCD"),
            ChannelInput::parse("G0123ABCD"),
        ] {
            assert!(err
                .unwrap_err()
                .to_string()
                .contains("only public channels are supported"));
        }
    }

    #[test]
    fn lists_split_on_whitespace_and_drop_duplicates() {
        let list = ChannelInput::parse_list(["#load-tests  #perf\tload-tests"]).unwrap();
        assert_eq!(
            list,
            vec![
                ChannelInput::Name("load-tests".into()),
                ChannelInput::Name("perf".into())
            ]
        );
        assert_eq!(ChannelInput::parse_list([""]).unwrap(), vec![]);
        assert_eq!(ChannelInput::parse_list(["#a", "#b c"]).unwrap().len(), 3);
        let many: Vec<String> = (0..21).map(|i| format!("c{i}")).collect();
        assert_eq!(
            ChannelInput::parse_list(many.iter().map(String::as_str)),
            Err(ChannelError::TooMany)
        );
    }

    #[test]
    fn lists_report_every_refused_entry_in_order() {
        let errors =
            ChannelInput::parse_list_all(["#ok @jane D0123ABCD", "#Bad @jane"]).unwrap_err();
        assert_eq!(
            errors,
            vec![
                ChannelError::User("@jane".into()),
                ChannelError::DirectMessage("D0123ABCD".into()),
                ChannelError::BadName("#Bad".into()),
            ]
        );
        let entries: Vec<_> = errors.iter().filter_map(ChannelError::entry).collect();
        assert_eq!(entries, ["@jane", "D0123ABCD", "#Bad"]);
        // The first-error form agrees with the full list.
        assert_eq!(
            ChannelInput::parse_list(["#ok @jane D0123ABCD #Bad"]),
            Err(ChannelError::User("@jane".into()))
        );
        assert_eq!(
            ChannelInput::parse_list_all(["#ok perf #ok"]).unwrap(),
            vec![
                ChannelInput::Name("ok".into()),
                ChannelInput::Name("perf".into())
            ]
        );
        let (accepted, refused) = ChannelInput::partition_list(["#ok @jane perf #Bad"]);
        assert_eq!(
            accepted,
            vec![
                ChannelInput::Name("ok".into()),
                ChannelInput::Name("perf".into())
            ]
        );
        assert_eq!(refused.len(), 2);
        // Too many valid entries is reported after the refused ones.
        let mut many: Vec<String> = (0..21).map(|i| format!("c{i}")).collect();
        many.push("G0123ABCD".into());
        assert_eq!(
            ChannelInput::parse_list_all(many.iter().map(String::as_str)),
            Err(vec![
                ChannelError::Private("G0123ABCD".into()),
                ChannelError::TooMany
            ])
        );
    }

    #[test]
    fn stored_channels_display_names_and_address_ids() {
        let resolved = TargetChannel {
            id: Some("C0123ABCD".into()),
            name: Some("perf".into()),
        };
        assert_eq!(resolved.display(), "#perf");
        assert_eq!(resolved.address(), "C0123ABCD");
        let by_name = TargetChannel::from_input(&ChannelInput::Name("perf".into()));
        assert_eq!(by_name.address(), "#perf");
        let stored = serde_json::to_string(&[resolved.clone(), by_name.clone()]).unwrap();
        let read: Vec<TargetChannel> = serde_json::from_str(&stored).unwrap();
        assert_eq!(read, vec![resolved, by_name]);
    }

    #[test]
    fn names_in_any_script_are_accepted_as_slack_accepts_them() {
        for name in ["日本語", "général", "тест-канал", "हिन्दी", "load_tests-2"]
        {
            assert_eq!(
                ChannelInput::parse(&format!("#{name}")),
                Ok(ChannelInput::Name(name.into())),
                "{name}"
            );
        }
        for bad in [
            "#Général",
            "#ÉTÉ",
            "#a b",
            "#a.b",
            "#a\u{200B}b",
            "#a\u{202E}b",
            "#---",
        ] {
            assert!(ChannelInput::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn parsing_never_panics_and_accepted_names_follow_slack_rules(s in "\\PC{0,90}") {
            if let Ok(ChannelInput::Name(name)) = ChannelInput::parse(&s) {
                prop_assert!(is_valid_channel_name(&name));
            }
        }

        #[test]
        fn list_parsing_accepts_exactly_when_every_entry_parses(
            entries in prop::collection::vec("[#@a-zA-Z0-9_.-]{0,12}", 0..8)
        ) {
            let all = ChannelInput::parse_list_all(entries.iter().map(String::as_str));
            let each_ok = entries
                .iter()
                .flat_map(|e| e.split_whitespace())
                .all(|e| ChannelInput::parse(e).is_ok());
            prop_assert_eq!(all.is_ok(), each_ok);
            if let Err(errors) = all {
                prop_assert!(!errors.is_empty());
                for e in errors.iter().filter_map(ChannelError::entry) {
                    prop_assert!(ChannelInput::parse(e).is_err());
                }
            }
        }
    }
}
