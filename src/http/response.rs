//! Writing responses: JSON bodies, and the one place errors become HTTP.

use worker::{console_error, Response};

use crate::error::ApiError;

/// The JSON error response for `error`.
pub fn error_response(error: &ApiError) -> worker::Result<Response> {
    if let Some(detail) = error.log_detail() {
        console_error!("{}: {}", error.code(), detail);
    }
    let response = Response::from_bytes(error.body().into_bytes())?.with_status(error.status());
    let headers = response.headers();
    headers.set("content-type", "application/json")?;
    if let Some(seconds) = error.retry_after() {
        headers.set("retry-after", &seconds.to_string())?;
    }
    if error.status() == 401 {
        headers.set("www-authenticate", "Bearer")?;
    }
    Ok(response)
}

/// The error response of the OpenAI-compatible surface: the same status and headers, the body
/// in OpenAI's shape (`ApiError::openai_body`), and `x-should-retry: false` where retrying as
/// is cannot help (the official SDKs read it).
pub fn openai_error_response(error: &ApiError) -> worker::Result<Response> {
    if let Some(detail) = error.log_detail() {
        console_error!("{}: {}", error.code(), detail);
    }
    let response =
        Response::from_bytes(error.openai_body().into_bytes())?.with_status(error.status());
    let headers = response.headers();
    headers.set("content-type", "application/json")?;
    if let Some(seconds) = error.retry_after() {
        headers.set("retry-after", &seconds.to_string())?;
    }
    if error.never_retry() {
        headers.set("x-should-retry", "false")?;
    }
    if error.status() == 401 {
        headers.set("www-authenticate", "Bearer")?;
    }
    Ok(response)
}

/// A 200 JSON response.
pub fn json_response(body: &serde_json::Value) -> Result<Response, ApiError> {
    Response::from_json(body).map_err(|e| ApiError::Internal(e.to_string()))
}

/// A JSON response with another status.
pub fn json_status(body: &serde_json::Value, status: u16) -> Result<Response, ApiError> {
    Ok(json_response(body)?.with_status(status))
}
