//! The key that encrypts Slack tokens at rest: given, or for SQLite read from (or
//! generated into) a private file beside the database.

use secrecy::{ExposeSecret, SecretString};

use super::SettingsError;
use crate::crypto::{CryptoError, SecretKey};
use crate::db::{key_file_path, DatabaseUrl};

/// The encryption key: given, or for SQLite read from / generated into `<db>.key`.
pub(super) fn load_secret_key(
    given: Option<&str>,
    db: &DatabaseUrl,
) -> Result<SecretKey, SettingsError> {
    const NAME: &str = "XTC_SLACK_SECRET_KEY";
    let bad = |e: CryptoError| SettingsError::new(NAME, e.to_string());
    if let Some(encoded) = given.filter(|s| !s.trim().is_empty()) {
        return SecretKey::from_base64(encoded).map_err(bad);
    }
    match db {
        DatabaseUrl::Postgres(_) => Err(SettingsError::new(
            NAME,
            "is required with a PostgreSQL database (32 bytes, base64: `openssl rand -base64 32`)",
        )),
        DatabaseUrl::Sqlite(path) => {
            let key_path = key_file_path(path);
            let encoded = read_or_create_key_file(&key_path).map_err(|e| {
                SettingsError::new(NAME, format!("key file {}: {e}", key_path.display()))
            })?;
            SecretKey::from_base64(encoded.expose_secret()).map_err(|e| {
                SettingsError::new(NAME, format!("key file {}: {e}", key_path.display()))
            })
        }
    }
}

fn read_or_create_key_file(path: &std::path::Path) -> std::io::Result<SecretString> {
    use std::io::Write;
    match std::fs::read_to_string(path) {
        Ok(s) => return Ok(SecretString::from(s.trim().to_owned())),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    let key = SecretKey::generate_base64();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(key.expose_secret().as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    tracing::info!(path = %path.display(), "generated a new secret key file");
    Ok(key)
}
