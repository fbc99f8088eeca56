//! JSON text written straight into a `String`: the pieces of the usual answer, a string and an
//! integer, without serde_json's byte writer and the UTF-8 check of its output that turning
//! those bytes back into a `String` costs (bench/RESULTS.md). The escaping is serde_json's, byte
//! for byte (tests compare the two).

use serde_json::Number;

/// Appends `text` as a JSON string: `"` and `\` escaped, the control characters as `\b`, `\t`,
/// `\n`, `\f`, `\r` or `\u00XX`, everything else as it is.
pub(crate) fn push_string(out: &mut String, text: &str) {
    out.push('"');
    let mut plain = 0;
    for (at, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            b'\t' => "\\t",
            b'\n' => "\\n",
            0x0c => "\\f",
            b'\r' => "\\r",
            0x00..=0x1f => "",
            _ => continue,
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
