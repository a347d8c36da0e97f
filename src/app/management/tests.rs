use serde_json::json;

use super::*;

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
    let e = parse_config(json!({"limits": {"ipPerMinute": 0}}), &Policy::default())
        .expect_err("invalid");
    assert!(
        matches!(&e, ApiError::Invalid { field, .. } if field == "config.limits.ipPerMinute"),
        "{e:?}"
    );
    let e = parse_config(json!({"maxSteps": "many"}), &Policy::default()).expect_err("invalid");
    assert!(matches!(&e, ApiError::Invalid { field, .. } if field == "config"));
    assert!(parse_config(json!(null), &Policy::default()).is_ok());
}

#[test]
fn patches_keep_redacted_secrets() {
    let stored = parse_config(
        json!({"tools": {"webhooks": [{"name": "t", "url": "https://h.example/x", "headers": {"x-key": "s3cret"}}]}}),
        &Policy::default(),
    )
    .expect("valid");
    let shown = json!({ "config": crate::agent::validate::redacted(&stored) });
    assert!(!shown.to_string().contains("s3cret"));
    let config = patch_config(
        &stored,
        json!({"name": "New", "tools": shown["config"]["tools"].clone()}),
        &Policy::default(),
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
fn key_requests() {
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
}

use std::cell::Cell;

use futures::executor::block_on;

use crate::agent::validate::REDACTED;
use crate::store::memory::MemoryStore;
use crate::store::ConversationQuery;

/// Counting ids and bytes: deterministic, and every value distinct.
struct Counter(Cell<u8>);

impl Entropy for Counter {
    fn id(&self, prefix: &str) -> String {
        self.0.set(self.0.get() + 1);
        format!("{prefix}_{}", self.0.get())
    }
    fn bytes(&self) -> [u8; 32] {
        self.0.set(self.0.get() + 1);
        [self.0.get(); 32]
    }
}

fn management<'a>(
    store: &'a MemoryStore,
    entropy: &'a Counter,
    policy: &'a Policy,
) -> Management<'a, MemoryStore> {
    Management {
        store,
        entropy,
        outbound: policy,
        now: 1_764_000_000_000,
    }
}

fn first_page() -> Paging {
    Paging {
        limit: 50,
        after: None,
    }
}

#[test]
fn a_new_tenant_gets_its_secrets_once_and_a_key_that_finds_it() {
    let (store, entropy, policy) = (MemoryStore::new(), Counter(Cell::new(0)), Policy::default());
    let ops = management(&store, &entropy, &policy);
    let created =
        block_on(ops.create_tenant(serde_json::from_value(json!({"name": "Acme"})).expect("body")))
            .expect("created");
    assert_eq!(created.tenant.name, "Acme");
    assert!(created.secret_key.starts_with("sk_live_"));
    assert_ne!(created.identity_secret, created.signing_secret);
    let lookup = &created.secret_key[..16];
    let keys = block_on(store.keys_by_lookup(lookup)).expect("keys");
    assert_eq!(keys.len(), 1);
    assert_ne!(
        keys[0].0.hash, created.secret_key,
        "the key is stored hashed"
    );
    let again = block_on(ops.create_tenant(
        serde_json::from_value(json!({"name": "B", "id": created.tenant.id})).expect("body"),
    ));
    assert!(matches!(again, Err(ApiError::Conflict(_))));
}

fn tenant_with_agent(ops: &Management<'_, MemoryStore>) -> (String, Agent) {
    let created =
        block_on(ops.create_tenant(serde_json::from_value(json!({"name": "Acme"})).expect("body")))
            .expect("tenant");
    let body = serde_json::from_value(json!({
        "id": "support",
        "config": {"name": "Support", "tools": {"webhooks": [{
            "name": "lookup", "url": "https://hooks.example.com/x", "headers": {"x-api-key": "s3cret"}
        }]}}
    }))
    .expect("body");
    let agent = block_on(ops.create_agent(&created.tenant.id, body)).expect("agent");
    (created.tenant.id, agent)
}

#[test]
fn agents_are_created_with_a_key_and_scoped_to_their_tenant() {
    let (store, entropy, policy) = (MemoryStore::new(), Counter(Cell::new(0)), Policy::default());
    let ops = management(&store, &entropy, &policy);
    let (tenant, agent) = tenant_with_agent(&ops);
    assert_eq!(agent.publishable_keys.len(), 1);
    let loaded = block_on(ops.agent(&tenant, "support")).expect("found");
    assert_eq!(loaded.publishable_keys, agent.publishable_keys);
    assert!(matches!(
        block_on(ops.agent("other-tenant", "support")),
        Err(ApiError::NotFound("Agent"))
    ));
    let taken = block_on(ops.create_agent(
        &tenant,
        serde_json::from_value(json!({"id": "support", "config": {}})).expect("body"),
    ));
    assert!(matches!(taken, Err(ApiError::Conflict(_))));
    let unsafe_url = block_on(
        ops.create_agent(
            &tenant,
            serde_json::from_value(json!({
                "config": {"tools": {"webhooks": [{"name": "x", "url": "https://127.0.0.1/"}]}}
            }))
            .expect("body"),
        ),
    );
    assert!(
        matches!(unsafe_url, Err(ApiError::Invalid { field, .. }) if field == "config.tools.webhooks[0].url")
    );
    assert!(matches!(
        block_on(ops.delete_agent("other-tenant", "support")),
        Err(ApiError::NotFound(_))
    ));
    block_on(ops.delete_agent(&tenant, "support")).expect("deleted");
    assert!(block_on(ops.agent(&tenant, "support")).is_err());
}

#[test]
fn edits_need_the_current_version_and_keep_secrets() {
    let (store, entropy, policy) = (MemoryStore::new(), Counter(Cell::new(0)), Policy::default());
    let ops = management(&store, &entropy, &policy);
    let (tenant, agent) = tenant_with_agent(&ops);
    let patch = |v: Value| serde_json::from_value::<AgentPatch>(v).expect("patch");
    let none =
        block_on(ops.update_agent(&tenant, "support", patch(json!({"enabled": false})), None));
    assert!(matches!(none, Err(ApiError::PreconditionRequired)));
    let stale = block_on(ops.update_agent(
        &tenant,
        "support",
        patch(json!({"enabled": false})),
        Some(agent.version + 1),
    ));
    assert!(matches!(stale, Err(ApiError::Stale)));
    let edit = json!({"config": {"systemPrompt": "Be kind.", "tools": {"webhooks": [{
        "name": "lookup", "url": "https://hooks.example.com/y", "headers": {"x-api-key": REDACTED}
    }]}}});
    let saved = block_on(ops.update_agent(&tenant, "support", patch(edit), Some(agent.version)))
        .expect("saved");
    assert_eq!(saved.version, agent.version + 1, "a new version");
    assert!(saved.updated_at > agent.updated_at);
    assert_eq!(saved.config.system_prompt, "Be kind.");
    assert_eq!(
        saved.config.tools.webhooks[0]
            .headers
            .get("x-api-key")
            .map(String::as_str),
        Some("s3cret")
    );
    let again = block_on(ops.update_agent(
        &tenant,
        "support",
        patch(json!({"enabled": false})),
        Some(agent.version),
    ));
    assert!(
        matches!(again, Err(ApiError::Stale)),
        "the old version is gone"
    );
}

#[test]
fn duplicates_copy_config_and_secrets_under_a_new_key() {
    let (store, entropy, policy) = (MemoryStore::new(), Counter(Cell::new(0)), Policy::default());
    let ops = management(&store, &entropy, &policy);
    let (tenant, agent) = tenant_with_agent(&ops);
    let copy =
        block_on(ops.duplicate_agent(&tenant, "support", Duplicate::default())).expect("copied");
    assert_ne!(copy.id, agent.id);
    assert_eq!(copy.config.name, "Support (copy)");
    assert_ne!(copy.publishable_keys, agent.publishable_keys);
    assert_eq!(
        copy.config.tools.webhooks[0]
            .headers
            .get("x-api-key")
            .map(String::as_str),
        Some("s3cret")
    );
    let long = block_on(ops.duplicate_agent(
        &tenant,
        "support",
        Duplicate {
            id: None,
            name: Some(String::new()),
        },
    ));
    assert!(matches!(long, Err(ApiError::Invalid { field, .. }) if field == "name"));
}

#[test]
fn tool_trials_use_the_stored_tool_or_a_checked_edit() {
    let (store, entropy, policy) = (MemoryStore::new(), Counter(Cell::new(0)), Policy::default());
    let ops = management(&store, &entropy, &policy);
    let (tenant, _) = tenant_with_agent(&ops);
    let test = |v: Value| serde_json::from_value::<ToolTest>(v).expect("body");
    let stored =
        block_on(ops.tool_trial(&tenant, "support", "lookup", test(json!({})))).expect("trial");
    assert_eq!(stored.input, json!({}));
    assert!(stored.signing_secret.is_some());
    assert!(matches!(
        block_on(ops.tool_trial(&tenant, "support", "nope", test(json!({})))),
        Err(ApiError::NotFound("Tool"))
    ));
    let edited = block_on(ops.tool_trial(&tenant, "support", "lookup", test(json!({
        "tool": {"name": "lookup", "url": "https://hooks.example.com/new", "headers": {"x-api-key": REDACTED}},
        "input": {"id": 1}
    })))).expect("trial");
    assert_eq!(
        edited.config.tools.webhooks[0].url,
        "https://hooks.example.com/new"
    );
    assert_eq!(
        edited.config.tools.webhooks[0]
            .headers
            .get("x-api-key")
            .map(String::as_str),
        Some("s3cret")
    );
    let renamed = block_on(ops.tool_trial(
        &tenant,
        "support",
        "lookup",
        test(json!({"tool": {"name": "other", "url": "https://hooks.example.com/"}})),
    ));
    assert!(matches!(renamed, Err(ApiError::Invalid { field, .. }) if field == "tool.name"));
    let bad_url = block_on(ops.tool_trial(
        &tenant,
        "support",
        "lookup",
        test(json!({"tool": {"name": "lookup", "url": "https://loc%61lhost/"}})),
    ));
    assert!(matches!(bad_url, Err(ApiError::Invalid { field, .. }) if field == "tool.url"));
    let bad_input =
        block_on(ops.tool_trial(&tenant, "support", "lookup", test(json!({"input": [1]}))));
    assert!(matches!(bad_input, Err(ApiError::Invalid { field, .. }) if field == "input"));
}

#[test]
fn keys_are_listed_newest_first_in_pages_and_revoked_once() {
    let (store, entropy, policy) = (MemoryStore::new(), Counter(Cell::new(0)), Policy::default());
    let mut ops = management(&store, &entropy, &policy);
    let (tenant, _) = tenant_with_agent(&ops);
    for i in 0..3 {
        ops.now += 1;
        let body = serde_json::from_value(json!({"kind": "secret", "name": format!("k{i}")}))
            .expect("body");
        block_on(ops.create_key(&tenant, body)).expect("key");
    }
    // The first secret key, the agent's publishable key, and three more.
    let first = block_on(ops.list_keys(
        &tenant,
        &Paging {
            limit: 2,
            after: None,
        },
    ))
    .expect("page");
    assert_eq!(
        first
            .items
            .iter()
            .map(|k| k.name.as_str())
            .collect::<Vec<_>>(),
        ["k2", "k1"]
    );
    let rest = block_on(ops.list_keys(
        &tenant,
        &Paging {
            limit: 10,
            after: first.next.clone(),
        },
    ))
    .expect("page");
    assert_eq!(rest.items.len(), 3);
    assert_eq!(rest.next, None);
    let id = first.items[0].id.clone();
    block_on(ops.revoke_key(&tenant, &id)).expect("revoked");
    assert!(matches!(
        block_on(ops.revoke_key(&tenant, &id)),
        Err(ApiError::NotFound("Key"))
    ));
    assert!(matches!(
        block_on(ops.revoke_key("other", &rest.items[0].id)),
        Err(ApiError::NotFound("Key"))
    ));
    let publishable =
        serde_json::from_value(json!({"kind": "publishable", "agentId": "nobody"})).expect("body");
    assert!(matches!(
        block_on(ops.create_key(&tenant, publishable)),
        Err(ApiError::NotFound("Agent"))
    ));
}

#[test]
fn secrets_rotate_and_lists_check_their_filters() {
    let (store, entropy, policy) = (MemoryStore::new(), Counter(Cell::new(0)), Policy::default());
    let ops = management(&store, &entropy, &policy);
    let (tenant, agent) = tenant_with_agent(&ops);
    let rotated = block_on(ops.rotate_secret(&tenant, "webhook-signing")).expect("rotated");
    assert!(rotated.starts_with("whsec_"));
    assert_eq!(
        block_on(ops.agent(&tenant, &agent.id))
            .expect("agent")
            .signing_secret,
        Some(rotated)
    );
    assert!(matches!(
        block_on(ops.rotate_secret(&tenant, "root")),
        Err(ApiError::NotFound("Secret"))
    ));
    let long = "x".repeat(201);
    let filter = ConversationQuery {
        search: Some(long),
        ..ConversationQuery::default()
    };
    let search = block_on(ops.list_conversations(&tenant, &first_page(), filter));
    assert!(matches!(search, Err(ApiError::Invalid { field, .. }) if field == "q"));
    // A NUL in a search (found by schemathesis) is a bad request, not a store failure.
    let filter = ConversationQuery {
        search: Some("ra\u{0}x".into()),
        ..ConversationQuery::default()
    };
    let search = block_on(ops.list_conversations(&tenant, &first_page(), filter));
    assert!(matches!(search, Err(ApiError::Invalid { field, .. }) if field == "q"));
    let rating = block_on(ops.list_feedback(&tenant, &first_page(), None, Some("meh")));
    assert!(matches!(rating, Err(ApiError::Invalid { field, .. }) if field == "rating"));
    let usage = block_on(ops.usage(&tenant, Some("2026-13".into())));
    assert!(matches!(usage, Err(ApiError::Invalid { field, .. }) if field == "since"));
    let (since, rows) = block_on(ops.usage(&tenant, None)).expect("usage");
    assert_eq!((since.as_str(), rows.len()), ("2025-11-01", 0));
    assert!(matches!(
        block_on(ops.conversation(&tenant, "nope")),
        Err(ApiError::NotFound(_))
    ));
}

#[test]
fn pages_continue_after_their_cursor() {
    let items: Vec<(i64, String)> = (1..=5).map(|i| (i / 2, format!("k{i}"))).collect();
    let first = page(items.clone(), |i| i.clone(), None, 2);
    assert_eq!(first.items.len(), 2);
    let second = page(items.clone(), |i| i.clone(), first.next.as_ref(), 2);
    let third = page(items, |i| i.clone(), second.next.as_ref(), 2);
    assert_eq!(
        (second.items.len(), third.items.len(), third.next),
        (2, 1, None)
    );
    assert!(!second.items.contains(&first.items[1]) && !third.items.contains(&second.items[1]));
}

#[test]
fn tenants_suspended_by_the_operator_stay_listed() {
    let (store, entropy, policy) = (MemoryStore::new(), Counter(Cell::new(0)), Policy::default());
    let ops = management(&store, &entropy, &policy);
    let (tenant, _) = tenant_with_agent(&ops);
    let patch = serde_json::from_value(json!({"status": "suspended", "monthlySpendCap": 5}))
        .expect("patch");
    let updated = block_on(ops.update_tenant(&tenant, patch)).expect("updated");
    assert_eq!(updated.status, TenantStatus::Suspended);
    let (loaded, spend) = block_on(ops.tenant(&tenant)).expect("tenant");
    assert_eq!((loaded.monthly_spend_cap, spend.tenant), (Some(5.0), 0.0));
    let listed = block_on(ops.list_tenants(&first_page())).expect("tenants");
    assert_eq!((listed.items.len(), listed.next), (1, None));
    assert!(
        !block_on(ops.agent(&tenant, "support"))
            .expect("agent")
            .tenant_active
    );
}

#[test]
fn the_expected_version_comes_from_if_match_or_the_loaded_time() {
    let stored = Agent {
        updated_at: 1_764_129_909_000,
        version: 3,
        ..Agent::default()
    };
    assert_eq!(expected_version(Some(3), None, &stored), Ok(3));
    assert_eq!(expected_version(Some(3), Some(1), &stored), Ok(3));
    assert_eq!(
        expected_version(None, Some(1_764_129_909_000), &stored),
        Ok(3)
    );
    assert_eq!(
        expected_version(Some(2), None, &stored),
        Err(ApiError::Stale)
    );
    assert_eq!(
        expected_version(None, Some(1_764_129_908_999), &stored),
        Err(ApiError::Stale)
    );
    assert_eq!(
        expected_version(None, None, &stored),
        Err(ApiError::PreconditionRequired)
    );
}

/// Every page of a listing, `limit` at a time, as ids in order; the last page has no cursor.
fn walk<T>(
    limit: u32,
    list: impl Fn(&Paging) -> Page<T>,
    id: impl Fn(&T) -> String,
) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after = None;
    for _ in 0..100 {
        let page = list(&Paging { limit, after });
        assert!(page.items.len() <= limit as usize);
        ids.extend(page.items.iter().map(&id));
        match page.next {
            Some(next) => after = Some(next),
            None => return ids,
        }
    }
    panic!("the pages did not end");
}

#[test]
fn listings_page_through_the_store_in_order_across_ties() {
    let (store, entropy, policy) = (MemoryStore::new(), Counter(Cell::new(0)), Policy::default());
    let mut ops = management(&store, &entropy, &policy);
    let (tenant, _) = tenant_with_agent(&ops);
    // Agents created in the same millisecond are ordered by id, whatever the order of creation.
    ops.now += 1;
    for id in ["d", "b", "a", "c"] {
        let body = serde_json::from_value(json!({"id": id, "config": {}})).expect("body");
        block_on(ops.create_agent(&tenant, body)).expect("agent");
    }
    ops.now += 1;
    let body = serde_json::from_value(json!({"id": "e", "config": {}})).expect("body");
    block_on(ops.create_agent(&tenant, body)).expect("agent");
    for limit in [1, 2, 3, 6, 7, 50] {
        let ids = walk(
            limit,
            |p| block_on(ops.list_agents(&tenant, p)).expect("agents"),
            |a| a.id.clone(),
        );
        assert_eq!(ids, ["support", "a", "b", "c", "d", "e"], "limit {limit}");
    }

    // Keys: newest first, then by id; each agent has a publishable key, so times repeat.
    let all = block_on(ops.list_keys(
        &tenant,
        &Paging {
            limit: 200,
            after: None,
        },
    ))
    .expect("keys")
    .items;
    let mut expected: Vec<(i64, String)> =
        all.iter().map(|k| (-k.created_at, k.id.clone())).collect();
    expected.sort();
    assert_eq!(expected.len(), 7);
    assert!(
        expected.windows(2).any(|w| w[0].0 == w[1].0),
        "some keys share a time"
    );
    let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();
    for limit in [1, 2, 3, 7, 8] {
        let ids = walk(
            limit,
            |p| block_on(ops.list_keys(&tenant, p)).expect("keys"),
            |k| k.id.clone(),
        );
        assert_eq!(ids, expected, "limit {limit}");
    }

    // Tenants: oldest first, then by id.
    for id in ["t_z", "t_y"] {
        let body = serde_json::from_value(json!({"id": id, "name": id})).expect("body");
        block_on(ops.create_tenant(body)).expect("tenant");
    }
    for limit in [1, 2, 3, 4] {
        let ids = walk(
            limit,
            |p| block_on(ops.list_tenants(p)).expect("tenants"),
            |t| t.id.clone(),
        );
        assert_eq!(
            ids,
            [tenant.clone(), "t_y".into(), "t_z".into()],
            "limit {limit}"
        );
    }
}

#[test]
fn api_keys_carry_a_scope_of_the_tenants_agents() {
    let (store, entropy, policy) = (MemoryStore::new(), Counter(Cell::new(0)), Policy::default());
    let ops = management(&store, &entropy, &policy);
    let (tenant, agent) = tenant_with_agent(&ops);
    let agent = agent.id;
    let body = |v: Value| serde_json::from_value::<NewKey>(v).expect("body");
    let (key, value) = block_on(ops.create_key(
        &tenant,
        body(json!({"kind": "api", "name": "n8n", "agentIds": [agent, agent], "browser": true, "perMinute": 30})),
    ))
    .expect("key");
    assert!(value.starts_with("ak_live_"));
    assert_ne!(key.hash, value, "the key is stored hashed");
    assert!(crate::auth::keys::is_digest(&key.hash));
    assert_eq!(key.scope.agents, Some(vec![agent.clone()]));
    assert!(key.scope.browser);
    assert_eq!(key.scope.per_minute, Some(30));
    let found = block_on(store.keys_by_lookup(&value[..16])).expect("lookup");
    assert_eq!(found[0].0.scope, key.scope);
    // Without agentIds the key reaches every agent.
    let (all, _) = block_on(ops.create_key(&tenant, body(json!({"kind": "api"})))).expect("key");
    assert_eq!(all.scope, KeyScope::default());
    let invalid = |v: Value| match block_on(ops.create_key(&tenant, body(v))) {
        Err(ApiError::Invalid { field, .. }) => field,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(
        invalid(json!({"kind": "api", "agentIds": ["nobody"]})),
        "agentIds"
    );
    assert_eq!(invalid(json!({"kind": "api", "agentIds": []})), "agentIds");
    assert_eq!(
        invalid(json!({"kind": "api", "agentIds": ["no spaces"]})),
        "agentIds"
    );
    assert_eq!(invalid(json!({"kind": "api", "perMinute": 0})), "perMinute");
    assert_eq!(invalid(json!({"kind": "api", "agentId": agent})), "agentId");
    assert_eq!(
        invalid(json!({"kind": "secret", "browser": true})),
        "browser"
    );
    assert_eq!(
        invalid(json!({"kind": "publishable", "agentId": agent, "agentIds": [agent]})),
        "agentIds"
    );
    // Another tenant's agent is no agent of this tenant.
    let other = block_on(
        ops.create_tenant(serde_json::from_value(json!({"name": "Other"})).expect("tenant")),
    )
    .expect("tenant");
    let foreign = block_on(ops.create_key(
        &other.tenant.id,
        body(json!({"kind": "api", "agentIds": [agent]})),
    ));
    assert!(matches!(foreign, Err(ApiError::Invalid { field, .. }) if field == "agentIds"));
}
