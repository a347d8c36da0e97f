//! Server settings read from the environment (wrangler vars and secrets).

use crate::outbound::Policy;

/// Where OpenRouter lives; any OpenAI-compatible base URL can replace it.
pub const DEFAULT_BASE_URL: &str = "https://openrouter.ai/api/v1";
/// How long the model may stay silent (no headers, no bytes) before the call fails.
pub const DEFAULT_MODEL_IDLE_TIMEOUT_MS: u32 = 60_000;

/// Outbound calls one turn's agent loop may make (model attempts and tool calls): the free
/// plan allows 50 subrequests per request, and the rest are kept for the store, MCP handshakes
/// and the trace export.
pub const DEFAULT_SUBREQUEST_BUDGET: u32 = 40;

/// How much of a fast stream (in ms at its current rate) one read may gather.
pub const DEFAULT_STREAM_BATCH_MS: u32 = 40;

/// Settings of the model client.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Chat completions base URL, without a trailing slash.
    pub base_url: String,
    /// Bearer key for the provider.
    pub api_key: Option<String>,
    /// `HTTP-Referer` attribution (a URL).
    pub app_url: Option<String>,
    /// `X-OpenRouter-Title` attribution.
    pub app_title: Option<String>,
    /// Silence allowed from the model, in ms.
    pub model_idle_timeout_ms: u32,
    /// Stream gathered per read once tokens flow, in ms (0: every chunk as it comes).
    pub stream_batch_ms: u32,
    /// Outbound calls a turn's agent loop may make (`SUBREQUEST_BUDGET`; 0: no limit).
    pub subrequest_budget: u32,
    /// The outbound policy, with the hosts (and ports) that `WEBHOOK_ALLOW_HOSTS` opens to
    /// plain http and private addresses for development.
    pub outbound: Policy,
    /// The platform operator's key (`ADMIN_API_KEY`): creates, lists and suspends tenants.
    pub admin_api_key: Option<String>,
    /// Signs visitor tokens (`VISITOR_TOKEN_SECRET`).
    pub visitor_token_secret: Option<String>,
    /// Convex deployment URL (`CONVEX_URL`); with the deploy key it makes Convex the store.
    pub convex_url: Option<String>,
    /// Convex deploy key (`CONVEX_DEPLOY_KEY`, a secret).
    pub convex_deploy_key: Option<String>,
}

impl Settings {
    /// The platform's own secrets, which no trace may carry.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        [
            &self.api_key,
            &self.admin_api_key,
            &self.visitor_token_secret,
            &self.convex_deploy_key,
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
    }

    /// Reads settings through `get`, which returns a variable or secret by name.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Self {
            base_url: get("OPENROUTER_BASE_URL")
                .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned())
                .trim_end_matches('/')
                .to_owned(),
            api_key: get("OPENROUTER_API_KEY"),
            app_url: get("APP_URL"),
            app_title: get("APP_TITLE"),
            model_idle_timeout_ms: get("MODEL_IDLE_TIMEOUT_MS")
                .and_then(|v| v.parse().ok())
                .filter(|ms| *ms > 0)
                .unwrap_or(DEFAULT_MODEL_IDLE_TIMEOUT_MS),
            stream_batch_ms: get("STREAM_BATCH_MS")
                .and_then(|v| v.parse().ok())
                .filter(|ms| *ms <= 1_000)
                .unwrap_or(DEFAULT_STREAM_BATCH_MS),
            subrequest_budget: get("SUBREQUEST_BUDGET")
                .and_then(|v| v.parse().ok())
                .unwrap_or(DEFAULT_SUBREQUEST_BUDGET),
            outbound: Policy::from_allowlist(&get("WEBHOOK_ALLOW_HOSTS").unwrap_or_default()),
            admin_api_key: get("ADMIN_API_KEY"),
            visitor_token_secret: get("VISITOR_TOKEN_SECRET"),
            convex_url: get("CONVEX_URL"),
            convex_deploy_key: get("CONVEX_DEPLOY_KEY"),
        }
    }

    /// Whether chat can reach a model: a key is set, or a non-OpenRouter server that may not need one.
    pub fn model_configured(&self) -> bool {
        self.api_key.is_some() || self.base_url != DEFAULT_BASE_URL
    }

    /// The secret that signs visitor tokens, or the error a widget endpoint answers without it.
    pub fn token_secret(&self) -> Result<&str, crate::error::ApiError> {
        self.visitor_token_secret.as_deref().ok_or_else(|| {
            crate::error::ApiError::NotConfigured(
                "Visitor tokens are not configured: set the VISITOR_TOKEN_SECRET secret.".into(),
            )
        })
    }

    /// The message shown when no model is configured.
    pub fn missing_key_message() -> &'static str {
        "No model is configured: set OPENROUTER_API_KEY in .dev.vars (local) or with `wrangler secret put OPENROUTER_API_KEY` (deployed)."
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        Settings::from_lookup(|name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn defaults_to_openrouter_and_needs_a_key() {
        let s = settings(&[]);
        assert_eq!(s.base_url, DEFAULT_BASE_URL);
        assert!(!s.model_configured());
        assert!(settings(&[("OPENROUTER_API_KEY", "sk-or-x")]).model_configured());
    }

    #[test]
    fn custom_base_url_needs_no_key_and_loses_trailing_slash() {
        let s = settings(&[
            ("OPENROUTER_BASE_URL", "http://127.0.0.1:9/v1/"),
            ("MODEL_IDLE_TIMEOUT_MS", "250"),
        ]);
        assert_eq!(s.base_url, "http://127.0.0.1:9/v1");
        assert!(s.model_configured());
        assert_eq!(s.model_idle_timeout_ms, 250);
        assert_eq!(s.stream_batch_ms, DEFAULT_STREAM_BATCH_MS);
        assert_eq!(settings(&[("STREAM_BATCH_MS", "0")]).stream_batch_ms, 0);
        assert_eq!(
            settings(&[("WEBHOOK_ALLOW_HOSTS", " 127.0.0.1:9000, Dev.Example. ,")])
                .outbound
                .allowlist(),
            vec!["127.0.0.1:9000", "dev.example"]
        );
        assert!(s.outbound.allowlist().is_empty());
        assert_eq!(
            settings(&[("STREAM_BATCH_MS", "5000")]).stream_batch_ms,
            DEFAULT_STREAM_BATCH_MS
        );
        assert_eq!(
            settings(&[("MODEL_IDLE_TIMEOUT_MS", "x")]).model_idle_timeout_ms,
            DEFAULT_MODEL_IDLE_TIMEOUT_MS
        );
        assert_eq!(s.subrequest_budget, DEFAULT_SUBREQUEST_BUDGET);
        assert_eq!(settings(&[("SUBREQUEST_BUDGET", "0")]).subrequest_budget, 0);
    }
}
