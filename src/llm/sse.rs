//! Incremental Server-Sent Events parser.
//!
//! Bytes arrive in arbitrary pieces (a TCP read can end inside a line or inside a UTF-8
//! character), so the parser buffers bytes and only decodes complete lines.

/// One dispatched SSE event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, when the server set one.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// Feeds raw bytes in, yields complete events; comments (`:` lines) are skipped.
#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
    /// Start of the not yet consumed part of `buf`; compaction happens once per feed.
    start: usize,
    data: Option<String>,
    event: Option<String>,
}

impl SseParser {
    /// Creates an empty parser.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `chunk` and pushes every event it completes onto `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) {
        self.buf.extend_from_slice(chunk);
        while let Some(rel) = self.buf[self.start..].iter().position(|&b| b == b'\n') {
            let end = self.start + rel;
            let mut line = &self.buf[self.start..end];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            let line = String::from_utf8_lossy(line).into_owned();
            self.start = end + 1;
            self.line(&line, out);
        }
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }

    /// Flushes an event the stream ended without a blank line after.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
        if !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf);
            let line = String::from_utf8_lossy(&rest).into_owned();
            self.line(line.trim_end_matches('\r'), out);
        }
        self.dispatch(out);
    }

    fn line(&mut self, line: &str, out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.find(':') {
            Some(i) => {
                let value = &line[i + 1..];
                (&line[..i], value.strip_prefix(' ').unwrap_or(value))
            }
            None => (line, ""),
        };
        match field {
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            "event" => self.event = Some(value.to_owned()),
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        if let Some(data) = self.data.take() {
            out.push(SseEvent {
                event: self.event.take(),
                data,
            });
        }
        self.event = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(pieces: &[&[u8]]) -> Vec<SseEvent> {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        for piece in pieces {
            parser.feed(piece, &mut out);
        }
        parser.finish(&mut out);
        out
    }

    fn data(events: &[SseEvent]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    #[test]
    fn skips_comments_and_keeps_data() {
        let events = parse_all(&[
            b": OPENROUTER PROCESSING\n\ndata: {\"a\":1}\n\n: ping\n\ndata: [DONE]\n\n",
        ]);
        assert_eq!(data(&events), vec!["{\"a\":1}", "[DONE]"]);
    }

    #[test]
    fn handles_crlf_and_multiline_data_and_event_names() {
        let events =
            parse_all(&[b"event: message\r\ndata: one\r\ndata: two\r\n\r\ndata:three\r\n\r\n"]);
        assert_eq!(events[0].event.as_deref(), Some("message"));
        assert_eq!(events[0].data, "one\ntwo");
        assert_eq!(events[1].data, "three");
        assert_eq!(events[1].event, None);
    }

    #[test]
    fn flushes_a_final_event_without_trailing_blank_line() {
        let events = parse_all(&[b"data: last"]);
        assert_eq!(data(&events), vec!["last"]);
    }

    #[test]
    fn empty_data_field_still_dispatches() {
        let events = parse_all(&[b"data:\n\n"]);
        assert_eq!(data(&events), vec![""]);
    }

    #[test]
    fn every_split_point_gives_the_same_events() {
        let stream = "data: {\"t\":\"héllo wörld 🎉 日本\"}\r\n\r\n: keep-alive\n\ndata: {\"t\":\"second\"}\n\ndata: [DONE]\n\n";
        let bytes = stream.as_bytes();
        let whole = parse_all(&[bytes]);
        assert_eq!(whole.len(), 3);
        assert!(whole[0].data.contains("🎉 日本"));
        for i in 0..=bytes.len() {
            for j in i..=bytes.len() {
                let split = parse_all(&[&bytes[..i], &bytes[i..j], &bytes[j..]]);
                assert_eq!(split, whole, "split at {i},{j}");
            }
        }
    }

    #[test]
    fn byte_by_byte_feed_matches_whole_feed() {
        let stream = "data: {\"choices\":[{\"delta\":{\"content\":\"Ünïcødé ✓\"}}]}\n\n".repeat(20);
        let bytes = stream.as_bytes();
        let pieces: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(parse_all(&pieces), parse_all(&[bytes]));
    }
}
