//! The HTTP surface: routes, request parsing, and (in the worker) the handlers.

pub mod chat_body;
pub mod routes;

#[cfg(target_arch = "wasm32")]
mod chat;
#[cfg(target_arch = "wasm32")]
mod conversations;
#[cfg(target_arch = "wasm32")]
mod handler;

#[cfg(target_arch = "wasm32")]
pub use handler::handle;
