//! Quiet times: what a scenario's incident does while a load test of its project runs
//! (`during_load_tests`), and which load test names it. API.md "During load tests".

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Setting `during_load_tests`: what happens to a scenario's incident that opens while a
/// load test of the same project is `started` or `running`.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    diesel::AsExpression,
    diesel::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
// Read from a string, so any other JSON value is a data error naming the field (422).
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum DuringLoadTests {
    /// Posted as any other incident.
    Notify,
    /// Posted, naming the load test (the documented default).
    #[default]
    Annotate,
    /// Not posted while the load test runs; settled when it ends.
    Hold,
}

impl DuringLoadTests {
    pub const ALL: [Self; 3] = [Self::Notify, Self::Annotate, Self::Hold];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Notify => "notify",
            Self::Annotate => "annotate",
            Self::Hold => "hold",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// What the settings form shows for it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Notify => "Notify as usual",
            Self::Annotate => "Notify, naming the load test",
            Self::Hold => "Hold until the load test ends",
        }
    }
}

/// A `during_load_tests` value other than the three.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be notify, annotate or hold")]
pub struct DuringLoadTestsError;

impl TryFrom<String> for DuringLoadTests {
    type Error = DuringLoadTestsError;

    fn try_from(s: String) -> Result<Self, DuringLoadTestsError> {
        Self::parse(&s).ok_or(DuringLoadTestsError)
    }
}

/// A load test that is `started` or `running`, as an incident names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningLoadTest {
    pub id: String,
    pub name: String,
    pub url: Option<String>,
    pub started_by: Option<String>,
    /// When it started (its first event's time).
    pub since: DateTime<Utc>,
}

/// What an incident's messages say about the quiet time it opened in. Stored with the
/// event (as `{"type": "during_load_test", ...}`), so the serialised form is part of the
/// database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum QuietNote {
    /// `annotate`: the incident opened while this load test was started or running.
    DuringLoadTest { load_test: RunningLoadTest },
}

/// Which of the project's running load tests an incident names: the earliest started
/// (then the smallest id, so every instance picks the same one).
pub fn naming_load_test(mut running: Vec<RunningLoadTest>) -> Option<RunningLoadTest> {
    running.sort_by(|a, b| a.since.cmp(&b.since).then_with(|| a.id.cmp(&b.id)));
    running.into_iter().next()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn during_load_tests_reads_and_writes_its_three_values_and_defaults_to_annotate() {
        for v in DuringLoadTests::ALL {
            assert_eq!(DuringLoadTests::parse(v.as_str()), Some(v));
            let json = serde_json::to_string(&v).unwrap();
            assert_eq!(json, format!("\"{}\"", v.as_str()));
            assert_eq!(serde_json::from_str::<DuringLoadTests>(&json).unwrap(), v);
        }
        assert_eq!(DuringLoadTests::default(), DuringLoadTests::Annotate);
        for bad in ["\"mute\"", "\"HOLD\"", "true", "1", "\"\""] {
            assert!(
                serde_json::from_str::<DuringLoadTests>(bad).is_err(),
                "{bad}"
            );
        }
        assert_eq!(DuringLoadTests::parse("Hold"), None);
    }

    #[test]
    fn the_earliest_started_load_test_names_the_incident() {
        let at = |m: u32| {
            chrono::NaiveDate::from_ymd_opt(2026, 11, 26)
                .unwrap()
                .and_hms_opt(14, m, 0)
                .unwrap()
                .and_utc()
        };
        let lt = |id: &str, m| RunningLoadTest {
            id: id.to_owned(),
            name: id.to_owned(),
            url: None,
            started_by: None,
            since: at(m),
        };
        assert_eq!(naming_load_test(vec![]), None);
        let picked = naming_load_test(vec![lt("b", 5), lt("a", 9), lt("c", 2)]).unwrap();
        assert_eq!(picked.id, "c");
        let tie = naming_load_test(vec![lt("z", 2), lt("y", 2)]).unwrap();
        assert_eq!(tie.id, "y");
    }
}
