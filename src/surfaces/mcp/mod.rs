//! The MCP server surface: every agent as an MCP server over Streamable HTTP.

#[cfg(target_arch = "wasm32")]
mod handler;
pub mod modern;
pub mod progress;
pub mod wire;

#[cfg(target_arch = "wasm32")]
pub use handler::handle;
