//! The incident card as people act on it from Slack (buttons, acknowledgements, mutes)
//! and the one-line replies the actions post.
use super::*;

/// An incident card as people act on it from Slack: buttons while open, who
/// acknowledged and muted it, no buttons once recovered; and the one-line replies.
#[test]
fn golden_incident_cards_with_buttons_acknowledgements_and_mutes() {
    use crate::domain::incident::{Action, Actor, Controls, MuteFor};
    let r = Renderer::new(None).unwrap();
    for name in ["Shop checkout", HOSTILE] {
        let s = stories(name);
        let get = |k: &str| s.iter().find(|(n, _)| *n == k).unwrap().1.clone();
        let events = get("scenario_recovered");
        let mut card = Card::new(&events[0]);
        let by = Actor {
            id: "U0FAKEUSR02".into(),
            name: name.replace("Shop checkout", "sam"),
        };
        let mut controls = Controls::none(2);
        let cc = |c: &Controls| CardControls {
            controls: c.clone(),
            reference: "opaque-ref".into(),
            now: at(3),
        };
        let n = names(name);
        let mut out = json!({});
        out["open"] = r
            .render_card(&card, &n, false, Some(&cc(&controls)))
            .unwrap()
            .to_json();
        controls.apply(Action::Acknowledge, &by, at(2));
        controls.apply(Action::Mute(MuteFor::OneHour), &by, at(2));
        card.absorb(&events[1]);
        out["acknowledged_and_muted"] = r
            .render_card(&card, &n, false, Some(&cc(&controls)))
            .unwrap()
            .to_json();
        out["acknowledged_and_muted_compact"] = r
            .render_card(&card, &n, true, Some(&cc(&controls)))
            .unwrap()
            .to_json();
        let mut with_reason = controls.clone();
        with_reason.apply_with(
            Action::Mute(MuteFor::Until(at(2) + chrono::Duration::days(3))),
            &by,
            at(2),
            Some("deploy <!here> *now* & `x`"),
        );
        out["muted_with_reason"] = r
            .render_card(&card, &n, false, Some(&cc(&with_reason)))
            .unwrap()
            .to_json();
        out["muted_with_reason_compact"] = r
            .render_card(&card, &n, true, Some(&cc(&with_reason)))
            .unwrap()
            .to_json();
        card.absorb(&events[2]);
        out["recovered"] = r
            .render_card(&card, &n, false, Some(&cc(&controls)))
            .unwrap()
            .to_json();
        let three_days = at(2) + chrono::Duration::days(3);
        for (key, action, until, comment) in [
            ("reply_acknowledged", Action::Acknowledge, None, None),
            (
                "reply_muted_1h",
                Action::Mute(MuteFor::OneHour),
                Some(at(2) + chrono::Duration::hours(1)),
                None,
            ),
            (
                "reply_muted_until_recovered",
                Action::Mute(MuteFor::UntilRecovered),
                None,
                None,
            ),
            (
                "reply_muted_for_with_reason",
                Action::Mute(MuteFor::Until(three_days)),
                Some(three_days),
                Some("deploy <!here> *now* & `x`".to_owned()),
            ),
            ("reply_unmuted", Action::Unmute, None, None),
        ] {
            let p = Payload::IncidentAction(IncidentActionPayload {
                scenario_id: "shop-checkout".into(),
                name: name.into(),
                incident: 2,
                action,
                by: by.clone(),
                at: at(2),
                until,
                comment,
            });
            out[key] = r
                .render_reply(&p, &card, &n, false, false)
                .unwrap()
                .to_json();
            out[format!("{key}_without_thread")] = r.render_event(&p, &n, false).unwrap().to_json();
        }
        for (_, m) in out.as_object().unwrap() {
            check(m);
        }
        let open = out["open"].to_string();
        for label in [
            "Acknowledge",
            "Mute 1 h",
            "Mute 4 h",
            "Mute until recovered",
        ] {
            assert!(open.contains(label), "{label}: {open}");
        }
        assert!(!open.contains("Unmute"), "{open}");
        let muted = out["acknowledged_and_muted"].to_string();
        assert!(
            muted.contains("Unmute") && !muted.contains("\"Acknowledge\""),
            "{muted}"
        );
        assert!(
            !out["recovered"].to_string().contains("\"actions\""),
            "no buttons once recovered"
        );
        if name == HOSTILE {
            assert!(
                muted.contains(HOSTILE_ESCAPED),
                "the Slack user's name is user text: {muted}"
            );
        }
        let key = if name == HOSTILE {
            "hostile__incident_controls"
        } else {
            "incident_controls"
        };
        insta::assert_json_snapshot!(key, out);
    }
}
