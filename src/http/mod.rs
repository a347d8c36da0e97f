//! HTTP glue every surface shares: the route table, reading requests, writing responses (the
//! one place errors become HTTP), CORS, and rate limiting.

pub mod routes;
pub mod url_parts;

#[cfg(all(target_arch = "wasm32", not(feature = "admin")))]
mod admin;
#[cfg(target_arch = "wasm32")]
mod entry;
#[cfg(target_arch = "wasm32")]
pub mod fetch;
#[cfg(target_arch = "wasm32")]
mod inbound;
#[cfg(target_arch = "wasm32")]
pub mod log;
#[cfg(target_arch = "wasm32")]
pub mod output;
#[cfg(target_arch = "wasm32")]
pub mod rate;
#[cfg(target_arch = "wasm32")]
pub mod request;
#[cfg(target_arch = "wasm32")]
pub mod response;

#[cfg(target_arch = "wasm32")]
pub use entry::handle;
#[cfg(target_arch = "wasm32")]
pub use inbound::Inbound;
