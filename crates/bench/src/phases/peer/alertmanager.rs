//! One Alertmanager run of the peer phase: a fake Slack like the e2e phase's (channels
//! `bench-0` …, Slack's rate limit), a bot token minted by the fake, Alertmanager started on
//! a generated configuration in a temporary directory (no clustering), then one alert per
//! event, each a group of its own (a unique `alertname`, `group_wait: 0s`), whose Slack
//! notification goes to the channel its `channel` label names.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use fake_slack::{ChannelSpec, FakeSlackConfig, FakeSlackHandle};
use serde_json::json;

use super::{refused_posts, PeerRun};
use crate::args::BenchArgs;
use crate::env::{http_client, post_json};
use crate::fake;
use crate::phases::paced;

/// `prometheus-alertmanager --version`'s version ("0.25.0"), or "?".
pub fn version(bin: &Path) -> String {
    Command::new(bin)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stdout).into_owned()
                + &String::from_utf8_lossy(&o.stderr);
            let rest = text.split("version ").nth(1)?;
            Some(rest.split_whitespace().next()?.to_owned())
        })
        .unwrap_or_else(|| "?".to_owned())
}

/// The configuration: every alert its own group, sent at once and never repeated during the
/// run; one Slack receiver whose channel comes from the alert's `channel` label, posting
/// with the bot token as Slack's Web API wants it (`Authorization: Bearer`). The message
/// names the alert as the bench names load tests, so one reader finds both products' events.
fn am_config(api_url: &str, token: &str) -> String {
    format!(
        r#"route:
  receiver: fake-slack
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1h
  repeat_interval: 24h
receivers:
  - name: fake-slack
    slack_configs:
      - api_url: "{api_url}"
        channel: '{{{{ .CommonLabels.channel }}}}'
        title: '{{{{ .CommonLabels.alertname }}}}'
        text: 'Bench load test {{{{ .CommonLabels.alertname }}}}'
        send_resolved: false
        http_config:
          authorization:
            type: Bearer
            credentials: "{token}"
"#
    )
}

/// A running Alertmanager and its directory, both gone when dropped.
struct Running {
    child: Child,
    dir: PathBuf,
    base: String,
    keep: bool,
}

impl Running {
    fn start(bin: &Path, dir: PathBuf, keep: bool) -> anyhow::Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let log = std::fs::File::create(dir.join("alertmanager.log"))?;
        let child = Command::new(bin)
            .arg(format!(
                "--config.file={}",
                dir.join("alertmanager.yml").display()
            ))
            .arg(format!("--storage.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        Ok(Self {
            child,
            dir,
            base: format!("http://127.0.0.1:{port}"),
            keep,
        })
    }

    /// Waits until `/-/ready` answers 200 (its log's end in the error otherwise).
    async fn wait_ready(&mut self, http: &awc::Client) -> anyhow::Result<()> {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if let Ok(res) = http.get(format!("{}/-/ready", self.base)).send().await {
                if res.status().is_success() {
                    return Ok(());
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                bail!("Alertmanager exited ({status}): {}", self.log_tail());
            }
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
        }
        bail!(
            "Alertmanager was not ready within 30 s: {}",
            self.log_tail()
        )
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("alertmanager.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(3)..].join(" | ")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.keep {
            eprintln!("kept Alertmanager's directory {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A bot token with the scopes xtc-slack's installation has for posting.
async fn mint_token(http: &awc::Client, fake: &FakeSlackHandle) -> anyhow::Result<String> {
    let mut res = http
        .post(format!("{}/tokens", fake.control_url()))
        .send_json(&json!({"scopes": "chat:write,chat:write.public"}))
        .await
        .map_err(|e| anyhow!("minting a token: {e}"))?;
    let body: serde_json::Value = serde_json::from_slice(&res.body().await?)?;
    body["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("the fake minted no token: {body}"))
}

pub async fn run(bin: &Path, args: &BenchArgs) -> anyhow::Result<PeerRun> {
    let channels = args.e2e_channels.max(1);
    let mut config = FakeSlackConfig::default();
    config
        .channels
        .extend((0..channels).map(|i| ChannelSpec::public(&format!("bench-{i}"))));
    let fake = fake_slack::spawn(config, TcpListener::bind("127.0.0.1:0")?)?;
    let http = http_client(args);
    let token = mint_token(&http, &fake).await?;
    let dir = std::env::temp_dir().join(format!(
        "xtc-bench-alertmanager-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir)?;
    let api_url = format!("{}/chat.postMessage", fake.api_url());
    std::fs::write(dir.join("alertmanager.yml"), am_config(&api_url, &token))?;
    let mut am = Running::start(bin, dir, args.keep_databases)?;
    am.wait_ready(&http).await?;

    let total = (u64::from(args.e2e_rate) * args.e2e_secs) as usize;
    let url = format!("{}/api/v2/alerts", am.base);
    let answers = paced::schedule(args.e2e_rate, total, |i| {
        let id = format!("am-{i}");
        let body = json!([{
            "labels": {"alertname": id, "channel": format!("#bench-{}", i % channels)},
            "annotations": {"summary": format!("Bench load test {id}")},
        }]);
        let (http, url) = (http.clone(), url.clone());
        async move { (id, post_json(&http, &url, None, &body).await) }
    })
    .await;
    let accepted: HashMap<_, _> = answers
        .into_iter()
        .map(|(_, answer)| answer)
        .filter(|(_, posted)| posted.status == 200)
        .collect();
    let seen = fake::wait_visible(accepted.keys(), Duration::from_secs(30), || async {
        Ok(fake::seen_in(
            &fake::control_json(&http, &fake, "/messages").await?,
        ))
    })
    .await?;
    let (from_request, from_answer) = fake::end_to_end(&accepted, &seen);
    Ok(PeerRun {
        delivered: from_request.samples.len(),
        from_request,
        from_answer,
        expected: total,
        refused: refused_posts(&http, &fake).await?,
    })
}
