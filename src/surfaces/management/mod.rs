//! The management surface: the operator's and tenants' API (`/api/admin/...`).

pub mod views;

#[cfg(target_arch = "wasm32")]
mod handler;

#[cfg(target_arch = "wasm32")]
pub use handler::{operator, tenant};
