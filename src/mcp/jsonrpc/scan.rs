//! A one-pass check that JSON text is a value `serde_json::Value` can hold, without building it.
//!
//! It answers "yes" only for text serde_json's `Value` parser accepts, and "not sure" for the
//! rest: malformed text, and the rare text whose answer depends on more than its grammar (a
//! `\u` escape of a surrogate, which must pair; a number with an exponent or a hundred digits,
//! which may pass `f64`'s range; nesting past [`MAX_DEPTH`]). The caller gives "not sure" text
//! to serde_json, whose answer and error then stand, so the two can only differ in speed.

use super::text;

/// Deepest nesting checked here; serde_json refuses 128 levels, counting the envelope.
const MAX_DEPTH: usize = 64;

/// Most digits in a number checked here: `f64` holds any shorter one without an exponent.
const MAX_DIGITS: usize = 100;

/// Most members of an object that [`Index`] holds.
const INDEXED: usize = 4;

/// Where the first members of a small object are in its text, so that reading one is a few
/// comparisons rather than a scan: for each, the byte ranges of its key (between the quotes)
/// and of its value. Offsets are `u16`, which keeps it small to move with its message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Index {
    spans: [[u16; 4]; INDEXED],
    /// Bit `i` set: the key of member `i` has an escape, so it must be decoded to compare.
    escaped: u8,
    /// Members indexed; `None` when the object had more, or was too long, or is not one.
    len: Option<u8>,
}

impl Index {
    /// The value's text of member `key` in `text` (the last one when the key repeats):
    /// `Some(None)` when the object has no such member, `None` when it is not indexed.
    pub(super) fn find<'t>(&self, text: &'t str, key: &str) -> Option<Option<&'t str>> {
        let len = usize::from(self.len?);
        let spans = self.spans.get(..len)?;
        for (i, &[k0, k1, v0, v1]) in spans.iter().enumerate().rev() {
            let escaped = self.escaped & (1 << i) != 0;
            // An unescaped key of another length cannot match: no slicing needed.
            if !escaped && usize::from(k1.saturating_sub(k0)) != key.len() {
                continue;
            }
            let written = text.get(usize::from(k0)..usize::from(k1))?;
            if key_is(written, escaped, key) {
                return Some(text.get(usize::from(v0)..usize::from(v1)));
            }
        }
        Some(None)
    }

    /// The members indexed in `text`, in text order: each key as written, whether it has an
    /// escape, and its value's text. `None` when the object is not indexed (search it instead).
    #[cfg(test)]
    pub(super) fn members<'t>(
        &self,
        text: &'t str,
    ) -> Option<impl DoubleEndedIterator<Item = (&'t str, bool, &'t str)> + use<'t, '_>> {
        let len = usize::from(self.len?);
        let spans = self.spans.get(..len)?;
        Some(
            spans
                .iter()
                .enumerate()
                .filter_map(move |(i, [k0, k1, v0, v1])| {
                    let key = text.get(usize::from(*k0)..usize::from(*k1))?;
                    let value = text.get(usize::from(*v0)..usize::from(*v1))?;
                    Some((key, self.escaped & (1 << i) != 0, value))
                }),
        )
    }
}

/// Whether the key written `written` (between its quotes; `escaped` when it has an escape)
/// is `key`.
pub(super) fn key_is(written: &str, escaped: bool, key: &str) -> bool {
    if escaped {
        // An escape only makes a key longer than what it stands for.
        written.len() > key.len()
            && serde_json::from_str::<String>(&format!("\"{written}\"")).is_ok_and(|k| k == key)
    } else {
        written == key
    }
}

/// What [`value`] found in a well-formed value.
pub(super) struct Checked {
    /// Bytes the value takes.
    pub len: usize,
    /// A line break is among them (between tokens).
    pub line_break: bool,
    /// Where the members are, when the value is a small object.
    pub index: Index,
}

/// Checks the JSON value at the start of `text`; `None` for "not sure" (see the module doc).
pub(super) fn value(text: &str) -> Option<Checked> {
    let mut scan = Scan {
        bytes: text.as_bytes(),
        at: 0,
        depth: 0,
        line_break: false,
        index: Index::default(),
    };
    scan.value()?;
    Some(Checked {
        len: scan.at,
        line_break: scan.line_break,
        index: scan.index,
    })
}

struct Scan<'t> {
    bytes: &'t [u8],
    at: usize,
    depth: usize,
    line_break: bool,
    /// The members of the outermost object, as they are passed.
    index: Index,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn ws(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' => {}
                b'\n' | b'\r' => self.line_break = true,
                _ => return,
            }
            self.at += 1;
        }
    }

    fn value(&mut self) -> Option<()> {
        match self.peek()? {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => self.string().map(drop),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    fn object(&mut self) -> Option<()> {
        self.enter()?;
        self.at += 1;
        self.ws();
        if self.peek()? == b'}' {
            self.at += 1;
            if self.depth == 1 {
                self.index.len = Some(0);
            }
        } else {
            let outermost = self.depth == 1;
            let mut count = 0usize;
            loop {
                if self.peek()? != b'"' {
                    return None;
                }
                let key_start = self.at + 1;
                let escaped = self.string()?;
                let key_end = self.at - 1;
                self.ws();
                if self.peek()? != b':' {
                    return None;
                }
                self.at += 1;
                self.ws();
                let value_start = self.at;
                self.value()?;
                if outermost {
                    let span = [key_start, key_end, value_start, self.at].map(u16::try_from);
                    match (self.index.spans.get_mut(count), span) {
                        (Some(slot), [Ok(k0), Ok(k1), Ok(v0), Ok(v1)]) => {
                            *slot = [k0, k1, v0, v1];
                            self.index.escaped |= u8::from(escaped) << count;
                            count += 1;
                            self.index.len = u8::try_from(count).ok();
                        }
                        _ => {
                            // Too many or too far to index: searched instead.
                            self.index.len = None;
                            count = INDEXED + 1;
                        }
                    }
                }
                self.ws();
                match self.peek()? {
                    b',' => {
                        self.at += 1;
                        self.ws();
                    }
                    b'}' => {
                        self.at += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    fn array(&mut self) -> Option<()> {
        self.enter()?;
        self.at += 1;
        self.ws();
        if self.peek()? == b']' {
            self.at += 1;
        } else {
            loop {
                self.value()?;
                self.ws();
                match self.peek()? {
                    b',' => {
                        self.at += 1;
                        self.ws();
                    }
                    b']' => {
                        self.at += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// A string at `self.at`; whether it has an escape.
    fn string(&mut self) -> Option<bool> {
        let mut i = self.at + 1;
        let mut escaped = false;
        loop {
            i = text::string_stop(self.bytes, i);
            match *self.bytes.get(i)? {
                b'"' => {
                    self.at = i + 1;
                    return Some(escaped);
                }
                b'\\' => {
                    escaped = true;
                    self.at = i;
                    self.escape()?;
                    i = self.at;
                }
                _ => return None, // a control character
            }
        }
    }

    /// The escape at `self.at` (its backslash).
    fn escape(&mut self) -> Option<()> {
        match self.bytes.get(self.at + 1)? {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.at += 2,
            b'u' => {
                let hex = self.bytes.get(self.at + 2..self.at + 6)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                // A surrogate must pair with the next escape: serde_json decides.
                if matches!(hex[0], b'd' | b'D')
                    && matches!(hex[1], b'8' | b'9' | b'a'..=b'f' | b'A'..=b'F')
                {
                    return None;
                }
                self.at += 6;
            }
            _ => return None,
        }
        Some(())
    }

    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let digits = self.digits();
        match digits {
            0 => return None,
            1 => {}
            _ if self.bytes.get(self.at - digits) == Some(&b'0') => return None,
            _ => {}
        }
        let mut total = digits;
        if self.peek() == Some(b'.') {
            self.at += 1;
            let fraction = self.digits();
            if fraction == 0 {
                return None;
            }
            total += fraction;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) || total > MAX_DIGITS {
            return None;
        }
        Some(())
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
        self.at - start
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.bytes.get(self.at..self.at + word.len())? != word {
            return None;
        }
        self.at += word.len();
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// What serde_json's `Value` parser takes from the start of `text`: the bytes, or `None`.
    fn serde_len(text: &str) -> Option<usize> {
        let mut values = serde_json::Deserializer::from_str(text).into_iter::<Value>();
        values.next()?.ok()?;
        Some(values.byte_offset())
    }

    /// A deterministic generator (64-bit LCG): the same texts every run, no dependency.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) as usize % n
        }

        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[self.below(from.len())]
        }
    }

    const STRINGS: [&str; 12] = [
        r#""a""#,
        r#""""#,
        r#""name""#,
        r#""é ü""#,
        r#""\u00e9""#,
        r#""\ud83d\ude00""#,
        r#""\ud800""#,
        r#""\uDC00x""#,
        r#""\uD7FF""#,
        r#""q\"\\\/\b\f\n\r\t""#,
        r#""n\u0061me""#,
        "\"\u{7f}\"",
    ];
    const SCALARS: [&str; 14] = [
        "0",
        "-0",
        "7",
        "-12",
        "1.5",
        "0.25",
        "1e5",
        "2E-3",
        "1e400",
        "-1e400",
        "true",
        "false",
        "null",
        "18446744073709551616",
    ];
    const GAPS: [&str; 5] = ["", "", " ", "\n", "\t\r "];

    /// A random JSON value, well-formed, of depth at most `depth`.
    fn generate(rng: &mut Lcg, depth: usize, out: &mut String) {
        match rng.below(if depth == 0 { 2 } else { 4 }) {
            0 => out.push_str(rng.pick(&STRINGS)),
            1 => out.push_str(rng.pick(&SCALARS)),
            2 => {
                out.push('[');
                for i in 0..rng.below(4) {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(rng.pick(&GAPS));
                    generate(rng, depth - 1, out);
                    out.push_str(rng.pick(&GAPS));
                }
                out.push(']');
            }
            _ => {
                out.push('{');
                for i in 0..rng.below(7) {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(rng.pick(&GAPS));
                    out.push_str(rng.pick(&STRINGS));
                    out.push_str(rng.pick(&GAPS));
                    out.push(':');
                    out.push_str(rng.pick(&GAPS));
                    generate(rng, depth - 1, out);
                }
                out.push_str(rng.pick(&GAPS));
                out.push('}');
            }
        }
    }

    /// Breaks `text` at a random place: a byte cut, doubled or replaced by a piece of JSON.
    fn mutate(rng: &mut Lcg, text: &str) -> String {
        let cuts: Vec<usize> = (0..=text.len())
            .filter(|&i| text.is_char_boundary(i))
            .collect();
        let at = cuts[rng.below(cuts.len())];
        let pieces = [
            "", "\"", "\\", "{", "}", "[", "]", ",", ":", "0", "-", ".", "e", "\u{1}", "x", " ",
            "\\u12", "tru",
        ];
        let piece = rng.pick(&pieces);
        let skip = cuts.iter().copied().find(|&c| c > at).unwrap_or(at);
        let (head, tail) = text.split_at(at);
        match rng.below(3) {
            0 => format!("{head}{piece}{tail}"),
            1 => format!("{head}{piece}{}", &text[skip..]),
            _ => format!("{head}{}", &text[skip..]),
        }
    }

    /// Members indexed, keys decoded, as a map (the last of a repeated key wins).
    fn indexed(text: &str, index: &Index) -> Option<serde_json::Map<String, Value>> {
        let members = index.members(text)?;
        let mut map = serde_json::Map::new();
        for (key, escaped, value) in members {
            assert_eq!(escaped, key.contains('\\'));
            let key: String = serde_json::from_str(&format!("\"{key}\"")).unwrap();
            map.insert(key, serde_json::from_str(value).unwrap());
        }
        Some(map)
    }

    #[test]
    fn what_the_scan_is_sure_of_serde_json_reads_alike_and_its_index_is_the_object() {
        let mut rng = Lcg(0x9e37_79b9_7f4a_7c15);
        let (mut sure, mut total, mut objects) = (0, 0, 0);
        for round in 0..40_000 {
            let mut text = String::new();
            generate(&mut rng, 3, &mut text);
            if round % 2 == 1 {
                text = mutate(&mut rng, &text);
            }
            text.push_str(rng.pick(&["", " ", ",", "}", "x", "\n{}"]));
            total += 1;
            let Some(checked) = value(&text) else {
                continue;
            };
            sure += 1;
            // serde_json's stream reader also wants a delimiter after a number or a literal,
            // which the envelope checks for itself.
            let taken = &text[..checked.len];
            assert_eq!(serde_len(taken), Some(taken.len()), "{text:?}");
            let stream = serde_len(&text);
            assert!(stream.is_none_or(|n| n == checked.len), "{text:?}");
            assert_eq!(checked.line_break, taken.contains(['\n', '\r']), "{text:?}");
            let parsed: Value = serde_json::from_str(taken).unwrap();
            match (indexed(taken, &checked.index), parsed) {
                (Some(map), Value::Object(object)) => {
                    objects += 1;
                    assert_eq!(map, object, "{text:?}");
                }
                (Some(_), other) => panic!("an index for {other} in {text:?}"),
                (None, _) => {}
            }
        }
        // The scan must be sure of most well-formed text, or it is only a slower way there.
        assert!(sure > total / 4, "sure of {sure} of {total}");
        assert!(objects > total / 40, "indexed {objects} objects of {total}");
    }

    #[test]
    fn objects_of_up_to_four_members_are_indexed() {
        let object = |n: usize| {
            let members: Vec<String> = (0..n).map(|i| format!(r#" "k{i}" : [{i}] "#)).collect();
            format!("{{{}}}", members.join(","))
        };
        for n in 0..=INDEXED {
            let text = object(n);
            let checked = value(&text).unwrap();
            let members: Vec<_> = checked.index.members(&text).unwrap().collect();
            let expected: Vec<(String, String)> = (0..n)
                .map(|i| (format!("k{i}"), format!("[{i}]")))
                .collect();
            let got: Vec<(String, String)> = members
                .iter()
                .map(|(k, _, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(got, expected);
        }
        let text = object(INDEXED + 1);
        assert!(value(&text).unwrap().index.members(&text).is_none());
        assert!(value("[1]").unwrap().index.members("[1]").is_none());
    }

    #[test]
    fn what_only_serde_json_can_answer_is_left_to_it() {
        for text in [
            r#""\ud800""#,
            r#""\uDBFF\uDFFF""#,
            "1e400",
            "1E2",
            "-0.5e-3",
            &"9".repeat(101),
            &format!("{}1{}", "[".repeat(70), "]".repeat(70)),
        ] {
            assert!(value(text).is_none(), "{text}");
        }
        for text in [r#""\uD7FF""#, r#""\uE000""#, &"9".repeat(100), "-0", "0.0"] {
            assert_eq!(value(text).map(|c| c.len), Some(text.len()), "{text}");
        }
    }
}
