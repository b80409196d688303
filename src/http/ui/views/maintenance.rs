//! The "Maintenance windows" section of both settings pages: the scope's windows (each
//! with its Delete form) and the form that creates one. Presentation only: which instants
//! a window covers is `domain::maintenance`'s, whether it is active now the service's.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::maintenance::DAYS;
use crate::services::slack_config::{Scope, WindowView};

/// Zones offered by the form (any IANA name may be typed for a weekly window).
pub const COMMON_ZONES: [&str; 12] = [
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Helsinki",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
];

const DAY_LABELS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// One window in the list.
#[derive(Serialize)]
pub struct WindowLine {
    id: i64,
    /// "One-off" or "Weekly".
    kind: &'static str,
    /// "2026-12-24 22:00 – 2026-12-25 02:00 UTC" or "Mon, Fri 22:00–02:00 (Europe/Berlin)".
    when: String,
    /// "all scenarios" or the ids, as typed.
    scenarios: String,
    reason: String,
    created_by: String,
    /// "until 2026-12-24 23:00 UTC" while an occurrence goes on.
    active_until: Option<String>,
    delete_url: String,
}

/// A day checkbox of the weekly form.
#[derive(Serialize)]
pub struct DayBox {
    value: &'static str,
    label: &'static str,
}

/// The section: the list and what the create form offers.
#[derive(Serialize, Default)]
pub struct WindowsBox {
    lines: Vec<WindowLine>,
    days: Vec<DayBox>,
    zones: Vec<&'static str>,
    create_url: String,
}

fn minute(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn when(w: &WindowView) -> String {
    if let Some(weekly) = &w.weekly {
        let days: Vec<&str> = weekly
            .days
            .iter()
            .filter_map(|d| DAYS.iter().position(|(n, _)| n == d).map(|i| DAY_LABELS[i]))
            .collect();
        let next_day = if weekly.to <= weekly.from {
            " (ends the next day)"
        } else {
            ""
        };
        return format!(
            "every {} {}–{}{next_day}, {}",
            days.join(", "),
            weekly.from,
            weekly.to,
            weekly.timezone
        );
    }
    match (w.starts_at, w.ends_at) {
        (Some(s), Some(e)) => format!("{} – {}", minute(s), minute(e)),
        _ => String::new(),
    }
}

impl WindowsBox {
    pub fn new(scope: &Scope, windows: &[WindowView]) -> Self {
        let base = format!("{}/maintenance-windows", scope.settings_page());
        Self {
            lines: windows
                .iter()
                .map(|w| WindowLine {
                    id: w.id,
                    kind: if w.weekly.is_some() {
                        "Weekly"
                    } else {
                        "One-off"
                    },
                    when: when(w),
                    scenarios: w
                        .scenarios
                        .as_ref()
                        .map_or_else(|| "all scenarios".to_owned(), |s| s.join(" ")),
                    reason: w.reason.clone(),
                    created_by: w.created_by.clone(),
                    active_until: w.active_until.map(|t| format!("until {}", minute(t))),
                    delete_url: format!("{base}/{}/delete", w.id),
                })
                .collect(),
            days: DAYS
                .iter()
                .zip(DAY_LABELS)
                .map(|((value, _), label)| DayBox { value, label })
                .collect(),
            zones: COMMON_ZONES.to_vec(),
            create_url: base,
        }
    }
}
