//! JSON text read and written by hand where it is hot: where a string or whitespace ends, and the
//! pieces of the usual answer (a string and an integer) written straight into a `String`,
//! without serde_json's byte writer and the UTF-8 check of its output that turning those bytes
//! back into a `String` costs (bench/RESULTS.md). The escaping is serde_json's, byte for byte
//! (tests compare the two).

use serde_json::Number;

/// The index of the first byte at or after `from` that ends a run of plain characters in a JSON
/// string: a quote, a backslash or a control character (`bytes.len()` when there is none).
/// Eight bytes at a time: strings are where JSON text spends its bytes.
pub(crate) fn string_stop(bytes: &[u8], from: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut at = from;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        // A byte of `x` is zero where `word` holds the byte looked for; `(x - ONES) & !x`
        // sets the high bit of the first such byte (later ones may be set falsely, but only
        // after a true one). Below 0x20 is `word - 0x20` borrowing, seen the same way.
        let quote = word ^ (ONES * u64::from(b'"'));
        let backslash = word ^ (ONES * u64::from(b'\\'));
        let found = (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (word.wrapping_sub(ONES * 0x20) & !word);
        let found = found & HIGHS;
        if found != 0 {
            return at + (found.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    while let Some(&b) = bytes.get(at) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            return at;
        }
        at += 1;
    }
    bytes.len()
}

/// The index of the first byte at or after `at` that is not JSON whitespace.
pub(crate) fn skip_ws(bytes: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(at) {
        at += 1;
    }
    at
}

/// Appends `text` as a JSON string: `"` and `\` escaped, the control characters as `\b`, `\t`,
/// `\n`, `\f`, `\r` or `\u00XX`, everything else as it is.
pub(crate) fn push_string(out: &mut String, text: &str) {
    out.push('"');
    let bytes = text.as_bytes();
    let mut plain = 0;
    let mut at = string_stop(bytes, 0);
    while let Some(&byte) = bytes.get(at) {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            b'\t' => "\\t",
            b'\n' => "\\n",
            0x0c => "\\f",
            b'\r' => "\\r",
            _ => "",
        };
        // `at` is an ASCII byte, so a char boundary: the slices below cannot fail.
        out.push_str(text.get(plain..at).unwrap_or_default());
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        } else {
            out.push_str(escape);
        }
        plain = at + 1;
        at = string_stop(bytes, plain);
    }
    out.push_str(text.get(plain..).unwrap_or_default());
    out.push('"');
}

/// Appends an integer as JSON (a float, which an id never is, as serde_json writes it).
pub(crate) fn push_number(out: &mut String, number: &Number) {
    let (negative, magnitude) = match (number.as_u64(), number.as_i64()) {
        (Some(n), _) => (false, n),
        (None, Some(n)) => (true, n.unsigned_abs()),
        (None, None) => return out.push_str(&number.to_string()),
    };
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = magnitude;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if negative {
        out.push('-');
    }
    for &digit in &digits[at..] {
        out.push(char::from(digit));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut texts: Vec<String> = (0u32..0x80)
            .filter_map(char::from_u32)
            .map(|c| format!("a{c}b{c}"))
            .collect();
        texts.extend(
            [
                "",
                "plain",
                "é ü 😀",
                "\u{7f}\u{80}\u{2028}",
                "\"\\\"",
                "\u{0}x\u{1f}",
            ]
            .map(String::from),
        );
        for text in texts {
            let mut out = String::from("x");
            push_string(&mut out, &text);
            assert_eq!(
                out,
                format!("x{}", serde_json::to_string(&text).unwrap()),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_string_stops_at_its_first_quote_backslash_or_control_character() {
        let stops = |b: u8| b == b'"' || b == b'\\' || b < 0x20;
        for len in 0..20 {
            for at in 0..len {
                for special in [b'"', b'\\', 0, 0x1f] {
                    for plain in [b'a', 0x20, 0x7f, 0x80, 0xff, b'!', b'#', b'[', b']'] {
                        let mut bytes = vec![plain; len];
                        bytes[at] = special;
                        if at + 1 < len {
                            bytes[at + 1] = b'"';
                        }
                        for from in 0..=at {
                            let expected = (from..len).find(|&i| stops(bytes[i])).unwrap_or(len);
                            assert_eq!(string_stop(&bytes, from), expected, "{bytes:?} {from}");
                        }
                    }
                }
            }
            assert_eq!(string_stop(&vec![b'x'; len], 0), len);
        }
    }

    #[test]
    fn integers_are_written_as_serde_json_writes_them() {
        let numbers = [0u64, 7, 10, 99, 1234567890, u64::MAX].map(Number::from);
        let negative = [-1i64, -10, i64::MIN].map(Number::from);
        for number in numbers.iter().chain(&negative) {
            let mut out = String::new();
            push_number(&mut out, number);
            assert_eq!(out, serde_json::to_string(number).unwrap());
        }
    }
}
