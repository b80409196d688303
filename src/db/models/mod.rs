//! One module per table: a row struct, an insert struct where useful, and queries.
//! Functions take `&mut DbConnection` and never open transactions themselves; callers
//! compose them inside [`crate::db::write_tx`].

pub mod api_token;
pub mod audit;
pub mod card_edit;
pub mod channel_directory;
pub mod delivery;
pub(crate) mod delivery_log;
pub(crate) mod event;
pub(crate) mod hold;
pub mod installation;
pub(crate) mod load_test;
pub(crate) mod maintenance;
pub(crate) mod oauth_state;
pub(crate) mod organization;
pub(crate) mod project;
pub(crate) mod retention;
pub(crate) mod run_report;
pub(crate) mod scenario;
pub(crate) mod scenario_controls;
pub(crate) mod slack_action;
pub mod slack_channel;
pub(crate) mod slack_settings;
pub(crate) mod slack_thread;
pub(crate) mod summary;
pub(crate) mod test_message;
pub(crate) mod ui_session;
