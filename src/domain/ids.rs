//! Identifiers of organizations, projects, load tests, scenarios and events.
//!
//! Slugs follow API.md: `^[a-z0-9][a-z0-9_.-]{0,63}$`. They are parsed once at the edge;
//! everything behind the HTTP layer can rely on them being valid.

use std::fmt;

/// Why a string is not a valid slug (safe to show to the client).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlugError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most 64 characters")]
    TooLong,
    #[error("must start with a lowercase letter or digit")]
    BadStart,
    #[error("may contain only lowercase letters, digits, '_', '.' and '-'")]
    BadChar,
}

/// Checks the slug rule of API.md.
pub fn validate_slug(s: &str) -> Result<(), SlugError> {
    let bytes = s.as_bytes();
    let first = *bytes.first().ok_or(SlugError::Empty)?;
    if bytes.len() > 64 {
        return Err(SlugError::TooLong);
    }
    if !(first.is_ascii_lowercase() || first.is_ascii_digit()) {
        return Err(SlugError::BadStart);
    }
    if !bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err(SlugError::BadChar);
    }
    Ok(())
}

macro_rules! slug_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Parses a slug.
            pub fn parse(s: &str) -> Result<Self, SlugError> {
                validate_slug(s)?;
                Ok(Self(s.to_owned()))
            }

            /// The slug itself.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

slug_id!(
    /// An organization's slug.
    OrgId
);
slug_id!(
    /// A project's slug, unique within its organization.
    ProjectId
);
slug_id!(
    /// A load test's slug, as the orchestrator names it.
    LoadTestId
);
slug_id!(
    /// A monitoring scenario's slug.
    ScenarioId
);

/// The sender's idempotency key for an event: 1-200 visible ASCII characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct EventId(String);

/// Why an event id is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventIdError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most 200 characters")]
    TooLong,
    #[error("may contain only visible ASCII characters")]
    BadChar,
}

impl EventId {
    /// Parses an event id.
    pub fn parse(s: &str) -> Result<Self, EventIdError> {
        if s.is_empty() {
            return Err(EventIdError::Empty);
        }
        if s.len() > 200 {
            return Err(EventIdError::TooLong);
        }
        if !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(EventIdError::BadChar);
        }
        Ok(Self(s.to_owned()))
    }

    /// The id itself.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an event is about: the kind of subject, as stored in `events.subject_kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum SubjectKind {
    LoadTest,
    Scenario,
    /// A weekly summary of an organization (`org`) or a project (`org/project`).
    Summary,
}

impl SubjectKind {
    pub const ALL: [Self; 3] = [Self::LoadTest, Self::Scenario, Self::Summary];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoadTest => "load_test",
            Self::Scenario => "scenario",
            Self::Summary => "summary",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// The stored key of an event. Event ids are unique per subject (API.md), not globally:
/// the key is `<subject kind>:<subject id>:<event id>`. Subject ids are slugs (no `:`), so
/// the sender's event id, which may contain `:`, is everything after the second `:`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EventKey(String);

impl EventKey {
    pub fn new(kind: SubjectKind, subject_id: &str, event_id: &EventId) -> Self {
        Self(format!(
            "{}:{subject_id}:{}",
            kind.as_str(),
            event_id.as_str()
        ))
    }

    /// The key of an event this service makes itself (e.g. an incident posted at the end
    /// of a maintenance window): `name` contains a space, which no sender's event id can.
    pub fn generated(kind: SubjectKind, subject_id: &str, name: &str) -> Self {
        debug_assert!(name.contains(' '));
        Self(format!("{}:{subject_id}:{name}", kind.as_str()))
    }

    /// The key as stored in `events.event_id` and `deliveries.event_id`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The sender's event id of a stored key (what the API shows).
    pub fn sender_event_id(stored: &str) -> &str {
        let mut parts = stored.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(_), Some(_), Some(id)) => id,
            _ => stored,
        }
    }
}

/// Which thread (and run card) a delivery belongs to, as stored in `subject_key`.
///
/// With threads on, every message about one load test goes into one thread (`lt:<id>`),
/// and every message about one monitoring incident, from the first failure until the
/// recovery, into one thread of its own (`sc:<scenario>:<incident>`, the incident counting
/// up each time the scenario starts failing again). Intermediate reports of the same
/// subject supersede each other by this key too.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SubjectKey(String);

impl SubjectKey {
    pub fn load_test(id: &str) -> Self {
        Self(format!("lt:{id}"))
    }

    pub fn incident(scenario: &str, incident: i64) -> Self {
        Self(format!("sc:{scenario}:{incident}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The kind and id of the subject of a stored key.
    pub fn subject_of(stored: &str) -> Option<(SubjectKind, &str)> {
        if let Some(id) = stored.strip_prefix("lt:") {
            return Some((SubjectKind::LoadTest, id));
        }
        let rest = stored.strip_prefix("sc:")?;
        Some((
            SubjectKind::Scenario,
            rest.rsplit_once(':').map_or(rest, |(id, _)| id),
        ))
    }

    /// The scenario and incident number of a stored incident key (`None` for load tests).
    pub fn incident_of(stored: &str) -> Option<(&str, i64)> {
        let (id, n) = stored.strip_prefix("sc:")?.rsplit_once(':')?;
        Some((id, n.parse().ok()?))
    }

    /// The load test of a stored load-test subject key (`lt:{id}`).
    pub fn load_test_of(stored: &str) -> Option<&str> {
        stored.strip_prefix("lt:")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_documented_slugs() {
        for ok in ["acme", "webshop", "a", "0", "a.b_c-d", &"x".repeat(64)] {
            assert!(OrgId::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_bad_slugs_with_a_reason() {
        assert_eq!(OrgId::parse(""), Err(SlugError::Empty));
        assert_eq!(OrgId::parse(&"x".repeat(65)), Err(SlugError::TooLong));
        assert_eq!(OrgId::parse("-acme"), Err(SlugError::BadStart));
        assert_eq!(OrgId::parse("_acme"), Err(SlugError::BadStart));
        assert_eq!(OrgId::parse("Acme"), Err(SlugError::BadStart));
        assert_eq!(OrgId::parse("ac me"), Err(SlugError::BadChar));
        assert_eq!(OrgId::parse("acMe"), Err(SlugError::BadChar));
        assert_eq!(OrgId::parse("a/b"), Err(SlugError::BadChar));
    }

    #[test]
    fn event_keys_are_scoped_to_their_subject_and_give_the_sender_id_back() {
        let id = EventId::parse("e:1").unwrap();
        let lt = EventKey::new(SubjectKind::LoadTest, "lt-1", &id);
        let sc = EventKey::new(SubjectKind::Scenario, "lt-1", &id);
        assert_ne!(lt, sc);
        assert_ne!(lt, EventKey::new(SubjectKind::LoadTest, "lt-2", &id));
        assert_eq!(lt.as_str(), "load_test:lt-1:e:1");
        assert_eq!(EventKey::sender_event_id(lt.as_str()), "e:1");
        assert_eq!(EventKey::sender_event_id("legacy"), "legacy");
    }

    #[test]
    fn subject_keys_name_one_thread_per_load_test_and_per_incident() {
        let lt = SubjectKey::load_test("lt-1");
        let sc = SubjectKey::incident("shop.checkout", 3);
        assert_eq!(
            (lt.as_str(), sc.as_str()),
            ("lt:lt-1", "sc:shop.checkout:3")
        );
        assert_eq!(
            SubjectKey::subject_of(lt.as_str()),
            Some((SubjectKind::LoadTest, "lt-1"))
        );
        assert_eq!(
            SubjectKey::subject_of(sc.as_str()),
            Some((SubjectKind::Scenario, "shop.checkout"))
        );
        assert_eq!(SubjectKey::subject_of("other"), None);
        assert_eq!(
            SubjectKey::incident_of(sc.as_str()),
            Some(("shop.checkout", 3))
        );
        assert_eq!(SubjectKey::incident_of(lt.as_str()), None);
    }

    #[test]
    fn event_ids_are_bounded_visible_ascii() {
        assert!(EventId::parse("7d1f-abc").is_ok());
        assert_eq!(EventId::parse(""), Err(EventIdError::Empty));
        assert_eq!(EventId::parse("a b"), Err(EventIdError::BadChar));
        assert_eq!(EventId::parse(&"e".repeat(201)), Err(EventIdError::TooLong));
    }

    proptest! {
        #[test]
        fn slug_parse_agrees_with_the_regex(s in "\\PC{0,70}") {
            let by_rule = !s.is_empty()
                && s.len() <= 64
                && s.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c));
            prop_assert_eq!(OrgId::parse(&s).is_ok(), by_rule);
        }

        #[test]
        fn valid_slugs_round_trip(s in "[a-z0-9][a-z0-9_.-]{0,63}") {
            let id = ProjectId::parse(&s).unwrap();
            prop_assert_eq!(id.as_str(), s.as_str());
        }
    }
}
