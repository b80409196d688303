//! "Send Test Message": one message per effective target channel, logged.

use serde::Serialize;
use serde_json::{json, Value};

use super::super::Services;
use crate::db::models::audit::AuditEntry;
use crate::db::models::delivery::DeliveryStatus;
use crate::db::models::installation::{Installation, ORG_LEVEL};
use crate::db::models::organization::Organization;
use crate::db::models::project::Project;
use crate::db::write_tx;
use crate::domain::access::Principal;
use crate::domain::channel::TargetChannel;
use crate::pipeline::effective::load_effective;
use crate::slack::{self, ErrorClass, PostMessage};

use super::channel_check::record_broken_installation;
use super::views::display_channels;
use super::*;

/// One line of a test-message answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TestResult {
    pub channel: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ts: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Sends a test message to every effective target channel, and to each notification
/// rule's channel (naming the rule), with the effective integration, whether or not
/// sending is enabled.
pub async fn send_test_message(
    services: &Services,
    actor: &Principal,
    scope: &Scope,
) -> Result<Vec<TestResult>, ConfigError> {
    let s = scope.clone();
    let (effective, inst, org_name, project_name, labels) = services
        .db
        .run(move |conn| {
            ensure_exists(conn, &s)?;
            let (o, p) = (s.org().as_str(), s.project_str());
            let effective = load_effective(conn, o, p)?;
            let inst = match &effective.integration.value {
                Some(i) => Installation::find_by_id(conn, &i.installation_id)?,
                None => None,
            };
            let org_name =
                Organization::find_by_id(conn, o)?.map_or_else(|| o.to_owned(), |r| r.name);
            let project_name = match p {
                Some(p) => {
                    Some(Project::find_by_id(conn, o, p)?.map_or_else(|| p.to_owned(), |r| r.name))
                }
                None => None,
            };
            // Every target channel, then each rule's channel not among them (once).
            let mut channels: Vec<(TargetChannel, Option<String>)> = effective
                .target_channels
                .value
                .iter()
                .map(|c| (c.clone(), None))
                .collect();
            for rule in &effective.rules.value {
                if !channels
                    .iter()
                    .any(|(c, _)| c.address() == rule.channel.address())
                {
                    channels.push((rule.channel.clone(), Some(rule.label())));
                }
            }
            let plain: Vec<TargetChannel> = channels.iter().map(|(c, _)| c.clone()).collect();
            let labels = display_channels(conn, &plain)?;
            let labels: Vec<(TargetChannel, String, Option<String>)> = channels
                .into_iter()
                .zip(labels)
                .map(|((c, rule), label)| (c, label, rule))
                .collect();
            Ok::<_, ConfigError>((effective, inst, org_name, project_name, labels))
        })
        .await?;
    let missing = effective.missing();
    let inst = match inst {
        Some(inst) if missing.is_empty() => inst,
        _ => {
            let missing = if missing.is_empty() {
                vec!["integration"]
            } else {
                missing
            };
            return Err(ConfigError::Incomplete {
                message: format!(
                    "the Slack configuration is incomplete ({} missing); a test message needs \
                     an active integration and at least one target channel",
                    missing.join(", ")
                ),
                missing,
            });
        }
    };
    let token = inst.decrypt_token(&services.cipher)?;
    let text = test_message_text(&org_name, project_name.as_deref(), &actor.name);
    let mut results = Vec::new();
    let mut broken: Option<String> = None;
    for (channel, label, rule) in &labels {
        let label = label.clone();
        // A rule's channel is told which rule it is for (its mention does not ping).
        let text = match rule {
            Some(rule) => format!(
                "{text}\nSent for the notification rule {}.",
                crate::slack::text::escape(rule)
            ),
            None => text.clone(),
        };
        let msg = PostMessage {
            channel: channel.address(),
            text,
            blocks: Some(test_message_blocks(
                &org_name,
                project_name.as_deref(),
                &actor.name,
                rule.as_deref(),
            )),
            ..PostMessage::default()
        };
        match services.slack.post_message(&token, &msg).await {
            Ok(posted) => results.push(TestResult {
                channel: label,
                ok: true,
                ts: Some(posted.ts),
                error: None,
            }),
            Err(e) => {
                if e.class() == ErrorClass::IntegrationBroken && broken.is_none() {
                    broken = Some(e.code().to_owned());
                }
                results.push(TestResult {
                    channel: label,
                    ok: false,
                    ts: None,
                    error: Some(e.code().to_owned()),
                });
            }
        }
    }
    if let Some(code) = broken {
        record_broken_installation(services, &inst, &code).await;
    }
    // Each channel's result is listed in the delivery logs too (event type test_message).
    use crate::db::models::test_message;
    let now = crate::db::now();
    let logged: Vec<test_message::NewTestMessage> = labels
        .iter()
        .map(|(channel, _, _)| channel)
        .zip(&results)
        .map(|(channel, r)| test_message::NewTestMessage {
            org_id: scope.org().to_string(),
            project_id: scope.project_str().unwrap_or(ORG_LEVEL).to_owned(),
            channel: channel.address(),
            channel_name: Some(r.channel.clone()),
            team_id: Some(inst.team_id.clone()),
            status: if r.ok {
                DeliveryStatus::Sent
            } else {
                DeliveryStatus::Failed
            },
            error: r.error.clone(),
            sent_by: actor.name.clone(),
            created_at: now,
        })
        .collect();
    let (actor_s, s, summary) = (
        actor.actor(),
        scope.clone(),
        serde_json::to_value(&results).unwrap_or(Value::Null),
    );
    services
        .db
        .run(move |conn| {
            write_tx(conn, |c| {
                test_message::TestMessageRow::insert_all(c, &logged)?;
                AuditEntry::insert(
                    c,
                    &actor_s,
                    s.org().as_str(),
                    s.project_str(),
                    "slack_test_message",
                    &json!({ "results": summary }),
                )
            })
            .map_err(ConfigError::from)
        })
        .await?;
    Ok(results)
}

/// The test message's notification text (the `text` fallback of [`test_message_blocks`]):
/// names escaped for Slack, nothing else changed.
pub(crate) fn test_message_text(org_name: &str, project_name: Option<&str>, by: &str) -> String {
    let esc = slack::text::escape;
    let target = match project_name {
        Some(p) => format!("project {} of organization {}", esc(p), esc(org_name)),
        None => format!("organization {}", esc(org_name)),
    };
    format!(
        "Test message from XTC: Slack notifications for {target} reach this channel. \
         (Sent by {}.)",
        esc(by)
    )
}

/// What the test message shows: `rich_text`, whose `text` elements Slack shows literally
/// (no mrkdwn, no emoji codes), so names with `*`, `_`, `~`, backticks or `:smile:` show
/// exactly as typed, with bold labels; `<`, `>`, `&` escaped so nothing pings or links.
pub(crate) fn test_message_blocks(
    org_name: &str,
    project_name: Option<&str>,
    by: &str,
    rule: Option<&str>,
) -> Value {
    let esc = slack::text::escape;
    let text = |t: &str| json!({"type": "text", "text": esc(t)});
    let label = |t: &str| json!({"type": "text", "text": t, "style": {"bold": true}});
    let mut facts = vec![label("Organization: "), text(org_name)];
    if let Some(p) = project_name {
        facts.extend([label("     Project: "), text(p)]);
    }
    facts.extend([label("     Sent by: "), text(by)]);
    let mut sections = vec![
        json!({"type": "rich_text_section", "elements": [
            {"type": "emoji", "name": "white_check_mark"},
            label(" Test message from XTC: "),
            {"type": "text", "text": "Slack notifications reach this channel."},
        ]}),
        json!({"type": "rich_text_section", "elements": facts}),
    ];
    if let Some(rule) = rule {
        sections.push(json!({"type": "rich_text_section", "elements": [
            label("Sent for the notification rule: "),
            text(rule),
        ]}));
    }
    json!([{"type": "rich_text", "elements": sections}])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_message_escapes_names() {
        let t = test_message_text("<!channel> & co", Some("shop_*x*"), "jane");
        assert!(t.contains("&lt;!channel&gt; &amp; co"));
        assert!(t.contains("shop_*x*"));
        assert!(!t.contains("<!channel>"));

        // The blocks show every name exactly: literal rich-text elements, no mrkdwn.
        let blocks = test_message_blocks(
            "<!channel> & co",
            Some("shop_*x* ~y~ `c` :smile:"),
            "_jane_",
            Some("errors -> <@U1>"),
        );
        let texts: Vec<&str> = blocks[0]["elements"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["elements"].as_array().unwrap())
            .filter_map(|e| e["text"].as_str())
            .collect();
        for want in [
            "&lt;!channel&gt; &amp; co",
            "shop_*x* ~y~ `c` :smile:",
            "_jane_",
            "errors -&gt; &lt;@U1&gt;",
        ] {
            assert!(texts.contains(&want), "{want} not in {texts:?}");
        }
        let all = blocks.to_string();
        assert!(!all.contains("mrkdwn") && !all.contains("<!channel>") && !all.contains("<@U1>"));
        let bold: Vec<&str> = blocks[0]["elements"][1]["elements"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["style"]["bold"] == true)
            .filter_map(|e| e["text"].as_str())
            .collect();
        assert_eq!(bold, ["Organization: ", "     Project: ", "     Sent by: "]);
    }
}
