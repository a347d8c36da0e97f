//! The OpenAI-compatible model client over the Workers `fetch` API.

use std::collections::VecDeque;

use futures::stream::{self, StreamExt};
use wasm_bindgen::JsValue;
use worker::{
    AbortController, AbortSignal, ByteStream, Fetch, Headers, Method, Request, RequestInit,
};

use super::openai::{error_body_message, parse_chunk, request_body};
use super::sse::{SseEvent, SseParser};
use super::{Model, ModelError, ModelEvent, ModelRequest, ModelStream};
use crate::platform::with_timeout;
use crate::settings::Settings;

/// Calls `{base_url}/chat/completions` with streaming on.
pub struct HttpModel {
    settings: Settings,
    visitor: Option<AbortSignal>,
}

impl HttpModel {
    /// A client whose calls are cancelled when `visitor` (the incoming request's signal) aborts.
    pub fn new(settings: Settings, visitor: Option<AbortSignal>) -> Self {
        Self { settings, visitor }
    }

    fn visitor_gone(&self) -> bool {
        self.visitor.as_ref().is_some_and(AbortSignal::aborted)
    }

    fn request(&self, body: &str) -> worker::Result<Request> {
        let headers = Headers::new();
        headers.set("content-type", "application/json")?;
        headers.set("accept", "text/event-stream")?;
        if let Some(key) = &self.settings.api_key {
            headers.set("authorization", &format!("Bearer {key}"))?;
        }
        if let Some(url) = &self.settings.app_url {
            headers.set("http-referer", url)?;
        }
        if let Some(title) = &self.settings.app_title {
            headers.set("x-openrouter-title", title)?;
            headers.set("x-title", title)?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(headers)
            .with_body(Some(JsValue::from_str(body)));
        Request::new_with_init(
            &format!("{}/chat/completions", self.settings.base_url),
            &init,
        )
    }
}

impl Model for HttpModel {
    async fn open(&self, request: &ModelRequest) -> Result<ModelStream, ModelError> {
        let idle = self.settings.model_idle_timeout_ms;
        let controller = AbortController::default();
        let signal = match &self.visitor {
            Some(visitor) => {
                let both = js_sys::Array::of2(visitor, &controller.signal());
                AbortSignal::from(worker::web_sys::AbortSignal::any(&both))
            }
            None => controller.signal(),
        };
        let body = request_body(request);
        let upstream = self
            .request(&body)
            .map_err(|e| ModelError::Network(e.to_string()))?;
        let fetch = Fetch::Request(upstream);
        let mut response = match with_timeout(fetch.send_with_signal(&signal), idle).await {
            None => {
                controller.abort();
                return Err(ModelError::Timeout);
            }
            Some(Err(_)) if self.visitor_gone() => return Err(ModelError::Aborted),
            Some(Err(e)) => return Err(ModelError::Network(e.to_string())),
            Some(Ok(response)) => response,
        };
        let status = response.status_code();
        if !(200..300).contains(&status) {
            let text = with_timeout(response.text(), idle)
                .await
                .and_then(Result::ok)
                .unwrap_or_default();
            return Err(ModelError::Http {
                status,
                message: error_body_message(&text),
            });
        }
        let bytes = response
            .stream()
            .map_err(|e| ModelError::Network(e.to_string()))?;
        let reader = Reader {
            bytes,
            parser: SseParser::new(),
            sse: Vec::new(),
            pending: VecDeque::new(),
            controller: Some(controller),
            visitor: self.visitor.clone(),
            idle_ms: idle,
            ended: false,
        };
        Ok(stream::unfold(reader, Reader::next_item).boxed_local())
    }
}

/// Reads the upstream body and turns it into model events, one read at a time.
struct Reader {
    bytes: ByteStream,
    parser: SseParser,
    sse: Vec<SseEvent>,
    pending: VecDeque<Result<ModelEvent, ModelError>>,
    controller: Option<AbortController>,
    visitor: Option<AbortSignal>,
    idle_ms: u32,
    ended: bool,
}

impl Reader {
    async fn next_item(mut self) -> Option<(Result<ModelEvent, ModelError>, Self)> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some((item, self));
            }
            if self.ended {
                return None;
            }
            match with_timeout(self.bytes.next(), self.idle_ms).await {
                None => {
                    if let Some(controller) = self.controller.take() {
                        controller.abort();
                    }
                    self.end_with(ModelError::Timeout);
                }
                Some(None) => {
                    let mut sse = std::mem::take(&mut self.sse);
                    self.parser.finish(&mut sse);
                    self.sse = sse;
                    self.decode();
                    self.ended = true;
                    if self.visitor.as_ref().is_some_and(AbortSignal::aborted) {
                        self.pending.push_back(Err(ModelError::Aborted));
                    }
                }
                Some(Some(Err(e))) => {
                    let error = if self.visitor.as_ref().is_some_and(AbortSignal::aborted) {
                        ModelError::Aborted
                    } else {
                        ModelError::Network(e.to_string())
                    };
                    self.end_with(error);
                }
                Some(Some(Ok(chunk))) => {
                    let mut sse = std::mem::take(&mut self.sse);
                    self.parser.feed(&chunk, &mut sse);
                    self.sse = sse;
                    self.decode();
                }
            }
        }
    }

    fn decode(&mut self) {
        let mut events = Vec::new();
        let mut failure = None;
        for sse in self.sse.drain(..) {
            if let Err(message) = parse_chunk(&sse.data, &mut events) {
                failure = Some(message);
                break;
            }
        }
        self.sse.clear();
        self.pending.extend(events.into_iter().map(Ok));
        if let Some(message) = failure {
            self.end_with(ModelError::Stream(message));
        }
    }

    fn end_with(&mut self, error: ModelError) {
        self.ended = true;
        self.pending.push_back(Err(error));
    }
}
