//! The web UI's colours meet WCAG 2 AA (4.5:1 for normal text, the level axe-core checks):
//! every rule of `style.css` that sets both a text colour and a background, and the text
//! colours that show on the page's backgrounds they inherit, computed from the stylesheet.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

const CSS: &str = include_str!("templates/style.css");
const AA: f64 = 4.5;

/// The custom properties of `:root`.
fn variables() -> BTreeMap<String, String> {
    let root = CSS
        .split(":root{")
        .nth(1)
        .expect(":root")
        .split('}')
        .next()
        .unwrap();
    root.split(';')
        .filter_map(|d| d.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// `#rgb`/`#rrggbb` or `var(--x)` as RGB; `None` for anything else (rgba, transparent).
fn colour(value: &str, vars: &BTreeMap<String, String>) -> Option<[u8; 3]> {
    let value = value.trim();
    if let Some(name) = value.strip_prefix("var(").and_then(|v| v.strip_suffix(')')) {
        return colour(vars.get(name.trim())?, vars);
    }
    let hex = value.strip_prefix('#')?;
    let hex: String = match hex.len() {
        3 => hex.chars().flat_map(|c| [c, c]).collect(),
        6 => hex.to_owned(),
        _ => return None,
    };
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?])
}

fn luminance([r, g, b]: [u8; 3]) -> f64 {
    let channel = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.039_28 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
}

/// WCAG 2 contrast ratio.
fn contrast(a: [u8; 3], b: [u8; 3]) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// `(selector, text colour, background)` of every rule that sets both as plain colours.
fn rules_with_both(vars: &BTreeMap<String, String>) -> Vec<(String, [u8; 3], [u8; 3])> {
    let mut out = Vec::new();
    for block in CSS.split('}') {
        let Some((selectors, body)) = block.split_once('{') else {
            continue;
        };
        // `.badge.ok{…}.badge.bad{…}` are separate rules; split_once took the first.
        let selector = selectors.trim().to_owned();
        let mut text = None;
        let mut back = None;
        for declaration in body.split(';') {
            match declaration.split_once(':') {
                Some((k, v)) if k.trim() == "color" => text = colour(v, vars),
                Some((k, v)) if ["background", "background-color"].contains(&k.trim()) => {
                    back = colour(v, vars)
                }
                _ => {}
            }
        }
        if let (Some(t), Some(b)) = (text, back) {
            out.push((selector, t, b));
        }
    }
    out
}

#[test]
fn the_ratio_is_computed_as_wcag_defines_it() {
    assert!((contrast([0, 0, 0], [255, 255, 255]) - 21.0).abs() < 1e-9);
    assert!((contrast([0x1a, 0x7f, 0x37], [0xe6, 0xf4, 0xea]) - 4.47).abs() < 0.01);
}

#[test]
fn every_text_colour_meets_aa_on_its_background() {
    let vars = variables();
    let var = |name: &str| colour(&format!("var({name})"), &vars).expect(name);
    let white = [255, 255, 255];
    let mut pairs = rules_with_both(&vars);
    // The "sent" badge (4.47:1 once) is the rule axe-core reported.
    assert!(
        pairs.iter().any(|(s, ..)| s == ".badge.ok"),
        "{:?}",
        pairs.iter().map(|p| &p.0).collect::<Vec<_>>()
    );
    // Text colours set without a background, on the backgrounds they sit on: the page
    // (breadcrumb links), cards, the grey of `code` and `.src`, the note's.
    for (what, text) in [
        ("ink", "--ink"),
        ("muted", "--muted"),
        ("link", "--accent"),
        ("ok", "--ok"),
        ("bad", "--bad"),
        ("warn", "--warn"),
    ] {
        for (on, back) in [("page", var("--bg")), ("card", var("--card"))] {
            pairs.push((format!("{what} on {on}"), var(text), back));
        }
    }
    pairs.push((
        "muted on code/.src grey".into(),
        var("--muted"),
        [0xee, 0xf1, 0xf4],
    ));
    pairs.push(("muted on .note".into(), var("--muted"), [0xf8, 0xf9, 0xfb]));
    pairs.push((
        "warn on .note.warn".into(),
        var("--warn"),
        [0xff, 0xfa, 0xf0],
    ));
    pairs.push(("white on primary button".into(), white, var("--accent")));
    pairs.push((
        "white on hovered primary".into(),
        white,
        var("--accent-dark"),
    ));
    let failing: Vec<String> = pairs
        .iter()
        .map(|(what, t, b)| (what, contrast(*t, *b)))
        .filter(|(_, ratio)| *ratio < AA)
        .map(|(what, ratio)| format!("{what}: {ratio:.2}:1"))
        .collect();
    assert!(failing.is_empty(), "below {AA}:1: {failing:?}");
}
