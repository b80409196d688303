//! The windows' validation and occurrences: across midnight, both clock changes, weekly
//! and one-off.

#![allow(clippy::unwrap_used)]
use super::*;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn weekly_input(days: &[&str], from: &str, to: &str, tz: &str) -> WindowInput {
    WindowInput {
        weekly: Some(WeeklyInput {
            days: days.iter().map(|d| (*d).to_owned()).collect(),
            from: from.into(),
            to: to.into(),
            timezone: tz.into(),
        }),
        reason: "Database upgrade".into(),
        ..WindowInput::default()
    }
}

fn schedule(input: &WindowInput) -> Schedule {
    input
        .validate(utc("2026-01-01T00:00:00Z"))
        .unwrap()
        .schedule
}

#[test]
fn a_window_occurs_in_a_period_when_one_of_its_occurrences_overlaps_it() {
    let s = schedule(&weekly_input(&["sat"], "22:00", "02:00", "Europe/Berlin"));
    // Saturday 2026-01-10 21:00 UTC to Sunday 01:00 UTC.
    let overlaps = |from: &str, to: &str| s.occurs_between(utc(from), utc(to));
    assert!(overlaps("2026-01-05T00:00:00Z", "2026-01-12T00:00:00Z"));
    // A period starting inside Saturday's occurrence (after midnight) still sees it.
    assert!(overlaps("2026-01-11T00:30:00Z", "2026-01-11T05:00:00Z"));
    assert!(!overlaps("2026-01-11T01:00:00Z", "2026-01-17T21:00:00Z"));
    let once = Schedule::Once {
        starts_at: utc("2026-01-10T10:00:00Z"),
        ends_at: utc("2026-01-10T12:00:00Z"),
    };
    assert!(once.occurs_between(utc("2026-01-10T11:00:00Z"), utc("2026-01-11T00:00:00Z")));
    assert!(!once.occurs_between(utc("2026-01-10T12:00:00Z"), utc("2026-01-11T00:00:00Z")));
}

#[test]
fn a_window_across_midnight_belongs_to_the_day_it_starts() {
    // Saturday and Sunday 22:00 to 02:00 in Berlin (winter: UTC+1).
    let s = schedule(&weekly_input(
        &["sat", "sun"],
        "22:00",
        "02:00",
        "Europe/Berlin",
    ));
    // Saturday 2026-01-10 22:00 CET = 21:00 UTC, to Sunday 02:00 CET = 01:00 UTC.
    let sat = s.occurrence_at(utc("2026-01-10T23:30:00Z")).unwrap();
    assert_eq!(sat.start, utc("2026-01-10T21:00:00Z"));
    assert_eq!(sat.end, utc("2026-01-11T01:00:00Z"));
    // Early Sunday belongs to Saturday's occurrence; Sunday night to Sunday's.
    assert_eq!(s.occurrence_at(utc("2026-01-11T00:59:59Z")), Some(sat));
    assert_eq!(s.occurrence_at(utc("2026-01-11T01:00:00Z")), None);
    let sun = s.occurrence_at(utc("2026-01-11T21:00:00Z")).unwrap();
    assert_eq!(sun.end, utc("2026-01-12T01:00:00Z"));
    // Monday early is Sunday's; Monday night is no window's (not a listed day), nor
    // is early Saturday (Friday is not listed).
    assert!(s.occurrence_at(utc("2026-01-12T00:30:00Z")).is_some());
    assert_eq!(s.occurrence_at(utc("2026-01-12T21:30:00Z")), None);
    assert_eq!(s.occurrence_at(utc("2026-01-10T00:30:00Z")), None);
    assert_eq!(s.occurrence_at(utc("2026-01-10T20:59:59Z")), None);
}

#[test]
fn spring_forward_starts_a_window_in_the_gap_at_the_first_valid_instant() {
    // Berlin 2026-03-29 (Sunday): 02:00 CET jumps to 03:00 CEST (01:00 UTC).
    let s = schedule(&weekly_input(&["sun"], "02:30", "04:00", "Europe/Berlin"));
    let o = s.occurrence_at(utc("2026-03-29T01:30:00Z")).unwrap();
    assert_eq!(
        o.start,
        utc("2026-03-29T01:00:00Z"),
        "02:30 does not exist: 03:00 CEST"
    );
    assert_eq!(o.end, utc("2026-03-29T02:00:00Z"), "04:00 CEST");
    assert_eq!(s.occurrence_at(utc("2026-03-29T00:59:59Z")), None);
    // A window across midnight into that night lasts an hour less.
    let n = schedule(&weekly_input(&["sat"], "22:00", "06:00", "Europe/Berlin"));
    let o = n.occurrence_at(utc("2026-03-29T03:00:00Z")).unwrap();
    assert_eq!(o.start, utc("2026-03-28T21:00:00Z"));
    assert_eq!(o.end, utc("2026-03-29T04:00:00Z"));
    assert_eq!(o.end - o.start, Duration::hours(7));
}

#[test]
fn fall_back_reads_an_ambiguous_time_as_the_earlier_instant() {
    // Berlin 2026-10-25 (Sunday): 03:00 CEST goes back to 02:00 CET; 02:30 happens twice.
    let s = schedule(&weekly_input(&["sun"], "02:30", "05:00", "Europe/Berlin"));
    let o = s.occurrence_at(utc("2026-10-25T01:00:00Z")).unwrap();
    assert_eq!(
        o.start,
        utc("2026-10-25T00:30:00Z"),
        "the first 02:30 (CEST)"
    );
    assert_eq!(o.end, utc("2026-10-25T04:00:00Z"), "05:00 CET");
    let n = schedule(&weekly_input(&["sat"], "22:00", "06:00", "Europe/Berlin"));
    let o = n.occurrence_at(utc("2026-10-25T02:00:00Z")).unwrap();
    assert_eq!(o.start, utc("2026-10-24T20:00:00Z"), "22:00 CEST");
    assert_eq!(o.end, utc("2026-10-25T05:00:00Z"), "06:00 CET");
    assert_eq!(o.end - o.start, Duration::hours(9));
    assert_eq!(
        local_instant(
            Tz::Europe__Berlin,
            NaiveDate::from_ymd_opt(2026, 10, 25).unwrap(),
            NaiveTime::from_hms_opt(2, 0, 0).unwrap()
        ),
        utc("2026-10-25T00:00:00Z")
    );
}

#[test]
fn a_one_off_window_covers_its_start_but_not_its_end() {
    let w = WindowInput {
        starts_at: Some("2026-12-24T22:00:00+01:00".into()),
        ends_at: Some("2026-12-25T02:00:00+01:00".into()),
        reason: "  Shop freeze ".into(),
        ..WindowInput::default()
    };
    let spec = w.validate(utc("2026-12-01T00:00:00Z")).unwrap();
    assert_eq!(spec.reason, "Shop freeze");
    let s = spec.schedule;
    assert!(s.occurrence_at(utc("2026-12-24T21:00:00Z")).is_some());
    assert!(s.occurrence_at(utc("2026-12-25T00:59:59Z")).is_some());
    assert!(s.occurrence_at(utc("2026-12-25T01:00:00Z")).is_none());
    assert!(s.occurrence_at(utc("2026-12-24T20:59:59Z")).is_none());
    assert!(s.is_over(utc("2026-12-25T01:00:00Z")));
    assert!(!s.is_over(utc("2026-12-25T00:00:00Z")));
}

#[test]
fn bad_windows_are_refused_naming_the_field() {
    let now = utc("2026-12-01T00:00:00Z");
    let once = |s: &str, e: &str| WindowInput {
        starts_at: Some(s.into()),
        ends_at: Some(e.into()),
        reason: "r".into(),
        ..WindowInput::default()
    };
    let field = |w: WindowInput| w.validate(now).unwrap_err().field;
    assert_eq!(field(once("tomorrow", "2026-12-02T00:00:00Z")), "starts_at");
    assert_eq!(
        field(once("2026-12-02T00:00:00Z", "2026-12-02 01:00")),
        "ends_at"
    );
    assert_eq!(
        field(once("2026-12-02T01:00:00Z", "2026-12-02T00:00:00Z")),
        "ends_at"
    );
    assert_eq!(
        field(once("2026-12-02T01:00:00Z", "2026-12-02T01:00:00Z")),
        "ends_at"
    );
    assert_eq!(
        field(once("2026-11-02T01:00:00Z", "2026-11-03T01:00:00Z")),
        "ends_at"
    );
    assert_eq!(
        field(weekly_input(&[], "22:00", "02:00", "UTC")),
        "weekly.days"
    );
    assert_eq!(
        field(weekly_input(&["sa"], "22:00", "02:00", "UTC")),
        "weekly.days"
    );
    assert_eq!(
        field(weekly_input(&["sat"], "24:00", "02:00", "UTC")),
        "weekly.from"
    );
    assert_eq!(
        field(weekly_input(&["sat"], "22:00", "2:00", "UTC")),
        "weekly.to"
    );
    assert_eq!(
        field(weekly_input(&["sat"], "22:00", "22:00", "UTC")),
        "weekly.to"
    );
    assert_eq!(
        field(weekly_input(&["sat"], "22:00", "02:00", "Mars/Base")),
        "weekly.timezone"
    );
    let mut both = weekly_input(&["sat"], "22:00", "02:00", "UTC");
    both.starts_at = Some("2026-12-02T00:00:00Z".into());
    assert_eq!(field(both), "weekly");
    assert_eq!(
        field(WindowInput {
            reason: "r".into(),
            ..WindowInput::default()
        }),
        "starts_at"
    );
    let mut long = weekly_input(&["sat"], "22:00", "02:00", "UTC");
    long.reason = "x".repeat(MAX_REASON + 1);
    assert_eq!(field(long), "reason");
    let mut blank = weekly_input(&["sat"], "22:00", "02:00", "UTC");
    blank.reason = "  ".into();
    assert_eq!(field(blank), "reason");
    let mut none = weekly_input(&["sat"], "22:00", "02:00", "UTC");
    none.scenarios = Some(vec![]);
    assert_eq!(field(none), "scenarios");
    let mut spaced = weekly_input(&["sat"], "22:00", "02:00", "UTC");
    spaced.scenarios = Some(vec!["shop checkout".into()]);
    assert_eq!(field(spaced), "scenarios");
}

#[test]
fn the_window_ending_last_holds_a_change() {
    let spec = |s: &str, e: &str, scenarios: Option<Vec<String>>| WindowSpec {
        schedule: Schedule::Once {
            starts_at: utc(s),
            ends_at: utc(e),
        },
        scenarios,
        reason: "r".into(),
    };
    let windows = vec![
        Window {
            id: 1,
            spec: spec("2026-12-01T00:00:00Z", "2026-12-01T02:00:00Z", None),
        },
        Window {
            id: 2,
            spec: spec(
                "2026-12-01T00:30:00Z",
                "2026-12-01T03:00:00Z",
                Some(vec!["a".into()]),
            ),
        },
    ];
    let at = utc("2026-12-01T01:00:00Z");
    assert_eq!(holding(&windows, "a", at).unwrap().0.id, 2);
    assert_eq!(holding(&windows, "b", at).unwrap().0.id, 1);
    assert!(holding(&windows, "a", utc("2026-12-01T03:00:00Z")).is_none());
}
