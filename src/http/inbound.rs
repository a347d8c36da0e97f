//! The request a surface receives: the runtime's own `Request`, read only where a surface asks.
//!
//! `worker::Request` copies the method, the URL and the `cf` object out of the runtime when it
//! is made. `cf` alone is a JSON parse of the request's Cloudflare properties (0.16 ms of CPU a
//! request locally, more with production's geolocation and TLS fields), and nothing here reads
//! it; so the fetch handler takes the runtime's request and wraps it in this instead.

use worker::wasm_bindgen_futures::JsFuture;
use worker::{web_sys, ByteStream, Error, FormData, Headers, Result};

use super::url_parts;

/// One incoming request, with its path read once for routing.
pub struct Inbound {
    inner: web_sys::Request,
    path: String,
    body_used: bool,
}

impl From<web_sys::Request> for Inbound {
    fn from(inner: web_sys::Request) -> Self {
        let path = url_parts::path(&inner.url()).to_owned();
        Self {
            inner,
            path,
            body_used: false,
        }
    }
}

impl Inbound {
    /// The URL's path, without query or fragment.
    pub fn path(&self) -> String {
        self.path.clone()
    }

    /// The request's headers (the runtime's object, not a copy).
    pub fn headers(&self) -> Headers {
        Headers(self.inner.headers())
    }

    /// The runtime's request itself.
    pub fn inner(&self) -> &web_sys::Request {
        &self.inner
    }

    /// The body as a stream of byte chunks; an error when there is none or it was taken.
    pub fn stream(&mut self) -> Result<ByteStream> {
        let body = self.take_body()?;
        Ok(ByteStream::from(body))
    }

    /// The body read as `multipart/form-data` (or URL-encoded) fields.
    pub async fn form_data(&mut self) -> Result<FormData> {
        self.claim_body()?;
        let promise = self.inner.form_data().map_err(Error::from)?;
        let form = JsFuture::from(promise).await.map_err(|e| {
            Error::JsError(
                e.as_string()
                    .unwrap_or_else(|| "the form could not be read".into()),
            )
        })?;
        Ok(FormData::from(form))
    }

    fn take_body(&mut self) -> Result<web_sys::ReadableStream> {
        self.claim_body()?;
        self.inner
            .body()
            .ok_or_else(|| Error::RustError("no body for request".into()))
    }

    /// Marks the body as read: it can be taken once.
    fn claim_body(&mut self) -> Result<()> {
        if self.body_used {
            return Err(Error::BodyUsed);
        }
        self.body_used = true;
        Ok(())
    }
}
