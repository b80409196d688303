//! The keys of a copy: the source's (`--from-key` or the key file beside an SQLite
//! source) and the key file beside an SQLite target.

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use super::{CopyError, CopyRequest};
use crate::crypto::SecretKey;
use crate::db::{key_file_path, DatabaseUrl};

/// A key and where it came from (for people; never the key).
pub(super) struct KeyMaterial {
    pub(super) key: SecretKey,
    pub(super) encoded: SecretString,
    pub(super) origin: String,
}

/// The source's key: `--from-key`, or the key file beside an SQLite source.
pub(super) fn source_key(req: &CopyRequest) -> Result<KeyMaterial, CopyError> {
    if let Some(encoded) = &req.from_key {
        return Ok(KeyMaterial {
            key: parse_key(encoded, "--from-key")?,
            encoded: encoded.clone(),
            origin: "--from-key".into(),
        });
    }
    let DatabaseUrl::Sqlite(path) = &req.from else {
        return Err(CopyError::Refused(
            "--from-key is needed with a PostgreSQL source: the XTC_SLACK_SECRET_KEY its \
             service runs with (the Slack tokens are encrypted with it)"
                .into(),
        ));
    };
    let file = key_file_path(path);
    let encoded = read_key_file(&file)?.ok_or_else(|| {
        CopyError::Refused(format!(
            "no key file {} beside the source; give --from-key (the XTC_SLACK_SECRET_KEY \
             the source service runs with)",
            file.display()
        ))
    })?;
    let origin = format!("the key file {}", file.display());
    Ok(KeyMaterial {
        key: parse_key(&encoded, &origin)?,
        encoded,
        origin,
    })
}

pub(super) fn parse_key(encoded: &SecretString, origin: &str) -> Result<SecretKey, CopyError> {
    SecretKey::from_base64(encoded.expose_secret())
        .map_err(|e| CopyError::Refused(format!("{origin}: {e}")))
}

fn read_key_file(path: &Path) -> Result<Option<SecretString>, CopyError> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(SecretString::from(s.trim().to_owned()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CopyError::Refused(format!("{}: {e}", path.display()))),
    }
}

/// The key file an SQLite target needs: `(path, whether the copy must write it)`. One
/// that exists with another key is refused: the service would read it and fail to
/// decrypt every token.
pub(super) fn target_key_file(
    to: &DatabaseUrl,
    key: &KeyMaterial,
) -> Result<(Option<PathBuf>, Option<PathBuf>), CopyError> {
    let DatabaseUrl::Sqlite(path) = to else {
        return Ok((None, None));
    };
    let file = key_file_path(path);
    match read_key_file(&file)? {
        None => Ok((Some(file.clone()), Some(file))),
        Some(existing) => match SecretKey::from_base64(existing.expose_secret()) {
            Ok(existing) if existing.same_as(&key.key) => Ok((Some(file), None)),
            _ => Err(CopyError::Refused(format!(
                "{} holds another key than the one the copied tokens are encrypted with \
                 ({}); move it away, or give that key with --to-key. Nothing was written.",
                file.display(),
                key.origin
            ))),
        },
    }
}
