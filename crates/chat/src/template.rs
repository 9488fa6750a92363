//! Rendering a chat template as Hugging Face's `apply_chat_template` does:
//! Jinja with `trim_blocks` and `lstrip_blocks`, `raise_exception`,
//! Python-style `tojson`, Python string methods, `strftime_now`, and the
//! variables `messages`, `add_generation_prompt`, `bos_token`, `eos_token`.

use std::time::{SystemTime, UNIX_EPOCH};

use gguf::Metadata;
use minijinja::value::Kwargs;
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior};
use serde_json::Value as Json;

use crate::builtin;
use crate::error::ChatError;
use crate::json;

/// Instructions one render may run: a long conversation through a
/// tool-calling template takes tens of thousands; a hostile loop is stopped
/// within a fraction of a second.
const FUEL: u64 = 5_000_000;
/// Nesting of macro calls and includes; bounds self-recursive macros.
const RECURSION_LIMIT: usize = 64;
/// Marks errors raised by the template itself, to report them as such.
const RAISED: &str = "raise_exception: ";

/// Where a template came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateSource {
    /// The model file's `tokenizer.chat_template`.
    Model,
    /// A built-in format, by name (`gemma`, `chatml`).
    Builtin(&'static str),
}

/// What the caller knows that the template may use.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// End with the opening of the assistant's turn.
    pub add_generation_prompt: bool,
    /// Text of the BOS token, for templates that print `bos_token`.
    pub bos_token: String,
    /// Text of the EOS token.
    pub eos_token: String,
    /// Drop a leading `bos_token` from the result, for tokenizers that add
    /// BOS themselves (as llama.cpp does, to avoid a double BOS).
    pub strip_bos: bool,
}

/// A compiled-on-demand chat template.
#[derive(Debug, Clone)]
pub struct ChatTemplate {
    source: String,
    origin: TemplateSource,
}

impl ChatTemplate {
    /// A template from its Jinja source; fails if it does not compile.
    pub fn new(source: impl Into<String>) -> Result<Self, ChatError> {
        let t = ChatTemplate {
            source: source.into(),
            origin: TemplateSource::Model,
        };
        let env = environment();
        env.template_from_str(&t.source)
            .map_err(|e| ChatError::Compile(describe(&e)))?;
        Ok(t)
    }

    /// The built-in template for an architecture.
    pub fn builtin(architecture: &str) -> Self {
        let (name, source) = builtin::for_architecture(architecture);
        ChatTemplate {
            source: source.to_string(),
            origin: TemplateSource::Builtin(name),
        }
    }

    /// The model's own template if its file has one, else the built-in one
    /// for its architecture.
    pub fn from_metadata(metadata: &Metadata) -> Result<Self, ChatError> {
        match metadata.get_str("tokenizer.chat_template") {
            Some(src) if !src.trim().is_empty() => Self::new(src),
            _ => Ok(Self::builtin(metadata.architecture().unwrap_or(""))),
        }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn origin(&self) -> &TemplateSource {
        &self.origin
    }

    /// Renders `messages`: a JSON array of `{"role", "content", ...}`
    /// objects, as the OpenAI API takes them. Text content parts are joined;
    /// other fields (`tool_calls`, `name`) are passed to the template as is.
    pub fn render(&self, messages: &Json, opts: &RenderOptions) -> Result<String, ChatError> {
        let messages = normalize_messages(messages)?;
        let env = environment();
        let tmpl = env
            .template_from_str(&self.source)
            .map_err(|e| ChatError::Compile(describe(&e)))?;
        let ctx = minijinja::context! {
            messages => minijinja::Value::from_serialize(&messages),
            add_generation_prompt => opts.add_generation_prompt,
            bos_token => opts.bos_token.as_str(),
            eos_token => opts.eos_token.as_str(),
        };
        let out = tmpl
            .render(ctx)
            .map_err(|e| match e.detail().and_then(|d| d.strip_prefix(RAISED)) {
                Some(msg) => ChatError::Raised(msg.to_string()),
                None => ChatError::Render(describe(&e)),
            })?;
        if opts.strip_bos && !opts.bos_token.is_empty() {
            if let Some(rest) = out.strip_prefix(opts.bos_token.as_str()) {
                return Ok(rest.to_string());
            }
        }
        Ok(out)
    }
}

/// A sandbox: no loader (so no `include`/`import` of anything), a fuel
/// budget, a recursion limit, and HF's extras.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(RECURSION_LIMIT);
    env.set_undefined_behavior(UndefinedBehavior::Lenient);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function("raise_exception", |msg: String| -> Result<String, Error> {
        Err(Error::new(ErrorKind::InvalidOperation, format!("{RAISED}{msg}")))
    });
    env.add_function("strftime_now", |fmt: String| strftime_now(&fmt));
    env.add_filter("tojson", tojson);
    env
}

/// `tojson(indent=None)`; HF's other keywords are accepted, `sort_keys`
/// honoured, `ensure_ascii` and `separators` ignored (templates in the wild
/// use neither).
fn tojson(value: minijinja::Value, indent: Option<usize>, kwargs: Kwargs) -> Result<String, Error> {
    let indent = match indent {
        Some(i) => Some(i),
        None => kwargs.get::<Option<usize>>("indent")?,
    };
    let sort_keys = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(false);
    let _: Option<minijinja::Value> = kwargs.get("ensure_ascii")?;
    let _: Option<minijinja::Value> = kwargs.get("separators")?;
    kwargs.assert_all_used()?;
    let bad = |e: serde_json::Error| Error::new(ErrorKind::InvalidOperation, format!("tojson: {e}"));
    let mut v: Json = serde_json::to_value(&value).map_err(bad)?;
    if sort_keys {
        sort_json_keys(&mut v);
    }
    json::dumps(&v, indent).map_err(bad)
}

fn sort_json_keys(v: &mut Json) {
    match v {
        Json::Object(map) => {
            map.sort_keys();
            map.values_mut().for_each(sort_json_keys);
        }
        Json::Array(items) => items.iter_mut().for_each(sort_json_keys),
        _ => {}
    }
}

/// An error with its cause and line, on one line.
fn describe(e: &Error) -> String {
    let mut s = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s.replace('\n', " ")
}

/// Checks the shape of a conversation and flattens content parts to text.
fn normalize_messages(messages: &Json) -> Result<Vec<Json>, ChatError> {
    let list = messages
        .as_array()
        .ok_or_else(|| ChatError::BadMessages("messages must be a list".into()))?;
    list.iter()
        .enumerate()
        .map(|(i, m)| {
            let obj = m
                .as_object()
                .ok_or_else(|| ChatError::BadMessages(format!("message {i} is not an object")))?;
            match obj.get("role") {
                Some(Json::String(_)) => {}
                _ => {
                    return Err(ChatError::BadMessages(format!(
                        "message {i} has no string \"role\""
                    )))
                }
            }
            let mut obj = obj.clone();
            let content = match obj.get("content") {
                None | Some(Json::Null) => None,
                Some(Json::String(s)) => Some(Json::String(s.clone())),
                Some(Json::Array(parts)) => Some(Json::String(join_text_parts(i, parts)?)),
                Some(_) => {
                    return Err(ChatError::BadMessages(format!(
                        "message {i}: content must be a string or a list of parts"
                    )))
                }
            };
            match content {
                Some(c) => obj.insert("content".into(), c),
                None => obj.insert("content".into(), Json::Null),
            };
            Ok(Json::Object(obj))
        })
        .collect()
}

fn join_text_parts(i: usize, parts: &[Json]) -> Result<String, ChatError> {
    let mut out = String::new();
    for p in parts {
        match (
            p.get("type").and_then(Json::as_str),
            p.get("text").and_then(Json::as_str),
        ) {
            (Some("text"), Some(t)) => out.push_str(t),
            (ty, _) => {
                return Err(ChatError::BadMessages(format!(
                    "message {i}: content part of type {} is not supported (text only)",
                    ty.unwrap_or("(none)")
                )))
            }
        }
    }
    Ok(out)
}

/// `strftime_now(format)`, UTC, for the specifiers templates use.
fn strftime_now(fmt: &str) -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    strftime(secs, fmt)
}

fn strftime(secs: u64, fmt: &str) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let days = (secs / 86_400) as i64;
    let (y, m, d) = civil_from_days(days);
    let tod = secs % 86_400;
    let month = MONTHS[(m - 1) as usize];
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out.push_str(&y.to_string()),
            Some('m') => out.push_str(&format!("{m:02}")),
            Some('d') => out.push_str(&format!("{d:02}")),
            Some('B') => out.push_str(month),
            Some('b') => out.push_str(&month[..3]),
            Some('H') => out.push_str(&format!("{:02}", tod / 3600)),
            Some('M') => out.push_str(&format!("{:02}", tod / 60 % 60)),
            Some('S') => out.push_str(&format!("{:02}", tod % 60)),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strftime_formats_known_dates() {
        // 2025-01-20 12:34:56 UTC
        assert_eq!(
            strftime(1_737_376_496, "%d %b %Y %H:%M:%S"),
            "20 Jan 2025 12:34:56"
        );
        assert_eq!(strftime(0, "%Y-%m-%d %B"), "1970-01-01 January");
        assert_eq!(strftime(951_782_400, "%Y-%m-%d"), "2000-02-29");
    }
}
