//! API keys: their kinds, how they are generated, stored (secret keys only as hashes) and shown.

use super::crypto::{hex, secrets_match, sha256};
use crate::ids;

/// Prefix of tenant secret keys.
pub const SECRET_PREFIX: &str = "sk_live_";
/// Prefix of agent publishable keys.
pub const PUBLISHABLE_PREFIX: &str = "pk_live_";
/// Prefix of API keys (the OpenAI-compatible `/v1`), as long as `SECRET_PREFIX`.
pub const API_PREFIX: &str = "ak_live_";
/// Prefix of MCP keys (the MCP server at `/mcp`), as long as `SECRET_PREFIX`.
pub const MCP_PREFIX: &str = "mk_live_";
/// Characters of a secret or API key kept in clear to find its row (prefix plus 8 random
/// characters).
pub const LOOKUP_LEN: usize = SECRET_PREFIX.len() + 8;

/// What a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// `sk_live_…`: the tenant's management API. Secret; stored only as a hash.
    Secret,
    /// `pk_live_…`: identifies one agent to the widget endpoints; safe in a web page.
    Publishable,
    /// `ak_live_…`: calls the tenant's agents (all, or the ones its scope lists) over the
    /// OpenAI-compatible `/v1`. Secret; stored only as a hash.
    Api,
    /// `mk_live_…`: calls one agent, or every agent of the tenant, over MCP (`/mcp`). Secret;
    /// stored only as a hash.
    Mcp,
}

impl KeyKind {
    /// Stored and API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Secret => "secret",
            KeyKind::Publishable => "publishable",
            KeyKind::Api => "api",
            KeyKind::Mcp => "mcp",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "secret" => Some(KeyKind::Secret),
            "publishable" => Some(KeyKind::Publishable),
            "api" => Some(KeyKind::Api),
            "mcp" => Some(KeyKind::Mcp),
            _ => None,
        }
    }

    /// The kind a presented key claims by its prefix.
    pub fn of(key: &str) -> Option<Self> {
        if key.starts_with(SECRET_PREFIX) {
            Some(KeyKind::Secret)
        } else if key.starts_with(PUBLISHABLE_PREFIX) {
            Some(KeyKind::Publishable)
        } else if key.starts_with(API_PREFIX) {
            Some(KeyKind::Api)
        } else if key.starts_with(MCP_PREFIX) {
            Some(KeyKind::Mcp)
        } else {
            None
        }
    }
}

/// A freshly generated key: the full value (shown once for secret keys) and what is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    /// The key as the tenant uses it.
    pub value: String,
    /// What finds the row: the first `LOOKUP_LEN` characters (secret, API) or the whole key
    /// (publishable).
    pub lookup: String,
    /// SHA-256 hex of the full value.
    pub hash: String,
    /// Safe display form, such as `sk_live_Ab12Cd34…wxyz`.
    pub masked: String,
}

/// Builds a key of `kind` from 32 random bytes.
pub fn generate(kind: KeyKind, random: &[u8; 32]) -> NewKey {
    let prefix = match kind {
        KeyKind::Secret => SECRET_PREFIX,
        KeyKind::Publishable => PUBLISHABLE_PREFIX,
        KeyKind::Api => API_PREFIX,
        KeyKind::Mcp => MCP_PREFIX,
    };
    let body = ids::from_random("", random);
    let value = format!("{prefix}{}", body.trim_start_matches('_'));
    let lookup = match kind {
        KeyKind::Secret | KeyKind::Api | KeyKind::Mcp => value[..LOOKUP_LEN].to_owned(),
        KeyKind::Publishable => value.clone(),
    };
    NewKey {
        hash: hash(&value),
        masked: mask(&value),
        lookup,
        value,
    }
}

/// SHA-256 hex of a key, as stored.
pub fn hash(key: &str) -> String {
    hex(&sha256(key.as_bytes()))
}

/// The row lookup value of a presented secret key, if it is shaped like one.
pub fn secret_lookup(key: &str) -> Option<&str> {
    (key.starts_with(SECRET_PREFIX) && key.len() > LOOKUP_LEN && key.is_ascii())
        .then(|| &key[..LOOKUP_LEN])
}

/// The row lookup value of a presented API key (`ak_live_…`), if it is shaped like one.
pub fn api_lookup(key: &str) -> Option<&str> {
    (key.starts_with(API_PREFIX) && key.len() > LOOKUP_LEN && key.is_ascii())
        .then(|| &key[..LOOKUP_LEN])
}

/// The row lookup value of a presented MCP key (`mk_live_…`), if it is shaped like one.
pub fn mcp_lookup(key: &str) -> Option<&str> {
    (key.starts_with(MCP_PREFIX) && key.len() > LOOKUP_LEN && key.is_ascii())
        .then(|| &key[..LOOKUP_LEN])
}

/// Whether `hash` is what a key row must hold: a SHA-256 digest as 64 lowercase hex digits.
pub fn is_digest(hash: &str) -> bool {
    hash.len() == 64
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Whether a presented key hashes to a stored hash; constant time.
pub fn matches_hash(presented: &str, stored_hash: &str) -> bool {
    secrets_match(&hash(presented), stored_hash)
}

/// The display form: the lookup prefix and the last four characters.
pub fn mask(key: &str) -> String {
    if !key.is_ascii() || key.len() <= LOOKUP_LEN + 4 {
        return "…".into();
    }
    format!("{}…{}", &key[..LOOKUP_LEN], &key[key.len() - 4..])
}

/// The bearer token of an `Authorization` header value.
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys_are_found_by_prefix_and_checked_by_hash() {
        let key = generate(KeyKind::Secret, &[7; 32]);
        assert!(key.value.starts_with("sk_live_"));
        assert_eq!(key.value.len(), SECRET_PREFIX.len() + 32);
        assert_eq!(secret_lookup(&key.value), Some(key.lookup.as_str()));
        assert!(matches_hash(&key.value, &key.hash));
        assert!(!matches_hash(&format!("{}x", key.value), &key.hash));
        assert!(!key
            .masked
            .contains(&key.value[LOOKUP_LEN..key.value.len() - 4]));
        assert_eq!(KeyKind::of(&key.value), Some(KeyKind::Secret));
    }

    #[test]
    fn publishable_keys_are_their_own_lookup() {
        let key = generate(KeyKind::Publishable, &[200; 32]);
        assert!(key.value.starts_with("pk_live_"));
        assert_eq!(key.lookup, key.value);
        assert_eq!(secret_lookup(&key.value), None);
        assert_eq!(KeyKind::of("nope"), None);
    }

    #[test]
    fn api_keys_are_found_by_prefix_and_stored_as_digests() {
        let key = generate(KeyKind::Api, &[3; 32]);
        assert!(key.value.starts_with("ak_live_"));
        assert_eq!(KeyKind::of(&key.value), Some(KeyKind::Api));
        assert_eq!(api_lookup(&key.value), Some(key.lookup.as_str()));
        assert_eq!(secret_lookup(&key.value), None);
        assert_eq!(api_lookup("ak_live_short"), None);
        assert!(is_digest(&key.hash));
        assert!(!is_digest(&key.value));
        assert!(!is_digest(&key.hash.to_uppercase()));
        assert_eq!(KeyKind::parse("api"), Some(KeyKind::Api));
        assert_eq!(KeyKind::Api.as_str(), "api");
    }

    #[test]
    fn bearer_tokens() {
        assert_eq!(bearer("Bearer sk_live_x"), Some("sk_live_x"));
        assert_eq!(bearer("bearer   abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(mask("short"), "…");
        assert_eq!(secret_lookup("sk_live_é"), None);
    }
}
