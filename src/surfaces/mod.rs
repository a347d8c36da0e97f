//! One folder per way in: a pure part (bodies, views, wire format) and a thin handler over the
//! app's use cases. Surfaces never import each other.

pub mod knowledge;
pub mod management;
pub mod mcp;
pub mod openai;
pub mod voice;
pub mod widget;
