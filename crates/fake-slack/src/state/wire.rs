//! One Web API request's parameters as the fake reads them (query, form or JSON body,
//! merged) and a method's answer (status, JSON or an injected raw body, `Retry-After`,
//! warnings).

use super::*;

/// A Web API answer: HTTP status, JSON object (or a raw non-JSON body), `Retry-After`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Map<String, Value>,
    pub retry_after: Option<u64>,
    /// A non-JSON body (only for injected failures that imitate a broken proxy).
    pub raw: Option<String>,
    /// Cut the connection after the first bytes of the answer (injected failures only).
    pub cut: bool,
}

impl Reply {
    /// `{"ok":true, ...fields}` with HTTP 200.
    pub fn ok(fields: Value) -> Reply {
        let mut body = match fields {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        body.insert("ok".into(), Value::Bool(true));
        Reply::answer(body)
    }

    /// `{"ok":false,"error":code}` with HTTP 200, as Slack answers API-level failures.
    pub fn error(code: &str) -> Reply {
        let mut body = Map::new();
        body.insert("ok".into(), Value::Bool(false));
        body.insert("error".into(), Value::String(code.to_owned()));
        Reply::answer(body)
    }

    /// `body` as JSON with HTTP 200, as Slack answers every Web API call it takes.
    fn answer(body: Map<String, Value>) -> Reply {
        Reply {
            status: 200,
            body,
            retry_after: None,
            raw: None,
            cut: false,
        }
    }

    /// HTTP 429 `ratelimited` with `Retry-After`.
    pub fn ratelimited(retry_after: u64) -> Reply {
        Reply {
            status: 429,
            retry_after: Some(retry_after),
            ..Reply::error("ratelimited")
        }
    }

    /// Adds a field to the answer.
    pub(crate) fn with(mut self, key: &str, value: Value) -> Reply {
        self.body.insert(key.to_owned(), value);
        self
    }

    /// The error code, if this is an error.
    pub fn error_code(&self) -> Option<&str> {
        self.body.get("error").and_then(Value::as_str)
    }

    /// Adds Slack's warning fields (`warning` comma-joined, `response_metadata.warnings`).
    pub fn add_warnings(&mut self, warnings: &[String], messages: &[String]) {
        if warnings.is_empty() && messages.is_empty() {
            return;
        }
        if !warnings.is_empty() {
            self.body
                .insert("warning".into(), json!(warnings.join(",")));
        }
        let meta = self
            .body
            .entry("response_metadata")
            .or_insert_with(|| json!({}));
        if let Value::Object(meta) = meta {
            if !warnings.is_empty() {
                meta.insert("warnings".into(), json!(warnings));
            }
            if !messages.is_empty() {
                meta.insert("messages".into(), json!(messages));
            }
        }
    }
}

/// A method's outcome: its answer, or the refusal it stopped at.
pub(crate) type Answer = Result<Reply, Reply>;

/// The parsed parameters of one Web API request (query, form or JSON body, merged).
#[derive(Debug, Default, Clone)]
pub(crate) struct Params {
    pub map: Map<String, Value>,
    /// From `Authorization: Bearer`, or the `token` query/form parameter.
    pub token: Option<String>,
    /// From `Authorization: Basic`.
    pub basic: Option<(String, String)>,
    /// Request-level warnings (`missing_charset`, `superfluous_charset`).
    pub warnings: Vec<String>,
    /// Where the request arrived (`http://host:port`), for URLs an answer hands out.
    pub base_url: String,
}

impl Params {
    /// A parameter as text (numbers and booleans as Slack's form encoding would send them).
    pub fn str(&self, key: &str) -> Option<String> {
        match self.map.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    pub(super) fn bool(&self, key: &str) -> bool {
        match self.map.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => matches!(s.as_str(), "true" | "1"),
            Some(Value::Number(n)) => n.as_i64() == Some(1),
            _ => false,
        }
    }

    /// `blocks` as an array: JSON bodies carry an array, form bodies a JSON string.
    pub(super) fn blocks(&self) -> Result<Option<Vec<Value>>, Reply> {
        self.array("blocks", "invalid_blocks_format")
    }

    /// `attachments` as an array (like `blocks`).
    pub(super) fn attachments(&self) -> Result<Option<Vec<Value>>, Reply> {
        self.array("attachments", "invalid_attachments")
    }

    pub(crate) fn array(&self, key: &str, invalid: &str) -> Result<Option<Vec<Value>>, Reply> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a.clone())),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Array(a)) => Ok(Some(a)),
                _ => Err(Reply::error(invalid)),
            },
            Some(_) => Err(Reply::error(invalid)),
        }
    }
}
