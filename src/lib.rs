//! Multi-tenant AI chat agents on Cloudflare Workers.
//!
//! The crate is a functional core (everything but the `wasm32`-only modules) plus thin worker
//! glue: `api::handle` routes requests, `llm::client` calls the model over `fetch`,
//! `store::d1` persists to D1, `tools::runner` runs tools.

pub mod agent;
pub mod api;
pub mod auth;
pub mod dates;
pub mod error;
pub mod ids;
pub mod llm;
pub mod outbound;
pub mod settings;
pub mod store;
pub mod stream;
pub mod tools;

#[cfg(target_arch = "wasm32")]
mod platform;

#[cfg(target_arch = "wasm32")]
#[worker::event(fetch)]
async fn fetch(
    req: worker::Request,
    env: worker::Env,
    ctx: worker::Context,
) -> worker::Result<worker::Response> {
    console_error_panic_hook::set_once();
    api::handle(req, env, ctx).await
}
