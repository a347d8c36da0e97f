//! The knowledge surface: the management endpoints of knowledge bases and sources (tenant
//! secret key), and ingestion off the request path: the queue consumer and the scheduled
//! re-sync of web sources. The rules are `app::knowledge`; this is the glue.

#[cfg(target_arch = "wasm32")]
pub mod handler;
#[cfg(target_arch = "wasm32")]
pub mod ingest;
pub mod wire;
