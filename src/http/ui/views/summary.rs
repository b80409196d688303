//! The weekly summary on the settings page: the schedule's fields (in the settings form)
//! and the preview of the last seven days drawn as HTML, with "Send summary now".

use serde::Serialize;
use serde_json::Value;

use super::form::source_label;
use crate::domain::settings::Source;
use crate::domain::summary::SummarySchedule;
use crate::services::slack_config::SummaryPreview;
use crate::slack::text;

/// The schedule fields and the preview.
#[derive(Serialize)]
pub struct SummaryBox {
    /// The day select: off (organization) or inherit (project), then Monday … Sunday.
    days: Vec<DayOption>,
    time: String,
    timezone: String,
    /// Projects: the schedule in effect and where it comes from.
    effective: Option<String>,
    source: Option<String>,
    preview: Option<PreviewBox>,
}

#[derive(Serialize)]
struct DayOption {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

/// The preview as a page shows it: the headline and one entry per line.
#[derive(Serialize)]
struct PreviewBox {
    title: String,
    from: String,
    to: String,
    lines: Vec<PreviewLine>,
}

#[derive(Serialize)]
struct PreviewLine {
    label: String,
    parts: Vec<PreviewPart>,
}

#[derive(Serialize)]
struct PreviewPart {
    text: String,
    url: Option<String>,
}

const DAYS: [(&str, &str); 7] = [
    ("mon", "Monday"),
    ("tue", "Tuesday"),
    ("wed", "Wednesday"),
    ("thu", "Thursday"),
    ("fri", "Friday"),
    ("sat", "Saturday"),
    ("sun", "Sunday"),
];

/// "Mondays at 09:00 (Europe/Berlin)".
fn describe(s: &SummarySchedule) -> String {
    let SummarySchedule::Weekly(w) = s;
    let day = DAYS
        .iter()
        .find(|(v, _)| *v == w.day.as_str())
        .map_or("", |(_, l)| l);
    format!("{day}s at {} ({})", w.time, w.timezone)
}

impl SummaryBox {
    /// `own`: the scope's own schedule; `effective`: a project's, with its source.
    pub fn new(
        is_project: bool,
        own: Option<&SummarySchedule>,
        effective: Option<(Option<&SummarySchedule>, Source)>,
        preview: Option<&SummaryPreview>,
    ) -> Self {
        let chosen = own.map(|SummarySchedule::Weekly(w)| w.day.as_str());
        let mut days = vec![DayOption {
            value: "",
            label: if is_project { "Inherit" } else { "Off" },
            selected: chosen.is_none(),
        }];
        days.extend(DAYS.iter().map(|(value, label)| DayOption {
            value,
            label,
            selected: chosen == Some(*value),
        }));
        let (time, timezone) = match own {
            Some(SummarySchedule::Weekly(w)) => (w.time.to_string(), w.timezone.to_string()),
            None => ("09:00".to_owned(), "UTC".to_owned()),
        };
        Self {
            days,
            time,
            timezone,
            effective: effective.map(|(s, _)| s.map_or_else(|| "Off".to_owned(), describe)),
            source: effective.map(|(_, src)| source_label(src).to_owned()),
            preview: preview.map(preview_box),
        }
    }
}

/// Slack's escaped text back to what people typed (the page escapes it for HTML).
fn plain(v: &Value) -> String {
    text::unescape(v.as_str().unwrap_or_default())
}

fn preview_box(p: &SummaryPreview) -> PreviewBox {
    let lines = p.attachments[0]["blocks"][0]["elements"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|section| {
            let elements = section["elements"].as_array().cloned().unwrap_or_default();
            let (label, rest) = match elements.split_first() {
                Some((first, rest)) => (plain(&first["text"]), rest.to_vec()),
                None => (String::new(), Vec::new()),
            };
            PreviewLine {
                label,
                parts: rest
                    .iter()
                    .map(|e| PreviewPart {
                        text: plain(&e["text"]),
                        url: e["url"].as_str().map(str::to_owned),
                    })
                    .collect(),
            }
        })
        .collect();
    PreviewBox {
        title: text::unescape(&p.text),
        from: p.period.from.format("%Y-%m-%d %H:%M UTC").to_string(),
        to: p.period.to.format("%Y-%m-%d %H:%M UTC").to_string(),
        lines,
    }
}
