//! `GET /metrics`: the app's Prometheus metrics in the text format. Gauges that mirror the
//! database (deliveries by status, queue depth), the live actor counts and the count of
//! unreadable stored values are refreshed on each scrape; counters move where things happen.

use actix_web::{get, web, HttpResponse};

use crate::services::delivery_counts::{self, DeliveryCounts};
use crate::state::AppState;

#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let m = &state.metrics;
    match delivery_counts::count(&state.services).await {
        Ok(DeliveryCounts {
            by_status,
            pending,
            failing_installations,
        }) => {
            m.slack_failing.set(failing_installations);
            for status in ["pending", "sent", "failed", "skipped"] {
                let n = by_status
                    .iter()
                    .find(|(s, _)| s == status)
                    .map_or(0, |(_, n)| *n);
                m.deliveries.with_label_values(&[status]).set(n);
            }
            m.queue_depth.set(pending);
        }
        // The process-side figures are still worth a scrape.
        Err(e) => tracing::warn!(error = %e, "metrics: the database does not answer"),
    }
    m.set_unreadable(delivery_counts::unreadable_values());
    let pipeline = &state.actors;
    let live = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    m.live_actors
        .with_label_values(&["load_test"])
        .set(live(pipeline.load_tests.len()));
    m.live_actors
        .with_label_values(&["scenario"])
        .set(live(pipeline.scenarios.len()));
    match m.render() {
        Ok(text) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .body(text),
        Err(e) => {
            tracing::error!(error = %e, "could not render metrics");
            HttpResponse::InternalServerError().finish()
        }
    }
}
