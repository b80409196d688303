//! Prometheus metrics. One [`Metrics`] per application (owned by the app state, never a
//! global), so every test app counts for itself. Counters move where things happen;
//! gauges that mirror the database (deliveries by status, queue depth) and the live actor
//! counts are set at scrape time by [`crate::http::metrics`].

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Buckets of the delivery latency histogram, in seconds (event accepted → sent).
const LATENCY_BUCKETS: [f64; 14] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
];

/// Buckets of the hot path's stages, in seconds (tens of microseconds to a second).
const PATH_BUCKETS: [f64; 16] = [
    0.000_025, 0.000_05, 0.000_1, 0.000_2, 0.000_3, 0.000_5, 0.000_75, 0.001, 0.001_5, 0.002,
    0.003, 0.005, 0.01, 0.025, 0.1, 1.0,
];

/// The metrics of one application. Cheap to clone (every metric is shared).
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// `xtc_slack_events_received_total{kind, outcome}`: load-test and monitoring events
    /// (`kind` = `load_test` | `monitoring`; `outcome` = `accepted` | `duplicate` | `rejected`).
    pub events_received: IntCounterVec,
    /// `xtc_slack_slack_events_received_total{type, outcome}`: Slack Events API requests
    /// (`outcome` = `handled` | `ignored` | `duplicate` | `stale` | `rejected` | `error`).
    pub slack_events: IntCounterVec,
    /// `xtc_slack_delivery_attempts_total{outcome}`: `sent` | `retry` | `failed`.
    pub delivery_attempts: IntCounterVec,
    /// `xtc_slack_deliveries{status}`: deliveries in the database by status (at scrape).
    pub deliveries: IntGaugeVec,
    /// `xtc_slack_queue_depth`: pending deliveries (at scrape).
    pub queue_depth: IntGauge,
    /// `xtc_slack_slack_failing_installations`: installations Slack is failing for right
    /// now (an outage: deliveries wait for a probe to get through; at scrape).
    pub slack_failing: IntGauge,
    /// `xtc_slack_slack_api_calls_total{method, outcome}`: `ok` or Slack's error code.
    pub slack_calls: IntCounterVec,
    /// `xtc_slack_delivery_latency_seconds`: from the event's acceptance to Slack's `ok`.
    pub delivery_latency: Histogram,
    /// `xtc_slack_event_path_seconds{stage}`: the hot path of an event handed to the sender
    /// in memory, stage by stage (`pipeline::path_trace`), and `stage="total"`.
    pub event_path: HistogramVec,
    /// `xtc_slack_live_actors{kind}`: lifecycle actors alive (at scrape).
    pub live_actors: IntGaugeVec,
    /// `xtc_slack_channel_checks_total{problem}`: channel health results
    /// (`ok` | `archived` | `deleted` | `private` | `not_found` | `error`).
    pub channel_checks: IntCounterVec,
    /// `xtc_slack_http_requests_total{status}`: HTTP answers by status class.
    pub http_requests: IntCounterVec,
    /// `xtc_slack_retention_pruned_total{table}`: rows deleted by retention, per table.
    pub retention_pruned: IntCounterVec,
    /// `xtc_slack_unreadable_stored_values_total`: stored values that could not be read
    /// back or written (an unknown state, JSON that does not parse); each is also logged.
    /// Counted process-wide (`db::unreadable`) and copied here at scrape.
    pub unreadable_values: IntCounter,
}

impl Metrics {
    /// Registers every metric in a registry of its own.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(c.clone()))?;
            Ok::<_, prometheus::Error>(c)
        };
        let events_received = counter(
            "xtc_slack_events_received_total",
            "Load-test and monitoring events received, by kind and outcome",
            &["kind", "outcome"],
        )?;
        let slack_events = counter(
            "xtc_slack_slack_events_received_total",
            "Slack Events API requests received, by event type and outcome",
            &["type", "outcome"],
        )?;
        let delivery_attempts = counter(
            "xtc_slack_delivery_attempts_total",
            "Delivery attempts by outcome (sent, retry, failed)",
            &["outcome"],
        )?;
        let slack_calls = counter(
            "xtc_slack_slack_api_calls_total",
            "Slack Web API calls by method and outcome (ok or Slack's error code)",
            &["method", "outcome"],
        )?;
        let channel_checks = counter(
            "xtc_slack_channel_checks_total",
            "Target channel health checks by result",
            &["problem"],
        )?;
        let http_requests = counter(
            "xtc_slack_http_requests_total",
            "HTTP requests answered, by status class",
            &["status"],
        )?;
        let retention_pruned = counter(
            "xtc_slack_retention_pruned_total",
            "Rows deleted by retention (history past its age), by table",
            &["table"],
        )?;
        let unreadable_values = IntCounter::new(
            "xtc_slack_unreadable_stored_values_total",
            "Stored values that could not be read back or written (each is logged)",
        )?;
        registry.register(Box::new(unreadable_values.clone()))?;
        let deliveries = IntGaugeVec::new(
            Opts::new("xtc_slack_deliveries", "Deliveries stored, by status"),
            &["status"],
        )?;
        registry.register(Box::new(deliveries.clone()))?;
        let queue_depth = IntGauge::new(
            "xtc_slack_queue_depth",
            "Deliveries waiting to be sent (pending)",
        )?;
        registry.register(Box::new(queue_depth.clone()))?;
        let slack_failing = IntGauge::new(
            "xtc_slack_slack_failing_installations",
            "Slack installations whose workspace Slack is failing for (5xx, timeouts) right now",
        )?;
        registry.register(Box::new(slack_failing.clone()))?;
        let delivery_latency = Histogram::with_opts(
            HistogramOpts::new(
                "xtc_slack_delivery_latency_seconds",
                "Time from an event's acceptance to its message being sent",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        )?;
        registry.register(Box::new(delivery_latency.clone()))?;
        let event_path = HistogramVec::new(
            HistogramOpts::new(
                "xtc_slack_event_path_seconds",
                "Hot path of an event whose delivery was handed to the sender at commit: \
                 time of each stage (since the step before it), and the total",
            )
            .buckets(PATH_BUCKETS.to_vec()),
            &["stage"],
        )?;
        registry.register(Box::new(event_path.clone()))?;
        let live_actors = IntGaugeVec::new(
            Opts::new("xtc_slack_live_actors", "Live actors by kind"),
            &["kind"],
        )?;
        registry.register(Box::new(live_actors.clone()))?;
        // Zero series, so dashboards see them before the first event.
        for status in ["pending", "sent", "failed", "skipped"] {
            deliveries.with_label_values(&[status]).set(0);
        }
        for outcome in ["sent", "retry", "failed"] {
            delivery_attempts.with_label_values(&[outcome]);
        }
        for kind in ["load_test", "monitoring"] {
            for outcome in ["accepted", "duplicate", "rejected"] {
                events_received.with_label_values(&[kind, outcome]);
            }
        }
        Ok(Self {
            registry,
            events_received,
            slack_events,
            delivery_attempts,
            deliveries,
            queue_depth,
            slack_failing,
            slack_calls,
            delivery_latency,
            event_path,
            live_actors,
            channel_checks,
            http_requests,
            retention_pruned,
            unreadable_values,
        })
    }

    /// Everything in the Prometheus text format.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }

    /// Brings `unreadable_values` up to the process-wide count `total`.
    pub fn set_unreadable(&self, total: u64) {
        self.unreadable_values
            .inc_by(total.saturating_sub(self.unreadable_values.get()));
    }

    /// One delivery attempt ended; `latency` is set for sent messages.
    pub fn delivery_attempt(&self, outcome: &str, latency: Option<std::time::Duration>) {
        self.delivery_attempts.with_label_values(&[outcome]).inc();
        if let Some(l) = latency {
            self.delivery_latency.observe(l.as_secs_f64());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn two_apps_count_separately_and_render_text() {
        let a = Metrics::new().unwrap();
        let b = Metrics::new().unwrap();
        a.slack_calls
            .with_label_values(&["chat.postMessage", "ok"])
            .inc();
        a.delivery_attempt("sent", Some(std::time::Duration::from_millis(30)));
        let text = a.render().unwrap();
        assert!(text.contains(
            "xtc_slack_slack_api_calls_total{method=\"chat.postMessage\",outcome=\"ok\"} 1"
        ));
        assert!(text.contains("xtc_slack_delivery_latency_seconds_count 1"));
        assert!(!b.render().unwrap().contains("chat.postMessage"));
    }
}
