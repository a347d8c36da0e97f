//! The body of a streamed response: a native `IdentityTransformStream` (`src/js/stream.js`)
//! that a surface's event sink writes encoded bytes into, one write per batch.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;

use crate::agent::{AgentEvent, EventSink};

#[wasm_bindgen(module = "/src/js/stream.js")]
extern "C" {
    /// The response body the engine writes into (see `src/js/stream.js`).
    pub type Output;

    /// A fresh body.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Output;

    /// What the response streams.
    #[wasm_bindgen(method, getter)]
    pub fn readable(this: &Output) -> worker::web_sys::ReadableStream;

    /// Queues bytes; false once the client has gone.
    #[wasm_bindgen(method)]
    pub fn write(this: &Output, bytes: &[u8]) -> bool;

    /// Ends the body.
    #[wasm_bindgen(method)]
    pub fn close(this: &Output);
}

/// Turns a turn's events into a surface's wire format.
pub trait Encode {
    /// Appends the bytes of one event.
    fn encode(&mut self, event: &AgentEvent, out: &mut Vec<u8>);
    /// Appends whatever the encoder still holds back, when the turn ends.
    fn finish(&mut self, _out: &mut Vec<u8>) {}
}

/// Where a sink's bytes go: a response body, or another channel (a phone call's socket).
pub trait Transport {
    /// Delivers one batch; false once the other side has gone.
    fn write(&self, bytes: &[u8]) -> bool;
    /// Delivers the last bytes (possibly none) and ends the channel.
    fn end(&self, tail: &[u8]);
    /// Whether the other side has gone, asked when there is nothing to write.
    fn gone(&self) -> bool {
        false
    }
}

impl Transport for Output {
    fn write(&self, bytes: &[u8]) -> bool {
        Output::write(self, bytes)
    }

    fn end(&self, tail: &[u8]) {
        if !tail.is_empty() {
            Output::write(self, tail);
        }
        self.close();
    }
}

/// The one event sink of every surface: events go through the surface's encoder into a
/// buffer, written to the body (if any) once per flush. One concrete type for all surfaces, so
/// the engine and the model client are compiled once into the wasm, not once per surface.
pub struct BodySink {
    encoder: Rc<RefCell<dyn Encode>>,
    output: Option<Box<dyn Transport>>,
    buffer: Vec<u8>,
}

impl BodySink {
    /// A sink into `output` (`None`: the encoder only collects, for an answer sent whole).
    pub fn new(encoder: Rc<RefCell<dyn Encode>>, output: Option<Output>) -> Self {
        Self {
            encoder,
            output: output.map(|o| Box::new(o) as Box<dyn Transport>),
            buffer: Vec::with_capacity(1024),
        }
    }

    /// A sink into another channel than a response body.
    pub fn over(encoder: Rc<RefCell<dyn Encode>>, transport: Box<dyn Transport>) -> Self {
        Self {
            encoder,
            output: Some(transport),
            buffer: Vec::with_capacity(256),
        }
    }

    /// The bytes not yet written, for what a surface writes beside events.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buffer
    }

    /// Writes what the encoder still holds and ends the body.
    pub fn close(&mut self) {
        self.encoder.borrow_mut().finish(&mut self.buffer);
        match &self.output {
            Some(output) => output.end(&self.buffer),
            None => return,
        }
        self.buffer.clear();
    }
}

impl EventSink for BodySink {
    fn send(&mut self, event: &AgentEvent) {
        self.encoder.borrow_mut().encode(event, &mut self.buffer);
    }

    fn flush(&mut self) -> bool {
        let Some(output) = &self.output else {
            return true;
        };
        if self.buffer.is_empty() {
            return !output.gone();
        }
        let delivered = output.write(&self.buffer);
        self.buffer.clear();
        delivered
    }
}
