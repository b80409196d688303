//! The organization's settings page: its own values, its projects and its delivery log
//! across them.

use super::delivery_log::{delivery_line, LogFilters, ProjectLink};
use super::form::{
    during_row, parse_during, row, selected, unsaved, unsaved_text, ChannelsBox, Choice, Rejected,
    ThresholdBox, CHARTS_HELP, COMPACT_HELP, SEND_HELP, THREADS_HELP,
};
use super::integration::IntegrationBox;
use super::rules::RulesBox;
use super::{missing_text, notices, test_lines, Frame, SettingsPage, Urls};
use crate::domain::settings::RegressionThreshold;
use crate::http::ui::session::Flash;
use crate::services::delivery_log::DeliveryEntry;
use crate::services::slack_config::OrgView;

/// What the organization page lists: its projects and the filtered delivery log.
pub struct OrgLists<'a> {
    pub projects: Vec<ProjectLink>,
    pub deliveries: &'a [DeliveryEntry],
    pub filters: LogFilters,
}

/// The organization page.
pub fn org_page(
    frame: Frame,
    view: &OrgView,
    rejected: Option<Rejected<'_>>,
    flash: &Flash,
    installed: bool,
    lists: OrgLists<'_>,
) -> SettingsPage {
    let OrgLists {
        projects,
        deliveries,
        filters: log_filters,
    } = lists;
    let form = rejected.as_ref().map(|r| r.form);
    let pick = |posted: Option<&String>, stored: bool| match posted {
        Some(p) => selected(p, false, Choice::Set(stored)),
        None => Choice::Set(stored),
    };
    let saved = [
        view.send_messages,
        view.threads,
        view.compact_messages,
        view.charts,
    ];
    let shown = [
        pick(form.map(|f| &f.send_messages), view.send_messages),
        pick(form.map(|f| &f.threads), view.threads),
        pick(form.map(|f| &f.compact_messages), view.compact_messages),
        pick(form.and_then(|f| f.charts.as_ref()), view.charts),
    ];
    let mut settings = vec![
        row("send_messages", "Send messages", SEND_HELP, shown[0], None),
        row("threads", "Threads", THREADS_HELP, shown[1], None),
        row(
            "compact_messages",
            "Compact messages",
            COMPACT_HELP,
            shown[2],
            None,
        ),
        row(
            "charts",
            "Charts in report threads",
            CHARTS_HELP,
            shown[3],
            None,
        ),
    ];
    for ((r, shown), saved) in settings.iter_mut().zip(shown).zip(saved) {
        r.unsaved = unsaved(shown, Choice::Set(saved), form.is_some());
    }
    let posted_during = form
        .and_then(|f| f.during_load_tests.as_deref())
        .and_then(|raw| parse_during(raw, false))
        .flatten();
    settings.push(during_row(
        Some(posted_during.unwrap_or(view.during_load_tests)),
        Some(view.during_load_tests),
        None,
        form.is_some(),
    ));
    let stored_channels = view.target_channels.join(" ");
    let integration = IntegrationBox::new(view.integration.as_ref(), None, true);
    let team = view.integration.as_ref().map(|i| i.team_name.as_str());
    SettingsPage {
        is_project: false,
        org_id: frame.scope.org().to_string(),
        org_name: frame.org_name,
        project_id: None,
        project_name: None,
        csrf: frame.csrf,
        notices: notices(flash, installed, team),
        has_own: true,
        settings,
        threshold: ThresholdBox::new(
            view.regression_threshold_pct.to_string(),
            form.and_then(|f| f.regression_threshold_pct.as_ref()),
            format!("Empty: the default, {}", RegressionThreshold::DEFAULT),
        ),
        warnings: view.warnings.clone(),
        channels: ChannelsBox {
            value: match form {
                Some(f) => f.target_channels.clone(),
                None => stored_channels.clone(),
            },
            placeholder: "#load-tests #alerts".to_owned(),
            error: rejected.as_ref().map(|r| r.message.clone()),
            error_channel: rejected.as_ref().and_then(|r| r.channel.clone()),
            errors: rejected
                .as_ref()
                .map(|r| r.errors.clone())
                .unwrap_or_default(),
            nothing_saved: rejected.as_ref().is_some_and(|r| r.lead),
            unsaved: form.and_then(|f| unsaved_text(&f.target_channels, &stored_channels, true)),
            warnings: view.channel_warnings.clone(),
            effective: None,
            source: None,
            org_value: None,
        },
        rules: RulesBox::new(&view.rules, &[]),
        integration,
        org_integration: None,
        complete: view.complete,
        missing: missing_text(&view.missing),
        test_results: test_lines(flash),
        deliveries: deliveries.iter().map(|d| delivery_line(d, true)).collect(),
        mutes: Vec::new(),
        definitions: Vec::new(),
        windows: Default::default(),
        log_filters: Some(log_filters),
        rejected: form.is_some(),
        projects,
        org_admin: true,
        slack_app: true,
        summary: None,
        urls: Urls::new(&frame.scope),
    }
}
