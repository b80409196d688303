//! Stored values that cannot be read back (a state column holding an unknown value, JSON
//! that does not parse) or written: each is logged with the column it is in and counted
//! (`xtc_slack_unreadable_stored_values_total`), never replaced by a default silently.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{de::DeserializeOwned, Serialize};

/// Unreadable stored values since the process started. Process-wide (the value is noticed
/// deep in a row conversion, where no app's metrics are at hand); the metrics endpoint
/// copies it into the app's counter at each scrape.
static UNREADABLE: AtomicU64 = AtomicU64::new(0);

/// How many stored values could not be read or written since the process started.
pub fn unreadable_count() -> u64 {
    UNREADABLE.load(Ordering::Relaxed)
}

/// Logs and counts one value of `column` that cannot be read or written.
pub fn note_unreadable(column: &str, error: &dyn std::fmt::Display) {
    UNREADABLE.fetch_add(1, Ordering::Relaxed);
    tracing::error!(column, error = %error, "a stored value cannot be read or written");
}

/// The JSON stored in `column`; a value that does not parse is logged, counted and read as
/// `T::default()` (used where an empty value is the safe reading: no channels, no rules,
/// no recent changes).
pub fn read_json<T: DeserializeOwned + Default>(column: &str, json: &str) -> T {
    serde_json::from_str(json).unwrap_or_else(|e| {
        note_unreadable(column, &e);
        T::default()
    })
}

/// `value` as JSON for `column`; a value that cannot be serialised is logged, counted and
/// stored as `fallback`.
pub fn write_json<T: Serialize + ?Sized>(column: &str, value: &T, fallback: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| {
        note_unreadable(column, &e);
        fallback.to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_json_is_counted_and_read_as_empty() {
        let before = unreadable_count();
        let read: Vec<String> = read_json("test.column", "garbage");
        assert!(read.is_empty());
        assert!(unreadable_count() > before);
        let read: Vec<String> = read_json("test.column", r#"["a"]"#);
        assert_eq!(read, ["a"]);
    }
}
