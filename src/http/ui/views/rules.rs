//! The "Notification rules" section: one editable row per rule (and an empty one to add
//! a rule), and a project's inherited rules read-only.

use serde::Serialize;

use crate::domain::rules::EventKind;
use crate::services::slack_config::RuleView;

/// One event checkbox of a rule row.
#[derive(Serialize)]
pub(super) struct KindBox {
    pub(super) value: &'static str,
    pub(super) label: &'static str,
    pub(super) checked: bool,
}

/// One editable rule (or the empty row that adds one).
#[derive(Serialize)]
pub(super) struct RuleRow {
    pub(super) index: usize,
    pub(super) number: usize,
    pub(super) new: bool,
    pub(super) channel: String,
    pub(super) mention: String,
    pub(super) kinds: Vec<KindBox>,
}

/// A rule shown read-only (a project's inherited rules).
#[derive(Serialize)]
pub(super) struct RuleLine {
    pub(super) channel: String,
    pub(super) events: String,
    pub(super) mention: Option<String>,
}

/// The "Notification rules" section.
#[derive(Serialize)]
pub struct RulesBox {
    pub(super) rows: Vec<RuleRow>,
    /// A project without rules of its own: the organization's, which apply.
    pub(super) inherited: Vec<RuleLine>,
}

pub(super) fn rule_row(index: usize, rule: Option<&RuleView>) -> RuleRow {
    let has = |v: &str| rule.is_some_and(|r| r.events.iter().any(|e| e == v));
    let mut kinds = vec![
        KindBox {
            value: "all",
            label: "All",
            checked: has("all"),
        },
        KindBox {
            value: "failures",
            label: "Failures only",
            checked: has("failures"),
        },
        KindBox {
            value: "regressions",
            label: "Regressions against the baseline",
            checked: has("regressions"),
        },
    ];
    kinds.extend(EventKind::ALL.map(|k| KindBox {
        value: k.as_str(),
        label: k.label(),
        checked: has(k.as_str()),
    }));
    RuleRow {
        index,
        number: index + 1,
        new: rule.is_none(),
        channel: rule.map(|r| r.channel.clone()).unwrap_or_default(),
        mention: rule.and_then(|r| r.mention.clone()).unwrap_or_default(),
        kinds,
    }
}

impl RulesBox {
    pub(super) fn new(own: &[RuleView], inherited: &[RuleView]) -> Self {
        let mut rows: Vec<RuleRow> = own
            .iter()
            .enumerate()
            .map(|(i, r)| rule_row(i, Some(r)))
            .collect();
        rows.push(rule_row(own.len(), None));
        Self {
            rows,
            inherited: inherited
                .iter()
                .map(|r| RuleLine {
                    channel: r.channel.clone(),
                    events: r.events.join(", "),
                    mention: r.mention.clone(),
                })
                .collect(),
        }
    }
}
