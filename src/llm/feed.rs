//! Network reads of a model's streamed body turned into model events, synchronously: the plain
//! part of the model client (`client.rs` hands it each read the JavaScript pump makes).

use super::openai::ChunkDecoder;
use super::sse::{SseEvent, SseParser};
use super::{ModelEvent, ModelEventHandler};

/// What the pump does after a read (the number `src/js/stream.js` receives).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Next {
    /// Stop reading: the handler is done (visitor gone, step over) or the stream is unreadable.
    Stop = 0,
    /// Read on, one chunk at a time: no text has reached the visitor yet, so the first text
    /// token must not wait for a batch to fill.
    Unbatched = 1,
    /// Read on; text flows, so reads may gather a batch.
    Batched = 2,
}

/// Turns network reads into model events for the handler.
pub struct Feeder<H> {
    /// Receives the events; handed back when the body ends.
    pub handler: H,
    parser: SseParser,
    decoder: ChunkDecoder,
    sse: Vec<SseEvent>,
    events: Vec<ModelEvent>,
    /// The first unreadable chunk's message, which ended the reading.
    pub error: Option<String>,
    flowing: bool,
}

impl<H: ModelEventHandler> Feeder<H> {
    /// A feeder in front of `handler`.
    pub fn new(handler: H) -> Self {
        Self {
            handler,
            parser: SseParser::new(),
            decoder: ChunkDecoder::default(),
            sse: Vec::new(),
            events: Vec::new(),
            error: None,
            flowing: false,
        }
    }

    /// One network read; says how the pump reads next.
    pub fn feed(&mut self, bytes: &[u8]) -> Next {
        let mut sse = std::mem::take(&mut self.sse);
        self.parser.feed(bytes, &mut sse);
        let keep = self.deliver(&mut sse);
        self.sse = sse;
        if !(self.handler.end_batch() && keep) {
            Next::Stop
        } else if self.flowing {
            Next::Batched
        } else {
            Next::Unbatched
        }
    }

    /// The body ended: flush a final event that had no blank line after it.
    pub fn finish(&mut self) {
        let mut sse = std::mem::take(&mut self.sse);
        self.parser.finish(&mut sse);
        self.deliver(&mut sse);
        self.handler.end_batch();
    }

    fn deliver(&mut self, sse: &mut Vec<SseEvent>) -> bool {
        let mut keep = true;
        for event in sse.drain(..) {
            if !keep {
                continue;
            }
            if let Err(message) = self.decoder.decode(&event.data, &mut self.events) {
                self.error = Some(message);
                keep = false;
            }
            for model_event in self.events.drain(..) {
                // Comments, the role chunk, the model's name and usage are not what the visitor
                // waits for; reads stay unbatched until visible text (or reasoning) arrives.
                self.flowing |=
                    matches!(model_event, ModelEvent::Text(_) | ModelEvent::Reasoning(_));
                if keep && !self.handler.on_event(model_event) {
                    keep = false;
                }
            }
        }
        keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records events and batches; stops reading after `stop_after` events when set.
    #[derive(Default)]
    struct Recorder {
        events: Vec<ModelEvent>,
        batches: usize,
        stop_after: Option<usize>,
    }

    impl ModelEventHandler for Recorder {
        fn on_event(&mut self, event: ModelEvent) -> bool {
            self.events.push(event);
            self.stop_after.is_none_or(|n| self.events.len() < n)
        }
        fn end_batch(&mut self) -> bool {
            self.batches += 1;
            true
        }
    }

    const ROLE: &[u8] = b"data: {\"id\":\"g\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n";
    const TEXT: &[u8] =
        b"data: {\"id\":\"g\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n";

    #[test]
    fn reads_stay_unbatched_until_the_first_text_token() {
        let mut feeder = Feeder::new(Recorder::default());
        assert_eq!(feeder.feed(b": OPENROUTER PROCESSING\n\n"), Next::Unbatched);
        assert_eq!(feeder.feed(ROLE), Next::Unbatched);
        // Half of the first text chunk: nothing visible yet.
        assert_eq!(feeder.feed(&TEXT[..20]), Next::Unbatched);
        assert_eq!(feeder.feed(&TEXT[20..]), Next::Batched);
        assert_eq!(feeder.feed(TEXT), Next::Batched);
        assert_eq!(feeder.handler.batches, 5);
        let texts: Vec<_> = feeder
            .handler
            .events
            .iter()
            .filter(|e| matches!(e, ModelEvent::Text(_)))
            .collect();
        assert_eq!(texts.len(), 2);
    }

    #[test]
    fn reasoning_counts_as_visible() {
        let mut feeder = Feeder::new(Recorder::default());
        let reasoning =
            b"data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning\":\"Let me\"}}]}\n\n";
        assert_eq!(feeder.feed(reasoning), Next::Batched);
    }

    #[test]
    fn a_tool_call_alone_does_not_start_batching() {
        let mut feeder = Feeder::new(Recorder::default());
        let call = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"t\",\"arguments\":\"\"}}]}}]}\n\n";
        assert_eq!(feeder.feed(call), Next::Unbatched);
    }

    #[test]
    fn a_handler_that_stops_or_an_unreadable_chunk_stops_the_pump() {
        let mut feeder = Feeder::new(Recorder {
            stop_after: Some(1),
            ..Recorder::default()
        });
        assert_eq!(feeder.feed(TEXT), Next::Stop);

        let mut feeder = Feeder::new(Recorder::default());
        assert_eq!(feeder.feed(b"data: {not json\n\n"), Next::Stop);
        assert!(feeder.error.is_some());
    }

    #[test]
    fn finish_flushes_an_event_without_a_blank_line() {
        let mut feeder = Feeder::new(Recorder::default());
        assert_eq!(feeder.feed(&TEXT[..TEXT.len() - 2]), Next::Unbatched);
        feeder.finish();
        assert!(feeder
            .handler
            .events
            .iter()
            .any(|e| matches!(e, ModelEvent::Text(t) if t == "Hi")));
    }
}
