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
    /// `hold`: the incident opened while this load test ran and was held until it ended
    /// (its messages say it started during the test).
    HeldDuringLoadTest { load_test: RunningLoadTest },
}

/// Which of the project's running load tests an incident names: the earliest started
/// (then the smallest id, so every instance picks the same one).
pub fn naming_load_test(mut running: Vec<RunningLoadTest>) -> Option<RunningLoadTest> {
    running.sort_by(|a, b| a.since.cmp(&b.since).then_with(|| a.id.cmp(&b.id)));
    running.into_iter().next()
}

/// The safety net of a hold: a load test that never ends (its events stopped, or it is
/// gone) holds an incident at most this long; then the hold is settled as if it had ended.
pub const HOLD_LIMIT: chrono::Duration = chrono::Duration::hours(6);

/// Where the load test a hold waits for stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeldFor {
    /// Started or running.
    Running,
    /// Finished, error or aborted, at this time (its last change).
    Ended(DateTime<Utc>),
    /// Its row is gone (retention): it ended, when is unknown.
    Gone,
}

/// What to do with a hold now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settle {
    /// Keep holding.
    Wait,
    /// The incident recovered: skip its held messages, one line instead.
    Recovered,
    /// Still failing a grace period after the test ended: post the incident.
    Release,
}

/// The hold rule (API.md "During load tests", hold): nothing while the load test runs
/// (at most [`HOLD_LIMIT`] after `held_since`); once it ended, a recovered incident is
/// settled at once, one still failing when `grace` has passed since the end.
pub fn settle_hold(
    held_since: DateTime<Utc>,
    load_test: HeldFor,
    recovered: bool,
    grace: chrono::Duration,
    now: DateTime<Utc>,
) -> Settle {
    let Some(release) = released_at(held_since, load_test, grace, now) else {
        return Settle::Wait;
    };
    if recovered {
        Settle::Recovered
    } else if now >= release {
        Settle::Release
    } else {
        Settle::Wait
    }
}

/// When a hold whose incident still fails is released ([`settle_hold`]): `grace` after its
/// load test ended (or after [`HOLD_LIMIT`]); `None` while the test runs within the limit.
pub fn released_at(
    held_since: DateTime<Utc>,
    load_test: HeldFor,
    grace: chrono::Duration,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let limit = held_since + HOLD_LIMIT;
    let ended = match load_test {
        HeldFor::Running if now < limit => return None,
        HeldFor::Running => limit,
        HeldFor::Ended(at) => at.min(limit),
        HeldFor::Gone => held_since.min(now),
    };
    Some(ended + grace)
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

    #[test]
    fn a_hold_waits_for_the_end_then_the_grace_and_never_longer_than_its_limit() {
        let t0 = chrono::DateTime::parse_from_rfc3339("2026-11-26T14:00:00Z")
            .unwrap()
            .to_utc();
        let m = chrono::Duration::minutes;
        let grace = m(5);
        let at = |mins| t0 + m(mins);
        use HeldFor::*;
        // Running: nothing, recovered or not.
        assert_eq!(settle_hold(t0, Running, false, grace, at(60)), Settle::Wait);
        assert_eq!(settle_hold(t0, Running, true, grace, at(60)), Settle::Wait);
        // Ended at 14:30: recovered at once; still failing only from 14:35.
        let ended = Ended(at(30));
        assert_eq!(
            settle_hold(t0, ended, true, grace, at(30)),
            Settle::Recovered
        );
        assert_eq!(settle_hold(t0, ended, false, grace, at(34)), Settle::Wait);
        assert_eq!(
            settle_hold(t0, ended, false, grace, at(35)),
            Settle::Release
        );
        // The process was down when it ended: as soon as it is back.
        assert_eq!(
            settle_hold(t0, ended, false, grace, at(600)),
            Settle::Release
        );
        // A test that never ends holds for HOLD_LIMIT, then the grace.
        let limit = HOLD_LIMIT.num_minutes();
        assert_eq!(
            settle_hold(t0, Running, false, grace, at(limit + 4)),
            Settle::Wait
        );
        assert_eq!(
            settle_hold(t0, Running, false, grace, at(limit + 5)),
            Settle::Release
        );
        assert_eq!(
            settle_hold(t0, Running, true, grace, at(limit)),
            Settle::Recovered
        );
        // Gone: settled by the grace from when it was held.
        assert_eq!(settle_hold(t0, Gone, false, grace, at(5)), Settle::Release);
        assert_eq!(settle_hold(t0, Gone, true, grace, at(1)), Settle::Recovered);
    }
}
