//! The MCP server surface: every agent as an MCP server over Streamable HTTP.

pub mod wire;
