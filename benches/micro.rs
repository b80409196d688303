//! Criterion micro-benchmarks of the two pure hot spots of every event, settings
//! resolution and message rendering, and of the report chart (one per reported run).
//! `cargo bench --bench micro`.
#![allow(clippy::expect_used)]

use std::hint::black_box;

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion};
use xtc_slack::chart::{render_png, sample::sample_run};
use xtc_slack::domain::channel::TargetChannel;
use xtc_slack::domain::lifecycle::{LoadTestEventType, LoadTestState};
use xtc_slack::domain::settings::{
    resolve, Integration, IntegrationStatus, OrgSettings, ProjectSettings,
};
use xtc_slack::pipeline::events::{LoadTestPayload, Payload, ReportInfo, ReportSummary};
use xtc_slack::pipeline::render::{Card, MessageNames, Renderer};

fn resolution(c: &mut Criterion) {
    let org = OrgSettings {
        send_messages: true,
        threads: true,
        compact_messages: false,
        target_channels: vec![TargetChannel {
            id: Some("C0123ABCD".into()),
            name: Some("load-tests".into()),
        }],
        ..OrgSettings::default()
    };
    let project = ProjectSettings {
        send_messages: true,
        threads: None,
        compact_messages: Some(true),
        ..ProjectSettings::default()
    };
    let integration = Integration {
        installation_id: "inst_1".into(),
        team_id: "T0FAKE0001".into(),
        team_name: "XTC-Test-Workspace".into(),
        installed_at: Utc::now(),
        status: IntegrationStatus::Active,
        status_reason: None,
        failing_since: None,
        can_upload_files: true,
    };
    c.bench_function("resolve effective settings", |b| {
        b.iter(|| {
            let e = resolve(
                black_box(&org),
                Some(&integration),
                Some(black_box(&project)),
                None,
            );
            black_box(e.skip_reason())
        })
    });
}

fn rendering(c: &mut Criterion) {
    // Start-up's share: every template compiled (with its partials written in).
    c.bench_function("load templates", |b| b.iter(|| Renderer::new(None)));
    let renderer = Renderer::new(None).expect("templates");
    let names = MessageNames {
        org_id: "acme".into(),
        org_name: "Acme Corp".into(),
        project_id: "webshop".into(),
        project_name: "Webshop <!channel> & co".into(),
    };
    let payload = Payload::LoadTest(LoadTestPayload {
        load_test_id: "lt-123".into(),
        name: "Checkout peak 2000 users".into(),
        url: Some("https://xtc.example/lt/123".into()),
        started_by: Some("jane".into()),
        event_type: LoadTestEventType::ReportAvailable,
        state: LoadTestState::Reported,
        occurred_at: Utc::now(),
        error: None,
        report: Some(ReportInfo {
            url: "https://xtc.example/reports/9".into(),
            kind: Some("final".into()),
            summary: Some(ReportSummary {
                throughput: Some(1234.5),
                errors: Some(12.0),
                p95_ms: Some(810.0),
                ..Default::default()
            }),
            series: None,
        }),
        aborted_by: None,
        definition: None,
        comparison: None,
    });
    c.bench_function("render full message", |b| {
        b.iter(|| renderer.render_event(black_box(&payload), &names, false))
    });
    c.bench_function("render compact message", |b| {
        b.iter(|| renderer.render_event(black_box(&payload), &names, true))
    });
    let card = Card::new(&payload);
    c.bench_function("render run card", |b| {
        b.iter(|| renderer.render_card(black_box(&card), &names, false, None))
    });
}

/// The report chart with the API's largest series: 2,000 points each.
fn chart(c: &mut Criterion) {
    let run = sample_run(2_000);
    let input = run.input();
    let mut group = c.benchmark_group("chart");
    // A chart takes tens of milliseconds: fewer samples keep the group to a few seconds.
    group.sample_size(20);
    group.bench_function("render PNG, 2000 points", |b| {
        b.iter(|| render_png(black_box(&input)).expect("a chart"))
    });
    group.finish();
}

criterion_group!(benches, resolution, rendering, chart);
criterion_main!(benches);
