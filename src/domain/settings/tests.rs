//! Unit tests of the five resolution rules (`docs/API.md`), case by case and as a property
//! over generated organization and project settings.

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
        can_upload_files: true,
    }
}

#[test]
fn fresh_org_defaults_are_all_off_and_incomplete() {
    let e = resolve(&OrgSettings::default(), None, None, None);
    assert!(!e.send_messages.value);
    assert!(!e.threads.value);
    assert!(!e.compact_messages.value);
    assert_eq!(e.charts, from_org(true), "charts default on");
    assert_eq!(e.during_load_tests, from_org(DuringLoadTests::Annotate));
    assert_eq!(e.regression_threshold_pct.value.pct(), 10);
    assert_eq!(
        e.warnings(),
        vec![],
        "no integration, nothing to warn about"
    );
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
        ..OrgSettings::default()
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

#[test]
fn a_regression_threshold_is_a_whole_percent_from_1_to_1000() {
    for ok in [1, 10, 999, 1000] {
        assert_eq!(RegressionThreshold::parse(ok).unwrap().pct() as i64, ok);
    }
    for bad in [i64::MIN, -1, 0, 1001, 65_546, i64::MAX] {
        assert_eq!(
            RegressionThreshold::parse(bad),
            Err(ThresholdError),
            "{bad}"
        );
    }
    assert_eq!(RegressionThreshold::parse_text(" 25 ").unwrap().pct(), 25);
    for bad in ["", "12.5", "ten", "0", "1001", "1e2"] {
        assert!(RegressionThreshold::parse_text(bad).is_err(), "{bad:?}");
    }
    // JSON: an integer in range; anything else names what is wrong.
    let t: RegressionThreshold = serde_json::from_str("15").unwrap();
    assert_eq!(
        (t.pct(), serde_json::to_string(&t).unwrap()),
        (15, "15".to_owned())
    );
    for bad in ["0", "1001", "12.5", "\"10\"", "true", "null"] {
        assert!(
            serde_json::from_str::<RegressionThreshold>(bad).is_err(),
            "{bad}"
        );
    }
    let e = serde_json::from_str::<RegressionThreshold>("0").unwrap_err();
    assert!(e.to_string().contains("from 1 to 1000"), "{e}");
}

/// Rule 4 for the report settings: each value on its own, with its source.
#[test]
fn report_settings_are_inherited_per_value() {
    let pct = |p| RegressionThreshold::parse(p).unwrap();
    let org = OrgSettings {
        regression_threshold_pct: pct(25),
        charts: false,
        ..OrgSettings::default()
    };
    let only_threshold = ProjectSettings {
        regression_threshold_pct: Some(pct(5)),
        ..ProjectSettings::default()
    };
    let e = resolve(&org, None, Some(&only_threshold), None);
    assert_eq!(e.regression_threshold_pct, from_project(pct(5)));
    assert_eq!(e.charts, from_org(false));
    let only_charts = ProjectSettings {
        charts: Some(true),
        ..ProjectSettings::default()
    };
    let e = resolve(&org, None, Some(&only_charts), None);
    assert_eq!(e.regression_threshold_pct, from_org(pct(25)));
    assert_eq!(e.charts, from_project(true));
}

/// An installation made without `files:write` posts no charts and says so, unless
/// charts are off (then nothing is missing).
#[test]
fn an_installation_without_files_write_warns_while_charts_are_on() {
    assert!(Integration::scopes_allow_uploads(
        "chat:write,files:write,team:read"
    ));
    assert!(!Integration::scopes_allow_uploads(
        "chat:write,chat:write.public,channels:read,team:read"
    ));
    assert!(!Integration::scopes_allow_uploads("files:read"));
    let old = Integration {
        can_upload_files: false,
        ..integration("old", IntegrationStatus::Active)
    };
    let e = resolve(&OrgSettings::default(), Some(&old), None, None);
    assert!(!e.posts_charts());
    let warnings = e.warnings();
    assert_eq!(
        warnings,
        vec![SettingsWarning::MissingScope { scope: FILES_WRITE }]
    );
    assert_eq!(warnings[0].problem(), "missing_scope");
    assert_eq!(
        warnings[0].message(),
        "This Slack installation was made without the files:write permission, so report \
         charts are not posted. Install again to add charts."
    );
    let charts_off = ProjectSettings {
        charts: Some(false),
        ..ProjectSettings::default()
    };
    let e = resolve(&OrgSettings::default(), Some(&old), Some(&charts_off), None);
    assert_eq!(e.warnings(), vec![]);
    let new = integration("new", IntegrationStatus::Active);
    let e = resolve(&OrgSettings::default(), Some(&new), None, None);
    assert!(e.posts_charts());
    assert_eq!(e.warnings(), vec![]);
}

fn arb_channels() -> impl Strategy<Value = Vec<TargetChannel>> {
    prop::collection::vec("[a-z]{1,5}".prop_map(|n| ch(&n)), 0..3)
}

fn arb_threshold() -> impl Strategy<Value = RegressionThreshold> {
    (1i64..=1000).prop_map(|p| RegressionThreshold::parse(p).unwrap())
}

fn arb_summary() -> impl Strategy<Value = Option<SummarySchedule>> {
    use crate::domain::summary::{SummaryDay, TimeOfDay, WeeklySchedule, Zone};
    prop::option::of(
        (
            prop::sample::select(vec!["mon", "wed", "sun"]),
            prop::sample::select(vec!["00:00", "09:00", "23:59"]),
            prop::sample::select(vec!["UTC", "Europe/Berlin", "America/New_York"]),
        )
            .prop_map(|(d, t, z)| {
                SummarySchedule::Weekly(WeeklySchedule {
                    day: SummaryDay::parse(d).unwrap(),
                    time: TimeOfDay::parse(t).unwrap(),
                    timezone: Zone::parse(z).unwrap(),
                })
            }),
    )
}

fn arb_org() -> impl Strategy<Value = OrgSettings> {
    (
        (any::<bool>(), any::<bool>(), any::<bool>(), arb_channels()),
        (arb_threshold(), any::<bool>(), arb_during(), arb_summary()),
    )
        .prop_map(
            |((s, t, c, ch), (pct, charts, during, summary))| OrgSettings {
                send_messages: s,
                threads: t,
                compact_messages: c,
                target_channels: ch,
                rules: vec![],
                regression_threshold_pct: pct,
                charts,
                during_load_tests: during,
                summary,
            },
        )
}

fn arb_project() -> impl Strategy<Value = ProjectSettings> {
    (
        (
            any::<bool>(),
            any::<Option<bool>>(),
            any::<Option<bool>>(),
            arb_channels(),
        ),
        (
            prop::option::of(arb_threshold()),
            any::<Option<bool>>(),
            prop::option::of(arb_during()),
            arb_summary(),
        ),
    )
        .prop_map(
            |((s, t, c, ch), (pct, charts, during, summary))| ProjectSettings {
                send_messages: s,
                threads: t,
                compact_messages: c,
                target_channels: ch,
                rules: vec![],
                regression_threshold_pct: pct,
                charts,
                during_load_tests: during,
                summary,
            },
        )
}

fn arb_during() -> impl Strategy<Value = DuringLoadTests> {
    prop::sample::select(DuringLoadTests::ALL.to_vec())
}

fn arb_integration() -> impl Strategy<Value = Option<Integration>> {
    prop::option::of((
        prop_oneof![
            Just(IntegrationStatus::Active),
            Just(IntegrationStatus::Revoked)
        ],
        any::<bool>(),
    ))
    .prop_map(|s| {
        s.map(|(s, uploads)| Integration {
            can_upload_files: uploads,
            ..integration("x", s)
        })
    })
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
        match project.as_ref().and_then(|p| p.summary.clone()) {
            Some(v) => prop_assert_eq!(&e.summary, &from_project(Some(v))),
            None => prop_assert_eq!(&e.summary, &from_org(org.summary.clone())),
        }
        match project.as_ref().and_then(|p| p.charts) {
            Some(v) => prop_assert_eq!(&e.charts, &from_project(v)),
            None => prop_assert_eq!(&e.charts, &from_org(org.charts)),
        }
        match project.as_ref().and_then(|p| p.regression_threshold_pct) {
            Some(v) => prop_assert_eq!(&e.regression_threshold_pct, &from_project(v)),
            None => prop_assert_eq!(&e.regression_threshold_pct, &from_org(org.regression_threshold_pct)),
        }
        match project.as_ref().and_then(|p| p.during_load_tests) {
            Some(v) => prop_assert_eq!(&e.during_load_tests, &from_project(v)),
            None => prop_assert_eq!(&e.during_load_tests, &from_org(org.during_load_tests)),
        }
        // Charts go out exactly when on and the integration may upload files; the
        // warning is there exactly when charts are on and an integration may not.
        let uploads = e.integration.value.as_ref().map(|i| i.can_upload_files);
        prop_assert_eq!(e.posts_charts(), e.charts.value && uploads == Some(true));
        prop_assert_eq!(!e.warnings().is_empty(), e.charts.value && uploads == Some(false));
        // Rule 5
        let active = e.integration.value.as_ref().is_some_and(|i| i.status == IntegrationStatus::Active);
        prop_assert_eq!(e.complete(), active && !e.target_channels.value.is_empty());
        // Something is sent exactly when enabled and complete.
        prop_assert_eq!(e.skip_reason().is_none(), e.send_messages.value && e.complete());
    }
}
