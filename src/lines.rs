//! Newline-delimited message framing with a line cap (MCP stdio transport: messages are
//! delimited by newlines and MUST NOT contain embedded newlines).
//!
//! Used for `--stdio` input and, in the bridge, for a child's stdout. Sans-IO: push bytes in,
//! take complete lines out. A line longer than the cap is reported once and its bytes are
//! skipped up to the next newline, so memory never exceeds the cap. A trailing `\r` is removed
//! (CRLF writers); empty lines are skipped. A truncating framer (for logs such as a child's
//! stderr) instead keeps the first bytes of an over-long line and yields them as the line.

use std::collections::VecDeque;

/// A line exceeded the cap; its bytes were dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineTooLong;

/// Splits a byte stream into lines of at most `max_line` bytes.
#[derive(Debug)]
pub struct LineFramer {
    partial: Vec<u8>,
    ready: VecDeque<Result<Vec<u8>, LineTooLong>>,
    max_line: usize,
    skipping: bool,
    truncate: bool,
}

impl LineFramer {
    /// A framer for lines of at most `max_line` bytes (newline excluded).
    pub fn new(max_line: usize) -> LineFramer {
        LineFramer {
            partial: Vec::new(),
            ready: VecDeque::new(),
            max_line,
            skipping: false,
            truncate: false,
        }
    }

    /// A framer that cuts lines at `max_line` bytes instead of reporting them.
    pub fn truncating(max_line: usize) -> LineFramer {
        LineFramer {
            truncate: true,
            ..LineFramer::new(max_line)
        }
    }

    /// Feeds bytes; complete lines become available from [`LineFramer::next_line`].
    pub fn push(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let newline = bytes.iter().position(|&b| b == b'\n');
            let (piece, rest, complete) = match newline {
                Some(i) => (&bytes[..i], &bytes[i + 1..], true),
                None => (bytes, &[][..], false),
            };
            bytes = rest;
            if !self.skipping {
                if self.partial.len() + piece.len() > self.max_line {
                    if self.truncate {
                        let room = self.max_line - self.partial.len();
                        self.partial.extend_from_slice(&piece[..room]);
                    } else {
                        self.partial = Vec::new();
                        self.ready.push_back(Err(LineTooLong));
                    }
                    self.skipping = true;
                } else {
                    self.partial.extend_from_slice(piece);
                }
            }
            if complete {
                if !self.skipping || self.truncate {
                    let mut line = std::mem::take(&mut self.partial);
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    if !line.iter().all(u8::is_ascii_whitespace) {
                        self.ready.push_back(Ok(line));
                    }
                }
                self.skipping = false;
            }
        }
    }

    /// The next complete line, or the report of one that was too long.
    pub fn next_line(&mut self) -> Option<Result<Vec<u8>, LineTooLong>> {
        self.ready.pop_front()
    }

    #[cfg(any(test, fuzzing))]
    /// Bytes of an unfinished line held now.
    pub fn buffered(&self) -> usize {
        self.partial.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(input: &[u8], max: usize, split: usize) -> Vec<Result<Vec<u8>, LineTooLong>> {
        let mut framer = LineFramer::new(max);
        let mut out = Vec::new();
        for chunk in input.chunks(split.max(1)) {
            framer.push(chunk);
            while let Some(line) = framer.next_line() {
                out.push(line);
            }
            assert!(framer.buffered() <= max);
        }
        out
    }

    #[test]
    fn splits_on_newlines_and_strips_cr() {
        let got = lines_of(b"{\"a\":1}\r\n\n  \n{\"b\":2}\n", 64, 100);
        assert_eq!(
            got,
            vec![Ok(b"{\"a\":1}".to_vec()), Ok(b"{\"b\":2}".to_vec())]
        );
    }

    #[test]
    fn over_long_line_is_reported_once_and_skipped() {
        let input = b"short\nthis line is far too long\nok\n";
        let got = lines_of(input, 10, 100);
        assert_eq!(
            got,
            vec![Ok(b"short".to_vec()), Err(LineTooLong), Ok(b"ok".to_vec())]
        );
    }

    #[test]
    fn any_chunking_gives_the_same_lines() {
        let input = b"one\ntwo\r\nthree-is-long\n\nfour";
        let whole = lines_of(input, 8, input.len());
        for split in 1..input.len() {
            assert_eq!(lines_of(input, 8, split), whole, "split {split}");
        }
        assert_eq!(whole.len(), 3);
    }

    #[test]
    fn truncating_framer_keeps_the_head_of_long_lines() {
        let mut framer = LineFramer::truncating(4);
        for chunk in [&b"abcdefgh\nxy"[..], b"z\n123", b"45\n"] {
            framer.push(chunk);
        }
        let got: Vec<_> = std::iter::from_fn(|| framer.next_line()).collect();
        assert_eq!(
            got,
            vec![
                Ok(b"abcd".to_vec()),
                Ok(b"xyz".to_vec()),
                Ok(b"1234".to_vec())
            ]
        );
        assert_eq!(framer.buffered(), 0);
    }

    #[test]
    fn unfinished_line_waits() {
        let mut framer = LineFramer::new(16);
        framer.push(b"abc");
        assert_eq!(framer.next_line(), None);
        framer.push(b"\n");
        assert_eq!(framer.next_line(), Some(Ok(b"abc".to_vec())));
    }
}
