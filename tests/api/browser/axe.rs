//! Accessibility checks with axe-core (npm package `axe-core`, MPL-2.0): the browser test
//! injects `axe.min.js` into a page, runs `axe.run()` and fails on any violation.
//!
//! The script is found at `XTC_SLACK_AXE_JS`, or else where the README's install command
//! puts it (`npm install --prefix target/tools/axe axe-core@4`). Without it the checks print
//! "axe: skipped" once and pass, unless `XTC_SLACK_REQUIRE_BROWSER=1` (CI), where a missing
//! axe fails the test like a missing browser.

use std::path::PathBuf;
use std::sync::Once;

use serde_json::{json, Value};

use super::Browser;

/// Where the README's `npm install --prefix target/tools/axe axe-core@4` puts the script.
fn default_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/tools/axe/node_modules/axe-core/axe.min.js")
}

/// axe-core's source, or `None` (after saying so once) when it is not installed and CI does
/// not require it.
pub(super) fn script() -> Option<String> {
    let (path, named) = match std::env::var_os("XTC_SLACK_AXE_JS") {
        Some(p) => (PathBuf::from(p), true),
        None => (default_path(), false),
    };
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(e) => {
            let why = format!(
                "axe-core is not at {} ({e}); install it with \
                 `npm install --prefix target/tools/axe axe-core@4` or set XTC_SLACK_AXE_JS",
                path.display()
            );
            if named || std::env::var("XTC_SLACK_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
                panic!("{why}");
            }
            static SAID: Once = Once::new();
            SAID.call_once(|| eprintln!("axe: skipped: {why}"));
            None
        }
    }
}

/// Runs axe on the whole document and hands back its violations as JSON (the promise is
/// turned into the async script's callback).
const RUN: &str = "const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']})
  .then(r => done({violations: r.violations.map(v => ({
      id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
      nodes: v.nodes.map(n => ({target: n.target, html: n.html, summary: n.failureSummary})),
  }))}))
  .catch(e => done({error: String(e)}));";

/// The violations, one paragraph each: rule, impact, what it asks, and every element with
/// axe's explanation.
pub(super) fn describe(violations: &[Value]) -> String {
    let mut out = String::new();
    for v in violations {
        out.push_str(&format!(
            "\n- {} ({}): {}\n  {}\n",
            v["id"].as_str().unwrap_or("?"),
            v["impact"].as_str().unwrap_or("?"),
            v["help"].as_str().unwrap_or(""),
            v["helpUrl"].as_str().unwrap_or(""),
        ));
        for n in v["nodes"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "  * {}\n    {}\n    {}\n",
                n["target"],
                n["html"].as_str().unwrap_or(""),
                n["summary"].as_str().unwrap_or("").replace('\n', "\n    ")
            ));
        }
    }
    out
}

impl Browser {
    /// Fails the test if axe-core finds any violation on the current page (`page` names it
    /// in the message); a no-op when axe is not installed (see [`script`]).
    pub(super) async fn audit(&self, page: &str) {
        let Some(source) = &self.axe else {
            return;
        };
        let loaded = self
            .client
            .execute("return typeof window.axe !== 'undefined';", vec![])
            .await
            .unwrap();
        if loaded != json!(true) {
            self.client.execute(source, vec![]).await.unwrap();
        }
        let result = self.client.execute_async(RUN, vec![]).await.unwrap();
        if let Some(error) = result.get("error") {
            panic!("axe failed on {page}: {error}");
        }
        let violations = result["violations"].as_array().cloned().unwrap_or_default();
        let url = self.client.current_url().await.unwrap();
        assert!(
            violations.is_empty(),
            "axe: {} accessibility violation(s) on {page} ({url}):{}",
            violations.len(),
            describe(&violations)
        );
    }
}
