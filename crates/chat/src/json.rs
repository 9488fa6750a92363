//! `tojson` as Hugging Face's templates expect it: Python's `json.dumps`
//! with `ensure_ascii=False` and its default `", "` / `": "` separators, and
//! no HTML escaping (minijinja's own filter escapes `<` and `>`, which would
//! change the prompt tokens of tool-calling templates).

use std::io;

use serde_json::ser::{Formatter, PrettyFormatter};

/// Python's default separators without indentation.
struct PythonCompact;

impl Formatter for PythonCompact {
    fn begin_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
}

/// A buffer that refuses to grow past `max` bytes.
struct Capped {
    out: Vec<u8>,
    max: usize,
}

impl io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.out.len().saturating_add(buf.len()) > self.max {
            return Err(io::Error::other(format!("output longer than {} bytes", self.max)));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Serializes `value` as `json.dumps(value, ensure_ascii=False, indent=indent)`,
/// failing once the text would pass `max` bytes (indented output grows as
/// the square of the nesting depth).
pub(crate) fn dumps(
    value: &serde_json::Value,
    indent: Option<usize>,
    max: usize,
) -> Result<String, serde_json::Error> {
    let mut out = Capped { out: Vec::new(), max };
    match indent {
        None => {
            let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonCompact);
            serde::Serialize::serialize(value, &mut ser)?;
        }
        Some(0) => {
            // Python's indent=0 puts newlines but no spaces; close enough to
            // a pretty printer with an empty indent.
            let mut ser = serde_json::Serializer::with_formatter(&mut out, PrettyFormatter::with_indent(b""));
            serde::Serialize::serialize(value, &mut ser)?;
        }
        Some(n) => {
            let pad = vec![b' '; n.min(16)];
            let mut ser =
                serde_json::Serializer::with_formatter(&mut out, PrettyFormatter::with_indent(&pad));
            serde::Serialize::serialize(value, &mut ser)?;
        }
    }
    Ok(String::from_utf8_lossy(&out.out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::dumps;
    use serde_json::json;

    #[test]
    fn matches_python_json_dumps() {
        let v = json!({"name": "get_weather", "args": [1, "é", {"a": null}], "html": "<b>"});
        // json.dumps(v, ensure_ascii=False) in Python (keys keep insertion order).
        assert_eq!(
            dumps(&v, None, usize::MAX).unwrap(),
            r#"{"name": "get_weather", "args": [1, "é", {"a": null}], "html": "<b>"}"#
        );
        assert_eq!(
            dumps(&json!([1, 2]), Some(2), usize::MAX).unwrap(),
            "[\n  1,\n  2\n]"
        );
        assert!(dumps(&json!([[[[1]]]]), Some(16), 40).is_err());
    }
}
