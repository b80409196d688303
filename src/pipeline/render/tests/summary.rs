//! The weekly summary: golden snapshots of a busy week, a quiet one and an organization's,
//! and the limits with extreme input.
use super::*;
use crate::domain::summary::{
    MaintenanceWindow, P95Trend, Period, Regression, RunCounts, ScenarioFigures, SummaryFigures,
};
use crate::pipeline::events::WeeklySummaryPayload;

fn period() -> Period {
    Period {
        from: Utc
            .with_ymd_and_hms(2026, 11, 30, 8, 0, 0)
            .single()
            .unwrap(),
        to: Utc.with_ymd_and_hms(2026, 12, 7, 8, 0, 0).single().unwrap(),
    }
}

fn scenario(name: &str, availability: f64, incidents: usize) -> ScenarioFigures {
    ScenarioFigures {
        name: name.into(),
        url: Some("https://xtc.example/mon/77".into()),
        availability: Some(availability),
        incidents,
        longest_outage_secs: if incidents > 0 { 3_900 } else { 0 },
        mtta_secs: (incidents > 0).then_some(240),
        mttr_secs: (incidents > 0).then_some(2_100),
    }
}

fn busy(name: &str) -> SummaryFigures {
    SummaryFigures {
        period: period(),
        runs: RunCounts {
            passed: 9,
            failed: 2,
            aborted: 1,
            running: 0,
        },
        regressions: vec![
            Regression {
                name: "Search 500 users".into(),
                url: Some("https://xtc.example/reports/8".into()),
                worst: "P95 +12 %".into(),
                magnitude: 12.0,
            },
            Regression {
                name: name.into(),
                url: Some("https://xtc.example/reports/9".into()),
                worst: "P95 +23 %".into(),
                magnitude: 23.0,
            },
        ],
        trends: vec![
            P95Trend {
                definition: "checkout-peak".into(),
                runs: 4,
                first_ms: 212.0,
                last_ms: 260.0,
                change_pct: Some(22.6),
            },
            P95Trend {
                definition: "search".into(),
                runs: 1,
                first_ms: 120.0,
                last_ms: 120.0,
                change_pct: None,
            },
        ],
        scenarios: vec![scenario(name, 0.9874, 2), scenario("Login", 1.0, 0)],
        mutes: 1,
        maintenance: vec![],
    }
}

fn quiet() -> SummaryFigures {
    SummaryFigures {
        period: period(),
        runs: RunCounts::default(),
        regressions: vec![],
        trends: vec![],
        scenarios: vec![scenario("Login", 1.0, 0)],
        mutes: 0,
        maintenance: vec![],
    }
}

fn render(figures: SummaryFigures, names: &MessageNames) -> Value {
    let p = Payload::WeeklySummary(WeeklySummaryPayload {
        figures,
        timezone: "Europe/Berlin".into(),
    });
    Renderer::new(None)
        .unwrap()
        .render_event(&p, names, false)
        .unwrap()
        .to_json()
}

#[test]
fn a_busy_week_summary() {
    let out = render(busy("Checkout peak 2000 users"), &names("x"));
    assert_eq!(
        out["text"],
        "Weekly summary · Acme Corp / Webshop · Nov 30 – Dec 7"
    );
    let lines = out["attachments"][0]["blocks"][0]["elements"]
        .as_array()
        .unwrap()
        .len();
    assert!(lines <= 10, "{lines} lines");
    // The worst regression is the one linked.
    assert!(out.to_string().contains("https://xtc.example/reports/9"));
    assert_eq!(out["attachments"][0]["color"], color::RED);
    insta::assert_json_snapshot!("weekly_summary__busy", out);
}

#[test]
fn a_quiet_week_summary_is_one_line() {
    let out = render(quiet(), &names("x"));
    let lines = &out["attachments"][0]["blocks"][0]["elements"];
    assert_eq!(lines.as_array().unwrap().len(), 1);
    assert_eq!(out["attachments"][0]["color"], color::GREEN);
    insta::assert_json_snapshot!("weekly_summary__quiet", out);
}

#[test]
fn an_organizations_summary_names_the_organization_only() {
    let n = MessageNames {
        project_id: String::new(),
        project_name: String::new(),
        ..names("x")
    };
    let mut f = busy("Checkout peak 2000 users");
    f.mutes = 0;
    f.maintenance = vec![MaintenanceWindow {
        name: "DB upgrade".into(),
    }];
    f.scenarios = (0..8)
        .map(|i| scenario(&format!("Scenario {i}"), 0.995, 1))
        .collect();
    let out = render(f, &n);
    assert_eq!(out["text"], "Weekly summary · Acme Corp · Nov 30 – Dec 7");
    let lines = out["attachments"][0]["blocks"][0]["elements"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(lines, 9, "runs, regressions, trends, 5 scenarios, mutes");
    insta::assert_json_snapshot!("weekly_summary__organization", out);
}

#[test]
fn hostile_names_in_a_summary_show_as_typed_and_ping_nobody() {
    let out = render(busy(HOSTILE), &names(HOSTILE));
    let s = out.to_string();
    assert!(!s.contains("<!channel>"), "{s}");
    assert!(s.contains(HOSTILE_ESCAPED), "{s}");
    assert!(limits::violations(&out).is_empty());
}

#[test]
fn a_summary_of_extreme_names_fits_slacks_limits() {
    for name in ["x".repeat(20_000), "👩‍👩‍👧‍👦".repeat(3_000), "&<>".repeat(5_000)]
    {
        let n = MessageNames {
            org_id: "acme".into(),
            org_name: name.clone(),
            project_id: "webshop".into(),
            project_name: name.clone(),
        };
        let mut f = busy(&name);
        f.trends[0].definition = name.clone();
        f.scenarios = (0..50).map(|_| scenario(&name, 0.5, 3)).collect();
        let out = render(f, &n);
        let problems = limits::violations(&out);
        assert!(problems.is_empty(), "{problems:#?}");
    }
}
