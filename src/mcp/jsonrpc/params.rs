//! Request and notification params, kept as the JSON text they arrived in.
//!
//! A handler usually reads two or three members of params (a tool's name and arguments) and a
//! proxy forwards them as they are. Building a `Value` tree for every request and freeing it
//! after was about a fifth of the instructions of a `tools/call` (bench/RESULTS.md). So the text
//! is checked once, on arrival, to be an object a `Value` can hold, and the tree is built only
//! when a handler asks for it.

use super::scan::{self, key_is, Index};
use super::text::{self, skip_ws};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::cell::OnceCell;
use std::fmt;
use std::ops::Deref;

/// The params object of a request or notification: its JSON text, read on demand.
/// Params from the wire are always objects (anything else makes the message invalid).
///
/// It dereferences to the object as a [`Value`], built on first use and kept, so code written
/// for `&Value` reads it unchanged. [`Params::get_str`] and [`Params::get_raw`] read one member
/// from the text without building the tree, and [`Params::as_str`] gives the text to forward.
/// Two params are equal when they hold the same JSON value, whatever their spacing or order.
#[derive(Clone)]
pub struct Params {
    /// One JSON value on one line, which a `Value` can hold (checked where it is made).
    text: Box<str>,
    /// Where the members of `text` are, when it is a small object.
    index: Index,
    /// The object as a value, once asked for.
    tree: OnceCell<Value>,
}

impl Params {
    /// The object's JSON text, as received (or as serde_json wrote it for a `Value`).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The JSON text of the member at `path` (each step a member of an object), the last one
    /// when a key repeats, as a parsed object keeps it.
    pub fn get_raw(&self, path: &[&str]) -> Option<&str> {
        let (first, rest) = path.split_first()?;
        let mut at = match self.index.find(&self.text, first) {
            Some(found) => found?,
            None => member(&self.text, first)?,
        };
        for key in rest {
            at = member(at, key)?;
        }
        Some(at)
    }

    /// The string at `path`, escapes decoded; `None` when absent or not a string. Borrowed from
    /// the text when it has no escape.
    pub fn get_str(&self, path: &[&str]) -> Option<Cow<'_, str>> {
        if let Some(tree) = self.tree.get() {
            let mut at = tree;
            for key in path {
                at = at.get(key)?;
            }
            return at.as_str().map(Cow::Borrowed);
        }
        string(self.get_raw(path)?)
    }

    /// The object as a value, taken out (built now unless it was already).
    pub fn into_value(self) -> Value {
        match self.tree.into_inner() {
            Some(tree) => tree,
            None => parse(&self.text),
        }
    }
}

/// The object `text` holds. It was checked to be one a `Value` can hold; should that ever not
/// be so, an empty object stands in rather than a panic.
fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::Object(Map::new()))
}

impl From<Value> for Params {
    /// The value as params. Params from the wire are always objects; a handler's own
    /// notifications and requests are sent with what it gives. The value is kept as it is, so
    /// reading it back gives the same numbers (serde_json's float parsing is not exact).
    fn from(value: Value) -> Params {
        // No index: these are mostly a handler's own messages, written out and never read, and
        // a lookup in them searches the text (or `get_str` reads the kept tree).
        Params {
            text: value.to_string().into_boxed_str(),
            index: Index::default(),
            tree: OnceCell::from(value),
        }
    }
}

impl Deref for Params {
    type Target = Value;

    fn deref(&self) -> &Value {
        self.tree.get_or_init(|| parse(&self.text))
    }
}

impl PartialEq for Params {
    fn eq(&self, other: &Params) -> bool {
        self.text == other.text || **self == **other
    }
}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// What a message's `params` member turned out to be.
#[derive(Debug)]
pub(super) enum Member {
    /// An object.
    Object(Params),
    /// Some other JSON value (the message is then invalid).
    Other,
}

impl Member {
    /// The member from a parsed value.
    pub(super) fn from_value(value: Value) -> Member {
        match value {
            object @ Value::Object(_) => Member::Object(Params::from(object)),
            _ => Member::Other,
        }
    }
}

/// Reads the JSON value at the start of `text` as a `params` member: the member and the bytes
/// it took, or `None` when [`scan`] is not sure of it (malformed, or one a `Value` may not
/// hold), which the caller leaves to the general parser and its answer.
pub(super) fn checked(text: &str) -> Option<(Member, usize)> {
    let scan::Checked {
        len: used,
        line_break,
        index,
    } = scan::value(text)?;
    let raw = text.get(..used)?;
    if !raw.starts_with('{') {
        return Some((Member::Other, used));
    }
    // Line breaks between tokens would split a stdio line or an SSE event when forwarded.
    if line_break {
        return Some((Member::from_value(serde_json::from_str(raw).ok()?), used));
    }
    let params = Params {
        text: raw.into(),
        index,
        tree: OnceCell::new(),
    };
    Some((Member::Object(params), used))
}

/// The string whose JSON text is `raw`, escapes decoded; `None` when `raw` is not a string.
pub(crate) fn string(raw: &str) -> Option<Cow<'_, str>> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
    }
}

/// The JSON text of member `key` of the object `text` (well-formed JSON), the last one when the
/// key repeats; `None` when `text` is not an object or has no such member.
pub(crate) fn member<'t>(text: &'t str, key: &str) -> Option<&'t str> {
    let mut found = None;
    for (written, escaped, value) in Members::of(text) {
        if key_is(written, escaped, key) {
            found = Some(value);
        }
    }
    found
}

/// The members of the object `text` (well-formed JSON) in text order: each key as written
/// between its quotes, whether it has an escape, and the JSON text of its value. Nothing when `text` is not an object.
struct Members<'t> {
    text: &'t str,
    /// Where the next key's opening quote is, or `None` when there are no more members.
    at: Option<usize>,
}

impl<'t> Members<'t> {
    /// The members of `text`.
    fn of(text: &'t str) -> Members<'t> {
        let bytes = text.as_bytes();
        let mut at = skip_ws(bytes, 0);
        let first = match bytes.get(at) {
            Some(b'{') => {
                at = skip_ws(bytes, at + 1);
                (bytes.get(at) == Some(&b'"')).then_some(at)
            }
            _ => None,
        };
        Members { text, at: first }
    }
}

impl<'t> Iterator for Members<'t> {
    type Item = (&'t str, bool, &'t str);

    fn next(&mut self) -> Option<(&'t str, bool, &'t str)> {
        let at = self.at.take()?;
        let bytes = self.text.as_bytes();
        let (key_end, escaped) = string_end(bytes, at)?;
        let key = self.text.get(at + 1..key_end - 1)?;
        let mut next = skip_ws(bytes, key_end);
        if bytes.get(next) != Some(&b':') {
            return None;
        }
        next = skip_ws(bytes, next + 1);
        let value_end = value_end(bytes, next)?;
        let value = self.text.get(next..value_end)?;
        next = skip_ws(bytes, value_end);
        if bytes.get(next) == Some(&b',') {
            self.at = Some(skip_ws(bytes, next + 1));
        }
        Some((key, escaped, value))
    }
}

/// The index just past the string starting at `at` (its opening quote), and whether it has an
/// escape.
fn string_end(bytes: &[u8], at: usize) -> Option<(usize, bool)> {
    let mut i = at + 1;
    let mut escaped = false;
    loop {
        // Well-formed text: a string holds no control character, so the stop is `"` or `\`.
        i = text::string_stop(bytes, i);
        match bytes.get(i)? {
            b'"' => return Some((i + 1, escaped)),
            b'\\' => {
                escaped = true;
                i += 2;
            }
            _ => i += 1,
        }
    }
}

/// The index just past the well-formed JSON value starting at `at`.
fn value_end(bytes: &[u8], at: usize) -> Option<usize> {
    match bytes.get(at)? {
        b'"' => string_end(bytes, at).map(|(end, _)| end),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = at;
            while let Some(&b) = bytes.get(i) {
                match b {
                    b'"' => {
                        i = string_end(bytes, i)?.0;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => {
            let rest = bytes.get(at..)?;
            let len = rest
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(rest.len());
            Some(at + len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Params as they arrive: read from text by the envelope's member reader.
    fn arrived(text: &str) -> Params {
        match checked(text) {
            Some((Member::Object(params), used)) if used == text.len() => params,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn members_read_from_the_text_are_what_the_value_holds() {
        let texts = [
            r#"{"name":"echo","arguments":{"message":"hi"}}"#,
            r#"{ "name" : "a" , "name" : "b" }"#,
            r#"{"n\u0061me":"escaped key","x":1}"#,
            r#"{"name":"x","name":{"deep":[1,{"name":"no"}]},"other":"\"q\""}"#,
            r#"{"a":1,"b":2,"c":3,"d":4,"e":5,"name":"sixth","a":"last a"}"#,
            r#"{"arguments":{"message":"tab\tand \u00e9","message":"second"},"_meta":{}}"#,
            r#"{}"#,
        ];
        for text in texts {
            let params = arrived(text);
            let value: Value = serde_json::from_str(text).unwrap();
            let object = value.as_object().unwrap();
            for key in [
                "name",
                "a",
                "x",
                "other",
                "arguments",
                "_meta",
                "missing",
                "n\\u0061me",
            ] {
                let raw = params.get_raw(&[key]);
                let raw_value = raw.map(|r| serde_json::from_str::<Value>(r).unwrap());
                assert_eq!(raw_value.as_ref(), object.get(key), "{text} [{key}]");
                assert_eq!(
                    params.get_str(&[key]).as_deref(),
                    object.get(key).and_then(Value::as_str),
                    "{text} [{key}]"
                );
            }
            assert_eq!(
                params.get_str(&["arguments", "message"]).as_deref(),
                value["arguments"]["message"].as_str(),
                "{text}"
            );
            assert_eq!(
                params.get_raw(&["name", "deep"]).is_some(),
                text.contains("deep")
            );
            assert_eq!(*params, value);
            assert_eq!(params.clone().into_value(), value);
        }
    }

    #[test]
    fn params_from_a_value_read_as_params_from_the_wire() {
        let value = json!({"name": "echo", "arguments": {"message": "hé\n"}, "z": [1, 2.5]});
        let params = Params::from(value.clone());
        assert_eq!(params, arrived(&value.to_string()));
        assert_eq!(
            params.get_str(&["arguments", "message"]).as_deref(),
            Some("hé\n")
        );
        assert_eq!(params.as_str(), value.to_string());
        assert_eq!(*params, value);
    }

    #[test]
    fn params_are_equal_when_they_hold_the_same_value() {
        let a = arrived(r#"{"a":1,"b":[true,null]}"#);
        let b = arrived(r#"{ "b" : [ true , null ] , "a" : 1 }"#);
        assert_eq!(a, b);
        assert_ne!(a, arrived(r#"{"a":2,"b":[true,null]}"#));
    }

    #[test]
    fn params_with_line_breaks_are_kept_on_one_line() {
        let params = arrived("{\n  \"a\": [1,\r\n 2]\n}");
        assert_eq!(params.as_str(), r#"{"a":[1,2]}"#);
        assert_eq!(params.get_raw(&["a"]), Some("[1,2]"));
    }

    #[test]
    fn other_values_are_not_params_and_unsure_text_is_left_to_serde_json() {
        for text in ["[1]", "\"x\"", "3", "null"] {
            assert!(matches!(checked(text), Some((Member::Other, n)) if n == text.len()));
        }
        for text in [
            r#"{"a":1e400}"#,
            r#"{"a":"\ud800"}"#,
            r#"{"a":}"#,
            r#"{"a":1"#,
        ] {
            assert!(checked(text).is_none(), "{text}");
        }
    }
}
