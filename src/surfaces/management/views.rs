//! The management API's wire: page cursors, `If-Match`, and what is shown back (never a stored
//! secret). The operations themselves are `app::management`.

use serde_json::{json, Value};

use crate::agent::validate::redacted;
use crate::agent::McpServer;
use crate::app::management::Paging;
use crate::auth::crypto::{base64url, from_base64url};
use crate::auth::keys::KeyKind;
use crate::error::ApiError;
use crate::ids::{is_channel_name, is_valid_client_id};
use crate::store::{
    Agent, ApiKey, Conversation, ConversationSummary, MessageStatus, Rating, Spend, Tenant,
};
use crate::tools::mcp::{self, RemoteTool};

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

/// The version an `If-Match` header names: `"1764129909000"`, `W/"…"` or bare digits.
pub fn if_match(header: Option<&str>) -> Option<i64> {
    let value = header?.trim();
    let value = value.strip_prefix("W/").unwrap_or(value);
    value.trim_matches('"').parse().ok()
}

/// A tenant as the APIs show it.
pub fn tenant_view(tenant: &Tenant, spend: Option<Spend>) -> Value {
    let mut view = json!({
        "id": tenant.id,
        "name": tenant.name,
        "status": tenant.status.as_str(),
        "monthlySpendCap": tenant.monthly_spend_cap,
        "retentionDays": tenant.retention_days,
        "createdAt": tenant.created_at,
    });
    if let Some(spend) = spend {
        view["spendThisMonth"] = json!(spend.tenant);
    }
    view
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

/// A remote MCP server's tools as "Test connection" shows them: the server's name, the name
/// the model calls it by, and whether the agent may use it.
pub fn mcp_tool_views(server: &McpServer, tools: &[RemoteTool]) -> Vec<Value> {
    tools
        .iter()
        .map(|tool| {
            json!({
                "name": tool.name,
                "description": tool.description,
                "exposedName": mcp::exposed_name(&server.name, &tool.name),
                "allowed": mcp::is_allowed(server.allowed_tools.as_deref(), &tool.name),
            })
        })
        .collect()
}

/// A key as the API lists it: publishable keys in full (they are public), secret keys masked.
pub fn key_view(key: &ApiKey) -> Value {
    let shown = match key.kind {
        KeyKind::Publishable => &key.lookup,
        KeyKind::Secret | KeyKind::Api | KeyKind::Mcp => &key.masked,
    };
    let mut view = json!({
        "id": key.id,
        "kind": key.kind.as_str(),
        "name": key.name,
        "agentId": key.agent_id,
        "key": shown,
        "createdAt": key.created_at,
        "revokedAt": key.revoked_at,
    });
    if key.kind == KeyKind::Api {
        view["agentIds"] = json!(key.scope.agents);
        view["browser"] = json!(key.scope.browser);
        view["perMinute"] = json!(key.scope.per_minute);
    }
    view
}

/// The paging of `?limit=` and `?cursor=`.
pub fn paging(limit: Option<&str>, cursor: Option<&str>) -> Result<Paging, ApiError> {
    let limit = page_limit(limit)?;
    let after = match cursor.filter(|c| !c.is_empty()) {
        Some(cursor) => Some(decode_cursor(cursor)?),
        None => None,
    };
    Ok(Paging { limit, after })
}

/// A page as `{"<name>": [...], "nextCursor": ...}`, its items already shown (not generic,
/// so the wasm holds one copy).
pub fn page_view(name: &str, items: Vec<Value>, next: Option<&(i64, String)>) -> Value {
    let next = next.map(|(time, id)| encode_cursor(*time, id));
    json!({ name: items, "nextCursor": next })
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
        Some(c) if !is_channel_name(&c) => {
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
        assert_eq!(if_match(Some("\"17\"")), Some(17));
        assert_eq!(if_match(Some("W/\"17\"")), Some(17));
        assert_eq!(if_match(Some("*")), None);
    }

    #[test]
    fn key_views_mask_secret_keys() {
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
            scope: Default::default(),
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
