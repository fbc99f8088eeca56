//! The header fields of a request head (RFC 9110 5), stored and indexed once per head.
//!
//! The field lines sit in one buffer (a parsed head's bytes, from its first field name on or,
//! for a head `head::simple` read, the whole head, copied in one piece), checked as UTF-8 once when the head is built: the usual head is text,
//! so a `str` value is a slice of it; a head carrying obs-text bytes (RFC 9110 5.5) keeps bytes
//! and checks a value when it is asked for as text. Values are stored without surrounding
//! whitespace.
//! The fields mcpd reads, [`Field`], are indexed while the head is built (the first line of each
//! name and, per line, the next line of the same name), so looking one up costs no scan and no
//! name comparison; any other name is found by a case-insensitive scan. Both ways see every line
//! of a name, in order of arrival.

use super::head::trim_ows;

/// The header fields mcpd looks up, indexed when a head is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `Host` (RFC 9112 3.2).
    Host,
    /// `Content-Length` (RFC 9110 8.6).
    ContentLength,
    /// `Transfer-Encoding` (RFC 9112 6.1).
    TransferEncoding,
    /// `Connection` (RFC 9110 7.6.1).
    Connection,
    /// `Expect` (RFC 9110 10.1.1).
    Expect,
    /// `Content-Type` (RFC 9110 8.3).
    ContentType,
    /// `Accept` (RFC 9110 12.5.1).
    Accept,
    /// `Origin` (RFC 6454 7).
    Origin,
    /// `Authorization` (RFC 9110 11.6.2).
    Authorization,
    /// `Mcp-Session-Id` (MCP transports, session management).
    McpSessionId,
    /// `MCP-Protocol-Version` (MCP transports, protocol version header).
    McpProtocolVersion,
    /// `Last-Event-ID` (WHATWG SSE, resumption).
    LastEventId,
    /// `Mcp-Method` (MCP 2026-07-28 stateless requests).
    McpMethod,
    /// `Mcp-Name` (MCP 2026-07-28 stateless requests).
    McpName,
}

/// How many [`Field`]s there are: the size of the per-head index.
const FIELDS: usize = 14;

impl Field {
    /// Every field, in declaration order (`Field as usize` indexes it).
    #[cfg(test)]
    const ALL: [Field; FIELDS] = [
        Field::Host,
        Field::ContentLength,
        Field::TransferEncoding,
        Field::Connection,
        Field::Expect,
        Field::ContentType,
        Field::Accept,
        Field::Origin,
        Field::Authorization,
        Field::McpSessionId,
        Field::McpProtocolVersion,
        Field::LastEventId,
        Field::McpMethod,
        Field::McpName,
    ];

    /// The field name, in lower case.
    pub const fn name(self) -> &'static str {
        match self {
            Field::Host => "host",
            Field::ContentLength => "content-length",
            Field::TransferEncoding => "transfer-encoding",
            Field::Connection => "connection",
            Field::Expect => "expect",
            Field::ContentType => "content-type",
            Field::Accept => "accept",
            Field::Origin => "origin",
            Field::Authorization => "authorization",
            Field::McpSessionId => "mcp-session-id",
            Field::McpProtocolVersion => "mcp-protocol-version",
            Field::LastEventId => "last-event-id",
            Field::McpMethod => "mcp-method",
            Field::McpName => "mcp-name",
        }
    }

    /// The field a name (in any case) stands for, if it is one mcpd indexes. Picks the
    /// candidates by length first, so most unindexed names cost no byte comparison, then
    /// compares a word at a time ([`Folded`]): a byte-wise case-insensitive comparison of every
    /// field name of a head cost more than the lookups the index saves.
    pub fn of(name: &[u8]) -> Option<Field> {
        let words = Folded::words(name)?;
        // The candidates are constants in each arm, so are their words: no table walk.
        let is = |field: Field| {
            FOLDED
                .get(field as usize)
                .is_some_and(|f| f.matches(&words))
        };
        let pick = |fields: &[Field]| fields.iter().copied().find(|&field| is(field));
        match name.len() {
            4 => is(Field::Host).then_some(Field::Host),
            6 => pick(&[Field::Accept, Field::Origin, Field::Expect]),
            8 => is(Field::McpName).then_some(Field::McpName),
            10 => pick(&[Field::Connection, Field::McpMethod]),
            12 => is(Field::ContentType).then_some(Field::ContentType),
            13 => pick(&[Field::Authorization, Field::LastEventId]),
            14 => pick(&[Field::ContentLength, Field::McpSessionId]),
            17 => is(Field::TransferEncoding).then_some(Field::TransferEncoding),
            20 => is(Field::McpProtocolVersion).then_some(Field::McpProtocolVersion),
            _ => None,
        }
    }
}

/// An indexed name as three little-endian words, with 0x20 set in `mask` where the name has a
/// letter: `word | mask == name` holds exactly for that letter in either case, and for every
/// other byte (`-`) only for the byte itself, as `eq_ignore_ascii_case` would.
///
/// The words are read straight from the name, overlapping rather than padded (no copy): a name
/// of 4 to 8 bytes is its first and last 4 in one word, one of 9 to 16 its first and last 8,
/// one of 17 to 24 its first 16 and last 8. Names of one length share the layout, and every
/// byte is in some word, so the words match exactly when every byte does.
struct Folded {
    name: [u64; 3],
    mask: [u64; 3],
}

/// `n` bytes of `bytes` at `at`, little-endian; with `mask`, 0x20 per letter instead of the byte.
const fn load(bytes: &[u8], at: usize, n: usize, mask: bool) -> u64 {
    let mut word = 0;
    let mut i = 0;
    while i < n {
        let b = bytes[at + i];
        let b = match (mask, b.is_ascii_alphabetic()) {
            (false, _) => b,
            (true, true) => 0x20,
            (true, false) => 0,
        };
        word |= (b as u64) << (i * 8);
        i += 1;
    }
    word
}

/// The words of an indexed name (or its mask) in the layout [`Folded::words`] reads.
const fn layout(bytes: &[u8], mask: bool) -> [u64; 3] {
    let len = bytes.len();
    if len <= 8 {
        [
            load(bytes, 0, 4, mask) | load(bytes, len - 4, 4, mask) << 32,
            0,
            0,
        ]
    } else if len <= 16 {
        [load(bytes, 0, 8, mask), load(bytes, len - 8, 8, mask), 0]
    } else {
        [
            load(bytes, 0, 8, mask),
            load(bytes, 8, 8, mask),
            load(bytes, len - 8, 8, mask),
        ]
    }
}

impl Folded {
    const fn of(field: Field) -> Folded {
        let bytes = field.name().as_bytes();
        Folded {
            name: layout(bytes, false),
            mask: layout(bytes, true),
        }
    }

    /// `name` read as words in the layout above; `None` for a length no indexed name has.
    fn words(name: &[u8]) -> Option<[u64; 3]> {
        let len = name.len();
        let word = |at: usize| {
            let bytes = name.get(at..at.checked_add(8)?)?;
            Some(u64::from_le_bytes(bytes.try_into().ok()?))
        };
        let half = |at: usize| {
            let bytes = name.get(at..at.checked_add(4)?)?;
            Some(u64::from(u32::from_le_bytes(bytes.try_into().ok()?)))
        };
        Some(match len {
            4..=8 => [half(0)? | half(len - 4)? << 32, 0, 0],
            9..=16 => [word(0)?, word(len - 8)?, 0],
            17..=24 => [word(0)?, word(8)?, word(len - 8)?],
            _ => return None,
        })
    }

    /// Whether `words` (of a name of the same length) spell this name in any case.
    fn matches(&self, words: &[u64; 3]) -> bool {
        let [a, b, c] = *words;
        (a | self.mask[0]) == self.name[0]
            && (b | self.mask[1]) == self.name[1]
            && (c | self.mask[2]) == self.name[2]
    }
}

/// [`Folded`] per [`Field`], in declaration order.
const FOLDED: [Folded; FIELDS] = [
    Folded::of(Field::Host),
    Folded::of(Field::ContentLength),
    Folded::of(Field::TransferEncoding),
    Folded::of(Field::Connection),
    Folded::of(Field::Expect),
    Folded::of(Field::ContentType),
    Folded::of(Field::Accept),
    Folded::of(Field::Origin),
    Folded::of(Field::Authorization),
    Folded::of(Field::McpSessionId),
    Folded::of(Field::McpProtocolVersion),
    Folded::of(Field::LastEventId),
    Folded::of(Field::McpMethod),
    Folded::of(Field::McpName),
];

/// A field name to look up: an indexed [`Field`], or any other name (case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Name<'n> {
    /// Found through the index.
    Known(Field),
    /// Found by a scan over every line.
    Other(&'n str),
}

impl From<Field> for Name<'_> {
    fn from(field: Field) -> Self {
        Name::Known(field)
    }
}

impl<'n> From<&'n str> for Name<'n> {
    /// A name that is a [`Field`] in any case becomes that field, so it uses the index too.
    fn from(name: &'n str) -> Self {
        Field::of(name.as_bytes()).map_or(Name::Other(name), Name::Known)
    }
}

/// The buffer of names and values: text when the whole of it is UTF-8, else bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Buffer {
    Text(String),
    Bytes(Vec<u8>),
}

impl Buffer {
    fn bytes(&self) -> &[u8] {
        match self {
            Buffer::Text(text) => text.as_bytes(),
            Buffer::Bytes(bytes) => bytes,
        }
    }
}

/// One field line: where its name and its value are in the buffer, and the next line of the
/// same indexed name (its index plus one; 0: none).
#[derive(Debug, Clone, Copy)]
struct Span {
    name_start: u32,
    name_end: u32,
    value_start: u32,
    value_end: u32,
    next: u32,
}

/// A head's header fields, in order of arrival, with the index of the [`Field`]s.
#[derive(Debug, Clone)]
pub(crate) struct Fields {
    buffer: Buffer,
    spans: Vec<Span>,
    /// Per [`Field`], its first line (index plus one; 0: absent).
    first: [u32; FIELDS],
}

/// Equal when the lines are, however the buffers are laid out.
impl PartialEq for Fields {
    fn eq(&self, other: &Fields) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Fields {}

/// Indexes the lines of a buffer as they are added, then checks it as UTF-8 once.
pub(super) struct Index {
    spans: Vec<Span>,
    first: [u32; FIELDS],
    /// Per [`Field`], its last line so far (index plus one; 0: none yet).
    last: [u32; FIELDS],
}

/// A buffer offset or line number as stored: a head is at most `max_head_bytes`, far below
/// 4 GiB, so this never saturates in practice; saturating keeps lookups in bounds regardless.
fn stored(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Where `part`, a piece of `whole`, starts in it; `None` if it is not inside `whole`. An empty
/// part has no bytes to find and is placed at 0 (every empty range reads the same).
fn offset_in(whole: &[u8], part: &[u8]) -> Option<usize> {
    if part.is_empty() {
        return Some(0);
    }
    let at = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    (at.checked_add(part.len())? <= whole.len()).then_some(at)
}

/// The storage of a head's fields once the head is dropped, emptied, to build the next head's
/// fields on the same connection without allocating (an allocation and a free were ~150
/// instructions each, and a head took two for its fields).
#[derive(Debug, Default)]
pub(crate) struct Storage {
    bytes: Vec<u8>,
    spans: Vec<Span>,
}

#[cfg(test)]
impl Storage {
    /// The capacities of the byte and line storage.
    pub(crate) fn capacities(&self) -> (usize, usize) {
        (self.bytes.capacity(), self.spans.capacity())
    }
}

/// Capacity in bytes a [`Storage`] buffer may keep: a usual head's fields fit, while one that
/// grew for a large head gives its memory back rather than holding it while idle.
pub(crate) const KEEP_BYTES: usize = 1024;

/// `v` emptied, or a new `Vec` when `v` holds more than [`KEEP_BYTES`] of storage.
pub(crate) fn kept<T>(mut v: Vec<T>) -> Vec<T> {
    v.clear();
    if v.capacity().saturating_mul(core::mem::size_of::<T>()) > KEEP_BYTES {
        return Vec::new();
    }
    v
}

impl Index {
    fn with_capacity(lines: usize) -> Self {
        Index::in_storage(Vec::new(), lines)
    }

    /// An index whose lines go into `spans` (emptied first).
    fn in_storage(mut spans: Vec<Span>, lines: usize) -> Self {
        spans.clear();
        spans.reserve(lines);
        Index {
            spans,
            first: [0; FIELDS],
            last: [0; FIELDS],
        }
    }

    /// Adds the line whose name `name` is at `name_at` and whose value is `value_len` bytes at
    /// `value_at`, indexing it if its name is a [`Field`].
    // Not inlined: inlined into the head parser's line loop it cost more there than the call.
    #[inline(never)]
    pub(super) fn push(&mut self, name: &[u8], name_at: usize, value_at: usize, value_len: usize) {
        let line = stored(self.spans.len().saturating_add(1));
        if let Some(field) = Field::of(name) {
            let slot = field as usize;
            match self.last.get(slot).copied() {
                Some(0) => {
                    if let Some(first) = self.first.get_mut(slot) {
                        *first = line;
                    }
                }
                Some(previous) => {
                    if let Some(span) = self.spans.get_mut(previous as usize - 1) {
                        span.next = line;
                    }
                }
                None => {}
            }
            if let Some(last) = self.last.get_mut(slot) {
                *last = line;
            }
        }
        self.spans.push(Span {
            name_start: stored(name_at),
            name_end: stored(name_at.saturating_add(name.len())),
            value_start: stored(value_at),
            value_end: stored(value_at.saturating_add(value_len)),
            next: 0,
        });
    }

    /// An index whose lines go into the line storage of `storage`, for a parser that finds
    /// the lines itself; give the storage back with [`Index::give_back`] if it gives up.
    pub(super) fn from_storage(storage: &mut Storage) -> Self {
        Index::in_storage(core::mem::take(&mut storage.spans), 0)
    }

    /// How many lines were added.
    pub(super) fn len(&self) -> usize {
        self.spans.len()
    }

    /// Returns the line storage to `storage` (the parser gave up).
    pub(super) fn give_back(self, storage: &mut Storage) {
        storage.spans = self.spans;
    }

    /// The fields over a copy of `region`, the bytes the added offsets count in, made in the
    /// byte storage of `storage`.
    pub(super) fn finish_in(self, storage: &mut Storage, region: &[u8]) -> Fields {
        let mut bytes = core::mem::take(&mut storage.bytes);
        bytes.clear();
        bytes.extend_from_slice(region);
        self.finish(bytes)
    }

    /// The fields over `bytes`, checked as UTF-8 once.
    fn finish(self, bytes: Vec<u8>) -> Fields {
        let buffer = match String::from_utf8(bytes) {
            Ok(text) => Buffer::Text(text),
            Err(not_text) => Buffer::Bytes(not_text.into_bytes()),
        };
        Fields {
            buffer,
            spans: self.spans,
            first: self.first,
        }
    }
}

impl Fields {
    /// The fields of lines given as (name, value): names and values copied back to back,
    /// values without surrounding whitespace (RFC 9110 5.5: OWS is not part of the value).
    pub(crate) fn copied<'a>(lines: impl ExactSizeIterator<Item = (&'a [u8], &'a [u8])>) -> Fields {
        let mut index = Index::with_capacity(lines.len());
        let mut bytes = Vec::new();
        for (name, value) in lines {
            let value = trim_ows(value);
            let name_at = bytes.len();
            bytes.extend_from_slice(name);
            let value_at = bytes.len();
            bytes.extend_from_slice(value);
            index.push(name, name_at, value_at, value.len());
        }
        index.finish(bytes)
    }

    /// The fields httparse found in `head` (the bytes of the head alone), values trimmed as in
    /// [`Fields::copied`]. The bytes from the first name to the end of the head are copied in
    /// one piece and the lines indexed where they lie in it, rather than copying every name
    /// and value on its own (two copies and a capacity check per line). The fields are built in
    /// `storage`, a dropped head's.
    pub(crate) fn parsed(
        storage: Storage,
        head: &[u8],
        headers: &[httparse::Header<'_>],
    ) -> Fields {
        let start = headers
            .first()
            .and_then(|h| offset_in(head, h.name.as_bytes()))
            .unwrap_or(head.len());
        let region = head.get(start..).unwrap_or_default();
        let mut index = Index::in_storage(storage.spans, headers.len());
        for header in headers {
            let name = header.name.as_bytes();
            let value = trim_ows(header.value);
            match (offset_in(region, name), offset_in(region, value)) {
                (Some(name_at), Some(value_at)) => index.push(name, name_at, value_at, value.len()),
                // httparse's slices are pieces of the head, so this is not reached; if it were,
                // copying the lines would still be right.
                _ => return Fields::copied(headers.iter().map(|h| (h.name.as_bytes(), h.value))),
            }
        }
        let mut bytes = storage.bytes;
        bytes.clear();
        bytes.extend_from_slice(region);
        index.finish(bytes)
    }

    /// The storage of these fields, emptied, for [`Fields::parsed`] to fill again.
    pub(crate) fn into_storage(self) -> Storage {
        let bytes = match self.buffer {
            Buffer::Text(text) => text.into_bytes(),
            Buffer::Bytes(bytes) => bytes,
        };
        Storage {
            bytes: kept(bytes),
            spans: kept(self.spans),
        }
    }

    fn name_of(&self, span: &Span) -> &[u8] {
        let range = span.name_start as usize..span.name_end as usize;
        self.buffer.bytes().get(range).unwrap_or_default()
    }

    fn value_of(&self, span: &Span) -> &[u8] {
        let range = span.value_start as usize..span.value_end as usize;
        self.buffer.bytes().get(range).unwrap_or_default()
    }

    /// A value as text, `None` if it is not UTF-8. In a text buffer a non-empty slice whose
    /// ends are char boundaries is UTF-8, and one whose ends are not is not UTF-8 on its own.
    fn value_str_of(&self, span: &Span) -> Option<&str> {
        let range = span.value_start as usize..span.value_end as usize;
        if range.is_empty() {
            return Some("");
        }
        match &self.buffer {
            Buffer::Text(text) => text.get(range),
            Buffer::Bytes(bytes) => core::str::from_utf8(bytes.get(range)?).ok(),
        }
    }

    /// Bytes `range` of the buffer as text; `None` when the buffer is not all UTF-8.
    pub(super) fn text(&self, range: core::ops::Range<usize>) -> Option<&str> {
        match &self.buffer {
            Buffer::Text(text) => text.get(range),
            Buffer::Bytes(_) => None,
        }
    }

    /// How many field lines there are.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// Every line as (name, value), in order of arrival.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.spans
            .iter()
            .map(|span| (self.name_of(span), self.value_of(span)))
    }

    /// The line numbers of `name`, in order of arrival.
    fn lines<'a, 'n>(&'a self, name: Name<'n>) -> Lines<'a, 'n> {
        let cursor = match name {
            Name::Known(field) => {
                Cursor::Chain(self.first.get(field as usize).copied().unwrap_or(0))
            }
            Name::Other(name) => Cursor::Scan { at: 0, name },
        };
        Lines {
            fields: self,
            cursor,
        }
    }

    /// Every value of `name`, in order of arrival.
    pub(crate) fn values<'a>(&'a self, name: Name<'a>) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.lines(name).map(|span| self.value_of(span))
    }

    /// Every value of `name` as text (`None` for one that is not UTF-8), in order of arrival.
    pub(crate) fn values_str<'a>(
        &'a self,
        name: Name<'a>,
    ) -> impl Iterator<Item = Option<&'a str>> + 'a {
        self.lines(name).map(|span| self.value_str_of(span))
    }

    /// The first line of `name`: straight from the index for a [`Field`].
    #[inline]
    fn first_line(&self, name: Name<'_>) -> Option<&Span> {
        match name {
            Name::Known(field) => {
                let line = self.first.get(field as usize)?;
                self.spans.get((*line as usize).checked_sub(1)?)
            }
            Name::Other(name) => self.spans.iter().find(|span| self.is_named(span, name)),
        }
    }

    /// Whether the line `span` is called `name` (case-insensitive); names of another length are
    /// skipped before any byte is compared.
    fn is_named(&self, span: &Span, name: &str) -> bool {
        span.name_end.saturating_sub(span.name_start) as usize == name.len()
            && self.name_of(span).eq_ignore_ascii_case(name.as_bytes())
    }

    /// The first value of `name`.
    pub(crate) fn first(&self, name: Name<'_>) -> Option<&[u8]> {
        Some(self.value_of(self.first_line(name)?))
    }

    /// The first value of `name` as text; `None` if absent or not UTF-8.
    #[inline]
    pub(crate) fn first_str(&self, name: Name<'_>) -> Option<&str> {
        self.value_str_of(self.first_line(name)?)
    }

    /// Whether `field` has more than one line.
    pub(crate) fn repeated(&self, field: Field) -> bool {
        self.first_line(Name::Known(field))
            .is_some_and(|span| span.next != 0)
    }
}

/// Where a walk over the lines of one name stands.
enum Cursor<'n> {
    /// The next line of an indexed field (index plus one; 0: done).
    Chain(u32),
    /// The next line to compare with an unindexed name.
    Scan { at: usize, name: &'n str },
}

/// The lines of one name, in order of arrival.
struct Lines<'a, 'n> {
    fields: &'a Fields,
    cursor: Cursor<'n>,
}

impl<'a> Iterator for Lines<'a, '_> {
    type Item = &'a Span;

    fn next(&mut self) -> Option<&'a Span> {
        let spans = &self.fields.spans;
        match &mut self.cursor {
            Cursor::Chain(line) => {
                let span = spans.get(line.checked_sub(1)? as usize)?;
                *line = span.next;
                Some(span)
            }
            Cursor::Scan { at, name } => {
                while let Some(span) = spans.get(*at) {
                    *at += 1;
                    if self.fields.is_named(span, name) {
                        return Some(span);
                    }
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields_of(lines: &[(&str, &[u8])]) -> Fields {
        Fields::copied(lines.iter().map(|(name, value)| (name.as_bytes(), *value)))
    }

    /// The values of `name` found the slow way: every line, names compared case-insensitively.
    fn scanned<'a>(fields: &'a Fields, name: &str) -> Vec<&'a [u8]> {
        fields
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
            .collect()
    }

    #[test]
    fn every_field_is_found_by_its_name_in_any_case() {
        for (slot, field) in Field::ALL.iter().enumerate() {
            assert_eq!(*field as usize, slot, "{field:?}");
            let name = field.name();
            assert_eq!(name, name.to_ascii_lowercase());
            assert_eq!(Field::of(name.as_bytes()), Some(*field));
            assert_eq!(
                Field::of(name.to_ascii_uppercase().as_bytes()),
                Some(*field)
            );
            assert_eq!(Name::from(name), Name::Known(*field));
        }
        for other in [
            "",
            "hos",
            "hosts",
            "x-host",
            "content-lengtH-",
            "mcp-param-a",
            "h\u{e9}st",
        ] {
            assert_eq!(Field::of(other.as_bytes()), None, "{other}");
            assert_eq!(Name::from(other), Name::Other(other));
        }
    }

    /// `Field::of` the obvious way: a byte-wise case-insensitive comparison with every name.
    fn field_of_bytewise(name: &[u8]) -> Option<Field> {
        Field::ALL
            .into_iter()
            .find(|field| field.name().as_bytes().eq_ignore_ascii_case(name))
    }

    #[test]
    fn word_compare_agrees_with_bytewise_compare_on_every_byte_at_every_position() {
        for field in Field::ALL {
            let name = field.name().as_bytes();
            for at in 0..name.len() {
                for byte in 0..=255u8 {
                    let mut other = name.to_vec();
                    other[at] = byte;
                    assert_eq!(Field::of(&other), field_of_bytewise(&other), "{other:?}");
                }
            }
            let mut longer = name.to_vec();
            longer.push(b'x');
            assert_eq!(Field::of(&longer), None);
            assert_eq!(Field::of(&name[1..]), field_of_bytewise(&name[1..]));
        }
        assert_eq!(Field::of(&[b'a'; 30]), None);
        assert_eq!(
            Field::of(b"MCP-PROTOCOL-VERSION"),
            Some(Field::McpProtocolVersion)
        );
        assert_eq!(Field::of(b"Mcp-Protocol-Versioo"), None);
        assert_eq!(Field::of(b"content\rlength"), None);
    }

    #[test]
    fn kept_storage_is_emptied_and_bounded() {
        let small = kept(vec![1u8; 1000]);
        assert!(
            small.is_empty() && small.capacity() >= 1000,
            "kept for reuse"
        );
        assert_eq!(kept(vec![1u8; KEEP_BYTES + 1]).capacity(), 0, "freed");
        let spans = vec![
            Span {
                name_start: 0,
                name_end: 0,
                value_start: 0,
                value_end: 0,
                next: 0
            };
            100
        ];
        assert_eq!(kept(spans).capacity(), 0, "bounded in bytes, not elements");
    }

    #[test]
    fn parsed_lines_are_read_in_place_and_other_slices_copied() {
        let head = b"Host: a\r\nX-Empty:\r\nAccept:  text/* \r\nHOST: b\r\n\r\n";
        let mut slots = [httparse::EMPTY_HEADER; 8];
        let Ok(httparse::Status::Complete((_, headers))) =
            httparse::parse_headers(head, &mut slots)
        else {
            panic!("the test head parses");
        };
        let want = fields_of(&[
            ("Host", b"a"),
            ("X-Empty", b""),
            ("Accept", b"text/*"),
            ("HOST", b"b"),
        ]);
        let fields = Fields::parsed(Storage::default(), head, headers);
        assert_eq!(fields, want);
        assert!(
            matches!(&fields.buffer, Buffer::Text(t) if t.len() > 20),
            "one piece of the head"
        );
        let hosts: Vec<&[u8]> = fields.values(Field::Host.into()).collect();
        assert_eq!(hosts, [&b"a"[..], b"b"]);
        assert_eq!(fields.first_str(Field::Accept.into()), Some("text/*"));
        assert_eq!(fields.first_str("x-empty".into()), Some(""));

        // Slices that are not pieces of the head (never so from httparse) are copied instead.
        let elsewhere = [
            headers[0],
            httparse::Header {
                name: "Origin",
                value: b" o ",
            },
        ];
        let fields = Fields::parsed(Storage::default(), head, &elsewhere);
        assert_eq!(fields, fields_of(&[("Host", b"a"), ("Origin", b"o")]));
        assert_eq!(fields.first_str(Field::Origin.into()), Some("o"));
        assert_eq!(Fields::parsed(Storage::default(), head, &[]).len(), 0);
        assert_eq!(Fields::parsed(Storage::default(), b"", &[]).len(), 0);
    }

    #[test]
    fn lookups_ignore_case_and_keep_every_line_in_order() {
        let fields = fields_of(&[
            ("Host", b"a"),
            ("CONNECTION", b"keep-alive"),
            ("X-Tag", b"1"),
            ("connection", b"close"),
            ("x-TAG", b"2"),
            ("Connection", b""),
        ]);
        let connection: Vec<&[u8]> = fields.values(Field::Connection.into()).collect();
        assert_eq!(connection, [&b"keep-alive"[..], b"close", b""]);
        let by_str: Vec<&[u8]> = fields.values("cOnNeCtIoN".into()).collect();
        assert_eq!(by_str, connection);
        let tags: Vec<&[u8]> = fields.values("x-tag".into()).collect();
        assert_eq!(tags, [&b"1"[..], b"2"]);
        assert_eq!(fields.first(Field::Host.into()), Some(&b"a"[..]));
        assert_eq!(fields.first("HOST".into()), Some(&b"a"[..]));
        assert_eq!(fields.first(Field::Origin.into()), None);
        assert_eq!(fields.first("x-ta".into()), None);
        assert_eq!(fields.values(Field::Accept.into()).count(), 0);
        assert!(fields.repeated(Field::Connection));
        assert!(!fields.repeated(Field::Host));
        assert!(!fields.repeated(Field::Accept));
    }

    #[test]
    fn a_scan_for_an_indexed_name_finds_what_the_index_finds() {
        let fields = fields_of(&[("host", b"a"), ("HOST", b"b"), ("Accept", b"c")]);
        for field in Field::ALL {
            let indexed: Vec<&[u8]> = fields.values(Name::Known(field)).collect();
            let scan: Vec<&[u8]> = fields.values(Name::Other(field.name())).collect();
            assert_eq!(indexed, scan, "{field:?}");
            assert_eq!(indexed, scanned(&fields, field.name()), "{field:?}");
        }
    }

    #[test]
    fn text_values_are_trimmed_slices_and_obs_text_is_not_text() {
        let fields = fields_of(&[
            ("Origin", b" \thttp://a\t "),
            ("X", b"caf\xc3\xa9"),
            ("Y", b""),
        ]);
        assert!(matches!(fields.buffer, Buffer::Text(_)));
        assert_eq!(fields.first_str(Field::Origin.into()), Some("http://a"));
        assert_eq!(fields.first(Field::Origin.into()), Some(&b"http://a"[..]));
        assert_eq!(fields.first_str("x".into()), Some("caf\u{e9}"));
        assert_eq!(fields.first_str("y".into()), Some(""));
        assert_eq!(fields.first_str("z".into()), None);

        // One obs-text byte makes the head bytes: that value is not text, the others still are.
        let fields = fields_of(&[
            ("Host", b"a"),
            ("Accept", b"\xff b"),
            ("Origin", b" caf\xc3\xa9 "),
            ("Y", b""),
        ]);
        assert!(matches!(fields.buffer, Buffer::Bytes(_)));
        assert_eq!(fields.first(Field::Accept.into()), Some(&b"\xff b"[..]));
        assert_eq!(fields.first_str(Field::Accept.into()), None);
        assert_eq!(fields.first_str(Field::Host.into()), Some("a"));
        assert_eq!(fields.first_str(Field::Origin.into()), Some("caf\u{e9}"));
        let texts: Vec<Option<&str>> = fields.values_str("ACCEPT".into()).collect();
        assert_eq!(texts, [None]);
        let texts: Vec<Option<&str>> = fields.values_str(Field::Origin.into()).collect();
        assert_eq!(texts, [Some("caf\u{e9}")]);
        assert_eq!(fields.first_str("y".into()), Some(""));
    }

    #[test]
    fn a_value_is_text_exactly_when_it_is_utf8_on_its_own() {
        // Split sequences that are UTF-8 only together: the buffer is text, the values are not.
        let fields = fields_of(&[("A", b"\xc3"), ("", b""), ("", b"\xa9"), ("B", b"ok")]);
        assert!(matches!(fields.buffer, Buffer::Text(_)));
        let values: Vec<Option<&str>> = fields
            .spans
            .iter()
            .map(|span| fields.value_str_of(span))
            .collect();
        assert_eq!(values, [None, Some(""), None, Some("ok")]);
    }

    #[test]
    fn the_index_agrees_with_a_scan_on_random_heads() {
        const NAMES: [&str; 8] = [
            "Host",
            "host",
            "CONTENT-LENGTH",
            "Mcp-Session-Id",
            "connection",
            "X-Other",
            "x-other",
            "Accept",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for _ in 0..500 {
            let count = next(12);
            let values: Vec<Vec<u8>> = (0..count)
                .map(|i| match next(4) {
                    0 => vec![0xff, b'0' + i as u8],
                    _ => vec![b'v', b'0' + i as u8],
                })
                .collect();
            let lines: Vec<(&str, &[u8])> = values
                .iter()
                .map(|v| (NAMES[next(NAMES.len())], v.as_slice()))
                .collect();
            let fields = fields_of(&lines);
            for name in NAMES.iter().chain(&["accept-encoding", "origin"]) {
                let found: Vec<&[u8]> = fields.values((*name).into()).collect();
                let want = scanned(&fields, name);
                assert_eq!(found, want, "{name} in {lines:?}");
                let texts: Vec<Option<&str>> = fields.values_str((*name).into()).collect();
                let want_texts: Vec<Option<&str>> =
                    want.iter().map(|v| core::str::from_utf8(v).ok()).collect();
                assert_eq!(texts, want_texts, "{name}");
                let text = want.first().map(|v| core::str::from_utf8(v).ok());
                assert_eq!(fields.first_str((*name).into()), text.flatten(), "{name}");
            }
        }
    }
}
