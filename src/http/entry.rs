//! Entry point of every request: route, run the handler, turn errors into JSON responses, and
//! add CORS headers to the widget endpoints.

use serde_json::json;
use worker::{console_log, Context, Env, Response};

#[cfg(not(feature = "admin"))]
use super::admin;
use super::log;
use super::rate;
use super::response::{error_response, json_response};
use super::routes::{resolve, template, NoMatch, Route};
use super::Inbound;
use crate::app::access::{KEY_HEADER, TOKEN_HEADER};
use crate::error::ApiError;
use crate::observe::log::RequestLog;
use crate::platform;
use crate::store::any::AnyStore;
#[cfg(feature = "admin")]
use crate::surfaces::{knowledge, management};
#[cfg(feature = "chat")]
use crate::surfaces::{mcp, openai, voice, widget};

/// Handles one request.
pub async fn handle(req: Inbound, env: Env, ctx: Context) -> worker::Result<Response> {
    let started = platform::now_ms();
    let path = req.path();
    // The raw method: the worker crate reads methods it does not know as GET.
    let method = req.inner().method();
    let origin = req.headers().get("origin").ok().flatten();
    let route = resolve(&method, &path);
    let cross_origin = matches!(route, Ok(Route::Widget(_) | Route::Preflight));
    // The OpenAI-compatible surface answers in OpenAI's shape, errors too.
    #[cfg(feature = "chat")]
    if path == "/v1" || path.starts_with("/v1/") {
        let response =
            openai_api(req, &env, &ctx, route, origin, path.clone(), method.clone()).await?;
        log_request(&method, &path, &response, started);
        return Ok(response);
    }
    let result = match route {
        Ok(Route::Health) => health(&env),
        Ok(Route::OpenApi) => open_api(&env).await,
        Ok(Route::Preflight) => preflight(),
        // Boxed: each surface stays its own state machine instead of one giant inlined future.
        #[cfg(feature = "chat")]
        Ok(Route::Widget(route)) => Box::pin(widget::handle(req, &env, &ctx, route)).await,
        #[cfg(feature = "admin")]
        Ok(Route::Operator(route)) => Box::pin(management::operator(req, &env, route)).await,
        #[cfg(feature = "admin")]
        Ok(Route::Tenant(route)) => Box::pin(management::tenant(req, &env, route)).await,
        #[cfg(feature = "admin")]
        Ok(Route::Knowledge(route)) => {
            Box::pin(knowledge::handler::handle(req, &env, &ctx, route)).await
        }
        // The chat worker hands the management API to the admin worker, whose answer (logged
        // there) goes back as it is.
        #[cfg(not(feature = "admin"))]
        Ok(Route::Operator(_) | Route::Tenant(_) | Route::Knowledge(_)) => {
            return admin::forward(req, &env).await;
        }
        #[cfg(feature = "chat")]
        Ok(Route::Mcp(route)) => Box::pin(mcp::handle(req, &env, &ctx, route)).await,
        #[cfg(feature = "chat")]
        Ok(Route::Voice(route)) => Box::pin(voice::handle(req, &env, &ctx, route)).await,
        // The admin worker alone is reached through the chat worker, which answers these.
        #[cfg(not(feature = "chat"))]
        Ok(Route::Widget(_) | Route::Mcp(_) | Route::Voice(_)) => {
            Err(ApiError::NoRoute(path.clone()))
        }
        // Only reached outside /v1, which the branch above answers.
        Ok(Route::OpenAi(_) | Route::OpenAiPreflight) => Err(ApiError::NoRoute(path.clone())),
        Err(NoMatch::NotFound) => Err(ApiError::NoRoute(path.clone())),
        Err(NoMatch::WrongMethod) => Err(ApiError::MethodNotAllowed(method.clone())),
    };
    let response = match result {
        Ok(response) => response,
        Err(error) => error_response(&error)?,
    };
    log_request(&method, &path, &response, started);
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

/// Writes the request's log line (`http::log`), taking the log headers off the response.
fn log_request(method: &str, path: &str, response: &Response, started: i64) {
    let [tenant, agent, trace] = log::take(response);
    let line = RequestLog {
        method,
        route: template(method, path).unwrap_or("(no route)"),
        status: response.status_code(),
        ms: platform::now_ms() - started,
        tenant: tenant.as_deref(),
        agent: agent.as_deref(),
        trace_id: trace.as_deref(),
        memory_kb: Some(wasm_memory_kb()),
    }
    .line();
    console_log!("{line}");
}

/// The size of this isolate's wasm memory, KiB (64 KiB pages).
fn wasm_memory_kb() -> u64 {
    core::arch::wasm32::memory_size(0) as u64 * 64
}

/// An OpenAI-compatible request: errors in OpenAI's shape, and CORS only for a key its tenant
/// marked for browser use (a preflight carries no key, so it is answered for any origin: the
/// browser still withholds the answer itself unless the key allows it).
#[cfg(feature = "chat")]
async fn openai_api(
    req: Inbound,
    env: &Env,
    ctx: &Context,
    route: Result<Route, NoMatch>,
    origin: Option<String>,
    path: String,
    method: String,
) -> worker::Result<Response> {
    let (result, cors) = match route {
        Ok(Route::OpenAi(route)) => {
            let reply = Box::pin(openai::handle(req, env, ctx, route)).await;
            (reply.result, reply.cors)
        }
        Ok(Route::OpenAiPreflight) => {
            let requested = req
                .headers()
                .get("access-control-request-headers")
                .ok()
                .flatten();
            (openai_preflight(requested.as_deref()), true)
        }
        Err(NoMatch::WrongMethod) => (Err(ApiError::MethodNotAllowed(method)), false),
        _ => (Err(ApiError::NoRoute(path)), false),
    };
    let response = match result {
        Ok(response) => response,
        Err(error) => super::response::openai_error_response(&error)?,
    };
    if let (true, Some(origin)) = (cors, origin) {
        let headers = response.headers();
        headers.set("access-control-allow-origin", &origin)?;
        headers.set("vary", "Origin")?;
        headers.set(
            "access-control-expose-headers",
            "x-conversation-id, retry-after, x-should-retry",
        )?;
    }
    Ok(response)
}

/// The answer to a CORS preflight on an OpenAI-compatible endpoint: the headers the official
/// SDKs send (`authorization`, `x-stainless-*`, …) as the browser lists them.
#[cfg(feature = "chat")]
fn openai_preflight(requested: Option<&str>) -> Result<Response, ApiError> {
    let response = Response::empty()
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .with_status(204);
    let headers = response.headers();
    let allowed = requested
        .filter(|h| h.len() <= 2048 && h.bytes().all(|b| b.is_ascii_graphic() || b == b' '))
        .unwrap_or("authorization, content-type");
    for (name, value) in [
        ("access-control-allow-methods", "GET, POST, OPTIONS"),
        ("access-control-allow-headers", allowed),
        ("access-control-max-age", "86400"),
    ] {
        headers
            .set(name, value)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
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
