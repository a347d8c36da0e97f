//! Multi-tenant AI chat agents on Cloudflare Workers.
//!
//! The crate is a functional core (everything but the `wasm32`-only modules) plus thin worker
//! glue: `http::handle` routes each request to a surface (`surfaces::widget`,
//! `surfaces::management`), which calls the use cases in `app`; `llm::client` calls the model
//! over `fetch`, `store::d1` and `store::convex` persist, `tools::runner` runs tools, and
//! `outbound` guards every request made for a tenant.

pub mod agent;
pub mod app;
pub mod auth;
pub mod dates;
pub mod error;
pub mod http;
pub mod ids;
pub mod knowledge;
pub mod llm;
pub mod observe;
pub mod outbound;
pub mod settings;
pub mod store;
pub mod stream;
pub mod surfaces;
pub mod tools;

#[cfg(test)]
mod parser_properties;

#[cfg(target_arch = "wasm32")]
mod platform;

#[cfg(target_arch = "wasm32")]
#[worker::event(fetch)]
async fn fetch(
    req: worker::web_sys::Request,
    env: worker::Env,
    ctx: worker::Context,
) -> worker::Result<worker::Response> {
    console_error_panic_hook::set_once();
    http::handle(req.into(), env, ctx).await
}

/// The knowledge ingestion queue's consumer (the admin worker's).
#[cfg(all(target_arch = "wasm32", feature = "admin"))]
#[worker::event(queue)]
async fn queue(
    batch: worker::MessageBatch<wasm_bindgen::JsValue>,
    env: worker::Env,
    _ctx: worker::Context,
) -> worker::Result<()> {
    console_error_panic_hook::set_once();
    surfaces::knowledge::ingest::consume(batch, env).await
}

/// The scheduled jobs: the re-sync of web knowledge sources, then the retention sweep (tenants'
/// conversations past their `retentionDays`, a bounded amount of work per run); the admin
/// worker's.
#[cfg(all(target_arch = "wasm32", feature = "admin"))]
#[worker::event(scheduled)]
async fn scheduled(
    _event: worker::ScheduledEvent,
    env: worker::Env,
    _ctx: worker::ScheduleContext,
) {
    console_error_panic_hook::set_once();
    surfaces::knowledge::ingest::resync(&env).await;
    retention_sweep(&env).await;
}

/// Runs one retention sweep and logs what it did as one JSON line.
#[cfg(all(target_arch = "wasm32", feature = "admin"))]
async fn retention_sweep(env: &worker::Env) {
    let store = match store::any::AnyStore::from_env(env) {
        Ok(store) => store,
        Err(e) => return worker::console_error!("retention: no store: {e}"),
    };
    match app::privacy::sweep(&store, platform::now_ms()).await {
        Ok(r) => worker::console_log!(
            "{{\"event\":\"retention_sweep\",\"tenants\":{},\"unfinished\":{},\"failed\":{},\"calls\":{},\"conversations\":{},\"messages\":{},\"feedback\":{}}}",
            r.tenants, r.unfinished, r.failed, r.calls, r.deleted.conversations,
            r.deleted.messages, r.deleted.feedback
        ),
        Err(e) => worker::console_error!("retention: {e}"),
    }
}
