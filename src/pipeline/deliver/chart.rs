//! Sending a report's chart: the PNG drawn from the report's series (`crate::chart`) and
//! uploaded with Slack's external upload flow into the run's thread (threads off: after the
//! report message in the channel). A delivery like every other: paced with its channel,
//! retried (from the first step: an upload URL expires), never sent twice once recorded.

use secrecy::SecretString;

use super::prepare::Prepared;
use super::record::{record_of_error, Record};
use super::SenderDeps;
use crate::chart::{render_png, ChartInput};
use crate::db::models::delivery::Delivery;
use crate::db::models::slack_channel::SlackChannel;
use crate::db::DbError;
use crate::domain::delivery_reason::DeliveryReason;
use crate::pipeline::events::{LoadTestPayload, Payload};
use crate::slack::{FileUpload, FILES_WRITE_SCOPE};

/// The PNG of a report's chart, drawn off the async workers (a few tens of milliseconds of
/// CPU for 2,000 points).
async fn draw(lt: &LoadTestPayload) -> Result<Vec<u8>, DeliveryReason> {
    let Some(series) = lt.report.as_ref().and_then(|r| r.series.clone()) else {
        return Err(DeliveryReason::EventUnreadable);
    };
    let title = lt.name.clone();
    let baseline = lt.comparison.as_ref().and_then(|c| c.baseline.clone());
    let drawn = actix_web::web::block(move || {
        let baseline_p95 = baseline
            .as_ref()
            .and_then(|b| b.figures.get(crate::domain::report::Metric::P95));
        let label = baseline
            .as_ref()
            .map(|b| format!("{}, {}", b.load_test_id, b.reported_at.format("%b %-d")));
        render_png(&ChartInput {
            title: &title,
            interval_s: series.interval_s,
            throughput: &series.throughput,
            p95_ms: &series.p95_ms,
            errors: &series.errors,
            baseline_p95_ms: baseline_p95,
            baseline_label: label.as_deref(),
        })
    })
    .await;
    match drawn {
        Ok(Ok(png)) => Ok(png),
        Ok(Err(e)) => Err(DeliveryReason::TemplateError {
            detail: format!("chart: {e}"),
        }),
        Err(e) => Err(DeliveryReason::TemplateError {
            detail: format!("chart: {e}"),
        }),
    }
}

/// The channel's ID: Slack shares files only by ID. A channel saved by name is looked up
/// in the workspace's channel directory.
async fn channel_id(deps: &SenderDeps, d: &Delivery) -> Result<Option<String>, DbError> {
    let Some(name) = d.channel.strip_prefix('#') else {
        return Ok(Some(d.channel.clone()));
    };
    let (team, name) = (d.team_id.clone().unwrap_or_default(), name.to_owned());
    deps.db
        .run(move |conn| Ok(SlackChannel::id_by_name(conn, &team, &name)?))
        .await
}

/// The longest file title sent: names are accepted at any length, Slack's file titles are
/// not (cut at a whole character, like every other place a name is shown).
const MAX_FILE_TITLE: usize = 250;

/// The title Slack shows above the chart (and reads out for its image).
fn file_title(name: &str) -> String {
    const WHAT: &str = ": throughput and P95 over time";
    let room = MAX_FILE_TITLE - WHAT.chars().count();
    format!("{}{WHAT}", crate::slack::text::truncate(name, room))
}

/// Draws and uploads the chart of `d`'s report and says what to record.
pub(super) async fn send(
    deps: &SenderDeps,
    d: &Delivery,
    p: &Prepared,
    token: &SecretString,
) -> Record {
    let Payload::LoadTest(lt) = &*p.payload else {
        return Record::Failed {
            reason: DeliveryReason::EventUnreadable,
        };
    };
    let png = match draw(lt).await {
        Ok(png) => png,
        Err(reason) => return Record::Failed { reason },
    };
    let channel_id = match channel_id(deps, d).await {
        Ok(Some(id)) => id,
        Ok(None) => {
            return Record::Failed {
                reason: DeliveryReason::Slack("channel_not_found".into()),
            }
        }
        Err(_) => {
            return Record::Retry {
                delay: deps.config.retry_base,
                error: DeliveryReason::DatabaseUnavailable,
                blocked_for: None,
                cause: super::record::RetryCause::Other,
            }
        }
    };
    let title = file_title(&lt.name);
    let filename = format!("report-{}.png", lt.load_test_id);
    let file = FileUpload {
        filename: &filename,
        title: &title,
        bytes: &png,
        channel_id: &channel_id,
        thread_ts: p.thread.as_ref().map(|t| t.parent_ts.as_str()),
        initial_comment: None,
    };
    match deps.slack.upload_file(token, &file).await {
        // The file's ID stands for the message's ts: a chart is no message to thread under.
        Ok(uploaded) => Record::Sent {
            ts: uploaded.id,
            thread: None,
            merged: Vec::new(),
        },
        // Not the token's fault: the report went out; only charts need the scope.
        Err(e) if e.lacks_scope(FILES_WRITE_SCOPE) || e.code() == "missing_scope" => {
            Record::Failed {
                reason: DeliveryReason::ChartsNeedScope,
            }
        }
        Err(e) if e.code() == "not_in_channel" => Record::Failed {
            reason: DeliveryReason::ChartsNeedMember,
        },
        Err(e) => record_of_error(deps, d, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_name_is_cut_so_the_file_title_stays_within_its_limit() {
        assert_eq!(
            file_title("Checkout peak"),
            "Checkout peak: throughput and P95 over time"
        );
        let long = file_title(&"ä".repeat(10_000));
        assert_eq!(long.chars().count(), MAX_FILE_TITLE, "{long}");
        assert!(long.ends_with("…: throughput and P95 over time"), "{long}");
    }
}
