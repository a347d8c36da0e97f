//! Entry point of every request: route, run the handler, turn errors into JSON responses, and
//! add CORS headers to the widget endpoints.

use std::cell::RefCell;

use futures::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::json;
use worker::{console_error, Context, Env, Request, Response};

use super::access::{KEY_HEADER, TOKEN_HEADER};
use super::routes::{resolve, NoMatch, Route};
use super::{admin, rate, widget};
use crate::error::ApiError;
use crate::platform;
use crate::store::any::AnyStore;
use crate::store::cache::AgentCache;
use crate::store::{Agent, Store};

/// Handles one request.
pub async fn handle(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let path = req.path();
    // The raw method: the worker crate reads methods it does not know as GET.
    let method = req.inner().method();
    let origin = req.headers().get("origin").ok().flatten();
    let route = resolve(&method, &path);
    let cross_origin = matches!(route, Ok(Route::Widget(_) | Route::Preflight));
    let result = match route {
        Ok(Route::Health) => health(&env),
        Ok(Route::OpenApi) => open_api(&env).await,
        Ok(Route::Preflight) => preflight(),
        // Boxed: each surface stays its own state machine instead of one giant inlined future.
        Ok(Route::Widget(route)) => Box::pin(widget::handle(req, &env, &ctx, route)).await,
        Ok(Route::Operator(route)) => Box::pin(admin::operator(req, &env, route)).await,
        Ok(Route::Tenant(route)) => Box::pin(admin::tenant(req, &env, route)).await,
        Err(NoMatch::NotFound) => Err(ApiError::NoRoute(path)),
        Err(NoMatch::WrongMethod) => Err(ApiError::MethodNotAllowed(method)),
    };
    let response = match result {
        Ok(response) => response,
        Err(error) => error_response(&error)?,
    };
    if cross_origin {
        // Any page may read the answer's headers and errors: the server has already refused
        // whatever its origin, key and token do not allow, so a refusal is all it can read.
        let headers = response.headers();
        if let Some(origin) = origin {
            headers.set("access-control-allow-origin", &origin)?;
        }
        headers.set("vary", "Origin")?;
        headers.set(
            "access-control-expose-headers",
            &format!("x-conversation-id, {TOKEN_HEADER}, retry-after"),
        )?;
    }
    Ok(response)
}

/// The answer to a CORS preflight on a widget endpoint.
fn preflight() -> Result<Response, ApiError> {
    let response = Response::empty()
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .with_status(204);
    let headers = response.headers();
    for (name, value) in [
        ("access-control-allow-methods", "GET, POST, OPTIONS"),
        (
            "access-control-allow-headers",
            &format!("content-type, {KEY_HEADER}, {TOKEN_HEADER}"),
        ),
        ("access-control-max-age", "86400"),
    ] {
        headers
            .set(name, value)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
    }
    Ok(response)
}

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

thread_local! {
    /// Agents this isolate has loaded recently (see `store::cache`).
    static AGENTS: RefCell<AgentCache> = RefCell::new(AgentCache::default());
}

/// Loads an agent that may chat (from the isolate cache while fresh): 404 when unknown, 403
/// when switched off.
pub async fn load_agent(store: &AnyStore, agent_id: &str) -> Result<Agent, ApiError> {
    let now = platform::now_ms();
    let agent = match AGENTS.with(|cache| cache.borrow().get(agent_id, now)) {
        Some(agent) => agent,
        None => {
            let agent = store
                .agent(agent_id)
                .await?
                .ok_or(ApiError::NotFound("Agent"))?;
            AGENTS.with(|cache| cache.borrow_mut().put(agent.clone(), now));
            agent
        }
    };
    if !agent.enabled || !agent.tenant_active {
        return Err(ApiError::Unavailable(
            "This agent is not available right now.".into(),
        ));
    }
    Ok(agent)
}

/// Drops cached agents after a management change (`None`: all of them), so this isolate sees
/// the change at once; other isolates see it when their entry expires.
pub fn forget_agents(agent_id: Option<&str>) {
    AGENTS.with(|cache| {
        let mut cache = cache.borrow_mut();
        match agent_id {
            Some(id) => cache.forget(id),
            None => *cache = AgentCache::default(),
        }
    });
}

/// How much of an oversized body is read and dropped before answering 413: a client still
/// sending when the answer comes gets a connection reset instead of the clear error.
const DRAIN_LIMIT: usize = 8 * 1024 * 1024;

/// Reads a body of at most `max` bytes, without holding more than that in memory.
pub async fn read_body(req: &mut Request, max: usize) -> Result<Vec<u8>, ApiError> {
    let declared = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > DRAIN_LIMIT) {
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
        if total > DRAIN_LIMIT {
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
    req: &mut Request,
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

/// The OpenAPI document, kept in the repository and shipped as a static asset (so it costs the
/// wasm nothing).
async fn open_api(env: &Env) -> Result<Response, ApiError> {
    let missing = |e: worker::Error| {
        ApiError::NotConfigured(format!("The API document is not deployed: {e}"))
    };
    let assets = env.assets("ASSETS").map_err(missing)?;
    let mut response = assets
        .fetch("https://assets.local/openapi.json", None)
        .await
        .map_err(missing)?;
    if response.status_code() != 200 {
        return Err(ApiError::NotConfigured(
            "The API document is not deployed.".into(),
        ));
    }
    let text = response.text().await.map_err(missing)?;
    let mut response = Response::ok(text).map_err(missing)?;
    response
        .headers_mut()
        .set("content-type", "application/json")
        .map_err(missing)?;
    Ok(response)
}

fn health(env: &Env) -> Result<Response, ApiError> {
    let settings = platform::settings(env);
    let store = AnyStore::from_env(env)?;
    let body = json!({
        "status": "ok",
        "store": store.name(),
        "model": { "configured": settings.model_configured() },
        "rateLimits": rate::kind(env),
    });
    json_response(&body)
}

/// A 200 JSON response.
pub fn json_response(body: &serde_json::Value) -> Result<Response, ApiError> {
    Response::from_json(body).map_err(|e| ApiError::Internal(e.to_string()))
}

/// A JSON response with another status.
pub fn json_status(body: &serde_json::Value, status: u16) -> Result<Response, ApiError> {
    Ok(json_response(body)?.with_status(status))
}
