//! Who may do what: keys, visitor tokens, verified users, allowed origins, webhook signatures
//! and rate limits. Pure functions over strings and bytes; the worker glue calls them.

pub mod crypto;
pub mod keys;
pub mod origin;
pub mod rate_limit;
pub mod signature;
pub mod visitor;
