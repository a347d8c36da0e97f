//! The widget surface: the endpoints a web page calls with an agent's publishable key, and the
//! chat stream in the AI SDK UI message stream format.

pub mod body;

#[cfg(target_arch = "wasm32")]
mod chat;
#[cfg(target_arch = "wasm32")]
mod conversations;
#[cfg(target_arch = "wasm32")]
mod handler;

#[cfg(target_arch = "wasm32")]
pub use handler::handle;
