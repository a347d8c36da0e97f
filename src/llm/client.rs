//! The OpenAI-compatible model client over the Workers `fetch` API.
//!
//! The body is read by a small JavaScript pump (`src/js/stream.js`) that hands each network
//! read to the engine in one synchronous call; see docs/development.md, "Streaming and CPU".

use std::cell::RefCell;
use std::time::Duration;
use wasm_bindgen::closure::ScopedClosure;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::wasm_bindgen_futures::JsFuture;

use worker::{
    console_error, AbortSignal, Delay, Headers, Method, Request, RequestInit, ResponseBody,
};

use super::feed::Feeder;
use super::openai::{error_body_message, request_body};
use super::{Model, ModelError, ModelEventHandler, ModelRequest};
use crate::http::fetch::Deadline;
use crate::settings::Settings;

#[wasm_bindgen(module = "/src/js/stream.js")]
extern "C" {
    #[wasm_bindgen(js_name = pump)]
    fn pump(
        body: &worker::web_sys::ReadableStream,
        feed: &js_sys::Function,
        idle_ms: u32,
        batch_ms: u32,
    ) -> js_sys::Promise;
}

/// How long a failed connection to the model waits before its one more try.
const RECONNECT_PAUSE_MS: u64 = 100;

/// Calls `{base_url}/chat/completions` with streaming on.
pub struct HttpModel {
    settings: Settings,
    visitor: Option<AbortSignal>,
    prefetched: RefCell<Option<Prefetched>>,
}

/// A request sent before the turn asked for it (`HttpModel::prefetch`).
struct Prefetched {
    /// The exact body sent: the turn's first call uses the response only if it has the same.
    body: String,
    deadline: Deadline,
    response: JsFuture,
}

impl HttpModel {
    /// A client whose calls are cancelled when `visitor` (the incoming request's signal) aborts.
    pub fn new(settings: Settings, visitor: Option<AbortSignal>) -> Self {
        Self {
            settings,
            visitor,
            prefetched: RefCell::new(None),
        }
    }

    /// Sends `request` now, before the turn is planned (the store has not answered yet), so the
    /// model's time to first token overlaps the store's round trip. The next call uses the
    /// response only when its body is byte for byte the one sent here; any other call, or
    /// dropping the client, cancels it. Nothing of it reaches anyone otherwise.
    pub fn prefetch(&self, request: &ModelRequest) {
        let body = request_body(request);
        let deadline = Deadline::new(self.settings.model_idle_timeout_ms);
        let Ok(upstream) = self.request(&body) else {
            return;
        };
        let response = send(&upstream, &self.signal(&deadline));
        let earlier = self.prefetched.replace(Some(Prefetched {
            body,
            deadline,
            response,
        }));
        if let Some(earlier) = earlier {
            earlier.deadline.abort();
        }
    }

    /// The prefetched response if it was sent with `body`; one sent with another is cancelled.
    fn prefetched_for(&self, body: &str) -> Option<Prefetched> {
        let prefetched = self.prefetched.take()?;
        if prefetched.body == body {
            return Some(prefetched);
        }
        prefetched.deadline.abort();
        None
    }

    /// The signal a call is made with: the deadline's, and the visitor's when there is one.
    fn signal(&self, deadline: &Deadline) -> AbortSignal {
        match &self.visitor {
            Some(visitor) => {
                let both = js_sys::Array::of2(visitor, &deadline.signal());
                AbortSignal::from(worker::web_sys::AbortSignal::any(&both))
            }
            None => deadline.signal(),
        }
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

    /// Sends `body` (or takes the response of its prefetch, `sent`) and waits for the response
    /// head; `Err` carries fallback-relevant detail.
    async fn open(
        &self,
        body: &str,
        deadline: &Deadline,
        mut sent: Option<JsFuture>,
    ) -> Result<worker::web_sys::ReadableStream, ModelError> {
        let signal = self.signal(deadline);
        let mut reconnected = false;
        let mut response = loop {
            let response = match sent.take() {
                Some(response) => response,
                None => {
                    let upstream = self
                        .request(body)
                        .map_err(|e| ModelError::Network(e.to_string()))?;
                    send(&upstream, &signal)
                }
            };
            match deadline.run(response).await.map(into_response) {
                None => return Err(ModelError::Timeout),
                Some(Err(_)) if self.visitor_gone() => return Err(ModelError::Aborted),
                // A connection that failed before any answer (refused or reset: a provider or
                // a proxy shedding load) is tried once more, after a pause, before the
                // fallbacks; nothing reached the visitor yet.
                Some(Err(e)) if !reconnected => {
                    reconnected = true;
                    console_error!("the model request failed ({e}); trying once more");
                    let pause = Delay::from(Duration::from_millis(RECONNECT_PAUSE_MS));
                    if deadline.run(pause).await.is_none() {
                        return Err(ModelError::Timeout);
                    }
                }
                Some(Err(e)) => return Err(ModelError::Network(e.to_string())),
                Some(Ok(response)) => break response,
            }
        };
        let status = response.status_code();
        if !(200..300).contains(&status) {
            let text = deadline
                .run(response.text())
                .await
                .and_then(Result::ok)
                .unwrap_or_default();
            return Err(ModelError::Http {
                status,
                message: error_body_message(&text),
            });
        }
        match response.body() {
            ResponseBody::Stream(body) => Ok(body.clone()),
            _ => Err(ModelError::Truncated),
        }
    }
}

impl Drop for HttpModel {
    fn drop(&mut self) {
        // A prefetch the turn never asked for (it was refused, or planned otherwise).
        if let Some(prefetched) = self.prefetched.take() {
            prefetched.deadline.abort();
        }
    }
}

/// Starts `request` with `signal`: the runtime sends it at once, awaited or not.
fn send(request: &Request, signal: &AbortSignal) -> JsFuture {
    let init = worker::web_sys::RequestInit::new();
    init.set_signal(Some(signal));
    let global: worker::web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    JsFuture::from(global.fetch_with_request_and_init(request.inner(), &init))
}

/// The runtime's answer to `send` as a response.
fn into_response(sent: Result<JsValue, JsValue>) -> worker::Result<worker::Response> {
    let response: worker::web_sys::Response = sent?.dyn_into()?;
    Ok(response.into())
}

impl Model for HttpModel {
    async fn stream<H: ModelEventHandler + 'static>(
        &self,
        request: &ModelRequest,
        handler: H,
    ) -> (H, Result<(), ModelError>) {
        // The idle limit bounds the wait for the response head; the pump enforces it after.
        let body = request_body(request);
        let (deadline, sent) = match self.prefetched_for(&body) {
            Some(prefetched) => (prefetched.deadline, Some(prefetched.response)),
            None => (Deadline::new(self.settings.model_idle_timeout_ms), None),
        };
        let body = match self.open(&body, &deadline, sent).await {
            Ok(body) => body,
            Err(error) => {
                deadline.abort();
                return (handler, Err(error));
            }
        };
        let mut feeder = Feeder::new(handler);
        // The closure borrows the feeder for the pump's lifetime only (a scoped closure), so
        // the handler comes back by value with no shared ownership to unwind.
        let mut on_chunk = |chunk: js_sys::Uint8Array| feeder.feed(&chunk.to_vec()) as u8;
        let feed = ScopedClosure::<dyn FnMut(js_sys::Uint8Array) -> u8>::borrow_mut(&mut on_chunk);
        // The pump reads one chunk at a time until the first text token has been handed on
        // (`feed::Next`), so that token never waits for a batch.
        let ended = worker::wasm_bindgen_futures::JsFuture::from(pump(
            &body,
            feed.as_js_value().unchecked_ref(),
            self.settings.model_idle_timeout_ms,
            self.settings.stream_batch_ms,
        ))
        .await
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_else(|| "error:pump failed".into());
        drop(feed);
        let result = match ended.as_str() {
            "eof" => {
                feeder.finish();
                match feeder.error.take() {
                    Some(message) => Err(ModelError::Stream(message)),
                    None if self.visitor_gone() => Err(ModelError::Aborted),
                    None => Ok(()),
                }
            }
            "stopped" => feeder
                .error
                .take()
                .map_or(Ok(()), |m| Err(ModelError::Stream(m))),
            "timeout" => Err(ModelError::Timeout),
            _ if self.visitor_gone() => Err(ModelError::Aborted),
            other => Err(ModelError::Network(
                other.trim_start_matches("error:").to_owned(),
            )),
        };
        if result.is_err() {
            deadline.abort();
        }
        (feeder.handler, result)
    }
}
