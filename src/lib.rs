//! Multi-tenant AI chat agents on Cloudflare Workers.

pub mod agent;
pub mod llm;
pub mod tools;
