//! Secrets never leave in a trace: every exported string passes through a `Redactor`, which
//! replaces the exact values it was told about (webhook header values, signing secrets, the
//! exporter's own credentials) and anything spelled like a key or a token.

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Prefixes of keys and tokens; what follows them (key characters) is removed.
const KEY_PREFIXES: &[&str] = &[
    "sk-or-", "sk-lf-", "pk-lf-", "sk-ant-", "sk-proj-", "sk-", "sk_live_", "sk_test_", "pk_live_",
    "pk_test_", "rk_live_", "api_", "vt1.", "ghp_", "gho_", "xoxb-", "xoxp-", "AKIA",
];

/// Words after which the next token is a credential (`Bearer abc`, `Basic abc`).
const SCHEMES: &[&str] = &["Bearer ", "bearer ", "Basic ", "basic "];

/// Shortest known secret replaced by value; shorter ones would blank ordinary words.
const MIN_SECRET_LEN: usize = 6;

/// Removes secrets from text before it is exported.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '/' | '=')
}

impl Redactor {
    /// A redactor that also removes each of `secrets` wherever it appears.
    pub fn new<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut redactor = Self::default();
        for secret in secrets {
            redactor.add(&secret.into());
        }
        redactor
    }

    /// Adds one more secret to remove.
    pub fn add(&mut self, secret: &str) {
        if secret.trim().len() < MIN_SECRET_LEN || self.secrets.iter().any(|s| s == secret) {
            return;
        }
        // Longest first, so a secret that contains another is removed whole.
        let at = self
            .secrets
            .iter()
            .position(|s| s.len() < secret.len())
            .unwrap_or(self.secrets.len());
        self.secrets.insert(at, secret.to_owned());
    }

    /// `text` with every secret replaced by `[redacted]`.
    pub fn clean(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        redact_patterns(&out)
    }
}

/// Replaces key-like tokens: a known prefix followed by at least 8 key characters, and the
/// credential after `Bearer ` or `Basic `.
fn redact_patterns(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while !rest.is_empty() {
        let at_word_start = out.chars().last().is_none_or(|c| !is_key_char(c));
        if at_word_start {
            for scheme in SCHEMES {
                if let Some(after) = rest.strip_prefix(scheme) {
                    let token = after.chars().take_while(|c| is_key_char(*c)).count();
                    if token >= 8 {
                        out.push_str(scheme);
                        out.push_str(REDACTED);
                        rest = &after[token..];
                        continue 'scan;
                    }
                }
            }
            for prefix in KEY_PREFIXES {
                if let Some(after) = rest.strip_prefix(prefix) {
                    let token = after.chars().take_while(|c| is_key_char(*c)).count();
                    if token >= 8 {
                        out.push_str(REDACTED);
                        rest = &after[token..];
                        continue 'scan;
                    }
                }
            }
        }
        let Some(c) = rest.chars().next() else { break };
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_secrets_are_removed_wherever_they_appear() {
        let r = Redactor::new(["hunter2-webhook-secret", "abc"]);
        assert_eq!(
            r.clean(r#"{"x-api-key":"hunter2-webhook-secret","n":"abc"}"#),
            r#"{"x-api-key":"[redacted]","n":"abc"}"#
        );
    }

    #[test]
    fn a_secret_inside_another_goes_with_the_longer_one() {
        let r = Redactor::new(["secret-1", "secret-1-and-more", "secret-1"]);
        assert_eq!(
            r.clean("x secret-1-and-more y secret-1"),
            "x [redacted] y [redacted]"
        );
    }

    #[test]
    fn key_shaped_tokens_are_removed() {
        let r = Redactor::default();
        assert_eq!(
            r.clean("use sk-or-v1-0123456789abcdef now"),
            "use [redacted] now"
        );
        assert_eq!(
            r.clean("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload"),
            "Authorization: Bearer [redacted]"
        );
        assert_eq!(r.clean("pk_live_test_a1xxxxxxxx"), "[redacted]");
        assert_eq!(r.clean("Basic cGstbGYtMTpzay1sZi0y"), "Basic [redacted]");
        // Ordinary words that merely start like a prefix stay.
        assert_eq!(
            r.clean("a task-list and api_docs"),
            "a task-list and api_docs"
        );
        assert_eq!(r.clean("ask-me anything"), "ask-me anything");
        assert_eq!(r.clean("héllo — ünïcode"), "héllo — ünïcode");
    }
}
