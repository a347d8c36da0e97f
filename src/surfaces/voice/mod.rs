//! The voice surface: an agent on the phone through Twilio ConversationRelay. The pure part
//! (TwiML, signatures, relay frames, the speech filter, the call token, the call's rules) is
//! tested on the host; the handler answers the webhook and runs each call's WebSocket over the
//! turn service.

pub mod call;
pub mod relay;
pub mod signature;
pub mod speech;
pub mod token;
pub mod twiml;

#[cfg(target_arch = "wasm32")]
mod handler;
#[cfg(target_arch = "wasm32")]
mod session;

#[cfg(target_arch = "wasm32")]
pub use handler::handle;
