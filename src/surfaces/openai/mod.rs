//! The OpenAI-compatible surface: every agent is a model behind `POST /v1/chat/completions`
//! and `GET /v1/models`, for any client that speaks OpenAI's API. A pure part (`request`:
//! what a request may say; `encode`: `chat.completion` and `chat.completion.chunk`; `models`:
//! the model list) and a thin handler over the turn service.

pub mod encode;
pub mod models;
pub mod request;

#[cfg(target_arch = "wasm32")]
mod handler;

#[cfg(target_arch = "wasm32")]
pub use handler::handle;
