//! The request log's fields a handler knows and the entry point does not (tenant, agent, the
//! turn's trace id) travel on the response as internal headers, which the entry point reads
//! and removes before the response leaves.

use worker::Response;

use crate::error::ApiError;

/// Internal header: the tenant the request was for.
pub const TENANT: &str = "x-log-tenant";
/// Internal header: the agent the request was for.
pub const AGENT: &str = "x-log-agent";
/// Internal header: the chat turn's trace id.
pub const TRACE: &str = "x-log-trace";

/// Notes the tenant, agent and trace id of a response for the request log.
pub fn tag(
    response: Response,
    tenant: Option<&str>,
    agent: Option<&str>,
    trace: Option<&str>,
) -> Result<Response, ApiError> {
    let headers = response.headers();
    for (name, value) in [(TENANT, tenant), (AGENT, agent), (TRACE, trace)] {
        if let Some(value) = value {
            headers
                .set(name, value)
                .map_err(|e| ApiError::Internal(e.to_string()))?;
        }
    }
    Ok(response)
}

/// Takes the noted fields off the response: (tenant, agent, trace id).
pub fn take(response: &Response) -> [Option<String>; 3] {
    let headers = response.headers();
    [TENANT, AGENT, TRACE].map(|name| {
        let value = headers.get(name).ok().flatten();
        if value.is_some() {
            let _ = headers.delete(name);
        }
        value
    })
}
