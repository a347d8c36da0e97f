//! Encoders from agent events to wire formats. Each surface is one encoder.

pub mod ui_message;
