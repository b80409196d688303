//! Settings resolution: the five rules of API.md, and the only place they live.
//!
//! 1. `send_messages`: a project with own settings always decides; otherwise the org.
//! 2. `integration`: the project's installation if it has one, else the org's.
//! 3. `target_channels`: the project's list if non-empty, else the org's.
//! 4. `threads`, `compact_messages`: the project's value if set, else the org's.
//! 5. `complete`: an active integration and at least one target channel or rule.
//! 6. `rules`: the project's list if non-empty, else the org's (like target channels).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::channel::TargetChannel;
use super::delivery_reason::DeliveryReason;
use super::rules::Rule;

/// Organization-level settings. `Default` is the documented default: everything off.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrgSettings {
    pub send_messages: bool,
    pub threads: bool,
    pub compact_messages: bool,
    pub target_channels: Vec<TargetChannel>,
    pub rules: Vec<Rule>,
}

/// A project's own settings (present only once saved for the project).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProjectSettings {
    /// Always decides when the project has own settings (rule 1).
    pub send_messages: bool,
    pub threads: Option<bool>,
    pub compact_messages: Option<bool>,
    /// Empty means "inherit" (rule 3).
    pub target_channels: Vec<TargetChannel>,
    /// Empty means "inherit" (rule 6).
    pub rules: Vec<Rule>,
}

/// Whether an installation can still post.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    utoipa::ToSchema,
    diesel::AsExpression,
    diesel::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationStatus {
    Active,
    /// Uninstalled or token revoked in Slack, or Slack refused the token.
    Revoked,
}

impl IntegrationStatus {
    pub const ALL: [Self; 2] = [Self::Active, Self::Revoked];

    /// `None` for anything else: a stored value that is neither is an error, not "revoked".
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Revoked => "revoked",
        }
    }
}

/// A Slack installation as settings see it (the token stays in the database).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Integration {
    pub installation_id: String,
    pub team_id: String,
    pub team_name: String,
    pub installed_at: DateTime<Utc>,
    pub status: IntegrationStatus,
    /// Why it is revoked, when it is.
    pub status_reason: Option<String>,
    /// Since when Slack has been failing for it (an outage; deliveries wait and retry).
    pub failing_since: Option<DateTime<Utc>>,
}

/// Where an effective value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Organization,
    Project,
}

/// A value and its source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

fn from_org<T>(value: T) -> Sourced<T> {
    Sourced {
        value,
        source: Source::Organization,
    }
}

fn from_project<T>(value: T) -> Sourced<T> {
    Sourced {
        value,
        source: Source::Project,
    }
}

/// The settings that apply to a project's notifications.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effective {
    pub send_messages: Sourced<bool>,
    pub threads: Sourced<bool>,
    pub compact_messages: Sourced<bool>,
    pub target_channels: Sourced<Vec<TargetChannel>>,
    pub integration: Sourced<Option<Integration>>,
    pub rules: Sourced<Vec<Rule>>,
}

impl Effective {
    /// The regression threshold in percent (`regression_threshold_pct`).
    pub fn regression_threshold(&self) -> u32 {
        super::report::DEFAULT_THRESHOLD_PCT
    }

    /// Rule 5.
    pub fn complete(&self) -> bool {
        self.missing().is_empty()
    }

    /// What a complete configuration still lacks (for `incomplete_config` answers).
    pub fn missing(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        match &self.integration.value {
            None => missing.push("integration"),
            Some(i) if i.status != IntegrationStatus::Active => missing.push("active_integration"),
            Some(_) => {}
        }
        if self.target_channels.value.is_empty() && self.rules.value.is_empty() {
            missing.push("target_channels");
        }
        missing
    }

    /// Why nothing is sent for an event, or `None` when messages go out.
    pub fn skip_reason(&self) -> Option<DeliveryReason> {
        if !self.send_messages.value {
            return Some(DeliveryReason::SendingDisabled(self.send_messages.source));
        }
        let missing = self.missing();
        (!missing.is_empty()).then(|| {
            DeliveryReason::ConfigurationIncomplete(missing.iter().map(|m| m.to_string()).collect())
        })
    }
}

/// Resolves the effective settings of a project, or of the organization itself when
/// `project` and `project_integration` are `None`.
pub fn resolve(
    org: &OrgSettings,
    org_integration: Option<&Integration>,
    project: Option<&ProjectSettings>,
    project_integration: Option<&Integration>,
) -> Effective {
    let send_messages = match project {
        Some(p) => from_project(p.send_messages),
        None => from_org(org.send_messages),
    };
    let integration = match project_integration {
        Some(i) => from_project(Some(i.clone())),
        None => from_org(org_integration.cloned()),
    };
    let target_channels = match project {
        Some(p) if !p.target_channels.is_empty() => from_project(p.target_channels.clone()),
        _ => from_org(org.target_channels.clone()),
    };
    let threads = match project.and_then(|p| p.threads) {
        Some(v) => from_project(v),
        None => from_org(org.threads),
    };
    let compact_messages = match project.and_then(|p| p.compact_messages) {
        Some(v) => from_project(v),
        None => from_org(org.compact_messages),
    };
    let rules = match project {
        Some(p) if !p.rules.is_empty() => from_project(p.rules.clone()),
        _ => from_org(org.rules.clone()),
    };
    Effective {
        rules,
        send_messages,
        threads,
        compact_messages,
        target_channels,
        integration,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn ch(name: &str) -> TargetChannel {
        TargetChannel {
            id: None,
            name: Some(name.into()),
        }
    }

    fn integration(id: &str, status: IntegrationStatus) -> Integration {
        Integration {
            installation_id: id.into(),
            team_id: format!("T{id}"),
            team_name: "XTC-Test-Workspace".into(),
            installed_at: Utc::now(),
            status,
            status_reason: None,
            failing_since: None,
        }
    }

    #[test]
    fn fresh_org_defaults_are_all_off_and_incomplete() {
        let e = resolve(&OrgSettings::default(), None, None, None);
        assert!(!e.send_messages.value);
        assert!(!e.threads.value);
        assert!(!e.compact_messages.value);
        assert!(e.target_channels.value.is_empty());
        assert_eq!(e.integration.value, None);
        assert!(!e.complete());
        assert_eq!(e.missing(), vec!["integration", "target_channels"]);
        assert_eq!(
            e.skip_reason().unwrap().to_string(),
            "sending is disabled for this organization"
        );
    }

    fn rule(name: &str) -> Rule {
        Rule {
            channel: ch(name),
            events: crate::domain::rules::EventFilter::parse(&["failures"]).unwrap(),
            mention: None,
        }
    }

    #[test]
    fn rules_are_the_projects_if_it_has_any_else_the_orgs_and_make_a_configuration_complete() {
        let org = OrgSettings {
            send_messages: true,
            rules: vec![rule("alerts")],
            ..OrgSettings::default()
        };
        let inst = integration("1", IntegrationStatus::Active);
        let e = resolve(&org, Some(&inst), None, None);
        assert_eq!(e.rules.value, vec![rule("alerts")]);
        assert_eq!(e.rules.source, Source::Organization);
        assert!(e.complete(), "a rule is enough: {:?}", e.missing());
        let own = ProjectSettings {
            send_messages: true,
            rules: vec![rule("team-alerts")],
            ..ProjectSettings::default()
        };
        let e = resolve(&org, Some(&inst), Some(&own), None);
        assert_eq!(
            (e.rules.value, e.rules.source),
            (vec![rule("team-alerts")], Source::Project)
        );
        let inherit = ProjectSettings {
            send_messages: true,
            ..ProjectSettings::default()
        };
        let e = resolve(&org, Some(&inst), Some(&inherit), None);
        assert_eq!(e.rules.source, Source::Organization);
        let nothing = resolve(&OrgSettings::default(), Some(&inst), None, None);
        assert_eq!(nothing.missing(), vec!["target_channels"]);
    }

    /// The documented example: a project overriding only "Send messages".
    #[test]
    fn project_overriding_only_send_messages_inherits_the_rest() {
        let org = OrgSettings {
            send_messages: false,
            threads: true,
            compact_messages: false,
            target_channels: vec![ch("load-tests")],
            rules: vec![],
        };
        let inst = integration("1", IntegrationStatus::Active);
        let project = ProjectSettings {
            send_messages: true,
            ..Default::default()
        };
        let e = resolve(&org, Some(&inst), Some(&project), None);
        assert_eq!(e.send_messages, from_project(true));
        assert_eq!(e.threads, from_org(true));
        assert_eq!(e.compact_messages, from_org(false));
        assert_eq!(e.target_channels, from_org(vec![ch("load-tests")]));
        assert_eq!(e.integration, from_org(Some(inst)));
        assert!(e.complete());
        assert_eq!(e.skip_reason(), None);
    }

    /// Rule 1, the surprising half: disabled on the project stays disabled.
    #[test]
    fn a_disabled_project_sends_nothing_under_an_enabled_org() {
        let org = OrgSettings {
            send_messages: true,
            target_channels: vec![ch("a")],
            ..Default::default()
        };
        let project = ProjectSettings {
            send_messages: false,
            ..Default::default()
        };
        let e = resolve(
            &org,
            Some(&integration("1", IntegrationStatus::Active)),
            Some(&project),
            None,
        );
        assert_eq!(e.send_messages, from_project(false));
        assert_eq!(
            e.skip_reason().unwrap().to_string(),
            "sending is disabled for this project"
        );
    }

    /// Rule 2: the project's installation wins; without it the org's applies again.
    #[test]
    fn a_project_installation_overrides_and_removal_falls_back() {
        let org_inst = integration("org", IntegrationStatus::Active);
        let proj_inst = integration("proj", IntegrationStatus::Active);
        let org = OrgSettings::default();
        assert_eq!(
            resolve(&org, Some(&org_inst), None, Some(&proj_inst)).integration,
            from_project(Some(proj_inst))
        );
        assert_eq!(
            resolve(&org, Some(&org_inst), None, None).integration,
            from_org(Some(org_inst))
        );
    }

    #[test]
    fn a_revoked_integration_is_incomplete() {
        let org = OrgSettings {
            send_messages: true,
            target_channels: vec![ch("a")],
            ..Default::default()
        };
        let e = resolve(
            &org,
            Some(&integration("1", IntegrationStatus::Revoked)),
            None,
            None,
        );
        assert_eq!(e.missing(), vec!["active_integration"]);
        assert!(e
            .skip_reason()
            .unwrap()
            .to_string()
            .contains("active_integration"));
    }

    fn arb_channels() -> impl Strategy<Value = Vec<TargetChannel>> {
        prop::collection::vec("[a-z]{1,5}".prop_map(|n| ch(&n)), 0..3)
    }

    fn arb_org() -> impl Strategy<Value = OrgSettings> {
        (any::<bool>(), any::<bool>(), any::<bool>(), arb_channels()).prop_map(|(s, t, c, ch)| {
            OrgSettings {
                send_messages: s,
                threads: t,
                compact_messages: c,
                target_channels: ch,
                rules: vec![],
            }
        })
    }

    fn arb_project() -> impl Strategy<Value = ProjectSettings> {
        (
            any::<bool>(),
            any::<Option<bool>>(),
            any::<Option<bool>>(),
            arb_channels(),
        )
            .prop_map(|(s, t, c, ch)| ProjectSettings {
                send_messages: s,
                threads: t,
                compact_messages: c,
                target_channels: ch,
                rules: vec![],
            })
    }

    fn arb_integration() -> impl Strategy<Value = Option<Integration>> {
        prop::option::of(prop_oneof![
            Just(IntegrationStatus::Active),
            Just(IntegrationStatus::Revoked)
        ])
        .prop_map(|s| s.map(|s| integration("x", s)))
    }

    proptest! {
        /// Every combination of org value / project value / project settings present or
        /// absent, for every field, checked against the rules as the docs word them.
        #[test]
        fn every_combination_follows_the_five_rules(
            org in arb_org(),
            project in prop::option::of(arb_project()),
            org_inst in arb_integration(),
            proj_inst in arb_integration(),
        ) {
            let e = resolve(&org, org_inst.as_ref(), project.as_ref(), proj_inst.as_ref());
            // Rule 1
            match &project {
                Some(p) => prop_assert_eq!(&e.send_messages, &from_project(p.send_messages)),
                None => prop_assert_eq!(&e.send_messages, &from_org(org.send_messages)),
            }
            // Rule 2
            if proj_inst.is_some() {
                prop_assert_eq!(&e.integration, &from_project(proj_inst.clone()));
            } else {
                prop_assert_eq!(&e.integration, &from_org(org_inst.clone()));
            }
            // Rule 3
            match &project {
                Some(p) if !p.target_channels.is_empty() => prop_assert_eq!(&e.target_channels, &from_project(p.target_channels.clone())),
                _ => prop_assert_eq!(&e.target_channels, &from_org(org.target_channels.clone())),
            }
            // Rule 4
            match project.as_ref().and_then(|p| p.threads) {
                Some(v) => prop_assert_eq!(&e.threads, &from_project(v)),
                None => prop_assert_eq!(&e.threads, &from_org(org.threads)),
            }
            match project.as_ref().and_then(|p| p.compact_messages) {
                Some(v) => prop_assert_eq!(&e.compact_messages, &from_project(v)),
                None => prop_assert_eq!(&e.compact_messages, &from_org(org.compact_messages)),
            }
            // Rule 5
            let active = e.integration.value.as_ref().is_some_and(|i| i.status == IntegrationStatus::Active);
            prop_assert_eq!(e.complete(), active && !e.target_channels.value.is_empty());
            // Something is sent exactly when enabled and complete.
            prop_assert_eq!(e.skip_reason().is_none(), e.send_messages.value && e.complete());
        }
    }
}
