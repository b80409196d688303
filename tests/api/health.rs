use crate::helpers::*;
use crate::test_both_backends;

test_both_backends! {
    async fn healthz_and_readyz_answer_200(app: TestApp) {
        let (status, body) = app.call(reqwest::Method::GET, "/healthz", None, None).await;
        assert_eq!(status, 200);
        assert_eq!(body["status"], "ok");
        let (status, _) = app.call(reqwest::Method::GET, "/readyz", None, None).await;
        assert_eq!(status, 200);
    }
}

#[actix_web::test]
async fn readyz_answers_503_when_the_database_does_not_answer() {
    // Killing every connection of a PostgreSQL database is a real outage we can cause.
    let Some(app) = try_spawn_app(Backend::Postgres).await else {
        eprintln!("skipped: XTC_SLACK_TEST_POSTGRES_URL is not set");
        return;
    };
    let (status, _) = app.call(reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!(status, 200);
    app.db.drop_now();
    let (status, body) = app.call(reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"], "unavailable");
    let (status, _) = app.call(reqwest::Method::GET, "/healthz", None, None).await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn unknown_paths_get_a_json_404() {
    let app = spawn_app().await;
    let (status, body) = app
        .call(reqwest::Method::GET, "/api/v1/nothing-here", None, None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "not_found");
}

/// SQLite counts no memory: with its memory statistics on (its default) every allocation of
/// every connection takes one process-wide mutex (`db::backend`). Each test's server runs
/// in this process, so once one has opened SQLite, the count must have stayed at zero.
#[actix_web::test]
async fn sqlite_keeps_no_memory_statistics() {
    let app = spawn_app().await;
    let (status, _) = app.call(reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!(status, 200);
    // SAFETY: reads a counter; no preconditions.
    let used = unsafe { libsqlite3_sys::sqlite3_memory_used() };
    assert_eq!(used, 0, "SQLite counted {used} bytes in use");
}
