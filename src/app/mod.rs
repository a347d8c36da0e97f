//! The use cases, over the `Store` trait and the engine, with no `worker::` types: who may call
//! what (`access`), and how a chat turn is planned (`turn`). Every surface calls these; all of it
//! is tested on the host.

pub mod access;
pub mod calls;
pub mod integrations;
pub mod knowledge;
pub mod management;
pub mod observe;
pub mod privacy;
pub mod turn;
pub mod views;
