//! Access rules of the widget and management endpoints, as pure decisions over what a request
//! presents. The worker glue reads headers and the store, then asks these functions.

use crate::auth::crypto::secrets_match;
use crate::auth::keys::{self, KeyKind};
use crate::auth::origin;
use crate::auth::visitor::{TokenError, Visitor};
use crate::error::ApiError;
use crate::store::{Agent, ApiKey, KeyScope, TenantStatus};

/// Header carrying the agent's publishable key.
pub const KEY_HEADER: &str = "x-publishable-key";
/// Header carrying the visitor token (request and response).
pub const TOKEN_HEADER: &str = "x-visitor-token";

/// The agent a chat surface may use: 404 when there is none, `unavailable` when the tenant
/// switched it off or the operator suspended the tenant.
pub fn usable_agent(agent: Option<Agent>) -> Result<Agent, ApiError> {
    let agent = agent.ok_or(ApiError::NotFound("Agent"))?;
    if !agent.enabled || !agent.tenant_active {
        return Err(ApiError::Unavailable(
            "This agent is not available right now.".into(),
        ));
    }
    Ok(agent)
}

/// Checks a widget request's publishable key and origin against the agent.
pub fn check_widget_caller(
    agent: &Agent,
    key: Option<&str>,
    origin: Option<&str>,
) -> Result<(), ApiError> {
    let key = publishable_key(key)?;
    // Publishable keys are public, so a plain comparison leaks nothing worth timing.
    if !agent.publishable_keys.iter().any(|k| k == key) {
        return Err(invalid_key());
    }
    match origin {
        Some(origin) if origin::is_allowed(origin, &agent.config.allowed_origins) => Ok(()),
        _ => Err(ApiError::OriginNotAllowed),
    }
}

/// The presented publishable key, refusing absent keys and keys of the wrong kind.
pub fn publishable_key(key: Option<&str>) -> Result<&str, ApiError> {
    let key = key
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized(
                "unauthorized",
                format!("Send the agent's publishable key (pk_live_…) in the {KEY_HEADER} header."),
            )
        })?;
    match KeyKind::of(key) {
        Some(KeyKind::Publishable) => Ok(key),
        Some(KeyKind::Secret | KeyKind::Api | KeyKind::Mcp) => Err(ApiError::unauthorized(
            "wrong_key_kind",
            "A secret key must never be used in a web page: revoke it and use the agent's publishable key.",
        )),
        None => Err(invalid_key()),
    }
}

fn invalid_key() -> ApiError {
    ApiError::unauthorized(
        "invalid_key",
        "This publishable key does not belong to this agent, or it was revoked.",
    )
}

/// Verifies a presented visitor token for `agent`; `None` when none was sent.
pub fn check_visitor_token(
    agent: &Agent,
    token: Option<&str>,
    secret: &str,
    now_secs: i64,
) -> Result<Option<Visitor>, ApiError> {
    let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let visitor = Visitor::verify(token, secret, now_secs).map_err(|e| match e {
        TokenError::Invalid => ApiError::unauthorized("invalid_token", e.to_string()),
        TokenError::Expired => ApiError::unauthorized(
            "token_expired",
            "The visitor token has expired. Request a new one from the visitor endpoint.",
        ),
    })?;
    if visitor.tenant_id != agent.tenant_id {
        return Err(ApiError::unauthorized(
            "invalid_token",
            TokenError::Invalid.to_string(),
        ));
    }
    Ok(Some(visitor))
}

/// Refuses anonymous visitors when the agent wants verified users only.
pub fn check_identity(agent: &Agent, visitor: Option<&Visitor>) -> Result<(), ApiError> {
    if agent.config.require_verified_user && !visitor.is_some_and(|v| v.verified) {
        return Err(ApiError::unauthorized(
            "identity_required",
            "This assistant is only available to signed-in users. The website must identify the user (userId and userHash) first.",
        ));
    }
    Ok(())
}

/// The bearer token of an `Authorization` header, or the 401 for its absence.
pub fn bearer_token(header: Option<&str>) -> Result<&str, ApiError> {
    header.and_then(keys::bearer).ok_or_else(|| {
        ApiError::unauthorized(
            "unauthorized",
            "Send a key in the Authorization header: Bearer <key>.",
        )
    })
}

/// Checks the operator's key.
pub fn check_operator(presented: &str, admin_key: Option<&str>) -> Result<(), ApiError> {
    let admin_key = admin_key.ok_or_else(|| {
        ApiError::NotConfigured("The operator API is off: set the ADMIN_API_KEY secret.".into())
    })?;
    if secrets_match(presented, admin_key) {
        return Ok(());
    }
    Err(match KeyKind::of(presented) {
        Some(_) => ApiError::unauthorized(
            "wrong_key_kind",
            "Tenant keys cannot manage tenants; this endpoint needs the operator's ADMIN_API_KEY.",
        ),
        None => ApiError::unauthorized("invalid_key", "The key is not valid."),
    })
}

/// What a presented key must be for the tenant API, before the store is asked: the lookup
/// value of a secret key.
pub fn tenant_key_lookup<'a>(
    presented: &'a str,
    admin_key: Option<&str>,
) -> Result<&'a str, ApiError> {
    if let Some(lookup) = keys::secret_lookup(presented) {
        return Ok(lookup);
    }
    let wrong_kind = |message: &str| ApiError::unauthorized("wrong_key_kind", message);
    match KeyKind::of(presented) {
        Some(KeyKind::Publishable) => Err(wrong_kind(
            "Publishable keys only work on the widget endpoints; use a secret key (sk_live_…).",
        )),
        Some(KeyKind::Api) => Err(wrong_kind(
            "API keys (ak_live_…) only call agents over /v1; use a secret key (sk_live_…).",
        )),
        Some(KeyKind::Mcp) => Err(wrong_kind(
            "MCP keys (mk_live_…) only call agents over /mcp; use a secret key (sk_live_…).",
        )),
        _ if admin_key.is_some_and(|k| secrets_match(presented, k)) => Err(wrong_kind(
            "The operator key manages tenants only; use one of the tenant's secret keys (sk_live_…).",
        )),
        _ => Err(ApiError::unauthorized("invalid_key", "The key is not valid.")),
    }
}

/// The tenant of a presented secret key, among the rows its lookup found.
pub fn tenant_of_key(
    presented: &str,
    candidates: &[(ApiKey, TenantStatus)],
) -> Result<String, ApiError> {
    let (key, status) = candidates
        .iter()
        .find(|(key, _)| key.kind == KeyKind::Secret && keys::matches_hash(presented, &key.hash))
        .ok_or_else(|| {
            ApiError::unauthorized("invalid_key", "The key is not valid, or it was revoked.")
        })?;
    if *status != TenantStatus::Active {
        return Err(ApiError::Forbidden(
            "This account is suspended. Contact the platform operator.".into(),
        ));
    }
    Ok(key.tenant_id.clone())
}

/// Who calls the OpenAI-compatible API: the tenant, the key and what the key may reach.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiCaller {
    /// The key's tenant.
    pub tenant_id: String,
    /// The key's id (what its own rate limit counts).
    pub key_id: String,
    /// What it may reach: a tenant secret key reaches every agent and no web page.
    pub scope: KeyScope,
}

/// The lookup value of a key presented to `/v1`: an API key (`ak_live_…`) or a tenant secret
/// key (`sk_live_…`); anything else is refused before the store is asked.
pub fn api_key_lookup(presented: &str) -> Result<&str, ApiError> {
    if let Some(lookup) = keys::api_lookup(presented).or_else(|| keys::secret_lookup(presented)) {
        return Ok(lookup);
    }
    match KeyKind::of(presented) {
        Some(KeyKind::Publishable) => Err(ApiError::unauthorized(
            "wrong_key_kind",
            "Publishable keys only work on the widget endpoints; use an API key (ak_live_…).",
        )),
        _ => Err(ApiError::unauthorized(
            "invalid_key",
            "The API key is not valid, or it was revoked.",
        )),
    }
}

/// The caller a presented `/v1` key proves, among the rows its lookup found.
pub fn api_caller(
    presented: &str,
    candidates: &[(ApiKey, TenantStatus)],
) -> Result<ApiCaller, ApiError> {
    let (key, status) = candidates
        .iter()
        .find(|(key, _)| {
            matches!(key.kind, KeyKind::Api | KeyKind::Secret)
                && key.revoked_at.is_none()
                && keys::matches_hash(presented, &key.hash)
        })
        .ok_or_else(|| {
            ApiError::unauthorized(
                "invalid_key",
                "The API key is not valid, or it was revoked.",
            )
        })?;
    if *status != TenantStatus::Active {
        return Err(ApiError::Forbidden(
            "This account is suspended. Contact the platform operator.".into(),
        ));
    }
    let scope = match key.kind {
        KeyKind::Api => key.scope.clone(),
        _ => KeyScope::default(),
    };
    Ok(ApiCaller {
        tenant_id: key.tenant_id.clone(),
        key_id: key.id.clone(),
        scope,
    })
}

/// The lookup value of a key presented to `/mcp`: an MCP key (`mk_live_…`) or a tenant secret
/// key; anything else is refused before the store is asked.
pub fn mcp_key_lookup(presented: &str) -> Result<&str, ApiError> {
    keys::mcp_lookup(presented)
        .or_else(|| keys::secret_lookup(presented))
        .ok_or_else(|| {
            ApiError::unauthorized(
                "invalid_key",
                "Send an MCP key (mk_live_…) or the tenant's secret key as a Bearer token.",
            )
        })
}

/// The caller a presented `/mcp` key proves: an MCP key with its scope (one agent, or all), or
/// a tenant secret key (every agent).
pub fn mcp_caller(
    presented: &str,
    candidates: &[(ApiKey, TenantStatus)],
) -> Result<ApiCaller, ApiError> {
    let (key, status) = candidates
        .iter()
        .find(|(key, _)| {
            matches!(key.kind, KeyKind::Mcp | KeyKind::Secret)
                && key.revoked_at.is_none()
                && keys::matches_hash(presented, &key.hash)
        })
        .ok_or_else(|| {
            ApiError::unauthorized("invalid_key", "The key is not valid, or it was revoked.")
        })?;
    if *status != TenantStatus::Active {
        return Err(ApiError::Forbidden(
            "This account is suspended. Contact the platform operator.".into(),
        ));
    }
    let scope = match key.kind {
        KeyKind::Mcp => key.scope.clone(),
        _ => KeyScope::default(),
    };
    Ok(ApiCaller {
        tenant_id: key.tenant_id.clone(),
        key_id: key.id.clone(),
        scope,
    })
}

/// The agent an API caller asked for (`model`): 404 for another tenant's, one outside the
/// key's scope, or none, which all look the same; `unavailable` when it is switched off.
pub fn callable_agent(
    caller: &ApiCaller,
    model: &str,
    agent: Option<Agent>,
) -> Result<Agent, ApiError> {
    let agent = agent
        .filter(|a| a.tenant_id == caller.tenant_id && caller.scope.allows(&a.id))
        .ok_or_else(|| ApiError::ModelNotFound(model.to_owned()))?;
    usable_agent(Some(agent))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::keys::generate;

    #[test]
    fn only_enabled_agents_of_active_tenants_are_usable() {
        assert!(matches!(
            usable_agent(None),
            Err(ApiError::NotFound("Agent"))
        ));
        let agent = Agent {
            id: "a".into(),
            enabled: true,
            tenant_active: true,
            ..Agent::default()
        };
        assert!(usable_agent(Some(agent.clone())).is_ok());
        let off = Agent {
            enabled: false,
            ..agent.clone()
        };
        assert!(matches!(
            usable_agent(Some(off)),
            Err(ApiError::Unavailable(_))
        ));
        let suspended = Agent {
            tenant_active: false,
            ..agent
        };
        assert!(matches!(
            usable_agent(Some(suspended)),
            Err(ApiError::Unavailable(_))
        ));
    }

    fn agent() -> Agent {
        let mut agent = Agent {
            id: "a1".into(),
            tenant_id: "t1".into(),
            publishable_keys: vec!["pk_live_good".into()],
            ..Agent::default()
        };
        agent.config.allowed_origins = vec!["https://shop.example".into()];
        agent
    }

    fn code(result: Result<impl std::fmt::Debug, ApiError>) -> &'static str {
        result.map(|_| "ok").unwrap_or_else(|e| e.code())
    }

    #[test]
    fn widget_callers_need_the_agents_key_and_an_allowed_origin() {
        let a = agent();
        let shop = Some("https://shop.example");
        assert_eq!(
            code(check_widget_caller(&a, Some("pk_live_good"), shop)),
            "ok"
        );
        assert_eq!(code(check_widget_caller(&a, None, shop)), "unauthorized");
        assert_eq!(
            code(check_widget_caller(&a, Some("pk_live_other"), shop)),
            "invalid_key"
        );
        assert_eq!(
            code(check_widget_caller(&a, Some("sk_live_x"), shop)),
            "wrong_key_kind"
        );
        assert_eq!(
            code(check_widget_caller(&a, Some("hello"), shop)),
            "invalid_key"
        );
        assert_eq!(
            code(check_widget_caller(
                &a,
                Some("pk_live_good"),
                Some("https://evil.example")
            )),
            "origin_not_allowed"
        );
        assert_eq!(
            code(check_widget_caller(&a, Some("pk_live_good"), None)),
            "origin_not_allowed"
        );
    }

    #[test]
    fn visitor_tokens_are_tenant_bound() {
        let a = agent();
        let token = Visitor::anonymous("t1", "v_1".into(), 100).sign("s");
        assert!(matches!(
            check_visitor_token(&a, Some(&token), "s", 200),
            Ok(Some(_))
        ));
        assert!(matches!(check_visitor_token(&a, None, "s", 200), Ok(None)));
        let other = Visitor::anonymous("t2", "v_1".into(), 100).sign("s");
        assert_eq!(
            code(check_visitor_token(&a, Some(&other), "s", 200)),
            "invalid_token"
        );
        assert_eq!(
            code(check_visitor_token(&a, Some(&token), "x", 200)),
            "invalid_token"
        );
        assert_eq!(
            code(check_visitor_token(&a, Some(&token), "s", i64::MAX)),
            "token_expired"
        );
    }

    #[test]
    fn verified_users_only_when_required() {
        let mut a = agent();
        let anon = Visitor::anonymous("t1", "v".into(), 0);
        let user = Visitor::verified_user("t1", "u1", 0);
        assert_eq!(code(check_identity(&a, Some(&anon))), "ok");
        a.config.require_verified_user = true;
        assert_eq!(code(check_identity(&a, Some(&anon))), "identity_required");
        assert_eq!(code(check_identity(&a, None)), "identity_required");
        assert_eq!(code(check_identity(&a, Some(&user))), "ok");
    }

    fn api_row(kind: KeyKind, scope: KeyScope, status: TenantStatus) -> (ApiKey, TenantStatus) {
        let new = generate(kind, &[4; 32]);
        let key = ApiKey {
            id: "k_api".into(),
            tenant_id: "t1".into(),
            agent_id: None,
            kind,
            name: String::new(),
            lookup: new.lookup,
            hash: new.hash,
            masked: new.masked,
            created_at: 0,
            revoked_at: None,
            scope,
        };
        (key, status)
    }

    #[test]
    fn api_callers_by_key_kind_and_scope() {
        let api = generate(KeyKind::Api, &[4; 32]);
        let secret = generate(KeyKind::Secret, &[4; 32]);
        assert_eq!(api_key_lookup(&api.value).ok(), Some(api.lookup.as_str()));
        assert_eq!(
            api_key_lookup(&secret.value).ok(),
            Some(secret.lookup.as_str())
        );
        assert_eq!(code(api_key_lookup("pk_live_x")), "wrong_key_kind");
        assert_eq!(code(api_key_lookup("sk-openai")), "invalid_key");
        let scoped = KeyScope {
            agents: Some(vec!["a1".into()]),
            ..KeyScope::default()
        };
        let rows = [api_row(KeyKind::Api, scoped.clone(), TenantStatus::Active)];
        let caller = api_caller(&api.value, &rows).expect("a caller");
        assert_eq!(
            (caller.tenant_id.as_str(), caller.scope.clone()),
            ("t1", scoped)
        );
        assert_eq!(
            code(api_caller(&format!("{}x", api.value), &rows)),
            "invalid_key"
        );
        let mut revoked = rows.clone();
        revoked[0].0.revoked_at = Some(5);
        assert_eq!(code(api_caller(&api.value, &revoked)), "invalid_key");
        let suspended = [api_row(
            KeyKind::Api,
            KeyScope::default(),
            TenantStatus::Suspended,
        )];
        assert_eq!(code(api_caller(&api.value, &suspended)), "forbidden");
        // A publishable row never proves an API caller, even with a matching hash.
        let publishable = [api_row(
            KeyKind::Publishable,
            KeyScope::default(),
            TenantStatus::Active,
        )];
        assert_eq!(code(api_caller(&api.value, &publishable)), "invalid_key");
        // A tenant secret key reaches every agent, never from a web page.
        let wide = KeyScope {
            agents: None,
            browser: true,
            per_minute: None,
        };
        let secret_rows = [api_row(KeyKind::Secret, wide, TenantStatus::Active)];
        let caller =
            api_caller(&generate(KeyKind::Secret, &[4; 32]).value, &secret_rows).expect("a caller");
        assert_eq!(caller.scope, KeyScope::default());

        let agent = |id: &str, tenant: &str| Agent {
            id: id.into(),
            tenant_id: tenant.into(),
            enabled: true,
            tenant_active: true,
            ..Agent::default()
        };
        let caller = ApiCaller {
            tenant_id: "t1".into(),
            key_id: "k".into(),
            scope: KeyScope {
                agents: Some(vec!["a1".into()]),
                ..KeyScope::default()
            },
        };
        assert!(callable_agent(&caller, "a1", Some(agent("a1", "t1"))).is_ok());
        for refused in [Some(agent("a2", "t1")), Some(agent("a1", "t2")), None] {
            assert!(matches!(
                callable_agent(&caller, "agent:x", refused),
                Err(ApiError::ModelNotFound(m)) if m == "agent:x"
            ));
        }
        let off = Agent {
            enabled: false,
            ..agent("a1", "t1")
        };
        assert_eq!(
            code(callable_agent(&caller, "a1", Some(off))),
            "unavailable"
        );
    }

    #[test]
    fn management_keys_by_kind() {
        assert_eq!(code(bearer_token(None)), "unauthorized");
        assert_eq!(code(check_operator("admin-key", Some("admin-key"))), "ok");
        assert_eq!(
            code(check_operator("sk_live_x", Some("admin-key"))),
            "wrong_key_kind"
        );
        assert_eq!(
            code(check_operator("nope", Some("admin-key"))),
            "invalid_key"
        );
        assert_eq!(code(check_operator("x", None)), "not_configured");
        assert_eq!(code(tenant_key_lookup("pk_live_x", None)), "wrong_key_kind");
        assert_eq!(
            code(tenant_key_lookup("admin-key", Some("admin-key"))),
            "wrong_key_kind"
        );
        assert_eq!(
            code(tenant_key_lookup("junk", Some("admin-key"))),
            "invalid_key"
        );

        let new = generate(KeyKind::Secret, &[9; 32]);
        assert_eq!(
            tenant_key_lookup(&new.value, None).ok(),
            Some(new.lookup.as_str())
        );
        let row = |status| {
            (
                ApiKey {
                    id: "k".into(),
                    tenant_id: "t1".into(),
                    agent_id: None,
                    kind: KeyKind::Secret,
                    name: String::new(),
                    lookup: new.lookup.clone(),
                    hash: new.hash.clone(),
                    masked: new.masked.clone(),
                    created_at: 0,
                    revoked_at: None,
                    scope: Default::default(),
                },
                status,
            )
        };
        assert_eq!(
            tenant_of_key(&new.value, &[row(TenantStatus::Active)])
                .ok()
                .as_deref(),
            Some("t1")
        );
        assert_eq!(
            code(tenant_of_key(&new.value, &[row(TenantStatus::Suspended)])),
            "forbidden"
        );
        assert_eq!(
            code(tenant_of_key(
                &format!("{}x", new.value),
                &[row(TenantStatus::Active)]
            )),
            "invalid_key"
        );
    }
}
