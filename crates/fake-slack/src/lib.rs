//! A local fake of Slack: the Web API methods the product calls, the OAuth v2 approval
//! page, a control API for tests and demos, and a page that shows what was posted.
//!
//! It follows the facts in `docs/slack-api.md` independently of the product's Slack client
//! (`xtc_slack::slack`): this crate does not depend on the `xtc-slack` package, so the
//! compiler guarantees that nothing here uses the client's code, and tests of the client
//! against the fake check two separate readings of Slack's documentation.
//!
//! Routes:
//! - `GET|POST /api/<method>`: `oauth.v2.access`, `chat.postMessage`, `chat.update`,
//!   `conversations.info`, `conversations.list`, `conversations.join`, `auth.test`,
//!   `auth.revoke`, `team.info`, `apps.uninstall`, `api.test`,
//!   `files.getUploadURLExternal`, `files.completeUploadExternal`, `views.open`;
//! - `POST /_fake/upload/{file_id}?key=…`: the upload URLs handed out for files, and
//!   `GET /_fake/files/{file_id}`: an uploaded file's bytes (see the `files` module);
//! - `GET|POST /oauth/v2/authorize`: the consent page and its decision;
//! - `GET /_fake/`: channels and messages as a web page, with clickable buttons
//!   (`POST /_fake/click`, acting as one of the configured [`FakeUser`]s);
//! - `POST /_fake/response/{id}`: the `response_url`s handed out with button clicks;
//! - `POST /_fake/views/{id}/submit|close`: the page's dialogs (modals opened by the app);
//! - `/_fake/api/...`: the control API (see [`control`]); `GET /_fake/api/` lists it.
//!
//! Button clicks are sent to the app's interactivity URL as Slack sends them: a signed
//! `application/x-www-form-urlencoded` POST whose `payload` field holds a `block_actions`
//! JSON document (see the `interactivity` module).
//!
//! Run it with [`run`] (`xtc-slack fake-slack`) or, in tests, [`spawn`] it on its own
//! thread.

mod blocks;
mod control;
mod events;
mod files;
mod interactivity;
mod oauth;
mod page;
mod state;
mod web_api;

use std::{
    net::TcpListener,
    sync::{Mutex, MutexGuard},
    thread::JoinHandle,
    time::Duration,
};

use actix_web::{web, App, HttpResponse, HttpServer};

/// Flags of `xtc-slack fake-slack`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = control::help_text())]
pub struct FakeSlackArgs {
    /// Address to listen on.
    #[arg(long, env = "FAKE_SLACK_BIND", default_value = "127.0.0.1:9999")]
    pub bind: String,
    /// The pretend Slack app's client ID.
    #[arg(long, env = "FAKE_SLACK_CLIENT_ID", default_value = "fake-client-id")]
    pub client_id: String,
    /// The pretend Slack app's client secret.
    #[arg(
        long,
        env = "FAKE_SLACK_CLIENT_SECRET",
        default_value = "fake-client-secret"
    )]
    pub client_secret: String,
    /// Workspace ID (`T…`).
    #[arg(long, env = "FAKE_SLACK_TEAM_ID", default_value = "T0FAKE0001")]
    pub team_id: String,
    /// Workspace name.
    #[arg(
        long,
        env = "FAKE_SLACK_TEAM_NAME",
        default_value = "XTC-Test-Workspace"
    )]
    pub team_name: String,
    /// Where lifecycle events are POSTed (the app's `/slack/events`).
    #[arg(long, env = "FAKE_SLACK_EVENTS_URL")]
    pub events_url: Option<String>,
    /// Where button clicks are POSTed (the app's interactivity Request URL, e.g.
    /// `/slack/interactions`); can also be set later with `POST /_fake/api/interactivity`.
    #[arg(long, env = "FAKE_SLACK_INTERACTIVITY_URL")]
    pub interactivity_url: Option<String>,
    /// Secret used to sign events and button clicks.
    #[arg(
        long,
        env = "FAKE_SLACK_SIGNING_SECRET",
        default_value = "fake-signing-secret"
    )]
    pub signing_secret: String,
    /// `chat.postMessage` per channel and second; 0 disables the limit.
    #[arg(long, env = "FAKE_SLACK_RATE_LIMIT_PER_SEC", default_value_t = 1.0)]
    pub rate_limit_per_sec: f64,
    /// Burst allowed above the per-second rate.
    #[arg(long, env = "FAKE_SLACK_RATE_LIMIT_BURST", default_value_t = 3)]
    pub rate_limit_burst: u32,
    /// The app's configured Redirect URLs (repeatable). Empty: any http(s) URL is accepted.
    #[arg(
        long = "redirect-url",
        env = "FAKE_SLACK_REDIRECT_URLS",
        value_delimiter = ','
    )]
    pub redirect_urls: Vec<String>,
    /// Send `tokens_revoked` + `app_uninstalled` to `--events-url` when the last bot token
    /// is revoked by `auth.revoke` or `apps.uninstall`.
    #[arg(long, env = "FAKE_SLACK_LIFECYCLE_EVENTS")]
    pub lifecycle_events: bool,
    /// Token rotation on: bot tokens (`xoxe.xoxb-…`) expire after this many seconds
    /// (Slack: 43200) and come with a single-use refresh token. 0: off.
    #[arg(long, env = "FAKE_SLACK_TOKEN_ROTATION_SECS", default_value_t = 0)]
    pub token_rotation_secs: u64,
    /// `chat.update` calls per minute and workspace (Slack's Tier 3: about 50); beyond it
    /// 429 with `Retry-After`. 0: no limit.
    #[arg(long, env = "FAKE_SLACK_CHAT_UPDATE_PER_MIN", default_value_t = 0)]
    pub chat_update_per_min: u32,
    /// `conversations.list` calls per minute and workspace (Slack's Tier 2: about 20);
    /// beyond it 429 with `Retry-After`. 0: no limit.
    #[arg(
        long,
        env = "FAKE_SLACK_CONVERSATIONS_LIST_PER_MIN",
        default_value_t = 0
    )]
    pub conversations_list_per_min: u32,
    /// Most channels per `conversations.list` page, whatever `limit` asks (Slack may
    /// return fewer than asked). 0: as asked.
    #[arg(long, env = "FAKE_SLACK_LIST_PAGE_SIZE", default_value_t = 0)]
    pub list_page_size: usize,
    /// Public channels `channel-00001` … added to the workspace at start (a large
    /// workspace).
    #[arg(long, env = "FAKE_SLACK_GENERATED_CHANNELS", default_value_t = 0)]
    pub generated_channels: usize,
}

/// A channel of the fake workspace at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSpec {
    /// `C` + 8 or more uppercase letters/digits.
    pub id: String,
    /// Lowercase name without `#`.
    pub name: String,
    /// Private: invisible to the bot unless it is a member.
    pub is_private: bool,
    /// Archived: posts fail with `is_archived`.
    pub is_archived: bool,
    /// Whether the app's bot user is in the channel.
    pub is_member: bool,
}

impl ChannelSpec {
    /// A public channel the bot has not joined, with a fresh Slack-like ID.
    pub fn public(name: &str) -> ChannelSpec {
        ChannelSpec {
            id: state::new_channel_id(),
            name: name.to_owned(),
            is_private: false,
            is_archived: false,
            is_member: false,
        }
    }

    fn fixed(id: &str, name: &str, is_private: bool, is_archived: bool, is_member: bool) -> Self {
        ChannelSpec {
            id: id.to_owned(),
            name: name.to_owned(),
            is_private,
            is_archived,
            is_member,
        }
    }

    /// The default workspace: `general` (bot is a member), `load-tests`, `perf`, `random`,
    /// private `secret-ops`, archived `old-alerts`.
    pub fn defaults() -> Vec<ChannelSpec> {
        vec![
            Self::fixed("C0FAKE0GEN1", "general", false, false, true),
            Self::fixed("C0FAKE0LDT1", "load-tests", false, false, false),
            Self::fixed("C0FAKE0PRF1", "perf", false, false, false),
            Self::fixed("C0FAKE0RND1", "random", false, false, false),
            Self::fixed("C0FAKE0SEC1", "secret-ops", true, false, false),
            Self::fixed("C0FAKE0OLD1", "old-alerts", false, true, false),
        ]
    }
}

/// A person in the fake workspace, who can click buttons on the page or through the
/// control API (`block_actions` payloads carry their ID and name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeUser {
    /// `U` + uppercase letters/digits.
    pub id: String,
    /// The user's handle: a payload's `user.username` and `user.name`.
    pub name: String,
}

impl FakeUser {
    /// A user with this ID and name.
    pub fn new(id: &str, name: &str) -> FakeUser {
        FakeUser {
            id: id.to_owned(),
            name: name.to_owned(),
        }
    }

    /// The default people: `U0FAKEUSR01` "jane" (who installs the app), `U0FAKEUSR02`
    /// "sam" and `U0FAKEUSR03` "alex".
    pub fn defaults() -> Vec<FakeUser> {
        vec![
            FakeUser::new("U0FAKEUSR01", "jane"),
            FakeUser::new("U0FAKEUSR02", "sam"),
            FakeUser::new("U0FAKEUSR03", "alex"),
        ]
    }
}

/// Everything the fake needs at start. `Default` matches the flags' defaults.
#[derive(Debug, Clone)]
pub struct FakeSlackConfig {
    /// The app's client ID.
    pub client_id: String,
    /// The app's client secret.
    pub client_secret: String,
    /// The app's ID (`A…`).
    pub app_id: String,
    /// The app's (and its bot's) display name.
    pub app_name: String,
    /// Workspace ID.
    pub team_id: String,
    /// Workspace name.
    pub team_name: String,
    /// The bot user (`U…`) that tokens of this app act as.
    pub bot_user_id: String,
    /// The bot (`B…`).
    pub bot_id: String,
    /// The user who "clicks Allow" (one of `users`), and who clicks buttons unless
    /// someone else is chosen.
    pub installer_user_id: String,
    /// The people of the workspace (the page's "Act as" choice).
    pub users: Vec<FakeUser>,
    /// Lifetime of OAuth codes (Slack: 10 minutes).
    pub code_ttl: Duration,
    /// The app's Redirect URLs; empty accepts any http(s) `redirect_uri`.
    pub redirect_urls: Vec<String>,
    /// Channels at start.
    pub channels: Vec<ChannelSpec>,
    /// Per-channel `chat.postMessage` rate; 0 disables.
    pub rate_limit_per_sec: f64,
    /// Token-bucket size.
    pub rate_limit_burst: u32,
    /// Secret for signing events and button clicks.
    pub signing_secret: String,
    /// Where events go.
    pub events_url: Option<String>,
    /// Where button clicks go (the app's interactivity Request URL); `None`: clicks are
    /// refused until one is set (`POST /_fake/api/interactivity`).
    pub interactivity_url: Option<String>,
    /// Send lifecycle events when the last bot token is revoked.
    pub lifecycle_events: bool,
    /// Token rotation: the lifetime of bot tokens (`None`: tokens never expire).
    pub token_lifetime: Option<Duration>,
    /// Per-workspace method tiers: method → (calls per minute, burst); beyond it the
    /// method answers 429 with `Retry-After`. Empty: no tiers (Slack: `chat.update` ~50).
    pub method_limits: std::collections::HashMap<String, (u32, u32)>,
    /// Most channels per `conversations.list` page (0: as asked, up to 1,000).
    pub list_page_size: usize,
    /// Public channels `channel-00001` … added at start after `channels`.
    pub generated_channels: usize,
    /// How long an upload URL of `files.getUploadURLExternal` works (Slack: minutes).
    pub upload_url_ttl: Duration,
}

impl Default for FakeSlackConfig {
    fn default() -> Self {
        FakeSlackConfig {
            client_id: "fake-client-id".to_owned(),
            client_secret: "fake-client-secret".to_owned(),
            app_id: "A0FAKEAPP01".to_owned(),
            app_name: "xtc-slack".to_owned(),
            team_id: "T0FAKE0001".to_owned(),
            team_name: "XTC-Test-Workspace".to_owned(),
            bot_user_id: "U0FAKEBOT01".to_owned(),
            bot_id: "B0FAKEBOT01".to_owned(),
            installer_user_id: "U0FAKEUSR01".to_owned(),
            users: FakeUser::defaults(),
            code_ttl: Duration::from_secs(600),
            redirect_urls: Vec::new(),
            channels: ChannelSpec::defaults(),
            rate_limit_per_sec: 1.0,
            rate_limit_burst: 3,
            signing_secret: "fake-signing-secret".to_owned(),
            events_url: None,
            interactivity_url: None,
            lifecycle_events: false,
            token_lifetime: None,
            method_limits: std::collections::HashMap::new(),
            list_page_size: 0,
            generated_channels: 0,
            upload_url_ttl: files::DEFAULT_UPLOAD_URL_TTL,
        }
    }
}

impl FakeSlackConfig {
    /// The workspace's subdomain, derived from its name (`xtc-test-workspace`).
    pub fn team_domain(&self) -> String {
        let d: String = self
            .team_name
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        d.trim_matches('-').to_owned()
    }
}

impl From<&FakeSlackArgs> for FakeSlackConfig {
    fn from(a: &FakeSlackArgs) -> Self {
        FakeSlackConfig {
            client_id: a.client_id.clone(),
            client_secret: a.client_secret.clone(),
            team_id: a.team_id.clone(),
            team_name: a.team_name.clone(),
            events_url: a.events_url.clone(),
            interactivity_url: a.interactivity_url.clone(),
            signing_secret: a.signing_secret.clone(),
            rate_limit_per_sec: a.rate_limit_per_sec,
            rate_limit_burst: a.rate_limit_burst,
            redirect_urls: a.redirect_urls.clone(),
            lifecycle_events: a.lifecycle_events,
            token_lifetime: (a.token_rotation_secs > 0)
                .then(|| Duration::from_secs(a.token_rotation_secs)),
            method_limits: [
                ("chat.update", a.chat_update_per_min, 5),
                ("conversations.list", a.conversations_list_per_min, 1),
            ]
            .into_iter()
            .filter(|(_, per_min, _)| *per_min > 0)
            .map(|(m, per_min, burst)| (m.to_owned(), (per_min, burst)))
            .collect(),
            list_page_size: a.list_page_size,
            generated_channels: a.generated_channels,
            ..FakeSlackConfig::default()
        }
    }
}

/// State shared by all workers of one fake.
#[derive(Debug)]
pub(crate) struct Shared {
    world: Mutex<state::World>,
}

impl Shared {
    /// Locks the world. Handlers hold the lock only for synchronous work; a panic while
    /// holding it leaves the state usable, so poisoning is ignored.
    pub(crate) fn world(&self) -> MutexGuard<'_, state::World> {
        self.world
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Largest request body the fake accepts (50 blocks of 3,000 characters fit easily).
/// Also the largest file the fake takes (it keeps files in memory).
pub(crate) const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

fn routes(cfg: &mut web::ServiceConfig, shared: web::Data<Shared>) {
    cfg.app_data(shared)
        .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
        .app_data(
            web::JsonConfig::default()
                .limit(MAX_BODY_BYTES)
                // `curl -d '{…}'` sends a form content type; the control API takes it as JSON.
                .content_type(|_| true)
                .error_handler(control::json_error),
        )
        .route("/api/{method}", web::route().to(web_api::handle))
        .route("/oauth/v2/authorize", web::get().to(oauth::show))
        .route("/oauth/v2/authorize", web::post().to(oauth::decide))
        .route("/_fake", web::get().to(redirect_to_page))
        .route("/", web::get().to(redirect_to_page))
        .route("/_fake/", web::get().to(page::index))
        .route("/_fake/click", web::post().to(page::click))
        .route(
            "/_fake/views/{id}/submit",
            web::post().to(interactivity::views::submit_page),
        )
        .route(
            "/_fake/views/{id}/close",
            web::post().to(interactivity::views::close_page),
        )
        .route(
            "/_fake/api/views",
            web::get().to(interactivity::views::list),
        )
        .route(
            "/_fake/api/views/{id}/submit",
            web::post().to(interactivity::views::submit_api),
        )
        .route("/_fake/upload/{file_id}", web::post().to(files::upload))
        .route("/_fake/files/{file_id}", web::get().to(files::bytes))
        .route(
            "/_fake/response/{id}",
            web::post().to(interactivity::respond),
        )
        .route("/_fake/api", web::get().to(control::index))
        .route("/_fake/api/", web::get().to(control::index))
        .route("/_fake/api/messages", web::get().to(control::messages))
        .route("/_fake/api/calls", web::get().to(control::calls))
        .route("/_fake/api/channels", web::get().to(control::channels))
        .route(
            "/_fake/api/channels",
            web::post().to(control::change_channel),
        )
        .route("/_fake/api/tokens", web::post().to(control::mint_token))
        .route("/_fake/api/tokens/revoke", web::post().to(control::revoke))
        .route("/_fake/api/fail", web::post().to(control::inject_failure))
        .route("/_fake/api/rate-limit", web::post().to(control::rate_limit))
        .route(
            "/_fake/api/method-limits",
            web::post().to(control::method_limit),
        )
        .route(
            "/_fake/api/messages/delete",
            web::post().to(control::delete_message),
        )
        .route("/_fake/api/events", web::post().to(control::send_event))
        .route("/_fake/api/events", web::get().to(control::sent_events))
        .route(
            "/_fake/api/events/retry",
            web::post().to(control::retry_event),
        )
        .route("/_fake/api/workspace", web::post().to(control::workspace))
        .route("/_fake/api/files", web::get().to(files::list))
        .route("/_fake/api/files/expiry", web::post().to(files::expiry))
        .route(
            "/_fake/api/interactivity",
            web::post().to(interactivity::set_url),
        )
        .route(
            "/_fake/api/interactions",
            web::post().to(interactivity::interact),
        )
        .route(
            "/_fake/api/interactions",
            web::get().to(interactivity::clicks),
        )
        .route(
            "/_fake/api/responses",
            web::get().to(interactivity::responses),
        )
        .route("/_fake/api/reset", web::post().to(control::reset));
}

async fn redirect_to_page() -> HttpResponse {
    HttpResponse::Found()
        .insert_header(("Location", "/_fake/"))
        .finish()
}

fn server(
    config: FakeSlackConfig,
    listener: TcpListener,
    workers: Option<usize>,
) -> std::io::Result<actix_web::dev::Server> {
    let shared = web::Data::new(Shared {
        world: Mutex::new(state::World::new(config)),
    });
    let mut server = HttpServer::new(move || {
        let shared = shared.clone();
        App::new().configure(move |cfg| routes(cfg, shared))
    });
    if let Some(n) = workers {
        server = server.workers(n).disable_signals();
    }
    Ok(server.listen(listener)?.run())
}

/// Runs the fake on `args.bind` until Ctrl-C.
pub async fn run(args: FakeSlackArgs) -> anyhow::Result<()> {
    let listener = TcpListener::bind(&args.bind)
        .map_err(|e| anyhow::anyhow!("cannot bind {}: {e}", args.bind))?;
    let addr = listener.local_addr()?;
    let config = FakeSlackConfig::from(&args);
    tracing::info!(
        url = %format!("http://{addr}"),
        api = %format!("http://{addr}/api"),
        authorize = %format!("http://{addr}/oauth/v2/authorize"),
        client_id = %config.client_id,
        team = %config.team_name,
        "fake Slack listening; open /_fake/ to see posted messages"
    );
    server(config, listener, None)?.await?;
    Ok(())
}

/// A fake running on its own thread; stops when dropped.
#[derive(Debug)]
pub struct FakeSlackHandle {
    base_url: String,
    server: actix_web::dev::ServerHandle,
    thread: Option<JoinHandle<()>>,
}

impl FakeSlackHandle {
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The Web API base: `{base}/api` (what `SLACK_API_URL` should be).
    pub fn api_url(&self) -> String {
        format!("{}/api", self.base_url)
    }

    /// The OAuth consent page: `{base}/oauth/v2/authorize`.
    pub fn authorize_url(&self) -> String {
        format!("{}/oauth/v2/authorize", self.base_url)
    }

    /// The control API base: `{base}/_fake/api`.
    pub fn control_url(&self) -> String {
        format!("{}/_fake/api", self.base_url)
    }
}

impl Drop for FakeSlackHandle {
    fn drop(&mut self) {
        // `stop` sends the command immediately; its future only waits for completion,
        // which joining the thread does as well.
        drop(self.server.stop(false));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts the fake on `listener` on a new thread with its own actix system, so it works
/// from any test runtime. Bind the listener to port 0 and read the URL from the handle.
pub fn spawn(config: FakeSlackConfig, listener: TcpListener) -> std::io::Result<FakeSlackHandle> {
    let addr = listener.local_addr()?;
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name(format!("fake-slack-{}", addr.port()))
        .spawn(move || {
            let system = actix_rt::System::new();
            system.block_on(async move {
                match server(config, listener, Some(1)) {
                    Ok(server) => {
                        let _ = tx.send(Ok(server.handle()));
                        if let Err(e) = server.await {
                            tracing::error!(error = %e, "fake Slack stopped with an error");
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            });
        })?;
    let server = rx
        .recv()
        .map_err(|_| std::io::Error::other("fake Slack thread ended before starting"))??;
    let host = match addr.ip() {
        ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    Ok(FakeSlackHandle {
        base_url: format!("http://{host}:{}", addr.port()),
        server,
        thread: Some(thread),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: FakeSlackArgs,
    }

    #[test]
    fn flags_reach_the_config() {
        let cli = Cli::try_parse_from([
            "fake-slack",
            "--interactivity-url",
            "http://127.0.0.1:8080/slack/interactions",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let config = FakeSlackConfig::from(&cli.args);
        assert_eq!(
            config.interactivity_url.as_deref(),
            Some("http://127.0.0.1:8080/slack/interactions")
        );
        assert_eq!(config.users, FakeUser::defaults());
        assert_eq!(config.users[0].id, config.installer_user_id);
        let help = control::help_text();
        for path in [
            "/_fake/api/interactivity",
            "/_fake/api/interactions",
            "/_fake/api/responses",
        ] {
            assert!(help.contains(path), "{path}");
        }
    }
}
