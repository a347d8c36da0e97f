//! The HTTP surface: routes, request parsing, access rules, and (in the worker) the handlers.

pub mod access;
pub mod chat_body;
pub mod management;
pub mod routes;
pub mod url_parts;

#[cfg(target_arch = "wasm32")]
mod admin;
#[cfg(target_arch = "wasm32")]
mod chat;
#[cfg(target_arch = "wasm32")]
mod conversations;
#[cfg(target_arch = "wasm32")]
mod handler;
#[cfg(target_arch = "wasm32")]
mod rate;
#[cfg(target_arch = "wasm32")]
mod widget;

#[cfg(target_arch = "wasm32")]
pub use handler::handle;
