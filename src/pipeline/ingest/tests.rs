//! Unit tests of the ingest transactions.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use diesel::connection::{Connection, InstrumentationEvent};

use super::*;
use crate::db::models::organization::Organization;
use crate::db::{run_migrations, DatabaseUrl};
use crate::domain::channel::TargetChannel;
use crate::domain::ids::LoadTestId;
use crate::domain::settings::{resolve, Integration, IntegrationStatus, OrgSettings};
use crate::pipeline::events::LoadTestEventBody;

fn effective() -> Effective {
    effective_in("C0001", false)
}

/// Messages on, with the active integration "inst-1" of workspace "T0001", into channel
/// `channel`, with or without `threads`.
pub(crate) fn effective_in(channel: &str, threads: bool) -> Effective {
    let org = OrgSettings {
        send_messages: true,
        threads,
        compact_messages: false,
        target_channels: vec![TargetChannel {
            id: Some(channel.into()),
            name: Some("load-tests".into()),
        }],
        ..OrgSettings::default()
    };
    let integration = Integration {
        installation_id: "inst-1".into(),
        team_id: "T0001".into(),
        team_name: "Acme".into(),
        installed_at: Utc::now(),
        status: IntegrationStatus::Active,
        status_reason: None,
        failing_since: None,
        can_upload_files: true,
    };
    resolve(&org, Some(&integration), None, None)
}

/// Event `kind` of load test `lt` ("Checkout") of project "shop" of organization "acme".
pub(crate) fn event(lt: &str, kind: &str) -> LoadTestEvent {
    let body: LoadTestEventBody = serde_json::from_value(serde_json::json!({
        "event_id": format!("{lt}-{kind}"), "org": "acme", "project": "shop", "type": kind,
        "load_test": {"name": "Checkout", "url": "https://xtc.example/lt/1"},
    }))
    .unwrap();
    body.validate(LoadTestId::parse(lt).unwrap(), Utc::now())
        .unwrap()
}

/// The SQL of a started query, without diesel's "-- binds" suffix.
fn sql_of(event: &InstrumentationEvent<'_>) -> Option<String> {
    match event {
        InstrumentationEvent::StartQuery { query, .. } => {
            let text = query.to_string();
            let sql = text.split(" -- binds").next().unwrap_or_default().trim();
            let statement = ["SELECT", "INSERT", "UPDATE", "DELETE", "WITH"]
                .iter()
                .any(|k| sql.starts_with(k));
            statement.then(|| sql.to_owned())
        }
        _ => None,
    }
}

/// Every statement of the ingest transaction is prepared once per connection and then
/// reused: after a warm-up, no statement runs that is not in the statement cache (an
/// uncached statement would be prepared again on every event).
#[test]
fn ingest_statements_are_prepared_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = DatabaseUrl::Sqlite(dir.path().join("ingest.db"));
    let mut conn = url.connect().unwrap();
    run_migrations(&mut conn).unwrap();
    Organization::save(&mut conn, "acme", "Acme").unwrap();
    Project::save(&mut conn, "acme", "shop", "Shop").unwrap();

    let cached: Arc<Mutex<HashSet<String>>> = Arc::default();
    let started: Arc<Mutex<Vec<String>>> = Arc::default();
    let (c, s) = (cached.clone(), started.clone());
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::CacheQuery { sql, .. } = &event {
            c.lock().unwrap().insert(sql.trim().to_owned());
        }
        if let Some(sql) = sql_of(&event) {
            s.lock().unwrap().push(sql);
        }
    });
    let resolved = Resolved {
        effective: effective(),
        project_registered: true,
    };
    let mut ingest = |lt: &str, kind: &str| {
        let outcome = load_test_event(&mut conn, &event(lt, kind), &resolved, Utc::now());
        assert!(
            matches!(outcome, Ok(IngestOutcome::Accepted { .. })),
            "{outcome:?}"
        );
    };
    // Warm-up: the first event of a load test inserts it, the second updates it.
    ingest("lt-warm", "started");
    ingest("lt-warm", "running");
    started.lock().unwrap().clear();
    for n in 0..3 {
        let lt = format!("lt-{n}");
        ingest(&lt, "started");
        ingest(&lt, "running");
    }
    let cached = cached.lock().unwrap();
    let started = started.lock().unwrap();
    // Four statements per event: read the load test, insert the event row (a repeat
    // stops there), insert or update the load test, insert the outbox row.
    assert_eq!(started.len(), 6 * 4, "{started:#?}");
    let uncached: Vec<_> = started.iter().filter(|s| !cached.contains(*s)).collect();
    assert!(
        uncached.is_empty(),
        "prepared on every use: {uncached:#?}\ncached: {cached:#?}"
    );
}

/// A fresh migrated database with org "acme" and project "shop": SQLite, and
/// PostgreSQL too when `XTC_SLACK_TEST_POSTGRES_URL` is set (dropped with the guard).
struct Fresh {
    conn: DbConnection,
    db: crate::db::scratch::Scratch,
}

fn fresh_databases() -> Vec<Fresh> {
    crate::db::scratch::migrated()
        .into_iter()
        .map(|db| {
            let mut conn = db.url.connect().unwrap();
            Organization::save(&mut conn, "acme", "Acme").unwrap();
            Project::save(&mut conn, "acme", "shop", "Shop").unwrap();
            Fresh { conn, db }
        })
        .collect()
}

fn job(lt: &str, kind: &str) -> LoadTestJob {
    LoadTestJob {
        ev: event(lt, kind),
        resolved: Resolved {
            effective: effective(),
            project_registered: true,
        },
        outcome: None,
    }
}

/// Runs jobs as one batch in one transaction; `None` when the batch asked for a replay.
fn run_batch(conn: &mut DbConnection, jobs: &mut [LoadTestJob]) -> Option<Vec<String>> {
    let mut refs: Vec<&mut LoadTestJob> = jobs.iter_mut().collect();
    let ok = crate::db::write_tx(conn, |c| {
        if load_test_batch(c, &mut refs, Utc::now()) {
            Ok(())
        } else {
            Err(diesel::result::Error::RollbackTransaction)
        }
    });
    ok.ok()?;
    Some(
        jobs.iter()
            .map(|j| describe(j.outcome.as_ref().unwrap()))
            .collect(),
    )
}

fn describe(outcome: &Result<IngestOutcome, IngestError>) -> String {
    match outcome {
        Ok(IngestOutcome::Accepted {
            state, channels, ..
        }) => format!("accepted {state} {channels:?}"),
        Ok(IngestOutcome::Duplicate { state }) => format!("duplicate {state}"),
        Ok(IngestOutcome::Stale { state }) => format!("stale {state}"),
        Err(e) => format!("refused: {e}"),
    }
}

/// What the database holds about load tests, events and outbox rows.
fn stored(conn: &mut DbConnection) -> (Vec<String>, Vec<String>, Vec<String>) {
    use crate::db::schema::{deliveries, events, load_tests};
    use diesel::prelude::*;
    let tests = load_tests::table
        .select((
            load_tests::id,
            load_tests::state,
            load_tests::version,
            load_tests::name,
        ))
        .order(load_tests::id)
        .load::<(String, LoadTestState, i64, String)>(conn)
        .unwrap()
        .into_iter()
        .map(|(id, state, v, name)| format!("{id} {} v{v} {name}", state.as_str()))
        .collect();
    let evs = events::table
        .select((events::event_id, events::resulting_state))
        .order(events::event_id)
        .load::<(String, String)>(conn)
        .unwrap()
        .into_iter()
        .map(|(id, state)| format!("{id} {state}"))
        .collect();
    let outbox = deliveries::table
        .select((
            deliveries::event_id,
            deliveries::channel,
            deliveries::status,
        ))
        .order(deliveries::event_id)
        .load::<(String, String, String)>(conn)
        .unwrap()
        .into_iter()
        .map(|(id, ch, st)| format!("{id} {ch} {st}"))
        .collect();
    (tests, evs, outbox)
}

/// A batch answers every event as one event at a time would, and stores the same:
/// new and known load tests, a reused event id, an invalid transition and a repeat.
#[test]
fn a_batch_does_what_one_event_at_a_time_does() {
    let first = ["a:started", "b:started"];
    let second = ["a:running", "b:started", "c:finished", "d:started"];
    let third = ["a:started", "d:running"];
    for mut db in fresh_databases() {
        let mut alone = fresh_databases().remove(0);
        let mut expected = Vec::new();
        for round in [&first[..], &second[..], &third[..]] {
            let mut jobs: Vec<LoadTestJob> = round
                .iter()
                .map(|s| {
                    let (lt, kind) = s.split_once(':').unwrap();
                    job(&format!("lt-{lt}"), kind)
                })
                .collect();
            // The repeat of b's start comes with another body: the id is reused.
            if round == second {
                jobs[1].ev.fingerprint = "another body".into();
            }
            for j in &jobs {
                let outcome = crate::db::write_tx(&mut alone.conn, |c| {
                    Ok::<_, diesel::result::Error>(load_test_event(
                        c,
                        &j.ev,
                        &j.resolved,
                        Utc::now(),
                    ))
                })
                .unwrap();
                expected.push(describe(&outcome));
            }
            let got = run_batch(&mut db.conn, &mut jobs).expect("no replay");
            assert_eq!(got[..], expected[expected.len() - got.len()..]);
        }
        assert_eq!(stored(&mut db.conn), stored(&mut alone.conn));
        assert_eq!(
            expected,
            [
                "accepted started [(\"T0001\", \"C0001\")]",
                "accepted started [(\"T0001\", \"C0001\")]",
                "accepted running [(\"T0001\", \"C0001\")]",
                "refused: event_id \"lt-b-started\" was already used for another event of this subject",
                "refused: a load test in state new cannot take a finished event",
                "accepted started [(\"T0001\", \"C0001\")]",
                "duplicate started",
                "accepted running [(\"T0001\", \"C0001\")]",
            ]
        );
    }
}

/// Two events of one load test in a batch, or a load test changed by another instance
/// since it was read, make the batch ask for a replay one event at a time.
#[test]
fn a_batch_that_could_lose_an_update_is_replayed() {
    for mut db in fresh_databases() {
        let mut twice = [job("lt-x", "started"), job("lt-x", "running")];
        assert_eq!(run_batch(&mut db.conn, &mut twice), None);
        let mut one = [job("lt-x", "started")];
        assert!(run_batch(&mut db.conn, &mut one).is_some());
        // Another instance saved version 2 meanwhile: saving version 2 again loses.
        let row = LoadTestRow::find_by_id(&mut db.conn, "lt-x")
            .unwrap()
            .unwrap();
        let theirs = LoadTestRow {
            version: 2,
            ..row.clone()
        };
        assert_eq!(
            LoadTestRow::save_many(&mut db.conn, &[&theirs]).unwrap(),
            ["lt-x"]
        );
        assert!(LoadTestRow::save_many(&mut db.conn, &[&theirs])
            .unwrap()
            .is_empty());
        // And a first insert of a load test that exists loses too.
        assert!(LoadTestRow::save_many(&mut db.conn, &[&row])
            .unwrap()
            .is_empty());
        assert_eq!(stored(&mut db.conn).0, ["lt-x started v2 Checkout"]);
    }
}

/// On PostgreSQL, where every statement is a round trip, a batch costs four statements
/// however many events it holds.
#[test]
fn a_batch_costs_the_same_statements_whatever_its_size() {
    for mut db in fresh_databases()
        .into_iter()
        .filter(|db| db.db.backend() == "postgres")
    {
        let started: Arc<Mutex<Vec<String>>> = Arc::default();
        let s = started.clone();
        db.conn
            .set_instrumentation(move |event: InstrumentationEvent<'_>| {
                if let Some(sql) = sql_of(&event) {
                    s.lock().unwrap().push(sql);
                }
            });
        for n in [1, 40] {
            started.lock().unwrap().clear();
            let mut jobs: Vec<LoadTestJob> = (0..n)
                .map(|i| job(&format!("lt-{n}-{i}"), "started"))
                .collect();
            let outcomes = run_batch(&mut db.conn, &mut jobs).unwrap();
            assert!(outcomes.iter().all(|o| o.starts_with("accepted")));
            assert_eq!(started.lock().unwrap().len(), 4, "{n} events");
        }
    }
}

/// A load test keeps its first and latest event time and when it ended, and a weekly
/// summary of a period that ended before the run did counts it as running.
#[test]
fn a_run_that_ended_after_a_summary_period_was_running_in_it() {
    use crate::domain::summary::{Period, RunCounts};
    use crate::pipeline::summary::{gather, SummaryScope};
    for mut db in fresh_databases() {
        use chrono::SubsecRound;
        let mut started = [job("lt-s", "started")];
        // Whole seconds: PostgreSQL keeps microseconds.
        let t0 = started[0].ev.occurred_at.trunc_subsecs(0);
        started[0].ev.occurred_at = t0;
        run_batch(&mut db.conn, &mut started).unwrap();
        let mut running = [job("lt-s", "running")];
        running[0].ev.occurred_at = t0 + chrono::Duration::minutes(1);
        run_batch(&mut db.conn, &mut running).unwrap();
        let mut finished = [job("lt-s", "finished")];
        finished[0].ev.occurred_at = t0 + chrono::Duration::minutes(30);
        run_batch(&mut db.conn, &mut finished).unwrap();
        let row = LoadTestRow::find_by_id(&mut db.conn, "lt-s")
            .unwrap()
            .unwrap();
        let t1 = t0 + chrono::Duration::minutes(30);
        assert_eq!(
            (row.first_event_at, row.last_event_at, row.ended_at),
            (
                Some(t0.naive_utc()),
                Some(t1.naive_utc()),
                Some(t1.naive_utc())
            )
        );
        let scope = SummaryScope {
            org: "acme".into(),
            project: Some("shop".into()),
        };
        let runs = |conn: &mut DbConnection, to| {
            let from = t0 - chrono::Duration::days(7);
            gather(conn, &scope, Period { from, to }).unwrap().runs
        };
        let running = RunCounts {
            running: 1,
            ..RunCounts::default()
        };
        let passed = RunCounts {
            passed: 1,
            ..RunCounts::default()
        };
        assert_eq!(
            runs(&mut db.conn, t0 + chrono::Duration::minutes(10)),
            running
        );
        assert_eq!(
            runs(&mut db.conn, t1 + chrono::Duration::seconds(1)),
            passed
        );
        // Before its first event, it is not in the period at all.
        assert_eq!(runs(&mut db.conn, t0), RunCounts::default());
    }
}
