//! The usual request head, parsed without httparse.
//!
//! Nearly every head a client sends is plain: a token method, a visible-ASCII target,
//! `HTTP/1.1` or `HTTP/1.0`, and field lines of a token name, a colon and a visible-ASCII value
//! (SP and HTAB allowed), every line ended by CRLF. This parser takes only such heads, reading
//! each field line once, mostly eight bytes at a time, and indexing it as it goes; the whole
//! head is checked as UTF-8 once, with the fields, so the method and target need no check of
//! their own. httparse's pass, then a second pass over its field list to locate, trim and
//! index each line, cost about 330 instructions a request more (bench/instructions.py).
//! Anything else (a bare LF, empty lines before the request line, obs-text, a control byte,
//! an incomplete head, more fields than allowed, any error) it leaves to httparse, so the
//! outcome on every input is httparse's: on the heads taken here httparse gives the same
//! method, target, version, fields and length (the tests below compare the two).

use super::{Method, RequestHead, Spare, Version};
use crate::http::fields::Index;
use core::ops::Range;

/// [`super::is_tchar`] per byte: method and field-name bytes, as httparse's token map.
const TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < table.len() {
        table[b] = super::is_tchar(b as u8);
        b += 1;
    }
    table
};

/// A target byte taken here: visible ASCII. httparse also takes obs-text, left to it.
fn is_target_byte(b: u8) -> bool {
    (0x21..=0x7e).contains(&b)
}

/// A field-value byte taken here: HTAB, SP and visible ASCII. httparse also takes obs-text.
fn is_value_byte(b: u8) -> bool {
    b == b'\t' || (0x20..=0x7e).contains(&b)
}

/// 0x01 in every byte of a word.
const ONES: u64 = 0x0101_0101_0101_0101;
/// The high bit of every byte of a word.
const HIGH: u64 = ONES * 0x80;

/// The length of the run of bytes that `bytes` starts with and that `clean` passes eight at a
/// time, `clean` giving the high bit of each byte that may be taken; it must be exact from the
/// first byte up to the first byte it does not pass. Then byte by byte with `take`.
#[inline]
fn run(bytes: &[u8], clean: impl Fn(u64) -> u64, take: impl Fn(u8) -> bool) -> usize {
    let mut at = 0;
    while let Some(Ok(word)) = bytes.get(at..at + 8).map(<[u8; 8]>::try_from) {
        let passed = clean(u64::from_le_bytes(word));
        if passed != HIGH {
            // Little-endian: the lowest byte not passed is the first in the buffer.
            at += (!passed & HIGH).trailing_zeros() as usize / 8;
            // The usual end, a byte `take` refuses as well (the `:` after a name, the CR after
            // a value), needs no byte-wise look.
            match bytes.get(at) {
                Some(&stop) if !take(stop) => return at,
                _ => break,
            }
        }
        at += 8;
    }
    let rest = bytes.get(at..).unwrap_or_default();
    at + rest.iter().position(|&b| !take(b)).unwrap_or(rest.len())
}

/// The high bit of each byte of `word` in `lo..=hi`, for `hi` below 0x80; exact for every byte
/// below the first with its high bit set (a carry only moves towards later bytes).
#[inline]
fn in_range(word: u64, lo: u8, hi: u8) -> u64 {
    let above_hi = word.wrapping_add(ONES * u64::from(0x7f - hi));
    let from_lo = word.wrapping_add(ONES * u64::from(0x80 - lo));
    !above_hi & from_lo & HIGH
}

/// Optional whitespace: SP or HTAB.
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The length of the run of [`is_value_byte`] bytes that `bytes` starts with: eight at a time
/// while all are SP to `~` (a field value is most of a head's bytes).
fn value_run(bytes: &[u8]) -> usize {
    run(
        bytes,
        |word| in_range(word, 0x20, 0x7e) & !word,
        is_value_byte,
    )
}

/// The length of the run of [`TOKEN`] bytes that `bytes` starts with: eight at a time while
/// all are letters, digits or `-` (what field names are made of).
fn token_run(bytes: &[u8]) -> usize {
    run(
        bytes,
        |word| {
            let letters = in_range(word | (ONES * 0x20), b'a', b'z');
            (letters | in_range(word, b'0', b'9') | in_range(word, b'-', b'-')) & !word
        },
        |b| TOKEN[usize::from(b)],
    )
}

/// The request line: where the method and the target are in `buf`, the version, and the length
/// of the line with its CRLF.
fn request_line(buf: &[u8]) -> Option<(Range<usize>, Range<usize>, Version, usize)> {
    let method_len = token_run(buf);
    if method_len == 0 || buf.get(method_len) != Some(&b' ') {
        return None;
    }
    let target_at = method_len + 1;
    let rest = buf.get(target_at..)?;
    let target_len = rest
        .iter()
        .position(|&b| !is_target_byte(b))
        .unwrap_or(rest.len());
    if target_len == 0 || rest.get(target_len) != Some(&b' ') {
        return None;
    }
    let version_at = target_at + target_len + 1;
    let version = match buf.get(version_at..version_at + 10)? {
        b"HTTP/1.1\r\n" => Version::Http11,
        b"HTTP/1.0\r\n" => Version::Http10,
        _ => return None,
    };
    Some((
        0..method_len,
        target_at..target_at + target_len,
        version,
        version_at + 10,
    ))
}

/// Adds the field lines of `buf` from `at` on to `index` and returns the length of the whole
/// head; `None` for anything this parser leaves to httparse.
fn field_lines(buf: &[u8], at: usize, max_headers: usize, index: &mut Index) -> Option<usize> {
    let mut line = at;
    loop {
        let rest = buf.get(line..)?;
        if rest.starts_with(b"\r\n") {
            return Some(line + 2);
        }
        let name_len = token_run(rest);
        if name_len == 0 || rest.get(name_len) != Some(&b':') {
            return None;
        }
        let after_colon = rest.get(name_len + 1..)?;
        let blank = match after_colon {
            // The usual `: value`, without a scan.
            [b' ', next, ..] if !is_blank(*next) => 1,
            _ => after_colon.iter().position(|&b| !is_blank(b))?,
        };
        let value = after_colon.get(blank..)?;
        let run = value_run(value);
        if value.get(run..run + 2)? != b"\r\n" {
            return None;
        }
        let trimmed = match value.get(..run)? {
            // The usual value, ending in a visible byte, without a scan.
            [.., last] if !is_blank(*last) => run,
            untrimmed => untrimmed
                .iter()
                .rposition(|&b| !is_blank(b))
                .map_or(0, |last| last + 1),
        };
        if index.len() >= max_headers {
            return None; // httparse answers TooManyHeaders.
        }
        let value_at = line + name_len + 1 + blank;
        index.push(rest.get(..name_len)?, line, value_at, trimmed);
        line = value_at + run + 2;
    }
}

/// The head at the start of `buf` when it is complete and plain (see the module doc), built in
/// `spare`'s storage; `None` leaves `spare` as it was and the head to httparse. The head is not
/// checked beyond its syntax ([`super::parse`] checks the target and `Host`).
pub(super) fn parse(
    buf: &[u8],
    max_headers: usize,
    spare: &mut Spare,
) -> Option<(RequestHead, usize)> {
    let (method, target_at, version, line_len) = request_line(buf)?;
    let mut index = Index::from_storage(&mut spare.fields);
    let Some(len) = field_lines(buf, line_len, max_headers, &mut index) else {
        index.give_back(&mut spare.fields);
        return None;
    };
    let Some(head) = buf.get(..len) else {
        index.give_back(&mut spare.fields);
        return None;
    };
    // The whole head goes into the field buffer, checked as UTF-8 there once, so the method
    // and the target are read from it as text without a check of their own. They are ASCII:
    // the text is there.
    let fields = index.finish_in(&mut spare.fields, head);
    let method = Method::parse(fields.text(method)?);
    let mut target = core::mem::take(&mut spare.target);
    target.clear();
    target.push_str(fields.text(target_at)?);
    let head = RequestHead {
        method,
        target,
        version,
        fields,
    };
    Some((head, len))
}

#[cfg(test)]
mod tests {
    use super::super::parse_with_httparse;
    use super::*;
    use crate::timer::tests::XorShift;

    /// What httparse makes of `buf`, for comparison.
    fn reference(buf: &[u8], max_headers: usize) -> Option<(RequestHead, usize)> {
        parse_with_httparse(buf, max_headers, &mut Spare::default())
            .ok()
            .flatten()
    }

    /// A random generator of heads: plain ones half the time (only the first `plain` choices of
    /// each piece), anything the other half.
    struct Heads {
        rng: XorShift,
        plain: bool,
    }

    impl Heads {
        fn pick<'a>(&mut self, plain: usize, from: &[&'a [u8]]) -> &'a [u8] {
            let n = if self.plain { plain } else { from.len() };
            from[self.rng.below(n as u64) as usize]
        }

        fn below(&mut self, n: usize) -> usize {
            self.rng.below(n as u64) as usize
        }
    }

    /// A head put together from pieces, plain ones and every kind this parser leaves to
    /// httparse (bare LF, obs-text, control bytes, odd spacing, bad versions), maybe cut short.
    fn random_head(rng: &mut Heads) -> Vec<u8> {
        rng.plain = rng.below(2) == 0;
        let mut head = Vec::new();
        if !rng.plain && rng.below(8) == 0 {
            head.extend_from_slice(rng.pick(3, &[b"\r\n", b"\n", b"\r"]));
        }
        head.extend_from_slice(rng.pick(
            4,
            &[
                b"GET", b"POST", b"get", b"M-X", b"", b"G\x80", b"DELETE", b"P(T",
            ],
        ));
        head.extend_from_slice(rng.pick(2, &[b" ", b" ", b"  ", b"\t"]));
        head.extend_from_slice(rng.pick(
            5,
            &[
                b"/",
                b"/mcp",
                b"/mcp?session=1&x=%20",
                b"*",
                b"http://a:1/b",
                b"/\x80",
                b"/a\x7fb",
                b"",
                b"/#f",
            ],
        ));
        head.extend_from_slice(rng.pick(
            3,
            &[
                b" HTTP/1.1",
                b" HTTP/1.1",
                b" HTTP/1.0",
                b" HTTP/2.0",
                b" HTTP/1.1 ",
                b"  HTTP/1.1",
                b" http/1.1",
            ],
        ));
        let line_ends: &[&[u8]] = &[b"\r\n", b"\r\n", b"\r\n", b"\n", b"\r", b"\r\r\n"];
        head.extend_from_slice(rng.pick(3, line_ends));
        for _ in 0..rng.below(6) {
            head.extend_from_slice(rng.pick(
                5,
                &[
                    b"Host",
                    b"host",
                    b"Content-Length",
                    b"MCP-Protocol-Version",
                    b"X-A",
                    b"Bad Name",
                    b"",
                    b"Ho\x80st",
                    b" Host",
                    b"a~!#$%&'*+-.^_`|b",
                ],
            ));
            head.extend_from_slice(rng.pick(4, &[b":", b":", b": ", b":\t ", b" :", b":   "]));
            head.extend_from_slice(rng.pick(
                5,
                &[
                    b"a",
                    b"",
                    b"127.0.0.1:8080",
                    b" x ",
                    b"a\tb",
                    b"\x80",
                    b"v\x01",
                    b"v\x7f",
                    b"application/json, text/event-stream",
                    b"0123456789abcdef0123456789abcdef01234567 \t",
                    b"a\r",
                    b"trailing  \t",
                    b"\xc3\xa9t\xc3\xa9",
                ],
            ));
            head.extend_from_slice(rng.pick(3, line_ends));
        }
        head.extend_from_slice(rng.pick(3, line_ends));
        if rng.below(4) == 0 {
            head.extend_from_slice(b"body");
        }
        if !rng.plain && rng.below(6) == 0 {
            head.truncate(rng.below(head.len() + 1));
        }
        head
    }

    #[test]
    fn every_head_taken_is_what_httparse_makes_of_it() {
        let mut rng = Heads {
            rng: XorShift(0x005e_ed0f_4ead),
            plain: true,
        };
        let mut taken = 0;
        for _ in 0..50_000 {
            let head = random_head(&mut rng);
            let max_headers = rng.below(7);
            let mut spare = Spare::default();
            if let Some(parsed) = parse(&head, max_headers, &mut spare) {
                taken += 1;
                assert_eq!(
                    Some(&parsed),
                    reference(&head, max_headers).as_ref(),
                    "{:?}",
                    String::from_utf8_lossy(&head)
                );
            }
        }
        assert!(taken > 10_000, "only {taken} heads were plain");
    }

    #[test]
    fn the_usual_heads_are_taken_and_read_as_httparse_reads_them() {
        let heads: &[&[u8]] = &[
            b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAccept-Encoding: identity\r\nContent-Length: 120\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nMcp-Session-Id: 9d2c6f0e-2f0c-4c55-a0a4-0d1f1d5e3c11\r\nMCP-Protocol-Version: 2025-06-18\r\n\r\n{}",
            b"GET /health HTTP/1.0\r\n\r\n",
            b"OPTIONS * HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Blank: \t \r\nX-Tab:\ta\tb\t\r\n\r\n",
        ];
        for head in heads {
            let parsed = parse(head, 64, &mut Spare::default());
            assert!(parsed.is_some(), "{:?}", String::from_utf8_lossy(head));
            assert_eq!(parsed, reference(head, 64));
        }
        let post = heads[0];
        let (head, len) = parse(post, 64, &mut Spare::default()).unwrap();
        assert_eq!(len, post.len() - 2);
        assert_eq!(head.header_str("mcp-protocol-version"), Some("2025-06-18"));
        assert_eq!(head.field_count(), 7);
    }

    #[test]
    fn what_is_left_to_httparse_leaves_the_spare_as_it_was() {
        let mut spare = Spare::default();
        let plain = b"GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n";
        let (head, _) = parse(plain, 64, &mut spare).unwrap();
        let mut spare = head.into_spare();
        let capacity = (spare.fields.capacities(), spare.target.capacity());
        for other in [
            &b"GET / HTTP/1.1\r\nHost: a\r\nX: \xff\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nX: y\r\nZ: z\r\n\r\n",
        ] {
            assert_eq!(parse(other, 2, &mut spare), None);
            assert_eq!(
                (spare.fields.capacities(), spare.target.capacity()),
                capacity
            );
        }
    }

    #[test]
    fn token_runs_stop_at_the_first_byte_not_a_token() {
        let name = b"Content-Length0123456789-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        assert_eq!(token_run(name), name.len());
        for stop in (0..=255u8).filter(|&b| !TOKEN[usize::from(b)]) {
            for at in 0..20 {
                let mut bytes = b"abcdefghij-0123456789".to_vec();
                bytes[at] = stop;
                assert_eq!(token_run(&bytes), at, "{stop:#x} at {at}");
            }
        }
        for other in [b'!', b'~', b'_', b'.', b'|'] {
            assert_eq!(
                token_run(&[b'a', b'b', other, b'c', b'd', b'e', b'f', b'g', b'h', b':']),
                9
            );
        }
    }

    #[test]
    fn value_runs_stop_at_the_first_byte_left_to_httparse() {
        let plain = b"0123456789abcdef ~!\t\"xyz";
        assert_eq!(value_run(plain), plain.len());
        for stop in (0..=255u8).filter(|&b| !is_value_byte(b)) {
            for at in 0..20 {
                let mut bytes = vec![b'a'; 20];
                bytes[at] = stop;
                assert_eq!(value_run(&bytes), at, "{stop:#x} at {at}");
            }
        }
    }
}
