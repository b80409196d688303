//! One module per table: a row struct, an insert struct where useful, and queries.
//! Functions take `&mut DbConnection` and never open transactions themselves; callers
//! compose them inside [`crate::db::write_tx`].

pub mod api_token;
pub mod audit;
pub mod card_edit;
pub mod delivery;
pub mod event;
pub mod installation;
pub mod load_test;
pub mod oauth_state;
pub mod organization;
pub mod project;
pub(crate) mod retention;
pub mod scenario;
pub mod slack_channel;
pub mod slack_settings;
pub mod slack_thread;
pub mod test_message;
pub mod ui_session;
