//! The management API's request bodies and response shapes, kept pure: what a tenant or the
//! operator sends, how it is checked, and what is shown back (never a stored secret).

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::agent::validate::{keep_secrets, redacted, validate};
use crate::agent::AgentConfig;
use crate::auth::crypto::{base64url, from_base64url};
use crate::auth::keys::KeyKind;
use crate::error::ApiError;
use crate::ids::is_valid_client_id;
use crate::store::{
    Agent, ApiKey, Conversation, ConversationSummary, MessageStatus, Rating, Spend, Tenant,
    TenantStatus,
};

/// Largest management request body.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Page size when a list call names none.
pub const DEFAULT_PAGE: u32 = 50;
/// Largest page a list call may ask for.
pub const MAX_PAGE: u32 = 200;

/// An opaque page cursor for a position `(time, id)` in a listing.
pub fn encode_cursor(time: i64, id: &str) -> String {
    base64url(format!("{time}:{id}").as_bytes())
}

/// Reads a page cursor; a cursor this API did not make is a 400 naming `cursor`.
pub fn decode_cursor(cursor: &str) -> Result<(i64, String), ApiError> {
    let bad = || ApiError::invalid("cursor", "The cursor is not one this API gave out.");
    let text = from_base64url(cursor)
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(bad)?;
    let (time, id) = text.split_once(':').ok_or_else(bad)?;
    let time = time.parse::<i64>().map_err(|_| bad())?;
    if !is_valid_client_id(id) {
        return Err(bad());
    }
    Ok((time, id.to_owned()))
}

/// The page size of `?limit=`: 1 to `MAX_PAGE`, `DEFAULT_PAGE` when absent.
pub fn page_limit(limit: Option<&str>) -> Result<u32, ApiError> {
    match limit {
        None | Some("") => Ok(DEFAULT_PAGE),
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(
                    "limit",
                    format!("limit must be a number from 1 to {MAX_PAGE}."),
                )
            }),
    }
}

/// One page of an in-memory listing ordered by `(time, id)`: the items after `cursor`, at most
/// `limit`, and the cursor of the next page when there is one.
pub fn page<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> (i64, String),
    cursor: Option<&(i64, String)>,
    limit: u32,
) -> (Vec<T>, Option<String>) {
    let mut rest: Vec<T> = items
        .into_iter()
        .filter(|item| cursor.is_none_or(|c| key(item) > *c))
        .collect();
    let more = rest.len() > limit as usize;
    rest.truncate(limit as usize);
    let next = more
        .then(|| rest.last().map(&key))
        .flatten()
        .map(|(time, id)| encode_cursor(time, &id));
    (rest, next)
}

/// The version an `If-Match` header names: `"1764129909000"`, `W/"…"` or bare digits.
pub fn if_match(header: Option<&str>) -> Option<i64> {
    let value = header?.trim();
    let value = value.strip_prefix("W/").unwrap_or(value);
    value.trim_matches('"').parse().ok()
}

/// `POST /api/admin/tenants`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewTenant {
    /// Optional id (letters, digits, `_`, `-`); generated when absent.
    pub id: Option<String>,
    /// Display name.
    pub name: String,
    /// Monthly spend cap.
    pub monthly_spend_cap: Option<f64>,
}

/// `PATCH /api/admin/tenants/{id}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantPatch {
    /// New name.
    pub name: Option<String>,
    /// `active` or `suspended`.
    pub status: Option<String>,
    /// New cap; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    pub monthly_spend_cap: Option<Option<f64>>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<f64>>, D::Error> {
    Option::<f64>::deserialize(d).map(Some)
}

fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid(
            "name",
            "The name must have 1 to 100 characters.",
        ));
    }
    Ok(name.to_owned())
}

fn check_cap(cap: Option<f64>) -> Result<Option<f64>, ApiError> {
    match cap {
        Some(c) if !(c >= 0.0 && c.is_finite()) => Err(ApiError::invalid(
            "monthlySpendCap",
            "The spend cap must be a number of 0 or more.",
        )),
        other => Ok(other),
    }
}

/// Checks an optional client-chosen id.
pub fn check_id(id: Option<&str>) -> Result<Option<String>, ApiError> {
    match id {
        None => Ok(None),
        Some(id) if is_valid_client_id(id) && id.len() <= 64 => Ok(Some(id.to_owned())),
        Some(_) => Err(ApiError::invalid(
            "id",
            "Ids have 1-64 letters, digits, '_' or '-'.",
        )),
    }
}

impl NewTenant {
    /// The tenant to create, with `id` used when the body named none.
    pub fn into_tenant(self, generated_id: String, now: i64) -> Result<Tenant, ApiError> {
        Ok(Tenant {
            id: check_id(self.id.as_deref())?.unwrap_or(generated_id),
            name: check_name(&self.name)?,
            status: TenantStatus::Active,
            monthly_spend_cap: check_cap(self.monthly_spend_cap)?,
            created_at: now,
        })
    }
}

impl TenantPatch {
    /// Applies the patch to `tenant`.
    pub fn apply(self, tenant: &mut Tenant) -> Result<(), ApiError> {
        if let Some(name) = self.name {
            tenant.name = check_name(&name)?;
        }
        if let Some(status) = self.status {
            tenant.status = TenantStatus::parse(&status).ok_or_else(|| {
                ApiError::invalid("status", "The status must be \"active\" or \"suspended\".")
            })?;
        }
        if let Some(cap) = self.monthly_spend_cap {
            tenant.monthly_spend_cap = check_cap(cap)?;
        }
        Ok(())
    }
}

/// A tenant as the APIs show it.
pub fn tenant_view(tenant: &Tenant, spend: Option<Spend>) -> Value {
    let mut view = json!({
        "id": tenant.id,
        "name": tenant.name,
        "status": tenant.status.as_str(),
        "monthlySpendCap": tenant.monthly_spend_cap,
        "createdAt": tenant.created_at,
    });
    if let Some(spend) = spend {
        view["spendThisMonth"] = json!(spend.tenant);
    }
    view
}

/// `POST /api/admin/agents`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewAgent {
    /// Optional id; generated when absent.
    pub id: Option<String>,
    /// The whole config (missing fields take defaults).
    #[serde(default)]
    pub config: Value,
    /// Switched on (default true).
    pub enabled: Option<bool>,
}

/// `PATCH /api/admin/agents/{id}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentPatch {
    /// A JSON merge patch (RFC 7386) over the stored config.
    pub config: Option<Value>,
    /// Switch.
    pub enabled: Option<bool>,
    /// The version being changed, when the client cannot send `If-Match`.
    pub expected_updated_at: Option<i64>,
}

/// `POST /api/admin/agents/{id}/duplicate`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Duplicate {
    /// Id of the copy; generated when absent.
    pub id: Option<String>,
    /// Name of the copy; "<name> (copy)" when absent.
    pub name: Option<String>,
}

/// `POST /api/admin/agents/{id}/tools/{name}/test`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ToolTest {
    /// Arguments for the call.
    #[serde(default)]
    pub input: Value,
    /// An edited, unsaved definition to try instead of the stored one.
    pub tool: Option<Value>,
}

/// Reads a config from JSON, naming the field serde stumbled on.
pub fn parse_config(value: Value, allowed_hosts: &[String]) -> Result<AgentConfig, ApiError> {
    if !value.is_object() && !value.is_null() {
        return Err(ApiError::invalid(
            "config",
            "The config must be a JSON object.",
        ));
    }
    let value = if value.is_null() { json!({}) } else { value };
    // Through text: one deserializer for configs (the store reads them from text too).
    let config: AgentConfig = serde_json::from_str(&value.to_string())
        .map_err(|e| ApiError::invalid("config", format!("The config is not valid: {e}")))?;
    validate(&config, allowed_hosts)
        .map_err(|e| ApiError::invalid(format!("config.{}", e.field), e.message))?;
    Ok(config)
}

/// Applies a merge patch to a stored config, keeping header secrets sent back redacted.
pub fn patch_config(
    stored: &AgentConfig,
    patch: Value,
    allowed_hosts: &[String],
) -> Result<AgentConfig, ApiError> {
    let mut merged = serde_json::to_string(stored)
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .unwrap_or_else(|| json!({}));
    merge_patch(&mut merged, patch);
    let mut config = parse_config(merged, allowed_hosts)?;
    keep_secrets(&mut config, stored);
    Ok(config)
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: Value) {
    let Value::Object(patch) = patch else {
        *target = patch;
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(map) = target {
        for (key, value) in patch {
            if value.is_null() {
                map.remove(&key);
            } else {
                merge_patch(map.entry(key).or_insert(Value::Null), value);
            }
        }
    }
}

/// An agent as the management API shows it: webhook header values redacted.
pub fn agent_view(agent: &Agent) -> Value {
    json!({
        "id": agent.id,
        "enabled": agent.enabled,
        "config": redacted(&agent.config),
        "publishableKeys": agent.publishable_keys,
        "createdAt": agent.created_at,
        "updatedAt": agent.updated_at,
    })
}

/// `POST /api/admin/keys`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewKey {
    /// `secret` or `publishable`.
    pub kind: String,
    /// The agent of a publishable key.
    pub agent_id: Option<String>,
    /// A label.
    #[serde(default)]
    pub name: String,
}

impl NewKey {
    /// The kind asked for, with the agent a publishable key needs.
    pub fn checked(&self) -> Result<(KeyKind, Option<&str>), ApiError> {
        let kind = KeyKind::parse(&self.kind).ok_or_else(|| {
            ApiError::invalid("kind", "The kind must be \"secret\" or \"publishable\".")
        })?;
        if self.name.chars().count() > 100 {
            return Err(ApiError::invalid(
                "name",
                "The name may have at most 100 characters.",
            ));
        }
        match (kind, self.agent_id.as_deref()) {
            (KeyKind::Publishable, None) => Err(ApiError::invalid(
                "agentId",
                "A publishable key belongs to one agent: send its agentId.",
            )),
            (KeyKind::Secret, Some(_)) => Err(ApiError::invalid(
                "agentId",
                "Secret keys belong to the whole tenant: leave agentId out.",
            )),
            (kind, agent) => Ok((kind, agent)),
        }
    }
}

/// A key as the API lists it: publishable keys in full (they are public), secret keys masked.
pub fn key_view(key: &ApiKey) -> Value {
    let shown = match key.kind {
        KeyKind::Publishable => &key.lookup,
        KeyKind::Secret => &key.masked,
    };
    json!({
        "id": key.id,
        "kind": key.kind.as_str(),
        "name": key.name,
        "agentId": key.agent_id,
        "key": shown,
        "createdAt": key.created_at,
        "revokedAt": key.revoked_at,
    })
}

/// Rating, channel, last answer's status and preview filters of the conversation list.
pub type ConversationFilters = (
    Option<Rating>,
    Option<String>,
    Option<MessageStatus>,
    Option<bool>,
);

/// The inbox filters of the conversation list (`rating`, `channel`, `status`, `preview`), from
/// the query string; empty values mean no filter.
pub fn conversation_filters(
    query: &dyn Fn(&str) -> Option<String>,
) -> Result<ConversationFilters, ApiError> {
    let get = |name: &str| query(name).filter(|v| !v.is_empty());
    let rating = match get("rating") {
        None => None,
        Some(text) => Some(
            Rating::parse(&text)
                .ok_or_else(|| ApiError::invalid("rating", "rating must be up or down."))?,
        ),
    };
    let channel = match get("channel") {
        Some(c) if c.len() > 32 || !c.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') => {
            return Err(ApiError::invalid(
                "channel",
                "channel is a short lowercase name such as widget, inline or api.",
            ))
        }
        other => other,
    };
    let status = match get("status").as_deref() {
        None => None,
        Some("complete") => Some(MessageStatus::Complete),
        Some("aborted") => Some(MessageStatus::Aborted),
        Some("error") => Some(MessageStatus::Error),
        Some(_) => {
            return Err(ApiError::invalid(
                "status",
                "status must be complete, aborted or error.",
            ))
        }
    };
    let preview = match get("preview").as_deref() {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            return Err(ApiError::invalid(
                "preview",
                "preview must be true or false.",
            ))
        }
    };
    Ok((rating, channel, status, preview))
}

/// One row of the conversation list: the conversation and its inbox summary.
pub fn conversation_list_item(c: &Conversation, s: &ConversationSummary) -> Value {
    json!({
        "id": c.id, "agentId": c.agent_id, "visitorId": c.visitor_id,
        "createdAt": c.created_at, "updatedAt": c.updated_at,
        "firstMessage": s.first_message, "messageCount": s.message_count,
        "rating": s.rating.map(Rating::as_str), "status": s.status.map(MessageStatus::as_str),
        "match": s.matched,
        "pageUrl": c.page_url, "channel": c.channel, "preview": c.preview,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_and_pages() {
        let cursor = encode_cursor(1_764_129_909_000, "chat_1");
        assert_eq!(
            decode_cursor(&cursor).ok(),
            Some((1_764_129_909_000, "chat_1".into()))
        );
        for bad in [
            "",
            "!!",
            &base64url(b"12"),
            &base64url(b"x:chat"),
            &base64url(b"1:a/b"),
        ] {
            assert!(
                matches!(decode_cursor(bad), Err(ApiError::Invalid { field, .. }) if field == "cursor"),
                "{bad}"
            );
        }
        assert_eq!(page_limit(None).ok(), Some(DEFAULT_PAGE));
        assert_eq!(page_limit(Some("7")).ok(), Some(7));
        assert!(
            page_limit(Some("0")).is_err()
                && page_limit(Some("201")).is_err()
                && page_limit(Some("x")).is_err()
        );
        let items: Vec<(i64, String)> = (1..=5).map(|i| (i / 2, format!("k{i}"))).collect();
        let (first, next) = page(items.clone(), |i| i.clone(), None, 2);
        assert_eq!(first.len(), 2);
        let next = decode_cursor(&next.expect("more")).expect("valid");
        let (second, next) = page(items.clone(), |i| i.clone(), Some(&next), 2);
        let (third, last) = page(
            items,
            |i| i.clone(),
            Some(&decode_cursor(&next.expect("more")).expect("valid")),
            2,
        );
        assert_eq!((second.len(), third.len(), last), (2, 1, None));
        assert!(!second.contains(&first[1]) && !third.contains(&second[1]));
        assert_eq!(if_match(Some("\"17\"")), Some(17));
        assert_eq!(if_match(Some("W/\"17\"")), Some(17));
        assert_eq!(if_match(Some("*")), None);
    }

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut doc, json!({"a": "z", "c": {"f": null}}));
        assert_eq!(doc, json!({"a": "z", "c": {"d": "e"}}));
        merge_patch(&mut doc, json!({"c": [1]}));
        assert_eq!(doc["c"], json!([1]));
    }

    #[test]
    fn config_errors_name_the_field() {
        let e = parse_config(json!({"limits": {"ipPerMinute": 0}}), &[]).expect_err("invalid");
        assert!(
            matches!(&e, ApiError::Invalid { field, .. } if field == "config.limits.ipPerMinute"),
            "{e:?}"
        );
        let e = parse_config(json!({"maxSteps": "many"}), &[]).expect_err("invalid");
        assert!(matches!(&e, ApiError::Invalid { field, .. } if field == "config"));
        assert!(parse_config(json!(null), &[]).is_ok());
    }

    #[test]
    fn patches_keep_redacted_secrets() {
        let stored = parse_config(
            json!({"tools": {"webhooks": [{"name": "t", "url": "https://h.example/x", "headers": {"x-key": "s3cret"}}]}}),
            &[],
        )
        .expect("valid");
        let shown = agent_view(&Agent {
            config: stored.clone(),
            ..Agent::default()
        });
        assert!(!shown.to_string().contains("s3cret"));
        let config = patch_config(
            &stored,
            json!({"name": "New", "tools": shown["config"]["tools"].clone()}),
            &[],
        )
        .expect("valid");
        assert_eq!(config.name, "New");
        assert_eq!(config.tools.webhooks[0].headers["x-key"], "s3cret");
    }

    #[test]
    fn tenant_patches() {
        let mut tenant = NewTenant {
            id: None,
            name: " Acme ".into(),
            monthly_spend_cap: Some(5.0),
        }
        .into_tenant("t_1".into(), 0)
        .expect("valid");
        assert_eq!((tenant.id.as_str(), tenant.name.as_str()), ("t_1", "Acme"));
        let patch: TenantPatch =
            serde_json::from_value(json!({"status": "suspended", "monthlySpendCap": null}))
                .expect("parses");
        patch.apply(&mut tenant).expect("valid");
        assert_eq!(tenant.status, TenantStatus::Suspended);
        assert_eq!(tenant.monthly_spend_cap, None);
        let bad: TenantPatch = serde_json::from_value(json!({"status": "gone"})).expect("parses");
        assert!(
            matches!(bad.apply(&mut tenant), Err(ApiError::Invalid { field, .. }) if field == "status")
        );
        assert!(serde_json::from_value::<TenantPatch>(json!({"secret": 1})).is_err());
    }

    #[test]
    fn key_requests_and_views() {
        let req = |v: Value| serde_json::from_value::<NewKey>(v).expect("parses");
        assert!(req(json!({"kind": "publishable"})).checked().is_err());
        assert!(req(json!({"kind": "secret", "agentId": "a"}))
            .checked()
            .is_err());
        assert!(req(json!({"kind": "root"})).checked().is_err());
        assert_eq!(
            req(json!({"kind": "publishable", "agentId": "a"}))
                .checked()
                .ok(),
            Some((KeyKind::Publishable, Some("a")))
        );
        let key = ApiKey {
            id: "k".into(),
            tenant_id: "t".into(),
            agent_id: None,
            kind: KeyKind::Secret,
            name: String::new(),
            lookup: "sk_live_abcdefgh".into(),
            hash: "h".into(),
            masked: "sk_live_abcdefgh…wxyz".into(),
            created_at: 0,
            revoked_at: None,
        };
        let view = key_view(&key).to_string();
        assert!(view.contains("…wxyz") && !view.contains("\"h\""));
    }

    #[test]
    fn conversation_filters_are_checked() {
        let from = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let all = conversation_filters(&from(&[
            ("rating", "down"),
            ("channel", "inline"),
            ("status", "error"),
            ("preview", "false"),
        ]))
        .expect("valid filters");
        assert_eq!(
            all,
            (
                Some(Rating::Down),
                Some("inline".to_owned()),
                Some(MessageStatus::Error),
                Some(false)
            )
        );
        assert_eq!(
            conversation_filters(&from(&[("rating", "")])).expect("empty is none"),
            (None, None, None, None)
        );
        for (name, value) in [
            ("rating", "meh"),
            ("status", "done"),
            ("preview", "yes"),
            ("channel", "Web Site"),
        ] {
            let pairs: &'static [(&str, &str)] = Box::leak(vec![(name, value)].into_boxed_slice());
            match conversation_filters(&from(pairs)) {
                Err(ApiError::Invalid { field, .. }) => assert_eq!(field, name),
                other => panic!("{name}={value} gave {other:?}"),
            }
        }
    }
}
