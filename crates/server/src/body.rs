//! Request bodies read by hand rather than through serde structs: each bad
//! field gets a 400 that names it, the way OpenAI's API answers, instead of
//! a generic deserialization message.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// Largest request body accepted (a long conversation fits many times over).
pub const BODY_LIMIT: usize = 8 << 20;

/// A JSON object body; `prefix` names nested objects in errors
/// (`options.temperature`).
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    prefix: &'static str,
}

/// Parses a request body that must be one JSON object.
pub fn parse(body: Result<Bytes, BytesRejection>) -> Result<Map<String, Value>, ApiError> {
    let bytes = body.map_err(|rej| {
        if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(BODY_LIMIT)
        } else {
            ApiError::bad_request(format!("Could not read the request body: {rej}"))
        }
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "The request body is empty: expected a JSON object",
        ));
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request("The request body must be a JSON object")),
        Err(e) => Err(ApiError::bad_request(format!(
            "The request body is not valid JSON: {e}"
        ))),
    }
}

impl<'a> Fields<'a> {
    pub fn new(map: &'a Map<String, Value>) -> Self {
        Fields { map, prefix: "" }
    }

    /// The object under `key` (`options` in Ollama requests); empty if absent.
    pub fn object(&self, key: &str, prefix: &'static str) -> Result<Option<Fields<'a>>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Fields { map, prefix })),
            Some(_) => Err(self.invalid(key, "must be an object")),
        }
    }

    /// The value under `key`; `null` counts as absent, as OpenAI treats it.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn invalid(&self, key: &str, what: &str) -> ApiError {
        let name = format!("{}{key}", self.prefix);
        ApiError::invalid_param(&name, format!("`{name}` {what}"))
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.invalid(key, "must be a boolean")),
        }
    }

    pub fn str(&self, key: &str) -> Result<Option<&'a str>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.invalid(key, "must be a string")),
        }
    }

    /// An integer (a float with no fractional part is accepted, as JSON
    /// clients in weakly typed languages send them).
    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => as_int(v)
                .map(Some)
                .ok_or_else(|| self.invalid(key, "must be an integer")),
        }
    }

    /// A non-negative integer.
    pub fn count(&self, key: &str) -> Result<Option<u64>, ApiError> {
        match self.int(key)? {
            None => Ok(None),
            Some(n) if n >= 0 => Ok(Some(n as u64)),
            Some(n) => Err(self.invalid(key, &format!("must be at least 0 (got {n})"))),
        }
    }

    /// A finite number within `lo..=hi`.
    pub fn number(&self, key: &str, lo: f64, hi: f64) -> Result<Option<f32>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.as_f64() {
                Some(x) if x.is_finite() && (lo..=hi).contains(&x) => Ok(Some(x as f32)),
                Some(x) => Err(self.invalid(key, &format!("must be between {lo} and {hi} (got {x})"))),
                None => Err(self.invalid(key, "must be a number")),
            },
        }
    }

    /// `stop`: a string or a list of strings; empty strings are dropped
    /// (they would stop before the first token).
    pub fn stop(&self, key: &str) -> Result<Vec<String>, ApiError> {
        let list = match self.get(key) {
            None => return Ok(Vec::new()),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| self.invalid(key, "must be a string or a list of strings"))?,
            Some(_) => return Err(self.invalid(key, "must be a string or a list of strings")),
        };
        if list.len() > MAX_STOP {
            return Err(self.invalid(key, &format!("may hold at most {MAX_STOP} strings")));
        }
        Ok(list.into_iter().filter(|s| !s.is_empty()).collect())
    }
}

/// Stop strings per request: each is searched for after every token.
const MAX_STOP: usize = 16;

fn as_int(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|x| x.fract() == 0.0 && x.abs() < 9.0e15)
            .map(|x| x as i64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn typed_fields_name_the_bad_one() {
        let m = fields(json!({"n": -3, "t": "hot", "s": ["a", 1], "f": 2.0, "z": null}));
        let f = Fields::new(&m);
        assert_eq!(f.count("n").unwrap_err().param.as_deref(), Some("n"));
        assert!(f.number("t", 0.0, 2.0).is_err());
        assert!(f.stop("s").is_err());
        assert_eq!(f.int("f").unwrap(), Some(2));
        assert_eq!(f.int("z").unwrap(), None);
        assert_eq!(f.stop("missing").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn bodies_must_be_json_objects() {
        assert!(parse(Ok(Bytes::from_static(b"not json"))).is_err());
        assert!(parse(Ok(Bytes::from_static(b"[1]"))).is_err());
        assert!(parse(Ok(Bytes::from_static(b" "))).is_err());
        assert!(parse(Ok(Bytes::from_static(b"{}"))).is_ok());
    }
}
