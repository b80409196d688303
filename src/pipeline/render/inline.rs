//! Partials written into the templates that call them, before the templates are compiled.
//!
//! handlebars-rust copies the whole current context (a deep clone of the JSON object) for
//! every partial it expands, to give the partial a block of its own: a load-test message
//! expands six partials (`_lt_event` and the five it calls), and those copies and their
//! drops were more than half of a message's render time (`cargo bench --bench micro`,
//! "render full message"). A plain `{{> name}}` called where the context is the
//! template's own (outside `#each` and `#with`) renders exactly as the partial's text
//! written in its place would, so that is what is compiled; every other call (inside
//! those blocks, with a parameter or hash, with whitespace control, a partial block) is
//! left to handlebars. The partials are registered as well, so those calls still find them.
//! One difference remains, for overrides only: a `../` at a partial's own top level (outside
//! any `#each` in it) names the caller's context when expanded and its parent when written
//! in; no built-in partial does that.

use std::collections::HashMap;

/// How deep partials calling partials are written in; deeper calls (a cycle, say) are left
/// to handlebars, which reports them.
const MAX_DEPTH: usize = 8;

/// `source` with its inlinable partial calls replaced by the partials' own sources (from
/// `partials`, by name), themselves inlined. A source with constructs this scan does not
/// follow (comments, raw blocks, inline partials, partial blocks) is returned unchanged.
pub(super) fn inline_partials(source: &str, partials: &HashMap<String, String>) -> String {
    inline(source, partials, 0).unwrap_or_else(|| source.to_owned())
}

fn inline(source: &str, partials: &HashMap<String, String>, depth: usize) -> Option<String> {
    let mut out = String::with_capacity(source.len());
    // Blocks that change the context (`#each`, `#with`) around the current position.
    let mut scoped = 0usize;
    let mut rest = source;
    while let Some(open) = rest.find("{{") {
        let (before, tag_on) = rest.split_at(open);
        if tag_on.starts_with("{{{{") {
            // A raw block: its content is not tags.
            return None;
        }
        out.push_str(before);
        let close = tag_on.find("}}")? + 2;
        let tag = &tag_on[..close];
        rest = &tag_on[close..];
        let inner = tag[2..tag.len() - 2].trim_start_matches('{');
        match classify(inner) {
            Tag::Unfollowed => return None,
            Tag::Opens => scoped += 1,
            Tag::Closes => scoped = scoped.checked_sub(1)?,
            Tag::Partial(name) if scoped == 0 && depth < MAX_DEPTH => {
                if let Some(partial) = partials.get(name) {
                    match inline(partial, partials, depth + 1) {
                        Some(text) => out.push_str(&text),
                        None => out.push_str(tag),
                    }
                    continue;
                }
            }
            Tag::Partial(_) | Tag::Other => {}
        }
        out.push_str(tag);
    }
    out.push_str(rest);
    Some(out)
}

/// What a tag means to the scan.
#[derive(Debug, PartialEq)]
enum Tag<'a> {
    /// A plain partial call: `{{> name}}`.
    Partial(&'a str),
    /// `{{#each …}}` or `{{#with …}}`.
    Opens,
    /// `{{/each}}` or `{{/with}}`.
    Closes,
    /// Something the scan cannot step over safely.
    Unfollowed,
    /// Anything else (values, `#if`, `else`, partial calls with arguments).
    Other,
}

fn classify(inner: &str) -> Tag<'_> {
    if inner.starts_with('~') || inner.ends_with('~') {
        // Whitespace control reaches outside the tag: inlining could change what it trims.
        return if inner.trim_matches('~').trim_start().starts_with('>') {
            Tag::Other
        } else {
            classify(inner.trim_matches('~'))
        };
    }
    let t = inner.trim();
    // (A raw block, `{{{{`, is refused by the scan before it gets here.)
    if t.starts_with('!') || t.starts_with("#>") || t.starts_with("#*") {
        return Tag::Unfollowed;
    }
    let word = |prefix: &str| {
        t.strip_prefix(prefix)
            .is_some_and(|r| r.is_empty() || r.starts_with(char::is_whitespace))
    };
    if word("#each") || word("#with") {
        return Tag::Opens;
    }
    if word("/each") || word("/with") {
        return Tag::Closes;
    }
    if let Some(name) = t.strip_prefix('>').map(str::trim) {
        let plain = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if plain {
            return Tag::Partial(name);
        }
    }
    Tag::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partials(list: &[(&str, &str)]) -> HashMap<String, String> {
        list.iter()
            .map(|(n, s)| ((*n).to_owned(), (*s).to_owned()))
            .collect()
    }

    /// Each source comes back as written, with the partial `_a` known.
    fn assert_unchanged(sources: &[&str]) {
        let p = partials(&[("_a", "A")]);
        for kept in sources {
            assert_eq!(inline_partials(kept, &p), *kept);
        }
    }

    #[test]
    fn a_top_level_call_is_replaced_by_the_partial_and_its_own_calls() {
        let p = partials(&[("_a", "A{{x}}{{> _b}}"), ("_b", "B{{y}}")]);
        assert_eq!(
            inline_partials("[{{> _a}}] {{#if z}}{{> _b}}{{/if}}", &p),
            "[A{{x}}B{{y}}] {{#if z}}B{{y}}{{/if}}"
        );
    }

    #[test]
    fn calls_inside_context_blocks_with_arguments_or_unknown_stay_calls() {
        assert_unchanged(&[
            "{{#each xs}}{{> _a}}{{/each}}",
            "{{#with x}}{{> _a}}{{/with}}",
            "{{> _a x}}",
            "{{> _a k=v}}",
            "{{~> _a}}",
            "{{> _missing}}",
        ]);
        let p = partials(&[("_a", "A")]);
        // After the block closes, the context is the template's again.
        assert_eq!(
            inline_partials("{{#each xs}}{{.}}{{/each}}{{> _a}}", &p),
            "{{#each xs}}{{.}}{{/each}}A"
        );
        // `#each` as a prefix of another helper's name is not a block that scopes.
        assert_eq!(
            inline_partials("{{#eachx}}{{> _a}}{{/eachx}}", &p),
            "{{#eachx}}A{{/eachx}}"
        );
    }

    #[test]
    fn what_the_scan_does_not_follow_leaves_the_template_as_written() {
        assert_unchanged(&[
            "{{!-- {{#each}} --}}{{> _a}}",
            "{{#> _a}}x{{/_a}}",
            "{{#*inline \"i\"}}x{{/inline}}{{> _a}}",
            "{{{{raw}}}}{{> _a}}{{{{/raw}}}}",
            "{{/each}}{{> _a}}",
            "{{> _a",
        ]);
    }

    #[test]
    fn a_cycle_stops_at_the_depth_limit_as_a_call() {
        let p = partials(&[("_a", "a{{> _a}}")]);
        let out = inline_partials("{{> _a}}", &p);
        assert_eq!(out, format!("{}{{{{> _a}}}}", "a".repeat(MAX_DEPTH)));
    }
}
