//! The delivery log as the settings pages show it: one line per entry, the organization
//! page's filters, and the links to its projects.

use serde::Serialize;

use super::form::SelectOption;
use crate::domain::delivery_status::DeliveryStatus;
use crate::domain::event_kind::EventKind;
use crate::http::ui::render::capitalize;
use crate::services::delivery_log::DeliveryEntry;

/// A delivery log line.
#[derive(Serialize)]
pub(super) struct DeliveryLine {
    /// The project (organization log only).
    pub(super) project: Option<String>,
    /// The load test's or scenario's name, or "Test message by …".
    pub(super) subject: String,
    pub(super) event: String,
    /// The channel's current name.
    pub(super) channel: String,
    pub(super) status: String,
    pub(super) status_class: &'static str,
    /// "sent 10:00:01 UTC", "next attempt …", when it was skipped or queued.
    pub(super) when: String,
    /// "3 attempts"; none for one attempt or none (the usual case, so no noise).
    pub(super) attempts: Option<String>,
    /// What went wrong and what to do, as a sentence.
    pub(super) message: Option<String>,
    /// The stored reason (a Slack code or ours), shown small.
    pub(super) code: Option<String>,
}

pub(super) fn delivery_line(d: &DeliveryEntry, with_project: bool) -> DeliveryLine {
    // "2024-05-01T10:00:01Z" → "2024-05-01 10:00:01 UTC".
    let readable = |t: &str| t.replace('T', " ").replace('Z', " UTC");
    let status_class = match d.status {
        DeliveryStatus::Sent => "ok",
        DeliveryStatus::Failed => "bad",
        DeliveryStatus::Pending => "wait",
        DeliveryStatus::Skipped => "muted",
    };
    let when = match (&d.sent_at, &d.next_attempt_at) {
        (Some(sent), _) => format!("sent {}", readable(sent)),
        (None, Some(next)) => format!("next attempt {}", readable(next)),
        // A skipped delivery was never queued: it was decided on arrival.
        (None, None) if d.status == DeliveryStatus::Skipped => {
            format!("skipped {}", readable(&d.created_at))
        }
        (None, None) => format!("queued {}", readable(&d.created_at)),
    };
    // The stored code next to the sentence, only where it adds something: a Slack code
    // the sentence does not quote already. A skip's reason is ours and the sentence says it.
    let code = d.error.clone().filter(|code| {
        d.status != DeliveryStatus::Skipped
            && !d
                .error_message
                .as_deref()
                .is_some_and(|m| m.contains(code.as_str()))
    });
    DeliveryLine {
        project: with_project.then(|| {
            d.project
                .clone()
                .unwrap_or_else(|| "(organization)".to_owned())
        }),
        subject: d
            .subject_name
            .clone()
            .unwrap_or_else(|| "(unknown)".to_owned()),
        event: event_label(&d.event_type),
        channel: d
            .channel_name
            .clone()
            .or_else(|| d.channel.clone())
            .unwrap_or_else(|| "—".to_owned()),
        status: d.status.as_str().to_owned(),
        status_class,
        when,
        attempts: (d.attempts > 1).then(|| format!("{} attempts", d.attempts)),
        message: d.error_message.clone(),
        code,
    }
}

/// The event kind's label ("error" → "Load test failed"); other events (test messages,
/// flapping) humanised: "test_message" → "Test message".
pub(super) fn event_label(event: &str) -> String {
    EventKind::of_event_type(event).map_or_else(
        || capitalize(&event.replace('_', " ")),
        |kind| kind.label().to_owned(),
    )
}

/// The organization page's log filters, as chosen.
#[derive(Serialize)]
pub struct LogFilters {
    pub status: String,
    pub project: String,
    pub(super) statuses: Vec<SelectOption>,
    pub(super) projects: Vec<FilterOption>,
    /// An unknown status or project was asked for (and ignored).
    pub problem: Option<String>,
}

#[derive(Serialize)]
pub(super) struct FilterOption {
    pub(super) value: String,
    pub(super) label: String,
    pub(super) selected: bool,
}

impl LogFilters {
    /// The filters as chosen, with the options to choose from.
    pub fn new(
        status: Option<DeliveryStatus>,
        project: Option<&str>,
        projects: &[ProjectLink],
        problem: Option<String>,
    ) -> Self {
        let status = status
            .map(DeliveryStatus::as_str)
            .unwrap_or_default()
            .to_owned();
        let project = project.unwrap_or_default().to_owned();
        let statuses = [
            ("", "Any status"),
            ("pending", "Pending"),
            ("sent", "Sent"),
            ("failed", "Failed"),
            ("skipped", "Skipped"),
        ]
        .into_iter()
        .map(|(value, label)| SelectOption {
            value,
            label: label.to_owned(),
            selected: value == status,
        })
        .collect();
        let mut options = vec![FilterOption {
            value: String::new(),
            label: "All projects".to_owned(),
            selected: project.is_empty(),
        }];
        options.extend(projects.iter().map(|p| FilterOption {
            value: p.id.clone(),
            label: p.name.clone(),
            selected: p.id == project,
        }));
        Self {
            status,
            project,
            statuses,
            projects: options,
            problem,
        }
    }
}

/// A link to a project's page (organization page).
#[derive(Serialize)]
pub struct ProjectLink {
    pub id: String,
    pub name: String,
    pub url: String,
}
