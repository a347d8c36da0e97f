//! The chat worker's way to the admin worker: the management API's requests go through the
//! `ADMIN` service binding unchanged, so the chat worker carries none of that code.

use worker::{Env, Method, Request, RequestInit, Response};

use super::request::{read_body, refuse_oversized_upload, MAX_UPLOAD_BODY_BYTES};
use super::response::error_response;
use super::Inbound;
use crate::error::ApiError;
use crate::observe::export::forget_all_tenant_targets;
use crate::store::any::forget_everything;

/// The service binding to the admin worker (`wrangler.toml`'s `[[services]]`).
pub const ADMIN_BINDING: &str = "ADMIN";

/// Hands `req` to the admin worker and answers with what it answered. After a write it took,
/// this isolate forgets what it cached of agents, keys and integrations, so the change shows on
/// its next turn as it did when one worker did both (other isolates: within their caches' 30 s).
pub async fn forward(mut req: Inbound, env: &Env) -> worker::Result<Response> {
    let method = req.inner().method();
    let writes = !matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS");
    let admin = match env.service(ADMIN_BINDING) {
        Ok(admin) => admin,
        Err(_) => {
            return error_response(&ApiError::NotConfigured(format!(
                "The management API lives in the admin worker, and this worker has no `{ADMIN_BINDING}` service binding to it (see docs/deployment.md)."
            )))
        }
    };
    // The body is read here in full (one over the admin worker's largest is drained and
    // refused): the admin worker may answer before reading it (a refused key, a body over its
    // limit), and a body left half-read breaks the caller's connection.
    if let Err(e) = refuse_oversized_upload(&mut req).await {
        return error_response(&e);
    }
    let body = if writes {
        match read_body(&mut req, MAX_UPLOAD_BODY_BYTES).await {
            Ok(body) => body,
            Err(e) => return error_response(&e),
        }
    } else {
        Vec::new()
    };
    let mut init = RequestInit::new();
    init.with_method(Method::from(method))
        .with_headers(req.headers().clone());
    if !body.is_empty() {
        init.with_body(Some(js_sys::Uint8Array::from(body.as_slice()).into()));
    }
    let handed_on = Request::new_with_init(&req.inner().url(), &init)?;
    match admin.fetch_request(handed_on).await {
        Ok(response) => {
            if writes && response.status_code() < 400 {
                forget_everything();
                forget_all_tenant_targets();
            }
            Ok(response)
        }
        Err(e) => error_response(&ApiError::Unavailable(format!(
            "The admin worker did not answer: {e}"
        ))),
    }
}
