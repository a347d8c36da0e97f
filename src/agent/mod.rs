//! The agent: its configuration, the events a turn produces, and the loop that runs a turn.
//!
//! Nothing here touches Workers types: the loop talks to a `Model`, a `ToolRunner` and an
//! `EventSink`, so tests drive it with scripts in milliseconds.

pub mod config;
pub mod context;
pub mod engine;
pub mod events;
pub mod message;
pub mod phone;
pub mod validate;

pub use config::{AgentConfig, Branding, Limits, McpServer, ToolsConfig, WebhookTool};
pub use engine::{first_request, run_turn, EventSink, Turn, TurnEnd, TurnOutcome};
pub use events::{AgentEvent, Observation};
