//! The lifecycle of a delivery row: a transition applies only to a row in the status it
//! expects, so an attempt's late outcome never overwrites what another path settled
//! meanwhile (an installation that broke failed its pending deliveries), and says so; only
//! a message Slack took is recorded as sent whatever happened meanwhile.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use xtc_slack::db::models::delivery::{Delivery, DeliveryStatus};
use xtc_slack::db::schema::deliveries;
use xtc_slack::db::DbConnection;
use xtc_slack::domain::delivery_reason::DeliveryReason;

use crate::helpers::*;

fn with_two_pending(backend: Backend) -> Option<TestDb> {
    let db = TestDb::create(backend)?;
    let mut conn = db.connect();
    xtc_slack::db::run_migrations(&mut conn).unwrap();
    let at = "'2026-01-01 00:00:00'";
    let mut sql = format!(
        "INSERT INTO organizations (id, name, created_at, updated_at) \
         VALUES ('acme', 'Acme', {at}, {at}); \
         INSERT INTO projects (org_id, id, name, created_at, updated_at) \
         VALUES ('acme', 'webshop', 'Webshop', {at}, {at});"
    );
    for (event, installation) in [("e1", "broken"), ("e2", "fine")] {
        sql.push_str(&format!(
            "INSERT INTO events (event_id, subject_kind, subject_id, org_id, project_id, \
             event_type, occurred_at, payload, resulting_state, received_at) VALUES \
             ('{event}', 'load_test', 'lt', 'acme', 'webshop', 'started', {at}, '{{}}', \
             'running', {at}); \
             INSERT INTO deliveries (event_id, org_id, project_id, subject_key, event_type, \
             channel, installation_id, threads, compact, status, attempts, next_attempt_at, \
             created_at) VALUES ('{event}', 'acme', 'webshop', 'lt:lt', 'started', '#perf', \
             '{installation}', TRUE, FALSE, 'pending', 1, {at}, {at});"
        ));
    }
    conn.batch_execute(&sql).unwrap();
    Some(db)
}

/// The row's stored reason, as its code and parameters.
fn stored_reason(c: &mut DbConnection, event: &str) -> Option<DeliveryReason> {
    let rows = Delivery::list_by_event(c, event).unwrap();
    rows[0]
        .reason
        .as_deref()
        .map(|r| DeliveryReason::from_stored(r).unwrap())
}

fn row(c: &mut DbConnection, event: &str) -> (i64, DeliveryStatus, Option<String>) {
    deliveries::table
        .filter(deliveries::event_id.eq(event))
        .select((deliveries::id, deliveries::status, deliveries::error))
        .first(c)
        .unwrap()
}

fn a_late_outcome_leaves_a_settled_delivery_as_it_is(db: TestDb) {
    let mut conn = db.connect();
    let c = &mut conn;
    let broken = DeliveryReason::IntegrationBroken {
        code: "token_revoked".into(),
    };
    assert_eq!(
        Delivery::fail_pending_for_installation(c, "broken", &broken).unwrap(),
        1
    );
    let (id, ..) = row(c, "e1");
    // The reason is stored as its code and parameters, and the log reads it from there
    // (not from the text, which a hand edit here makes unreadable).
    assert_eq!(stored_reason(c, "e1"), Some(broken.clone()));
    diesel::update(deliveries::table.find(id))
        .set(deliveries::error.eq("something else"))
        .execute(c)
        .unwrap();
    let listed = &Delivery::list_by_event(c, "e1").unwrap()[0];
    assert_eq!(listed.why(), Some(broken.clone()));
    diesel::update(deliveries::table.find(id))
        .set(deliveries::error.eq(broken.to_string()))
        .execute(c)
        .unwrap();
    let now = chrono::Utc::now().naive_utc();
    let retry = DeliveryReason::Slack("ratelimited".into());
    assert!(!Delivery::reschedule(c, id, now, &retry).unwrap());
    assert!(!Delivery::mark_failed(c, id, &retry).unwrap());
    assert_eq!(
        row(c, "e1"),
        (
            id,
            DeliveryStatus::Failed,
            Some("the Slack integration is broken: token_revoked".into())
        )
    );
    // A post that Slack took while the installation broke: the channel shows it, so the
    // log says sent; once sent, a second outcome changes nothing.
    assert!(Delivery::mark_sent(c, id, "1.2", now).unwrap());
    assert_eq!(row(c, "e1"), (id, DeliveryStatus::Sent, None));
    assert_eq!(stored_reason(c, "e1"), None);
    assert!(!Delivery::mark_sent(c, id, "1.4", now).unwrap());
    assert!(!Delivery::mark_failed(c, id, &retry).unwrap());
    assert_eq!(row(c, "e1"), (id, DeliveryStatus::Sent, None));
    // The other one is still pending: its transitions apply.
    let (other, ..) = row(c, "e2");
    assert!(Delivery::reschedule(c, other, now, &retry).unwrap());
    assert!(Delivery::mark_sent(c, other, "1.3", now).unwrap());
    assert_eq!(row(c, "e2"), (other, DeliveryStatus::Sent, None));
}

#[test]
fn a_late_outcome_leaves_a_settled_delivery_as_it_is_on_sqlite() {
    a_late_outcome_leaves_a_settled_delivery_as_it_is(with_two_pending(Backend::Sqlite).unwrap());
}

#[test]
fn a_late_outcome_leaves_a_settled_delivery_as_it_is_on_postgres() {
    match with_two_pending(Backend::Postgres) {
        Some(db) => a_late_outcome_leaves_a_settled_delivery_as_it_is(db),
        None => eprintln!("skipped: XTC_SLACK_TEST_POSTGRES_URL is not set"),
    }
}
