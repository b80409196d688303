//! A modal the app opened (`views.open`), drawn for the person it was opened for as Slack
//! draws one: a dialog over the channel with its title, its context lines, one labelled
//! field per input block (a select, a date and time, a text input) with its hint and the
//! app's error under it, and the submit and close buttons. Plain HTML forms: Submit posts
//! to `/_fake/views/{id}/submit`, Cancel to `…/close`.

use std::fmt::Write as _;

use serde_json::Value;

use super::html;
use crate::interactivity::views::inputs;
use crate::interactivity::FakeView;

/// The dialog styles (added to the workspace page's).
pub(super) const DIALOG_STYLE: &str = r#"
.modal-backdrop{position:fixed;inset:0;background:rgba(29,28,29,.55);z-index:5}
dialog.modal{position:fixed;top:6vh;z-index:6;width:min(520px,92vw);max-height:86vh;overflow:auto;border:0;border-radius:8px;padding:0;box-shadow:0 18px 48px rgba(0,0,0,.35);color:#1d1c1d;background:#fff}
dialog.modal h2{font-size:1.3rem;font-weight:900;margin:0;padding:1rem 1.5rem;border-bottom:1px solid #e2e2e2}
.modal-body{padding:1rem 1.5rem}
.modal-context{font-size:.85rem;color:#616061;margin:0 0 .8rem}
.modal-field{margin:0 0 1rem}.modal-field label{display:block;font-weight:700;margin-bottom:.3rem}
.modal-field .optional{font-weight:400;color:#616061}
.modal-field select,.modal-field input{box-sizing:border-box;width:100%;font:inherit;padding:.45rem .5rem;border:1px solid #868686;border-radius:4px;background:#fff;color:#1d1c1d}
.modal-field [aria-invalid=true]{border-color:#e01e5a}
.modal-hint{font-size:.8rem;color:#616061;margin:.25rem 0 0}
.field-error{font-size:.85rem;color:#b5103c;margin:.25rem 0 0;font-weight:700}
.modal-actions{display:flex;justify-content:flex-end;gap:.5rem;padding:.8rem 1.5rem;border-top:1px solid #e2e2e2}
"#;

fn text_of(v: &Value) -> &str {
    v["text"].as_str().unwrap_or_default()
}

/// The dialog of `view`; `acting` and `channel` lead back to the same page.
pub(super) fn dialog(view: &FakeView, acting: &str, channel: Option<&str>) -> String {
    let v = &view.view;
    let id = html(&view.id);
    let title_id = format!("modal-title-{id}");
    let mut out = format!(
        "<div class=\"modal-backdrop\"></div><dialog open class=\"modal\" id=\"modal-{id}\" \
         aria-modal=\"true\" aria-labelledby=\"{title_id}\"><form method=\"post\" \
         action=\"/_fake/views/{id}/submit\"><h2 id=\"{title_id}\">{}</h2>\
         <div class=\"modal-body\"><input type=\"hidden\" name=\"as\" value=\"{}\">",
        html(text_of(&v["title"])),
        html(acting),
    );
    if let Some(c) = channel {
        let _ = write!(
            out,
            "<input type=\"hidden\" name=\"view\" value=\"{}\">",
            html(c)
        );
    }
    for b in v["blocks"].as_array().into_iter().flatten() {
        if b["type"] == "context" {
            let line: Vec<&str> = b["elements"]
                .as_array()
                .into_iter()
                .flatten()
                .map(text_of)
                .collect();
            let _ = write!(
                out,
                "<p class=\"modal-context\">{}</p>",
                html(&line.join(" "))
            );
        }
    }
    let input_blocks: Vec<&Value> = v["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == "input")
        .collect();
    for ((block, kind, _, optional, label), b) in inputs(v).into_iter().zip(input_blocks) {
        let field = html(&format!("f-{}-{block}", view.id));
        let name = html(&format!("v.{block}"));
        let given = view.values.get(&block).cloned().unwrap_or_default();
        let error = view.errors.get(&block);
        let hint = b["hint"]["text"].as_str();
        let mut described = Vec::new();
        if hint.is_some() {
            described.push(format!("{field}-hint"));
        }
        if error.is_some() {
            described.push(format!("{field}-error"));
        }
        let aria = format!(
            "{}{}{}",
            if described.is_empty() {
                String::new()
            } else {
                format!(" aria-describedby=\"{}\"", described.join(" "))
            },
            if error.is_some() {
                " aria-invalid=\"true\""
            } else {
                ""
            },
            if optional {
                ""
            } else {
                " aria-required=\"true\""
            },
        );
        let _ = write!(
            out,
            "<div class=\"modal-field\" data-block=\"{}\"><label for=\"{field}\">{}{}</label>",
            html(&block),
            html(&label),
            if optional {
                " <span class=\"optional\">(optional)</span>"
            } else {
                ""
            }
        );
        let element = &b["element"];
        match kind.as_str() {
            "static_select" => {
                let placeholder = element["placeholder"]["text"]
                    .as_str()
                    .unwrap_or("Select an item");
                let _ = write!(
                    out,
                    "<select id=\"{field}\" name=\"{name}\"{aria}><option value=\"\">{}</option>",
                    html(placeholder)
                );
                for o in element["options"].as_array().into_iter().flatten() {
                    let value = o["value"].as_str().unwrap_or_default();
                    let _ = write!(
                        out,
                        "<option value=\"{}\"{}>{}</option>",
                        html(value),
                        if value == given { " selected" } else { "" },
                        html(text_of(&o["text"]))
                    );
                }
                out.push_str("</select>");
            }
            "datetimepicker" => {
                let _ = write!(
                    out,
                    "<input type=\"datetime-local\" id=\"{field}\" name=\"{name}\" value=\"{}\"{aria}>",
                    html(&given)
                );
            }
            _ => {
                let max = element["max_length"]
                    .as_u64()
                    .map(|m| format!(" maxlength=\"{m}\""))
                    .unwrap_or_default();
                let _ = write!(
                    out,
                    "<input type=\"text\" id=\"{field}\" name=\"{name}\" value=\"{}\"{max}{aria}>",
                    html(&given)
                );
            }
        }
        if let Some(h) = hint {
            let _ = write!(
                out,
                "<p class=\"modal-hint\" id=\"{field}-hint\">{}{}</p>",
                html(h),
                if kind == "datetimepicker" {
                    " (UTC)"
                } else {
                    ""
                }
            );
        }
        if let Some(e) = error {
            let _ = write!(
                out,
                "<p class=\"field-error\" id=\"{field}-error\" role=\"alert\">{}</p>",
                html(e)
            );
        }
        out.push_str("</div>");
    }
    let close = if v["close"].is_null() {
        "Cancel"
    } else {
        text_of(&v["close"])
    };
    let _ = write!(
        out,
        "</div><div class=\"modal-actions\"><button type=\"submit\" class=\"btn\" \
         formaction=\"/_fake/views/{id}/close\">{}</button><button type=\"submit\" \
         class=\"btn primary\">{}</button></div></form></dialog>",
        html(close),
        html(text_of(&v["submit"]))
    );
    out
}
