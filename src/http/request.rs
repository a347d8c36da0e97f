//! Reading request bodies: size caps enforced while reading, JSON objects only.

use futures::StreamExt;
use serde::de::DeserializeOwned;

use super::Inbound;
use crate::error::ApiError;

/// How much of an oversized body is read and dropped before answering 413: a client still
/// sending when the answer comes gets a connection reset instead of the clear error.
const DRAIN_LIMIT: usize = 8 * 1024 * 1024;

/// Largest uploaded file (a knowledge source).
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// The largest upload request: the file and the form's other fields; also the largest body the
/// chat worker hands on to the admin worker.
pub const MAX_UPLOAD_BODY_BYTES: usize = MAX_FILE_BYTES + 64 * 1024;
/// How much of a too-large upload is read and dropped before the 413.
const DRAIN_UPLOAD_BYTES: usize = 64 * 1024 * 1024;

/// Refuses (413) a request whose declared length is over the largest upload, after reading and
/// dropping up to `DRAIN_UPLOAD_BYTES` of it, so a client still sending gets the answer rather
/// than a connection reset.
pub async fn refuse_oversized_upload(req: &mut Inbound) -> Result<(), ApiError> {
    if declared_length(req).is_some_and(|len| len > MAX_UPLOAD_BODY_BYTES) {
        drain(req, DRAIN_UPLOAD_BYTES).await;
        return Err(ApiError::PayloadTooLarge(MAX_FILE_BYTES));
    }
    Ok(())
}

/// Reads and drops up to `limit` bytes of a body about to be refused.
async fn drain(req: &mut Inbound, limit: usize) {
    if let Ok(mut stream) = req.stream() {
        let mut seen = 0usize;
        while let Some(Ok(chunk)) = stream.next().await {
            seen += chunk.len();
            if seen > limit {
                break;
            }
        }
    }
}

/// The declared `content-length`, if any.
fn declared_length(req: &Inbound) -> Option<usize> {
    req.headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse::<usize>().ok())
}

/// Reads a body of at most `max` bytes, without holding more than that in memory.
pub async fn read_body(req: &mut Inbound, max: usize) -> Result<Vec<u8>, ApiError> {
    let drain_limit = DRAIN_LIMIT.max(max);
    if declared_length(req).is_some_and(|len| len > drain_limit) {
        return Err(ApiError::PayloadTooLarge(max));
    }
    let unreadable =
        |e: worker::Error| ApiError::BadRequest(format!("Could not read the body: {e}"));
    let mut stream = match req.stream() {
        Ok(stream) => stream,
        // No body at all.
        Err(_) => return Ok(Vec::new()),
    };
    let mut body = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(unreadable)?;
        total += chunk.len();
        if total > drain_limit {
            break;
        }
        if total <= max {
            body.extend_from_slice(&chunk);
        }
    }
    if total > max {
        return Err(ApiError::PayloadTooLarge(max));
    }
    Ok(body)
}

/// Reads a JSON body of at most `max` bytes; an empty body reads as `{}` when `empty_ok`.
pub async fn read_json<T: DeserializeOwned>(
    req: &mut Inbound,
    max: usize,
    empty_ok: bool,
) -> Result<T, ApiError> {
    let bytes = read_body(req, max).await?;
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) && empty_ok {
        b"{}"
    } else {
        &bytes
    };
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::BadRequest("The body is not valid JSON: it is not UTF-8.".into()))?;
    // serde would also read a JSON array as the fields in order: bodies are objects.
    if !text.trim_start().starts_with('{') {
        return Err(ApiError::BadRequest(
            "The body must be a JSON object.".into(),
        ));
    }
    serde_json::from_str(text).map_err(|e| {
        ApiError::BadRequest(format!("The body is not valid JSON for this endpoint: {e}"))
    })
}
