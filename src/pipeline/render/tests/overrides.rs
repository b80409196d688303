//! Templates replaced by files of the same name (`--templates-dir`), partials included.
use super::*;

#[test]
fn overrides_replace_templates_by_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("load_test_started.hbs"),
        r#"{"text": "custom {{load_test.name}}", "blocks": [{"type": "section", "text": {"type": "plain_text", "text": "x"}}]}"#,
    )
    .unwrap();
    let r = Renderer::new(Some(dir.path())).unwrap();
    let out = r
        .render_event(&lt(LoadTestEventType::Started, "<b>"), &names("x"), false)
        .unwrap();
    assert_eq!(out.text, "custom &lt;b&gt;");
    assert_eq!(out.attachments, None);
    std::fs::write(dir.path().join("load_test_running.hbs"), "{{#if}}").unwrap();
    assert!(Renderer::new(Some(dir.path())).is_err());
}

/// Partials are written into the templates that call them (`render::inline`): an
/// overridden partial is the one every caller shows, and a partial called inside `#each`
/// (left to handlebars) is found as well.
#[test]
fn an_overridden_partial_shows_in_every_template_that_calls_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("_lt_headline.hbs"),
        r#"{"type": "section", "text": {"type": "plain_text", "text": "custom {{load_test.name}}"}}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("load_test_running.hbs"),
        r#"{"text": "t", "blocks": [{{#each progress}}{{/each}}{{#with load_test}}{{> _lt_headline}}{{/with}}]}"#,
    )
    .unwrap();
    let r = Renderer::new(Some(dir.path())).unwrap();
    for event in [LoadTestEventType::Started, LoadTestEventType::Finished] {
        let out = r
            .render_event(&lt(event, "Shop"), &names("x"), false)
            .unwrap();
        assert_eq!(out.blocks[0]["text"]["text"], "custom Shop", "{event:?}");
    }
    // Called with `load_test` as its context: `load_test.name` is not there (strict mode).
    let running = r.render_event(&lt(LoadTestEventType::Running, "Shop"), &names("x"), false);
    assert!(running.is_err(), "{running:?}");
}
