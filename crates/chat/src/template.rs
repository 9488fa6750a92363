//! Rendering a chat template as Hugging Face's `apply_chat_template` does:
//! Jinja with `trim_blocks` and `lstrip_blocks`, `raise_exception`,
//! Python-style `tojson`, Python string methods, `strftime_now`, and the
//! variables `messages`, `add_generation_prompt`, `bos_token`, `eos_token`.

use std::time::{SystemTime, UNIX_EPOCH};

use gguf::Metadata;
use minijinja::machinery::Token;
use minijinja::syntax::SyntaxConfig;
use minijinja::value::Kwargs;
use minijinja::{Environment, Error, ErrorKind, State, UndefinedBehavior};
use serde_json::Value as Json;

use crate::builtin;
use crate::error::ChatError;
use crate::json;

/// Work one render may do. minijinja charges one fuel per instruction and,
/// since version 3, 1/64 fuel per byte (and per list slot) of data that
/// operators, filters and output create, checking large allocations before
/// they happen: so this bounds both the time and the memory of a render
/// (about 128 MB of data in all). A long conversation through a
/// tool-calling template takes tens of thousands; a hostile loop, or a
/// string doubled until it fills the memory, is stopped within a fraction of
/// a second.
const FUEL: u64 = 2_000_000;
/// Nesting of macro calls and includes; bounds self-recursive macros.
const RECURSION_LIMIT: usize = 64;
/// Longest template source accepted: the largest templates in use (tool
/// calling, several formats in one) are tens of KB.
const MAX_SOURCE_LEN: usize = 128 * 1024;
/// Stack of the thread a template compiles and renders on (see
/// [`sandboxed`]): several times what the deepest nesting the fuel allows,
/// or the parser on the longest source, was measured to need (about 50 MiB
/// each in an optimised build; instrumented builds take more per level).
const STACK_SIZE: usize = 512 << 20;
/// Most operators one `{{ ... }}` or `{% ... %}` tag may hold (see
/// [`check_size`]): the largest tags of real templates hold about ten.
/// With [`MAX_SOURCE_LEN`] this keeps the worst compile near a quarter of a
/// second.
const MAX_TAG_OPERATORS: usize = 64;
/// Longest `strftime_now` format accepted.
const MAX_DATE_FORMAT: usize = 256;
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
        check_size(&t.source)?;
        sandboxed(|| {
            let env = environment()?;
            env.template_from_str(&t.source)
                .map_err(|e| ChatError::Compile(describe(&e)))?;
            Ok(())
        })?;
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
        check_size(&self.source)?;
        let out = sandboxed(|| self.render_here(&messages, opts))?;
        if opts.strip_bos && !opts.bos_token.is_empty() {
            if let Some(rest) = out.strip_prefix(opts.bos_token.as_str()) {
                return Ok(rest.to_string());
            }
        }
        Ok(out)
    }

    /// Compiles and renders on the current thread (see [`sandboxed`]).
    fn render_here(&self, messages: &[Json], opts: &RenderOptions) -> Result<String, ChatError> {
        let env = environment()?;
        let tmpl = env
            .template_from_str(&self.source)
            .map_err(|e| ChatError::Compile(describe(&e)))?;
        let ctx = minijinja::context! {
            messages => minijinja::Value::from(minijinja::value::Serde(messages)),
            add_generation_prompt => opts.add_generation_prompt,
            bos_token => opts.bos_token.as_str(),
            eos_token => opts.eos_token.as_str(),
        };
        tmpl.render(ctx)
            .map_err(|e| match e.detail().and_then(|d| d.strip_prefix(RAISED)) {
                Some(msg) => ChatError::Raised(one_line(msg)),
                None => ChatError::Render(describe(&e)),
            })
    }
}

/// Refuses, before minijinja compiles it, a template too long for
/// [`sandboxed`]'s stack bound or with a tag too big to compile quickly.
///
/// minijinja's constant folding re-evaluates every operand of a chain of
/// operators at each link, so compiling `{{ x ~ x ~ ... }}` or `{{ - - x }}`
/// takes time that grows as the square of the chain's length (8,000 terms:
/// 5 s; 50,000: minutes), unbounded by the fuel, which only counts
/// rendering. Operators are counted with minijinja's own lexer, so the
/// count is the parser's.
fn check_size(source: &str) -> Result<(), ChatError> {
    if source.len() > MAX_SOURCE_LEN {
        return Err(ChatError::Compile(format!(
            "the template is {} bytes, more than the {MAX_SOURCE_LEN} accepted",
            source.len()
        )));
    }
    let mut operators = 0usize;
    for item in minijinja::machinery::tokenize(source, false, syntax()?) {
        // A lexing error is left for the compiler to report.
        let Ok((token, span)) = item else { break };
        let operator = match token {
            Token::VariableStart | Token::BlockStart => {
                operators = 0;
                false
            }
            Token::Ident(word) => matches!(word, "not" | "and" | "or" | "in"),
            Token::Plus
            | Token::Minus
            | Token::Mul
            | Token::Div
            | Token::FloorDiv
            | Token::Pow
            | Token::Mod
            | Token::Tilde
            | Token::Eq
            | Token::Ne
            | Token::Gt
            | Token::Gte
            | Token::Lt
            | Token::Lte => true,
            _ => false,
        };
        if operator {
            operators += 1;
            if operators > MAX_TAG_OPERATORS {
                return Err(ChatError::Compile(format!(
                    "line {}: a tag holds more than {MAX_TAG_OPERATORS} operators",
                    span.start_line
                )));
            }
        }
    }
    Ok(())
}

/// Runs `work` (compiling, rendering, dropping what they built) on a thread
/// of its own with a large stack, and turns a panic in the engine into an
/// error.
///
/// minijinja recurses once per nesting level in places its limits do not
/// cover: the parser on chains of unary operators and `if`/`else`, the code
/// generator and the destructors on long operator chains (`a ~ b ~ c ~ ...`,
/// `- - - 1`: about 400 bytes of stack per byte of source), and the
/// destructors and serializers on values a loop nested inside each other
/// (`{% set ns.x = [ns.x] %}`, as deep as the fuel allows: tens of MiB of
/// stack). On a server thread's usual 2 MiB stack a 5 KB template overflowed
/// it, and a stack overflow aborts the whole process. The stack is only
/// reserved: the pages a render does not touch cost nothing.
fn sandboxed<T: Send>(work: impl FnOnce() -> Result<T, ChatError> + Send) -> Result<T, ChatError> {
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("chat-template".into())
            .stack_size(STACK_SIZE)
            .spawn_scoped(scope, work)
            .map_err(|e| ChatError::Render(format!("cannot start a thread for the template: {e}")))?;
        handle.join().unwrap_or_else(|_| {
            Err(ChatError::Render(
                "the template engine failed unexpectedly".into(),
            ))
        })
    })
}

/// A sandbox: no loader (so no `include`/`import` of anything), a fuel
/// budget, a recursion limit, and HF's extras.
fn environment() -> Result<Environment<'static>, ChatError> {
    let mut env = Environment::new();
    env.set_syntax(syntax()?);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(RECURSION_LIMIT);
    env.set_undefined_behavior(UndefinedBehavior::Lenient);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function("raise_exception", |msg: String| -> Result<String, Error> {
        Err(Error::new(ErrorKind::InvalidOperation, format!("{RAISED}{msg}")))
    });
    env.add_function("strftime_now", |fmt: String| -> Result<String, Error> {
        // Templates format a date ("%d %b %Y"); each specifier may double
        // the length, so the format is kept short.
        if fmt.len() > MAX_DATE_FORMAT {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("strftime_now: format longer than {MAX_DATE_FORMAT} bytes"),
            ));
        }
        Ok(strftime_now(&fmt))
    });
    env.add_filter("tojson", tojson);
    // Debug-formatting a value nested a thousand levels deep takes seconds
    // and grows as the cube of the depth, unbounded by the fuel; chat
    // templates have no use for either.
    env.remove_filter("pprint");
    env.remove_global("debug");
    Ok(env)
}

/// Jinja's delimiters with `trim_blocks` and `lstrip_blocks`, as Hugging Face
/// renders chat templates.
fn syntax() -> Result<SyntaxConfig, ChatError> {
    SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build()
        .map_err(|e| ChatError::Compile(describe(&e)))
}

/// `tojson(indent=None)`; HF's other keywords are accepted, `sort_keys`
/// honoured, `ensure_ascii` and `separators` ignored (templates in the wild
/// use neither).
///
/// Like minijinja's own serializers it pays for its output from the fuel
/// (16 units, a quarter of a fuel, per byte), and it stops as soon as the
/// output would cost more than the fuel left.
fn tojson(
    state: &State,
    value: minijinja::Value,
    indent: Option<usize>,
    kwargs: Kwargs,
) -> Result<String, Error> {
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
    let max_bytes = state.fuel_levels().map_or(usize::MAX, |(_, left)| {
        usize::try_from(left.saturating_mul(4)).unwrap_or(usize::MAX)
    });
    let text = json::dumps(&v, indent, max_bytes)
        .map_err(|e| Error::new(ErrorKind::OutOfFuel, format!("tojson: {e}")))?;
    state.consume_fuel(text.len() as u64 / 4)?;
    Ok(text)
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
    one_line(&s.replace('\n', " "))
}

/// Text from a template or a request, made safe for a one-line message:
/// control characters (newlines, terminal escape sequences) are escaped and
/// the length is capped (`raise_exception('x' * 10**8)` is legal Jinja).
fn one_line(text: &str) -> String {
    const MAX_CHARS: usize = 1000;
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == MAX_CHARS {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
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
                    one_line(ty.unwrap_or("(none)"))
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

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm
/// (also behind the server's RFC 3339 timestamps).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
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
