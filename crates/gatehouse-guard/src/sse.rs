//! Server-sent events framing
//! ([HTML Living Standard §9.2.6](https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream)):
//! splitting a byte stream into events as it arrives, and reading and replacing an event's
//! `data`.
//!
//! Lines end with CRLF, LF or CR; an empty line ends an event. Events the caller does not
//! change are passed on byte for byte.
//!
//! Public for the other readers of MCP's Streamable HTTP answers (the gateway's drift check lists
//! an upstream's tools through it): [`EventSplitter`] and [`data`].

use bytes::{Bytes, BytesMut};

/// An event longer than the bound without its terminating empty line.
#[derive(Debug, thiserror::Error)]
#[error("a server-sent event is larger than the guard reads")]
pub struct EventTooLarge;

/// Collects bytes and hands out whole events.
#[derive(Debug)]
pub struct EventSplitter {
    buffer: BytesMut,
    max_event: usize,
    /// Where the scan for the end of the first event resumes (a line start in `buffer`).
    scanned: usize,
}

impl EventSplitter {
    /// A splitter holding events of at most `max_event` bytes.
    pub fn new(max_event: usize) -> Self {
        Self {
            buffer: BytesMut::new(),
            max_event,
            scanned: 0,
        }
    }

    /// Adds the next bytes of the stream; `Err` when an event grows past the bound.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), EventTooLarge> {
        self.buffer.extend_from_slice(chunk);
        if self.buffer.len() > self.max_event && self.find_end().is_none() {
            return Err(EventTooLarge);
        }
        Ok(())
    }

    /// The next complete event, with its terminating empty line.
    pub fn next_event(&mut self) -> Option<Bytes> {
        let end = self.find_end()?;
        self.scanned = 0;
        Some(self.buffer.split_to(end).freeze())
    }

    /// The end of the first event, resuming at the last line start already scanned: a large event arriving
    /// in small chunks is scanned once, not once per chunk.
    fn find_end(&mut self) -> Option<usize> {
        match event_end_from(&self.buffer, self.scanned) {
            Ok(end) => Some(end),
            Err(resume) => {
                self.scanned = resume;
                None
            }
        }
    }

    /// What is left when the stream ends: an unterminated event, or nothing.
    pub fn rest(&mut self) -> Bytes {
        self.buffer.split().freeze()
    }
}

/// Where the first complete event of `buf` ends (just after its empty line), scanning from
/// `start`, which must be the start of a line of `buf`. When no event is complete, `Err` with
/// the start of the last (incomplete) line, where a later scan resumes. A CR at the very end
/// may be the first half of a CRLF, so it waits for the next byte.
fn event_end_from(buf: &[u8], start: usize) -> Result<usize, usize> {
    let mut line_start = start;
    let mut pos = start;
    while let Some(offset) = buf
        .get(pos..)
        .and_then(|rest| rest.iter().position(|&b| b == b'\n' || b == b'\r'))
    {
        let at = pos + offset;
        let terminator = match (buf.get(at), buf.get(at + 1)) {
            (Some(b'\r'), Some(b'\n')) => 2,
            (Some(b'\r'), None) => return Err(line_start),
            _ => 1,
        };
        if at == line_start {
            return Ok(at + terminator);
        }
        pos = at + terminator;
        line_start = pos;
    }
    Err(line_start)
}

/// The lines of an event, without terminators.
fn lines(event: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = event;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = rest
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .unwrap_or(rest.len());
        let line = rest.get(..end).unwrap_or_default();
        let skip = match (rest.get(end), rest.get(end + 1)) {
            (Some(b'\r'), Some(b'\n')) => 2,
            (Some(_), _) => 1,
            (None, _) => 0,
        };
        rest = rest.get(end + skip..).unwrap_or_default();
        Some(line)
    })
}

/// The field name and value of a line (`name: value`, one leading space dropped).
fn field(line: &[u8]) -> (&[u8], &[u8]) {
    match line.iter().position(|&b| b == b':') {
        Some(colon) => {
            let name = line.get(..colon).unwrap_or_default();
            let value = line.get(colon + 1..).unwrap_or_default();
            (name, value.strip_prefix(b" ").unwrap_or(value))
        }
        None => (line, b""),
    }
}

/// The event's data: its `data` lines joined with LF; `None` without any.
pub fn data(event: &[u8]) -> Option<Vec<u8>> {
    let mut data: Option<Vec<u8>> = None;
    for line in lines(event) {
        let (name, value) = field(line);
        if name == b"data" {
            let data = data.get_or_insert_with(Vec::new);
            if !data.is_empty() {
                data.push(b'\n');
            }
            data.extend_from_slice(value);
        }
    }
    data
}

/// The event with its `data` replaced by `new_data` (one line) and every other line kept.
pub(crate) fn with_data(event: &[u8], new_data: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(new_data.len() + 64);
    for line in lines(event) {
        if line.is_empty() || field(line).0 == b"data" {
            continue;
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\n");
    }
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(new_data);
    out.extend_from_slice(b"\n\n");
    out.freeze()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn events_split_on_any_line_ending_across_chunks() {
        let mut splitter = EventSplitter::new(1024);
        splitter.push(b"event: message\r\ndata: {\"a\"").unwrap();
        assert!(splitter.next_event().is_none());
        splitter.push(b":1}\r").unwrap();
        assert!(splitter.next_event().is_none());
        splitter.push(b"\n\r").unwrap();
        // "\r" at the end may start a CRLF.
        assert!(splitter.next_event().is_none());
        splitter
            .push(b"\nid: 2\ndata: x\n\n: comment\rdata: y\r\r")
            .unwrap();
        // The last CR may still be the first half of a CRLF: the third event waits for it.
        splitter.push(b"\n").unwrap();
        let first = splitter.next_event().unwrap();
        assert_eq!(&first[..], b"event: message\r\ndata: {\"a\":1}\r\n\r\n");
        assert_eq!(data(&first).unwrap(), b"{\"a\":1}");
        let second = splitter.next_event().unwrap();
        assert_eq!(data(&second).unwrap(), b"x");
        let third = splitter.next_event().unwrap();
        assert_eq!(data(&third).unwrap(), b"y");
        assert!(splitter.next_event().is_none());
        assert!(splitter.rest().is_empty());
    }

    #[test]
    fn multi_line_data_and_replacement() {
        let event = b"id: 7\ndata:a\ndata: b\ndata\n\n";
        assert_eq!(data(event).unwrap(), b"a\nb\n");
        assert_eq!(&with_data(event, b"{}")[..], b"id: 7\ndata: {}\n\n");
        assert!(data(b": keep-alive\n\n").is_none());
    }

    #[test]
    fn unterminated_events_are_bounded() {
        let mut splitter = EventSplitter::new(8);
        assert!(splitter.push(b"data: 0123456789").is_err());
    }

    /// The events of `stream`, found by scanning from the start every time (the reference).
    fn one_shot(stream: &[u8]) -> Vec<Vec<u8>> {
        let mut events = Vec::new();
        let mut rest = stream;
        while let Ok(end) = event_end_from(rest, 0) {
            events.push(rest[..end].to_vec());
            rest = &rest[end..];
        }
        events
    }

    proptest::proptest! {
        /// However a stream is cut into chunks, the splitter yields the same events as one scan
        /// of the whole stream: the resumed scan never skips or invents a boundary.
        #[test]
        fn chunking_never_changes_the_events(
            lines in proptest::collection::vec(
                (proptest::string::string_regex("[a-z:{}\" ]{0,12}").unwrap(),
                 proptest::prop_oneof![
                     proptest::strategy::Just("\n"),
                     proptest::strategy::Just("\r"),
                     proptest::strategy::Just("\r\n"),
                 ]),
                0..40,
            ),
            cuts in proptest::collection::vec(1usize..16, 0..40),
        ) {
            let stream: Vec<u8> = lines
                .iter()
                .flat_map(|(text, end)| [text.as_bytes(), end.as_bytes()].concat())
                .collect();
            let mut splitter = EventSplitter::new(usize::MAX);
            let mut events = Vec::new();
            let mut rest = &stream[..];
            let mut sizes = cuts.iter().copied().cycle();
            while !rest.is_empty() {
                let size = sizes.next().unwrap_or(rest.len()).min(rest.len());
                splitter.push(&rest[..size]).unwrap();
                rest = &rest[size..];
                while let Some(event) = splitter.next_event() {
                    events.push(event.to_vec());
                }
            }
            // A trailing CR is decided only by the next byte; the reference, with the whole
            // stream, is in the same position, so both agree on everything before it.
            proptest::prop_assert_eq!(events, one_shot(&stream));
        }
    }
}
