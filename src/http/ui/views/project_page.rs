//! A project's settings page: its own values next to the effective ones and the
//! organization's, which it inherits where it has none.

use super::delivery_log::delivery_line;
use super::form::{
    during_row, on_off, parse_during, row, selected, source_label, unsaved, unsaved_text,
    ChannelsBox, Choice, Rejected, ThresholdBox, CHARTS_HELP, COMPACT_HELP, SEND_HELP,
    THREADS_HELP,
};
use super::integration::IntegrationBox;
use super::rules::RulesBox;
use super::{missing_text, notices, test_lines, Frame, SettingsPage, Urls};
use crate::domain::settings::Source;
use crate::http::ui::session::Flash;
use crate::services::delivery_log::DeliveryEntry;
use crate::services::slack_config::{OrgView, ProjectView};

/// The project page; `org` is the organization's own view (shown read-only).
pub fn project_page(
    frame: Frame,
    view: &ProjectView,
    org: &OrgView,
    rejected: Option<Rejected<'_>>,
    flash: &Flash,
    installed: bool,
    deliveries: &[DeliveryEntry],
) -> SettingsPage {
    let form = rejected.as_ref().map(|r| r.form);
    let own = view.own.as_ref();
    let e = &view.effective;
    // Rule 1: once the project has own settings, `send_messages` is always its own.
    let send_inherit = own.is_none();
    let stored_send = match own {
        Some(o) => Choice::Set(o.send_messages),
        None => Choice::Inherit,
    };
    let stored_opt = |v: Option<Option<bool>>| match v.flatten() {
        Some(b) => Choice::Set(b),
        None => Choice::Inherit,
    };
    let pick = |posted: Option<&String>, inherit_ok: bool, stored: Choice| match posted {
        Some(p) => selected(p, inherit_ok, stored),
        None => stored,
    };
    let shown_send = pick(form.map(|f| &f.send_messages), send_inherit, stored_send);
    let mut send = row(
        "send_messages",
        "Send messages",
        SEND_HELP,
        shown_send,
        send_inherit.then_some(org.send_messages),
    );
    send.unsaved = unsaved(shown_send, stored_send, form.is_some());
    send.note = Some(
        "Once this project has settings of its own, this value always decides for it, even \
         when the organization has sending enabled.",
    );
    let stored_threads = stored_opt(own.map(|o| o.threads));
    let shown_threads = pick(form.map(|f| &f.threads), true, stored_threads);
    let mut threads = row(
        "threads",
        "Threads",
        THREADS_HELP,
        shown_threads,
        Some(org.threads),
    );
    threads.unsaved = unsaved(shown_threads, stored_threads, form.is_some());
    let stored_compact = stored_opt(own.map(|o| o.compact_messages));
    let shown_compact = pick(form.map(|f| &f.compact_messages), true, stored_compact);
    let mut compact = row(
        "compact_messages",
        "Compact messages",
        COMPACT_HELP,
        shown_compact,
        Some(org.compact_messages),
    );
    compact.unsaved = unsaved(shown_compact, stored_compact, form.is_some());
    let stored_charts = stored_opt(own.map(|o| o.charts));
    let shown_charts = pick(form.and_then(|f| f.charts.as_ref()), true, stored_charts);
    let mut charts = row(
        "charts",
        "Charts in report threads",
        CHARTS_HELP,
        shown_charts,
        Some(org.charts),
    );
    charts.unsaved = unsaved(shown_charts, stored_charts, form.is_some());
    for (r, eff, org_v) in [
        (&mut send, &e.send_messages, org.send_messages),
        (&mut threads, &e.threads, org.threads),
        (&mut compact, &e.compact_messages, org.compact_messages),
        (&mut charts, &e.charts, org.charts),
    ] {
        r.effective = Some(on_off(eff.value).to_owned());
        r.source = Some(source_label(eff.source));
        r.org_value = Some(on_off(org_v));
    }
    let saved_during = own.and_then(|o| o.during_load_tests);
    let shown_during = match form.and_then(|f| f.during_load_tests.as_deref()) {
        Some(raw) => parse_during(raw, true).unwrap_or(saved_during),
        None => saved_during,
    };
    let mut during = during_row(
        shown_during,
        saved_during,
        Some(org.during_load_tests),
        form.is_some(),
    );
    during.effective = Some(e.during_load_tests.value.label().to_owned());
    during.source = Some(source_label(e.during_load_tests.source));
    let mut threshold = ThresholdBox::new(
        own.and_then(|o| o.regression_threshold_pct)
            .map(|t| t.to_string())
            .unwrap_or_default(),
        form.and_then(|f| f.regression_threshold_pct.as_ref()),
        format!("Empty: inherit {}", org.regression_threshold_pct),
    );
    threshold.effective = Some(e.regression_threshold_pct.value.to_string());
    threshold.source = Some(source_label(e.regression_threshold_pct.source));
    threshold.org_value = Some(org.regression_threshold_pct.to_string());
    let own_channels = own.map(|o| o.target_channels.join(" ")).unwrap_or_default();
    let org_channels = org.target_channels.join(" ");
    let effective_channels = e.target_channels.value.join(" ");
    // The project's own installation exists with or without own settings.
    let own_integration = e.integration.source == Source::Project;
    let team = e.integration.value.as_ref().map(|i| i.team_name.as_str());
    let project = frame.scope.project().map(ToString::to_string);
    SettingsPage {
        is_project: true,
        org_id: frame.scope.org().to_string(),
        org_name: frame.org_name,
        project_id: project,
        project_name: frame.project_name,
        csrf: frame.csrf,
        notices: notices(flash, installed, team),
        has_own: own.is_some(),
        settings: vec![send, threads, compact, charts, during],
        threshold,
        warnings: e.warnings.clone(),
        channels: ChannelsBox {
            unsaved: form.and_then(|f| unsaved_text(&f.target_channels, &own_channels, true)),
            value: match form {
                Some(f) => f.target_channels.clone(),
                None => own_channels.clone(),
            },
            placeholder: if org_channels.is_empty() {
                "Empty: inherit from organization (none set)".to_owned()
            } else {
                format!("Empty: inherit {org_channels}")
            },
            error: rejected.as_ref().map(|r| r.message.clone()),
            error_channel: rejected.as_ref().and_then(|r| r.channel.clone()),
            errors: rejected
                .as_ref()
                .map(|r| r.errors.clone())
                .unwrap_or_default(),
            nothing_saved: rejected.as_ref().is_some_and(|r| r.lead),
            warnings: e.channel_warnings.clone(),
            effective: Some(if effective_channels.is_empty() {
                "none".to_owned()
            } else {
                effective_channels
            }),
            source: Some(source_label(e.target_channels.source)),
            org_value: Some(if org_channels.is_empty() {
                "none".to_owned()
            } else {
                org_channels
            }),
        },
        rules: {
            let own_rules = own.map(|o| o.rules.as_slice()).unwrap_or_default();
            let inherited = if own_rules.is_empty() {
                org.rules.as_slice()
            } else {
                &[]
            };
            RulesBox::new(own_rules, inherited)
        },
        integration: IntegrationBox::new(
            e.integration.value.as_ref(),
            Some(e.integration.source),
            own_integration,
        ),
        org_integration: Some(IntegrationBox::new(
            org.integration.as_ref(),
            Some(Source::Organization),
            false,
        )),
        complete: e.complete,
        missing: missing_text(&e.missing),
        test_results: test_lines(flash),
        deliveries: deliveries.iter().map(|d| delivery_line(d, false)).collect(),
        mutes: Vec::new(),
        definitions: Vec::new(),
        windows: Default::default(),
        log_filters: None,
        rejected: form.is_some(),
        projects: Vec::new(),
        org_admin: frame.org_admin,
        slack_app: true,
        summary: None,
        urls: Urls::new(&frame.scope),
    }
}
