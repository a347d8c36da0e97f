use std::cell::Cell;

use futures::executor::block_on;
use serde_json::json;

use super::*;
use crate::agent::context::Role;
use crate::app::management::Entropy;
use crate::auth::keys::KeyKind;
use crate::outbound::Policy;
use crate::store::memory::MemoryStore;
use crate::store::{Agent, ApiKey, MessageStatus, Rating, TenantStatus, TurnStart};

const NOW: i64 = 1_764_000_000_000;

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

fn tenant(store: &MemoryStore, id: &str, created_at: i64, retention_days: Option<u32>) {
    let tenant = Tenant {
        id: id.into(),
        name: id.into(),
        status: TenantStatus::Active,
        monthly_spend_cap: None,
        retention_days,
        created_at,
    };
    let key = ApiKey {
        id: format!("key_{id}"),
        tenant_id: id.into(),
        agent_id: None,
        kind: KeyKind::Secret,
        name: String::new(),
        lookup: format!("sk_live_{id}"),
        hash: "0".repeat(64),
        masked: String::new(),
        created_at,
        revoked_at: None,
        scope: Default::default(),
    };
    block_on(store.create_tenant(&tenant, "i", "s", &key)).expect("tenant");
    let agent = Agent {
        id: format!("agent_{id}"),
        tenant_id: id.into(),
        ..Agent::default()
    };
    assert!(block_on(store.tenant_scope(id).create_agent(&agent)).expect("agent"));
}

fn message(id: &str, conversation: &str, tenant: &str, role: Role, at: i64) -> StoredMessage {
    StoredMessage {
        id: id.into(),
        conversation_id: conversation.into(),
        tenant_id: tenant.into(),
        seq: 0,
        role,
        parts: vec![json!({"type": "text", "text": id})],
        status: MessageStatus::Complete,
        model: None,
        finish_reason: None,
        usage: Default::default(),
        error: None,
        feedback: None,
        created_at: at,
        timing: (role == Role::Assistant).then(|| r#"{"totalMs":5}"#.to_owned()),
    }
}

/// A conversation of `visitor` last active at `at`: a question and an answer rated up.
fn chat(store: &MemoryStore, tenant: &str, id: &str, visitor: &str, at: i64) {
    let agent = format!("agent_{tenant}");
    let conversation = Conversation {
        id: id.into(),
        tenant_id: tenant.into(),
        agent_id: agent.clone(),
        visitor_id: Some(visitor.into()),
        created_at: at,
        updated_at: at,
        page_url: None,
        channel: None,
        preview: false,
    };
    let question = message(&format!("{id}-q"), id, tenant, Role::User, at);
    block_on(store.start_turn(&TurnStart {
        conversation,
        create: true,
        replace_after: None,
        user_message: Some(question),
        answer_id: None,
    }))
    .expect("turn");
    let answer = message(&format!("{id}-a"), id, tenant, Role::Assistant, at);
    block_on(store.append_answer(&answer, &agent, "2026-01-01")).expect("answer");
    let rated = block_on(store.tenant_scope(tenant).set_feedback(
        &agent,
        id,
        &format!("{id}-a"),
        Some(Rating::Up),
        at,
    ))
    .expect("rated");
    assert!(rated);
}

fn conversation_ids(store: &MemoryStore, tenant: &str) -> Vec<String> {
    let mut ids: Vec<String> = block_on(
        store
            .tenant_scope(tenant)
            .conversations(&Default::default(), 1000),
    )
    .expect("list")
    .into_iter()
    .map(|(c, _)| c.id)
    .collect();
    ids.sort();
    ids
}

#[test]
fn retention_is_a_whole_number_of_days_within_bounds_or_null() {
    assert_eq!(parse_retention(&json!(null)).expect("null"), None);
    assert_eq!(parse_retention(&json!(1)).expect("1"), Some(1));
    assert_eq!(parse_retention(&json!(3650)).expect("max"), Some(3650));
    for bad in [
        json!(0),
        json!(3651),
        json!(-5),
        json!(1.5),
        json!("30"),
        json!(true),
        json!(u64::MAX),
    ] {
        let e = parse_retention(&bad).expect_err("refused");
        assert!(
            matches!(&e, ApiError::Invalid { field, .. } if field == "retentionDays"),
            "{bad}: {e:?}"
        );
    }
}

#[test]
fn the_cutoff_is_exactly_the_retention_before_now() {
    assert_eq!(cutoff(NOW, 1), NOW - 86_400_000);
    assert_eq!(cutoff(NOW, 30), NOW - 30 * 86_400_000);
    assert_eq!(cutoff(0, MAX_RETENTION_DAYS), -3650 * 86_400_000);
    assert_eq!(cutoff(i64::MIN + 1, 10), i64::MIN, "saturates, never wraps");
}

#[test]
fn a_runs_calls_are_shared_evenly_and_never_exceed_the_budget() {
    // Every tenant's share, when none finishes early.
    let plan = |budget: u32, tenants: usize| -> Vec<u32> {
        let mut left = budget;
        (0..tenants)
            .map(|i| {
                let share = calls_for_next(left, tenants - i);
                left -= share;
                share
            })
            .collect()
    };
    assert_eq!(plan(40, 20), vec![2; 20]);
    assert_eq!(plan(40, 3), vec![14, 13, 13]);
    assert_eq!(plan(3, 5), vec![1, 1, 1, 0, 0]);
    assert_eq!(plan(0, 2), vec![0, 0]);
    for budget in 0..60 {
        for tenants in 1..30 {
            let shares = plan(budget, tenants);
            assert_eq!(shares.iter().sum::<u32>(), budget, "{budget}/{tenants}");
            let most = shares.iter().max().copied().unwrap_or(0);
            let least = shares.iter().min().copied().unwrap_or(0);
            assert!(most - least <= 1, "{budget}/{tenants}: {shares:?}");
        }
    }
    // Calls a tenant that finished early left over go to the ones after it.
    assert_eq!(calls_for_next(39, 2), 20);
    assert_eq!(calls_for_next(5, 0), 5, "a last tenant takes what is left");
}

#[test]
fn an_end_user_is_named_by_visitor_id_or_verified_user_id() {
    assert_eq!(end_user(Some("v_abc"), None).expect("visitor"), "v_abc");
    assert_eq!(
        end_user(None, Some("user-42")).expect("user"),
        "u:user-42",
        "verified users' conversations are stored under u:<id>"
    );
    assert_eq!(
        end_user(Some("u:user-42"), None).expect("as stored"),
        "u:user-42"
    );
    for (visitor, user, field) in [
        (None, None, "visitorId"),
        (Some("v"), Some("u"), "userId"),
        (Some(""), None, "visitorId"),
        (Some("a\nb"), None, "visitorId"),
        (None, Some(""), "userId"),
    ] {
        let e = end_user(visitor, user).expect_err("refused");
        assert!(
            matches!(&e, ApiError::Invalid { field: f, .. } if f == field),
            "{visitor:?} {user:?}: {e:?}"
        );
    }
    let long = "x".repeat(400);
    assert!(end_user(Some(&long), None).is_err());
    let body = |v: Value| v.as_object().cloned().expect("object");
    assert_eq!(
        end_user_of_body(&body(json!({"userId": "ann"}))).expect("user"),
        "u:ann"
    );
    assert!(
        matches!(end_user_of_body(&body(json!({"visitorId": 5}))), Err(ApiError::Invalid { field, .. }) if field == "visitorId")
    );
    assert!(
        matches!(end_user_of_body(&body(json!({"visitorId": "v", "all": true}))), Err(ApiError::Invalid { field, .. }) if field == "all")
    );
    assert_eq!(export_limit(None).expect("default"), EXPORT_DEFAULT_PAGE);
    assert_eq!(export_limit(Some("20")).expect("max"), 20);
    assert!(export_limit(Some("21")).is_err());
    assert!(export_limit(Some("0")).is_err());
}

#[test]
fn the_sweep_deletes_expired_conversations_and_keeps_recent_ones_and_other_tenants() {
    let store = MemoryStore::new();
    tenant(&store, "t30", 1, Some(30));
    tenant(&store, "forever", 2, None);
    tenant(&store, "t1", 3, Some(1));
    let day = DAY_MS;
    chat(&store, "t30", "old", "v1", NOW - 31 * day);
    chat(&store, "t30", "edge", "v1", NOW - 30 * day);
    chat(&store, "t30", "recent", "v1", NOW - 29 * day);
    chat(&store, "forever", "ancient", "v1", 0);
    chat(&store, "t1", "yesterday", "v1", NOW - 2 * day);
    chat(&store, "t1", "today", "v1", NOW - 1000);
    let report = block_on(sweep(&store, NOW)).expect("swept");
    assert_eq!(
        report.deleted,
        Deleted {
            conversations: 2,
            messages: 4,
            feedback: 2
        }
    );
    assert_eq!(
        (report.tenants, report.unfinished, report.failed),
        (2, 0, 0)
    );
    assert_eq!(report.calls, 2, "one call each: a batch holds it all");
    // Exactly 30 days of inactivity is not older than 30 days.
    assert_eq!(conversation_ids(&store, "t30"), vec!["edge", "recent"]);
    assert_eq!(conversation_ids(&store, "forever"), vec!["ancient"]);
    assert_eq!(conversation_ids(&store, "t1"), vec!["today"]);
    // Nothing is due any more: a second run makes no calls.
    let again = block_on(sweep(&store, NOW)).expect("swept");
    assert_eq!((again.tenants, again.calls), (0, 0));
}

#[test]
fn a_sweep_does_bounded_work_and_the_next_runs_finish_a_backlog() {
    // Batches of 3 rows: each conversation (2 messages + its row) takes more than one.
    let store = MemoryStore::with_delete_batch(3);
    tenant(&store, "big", 1, Some(1));
    tenant(&store, "small", 2, Some(1));
    for i in 0..60 {
        chat(
            &store,
            "big",
            &format!("b{i:02}"),
            "v1",
            NOW - 10 * DAY_MS + i,
        );
    }
    chat(&store, "small", "s1", "v1", NOW - 10 * DAY_MS);
    let first = block_on(sweep(&store, NOW)).expect("swept");
    assert_eq!(first.calls, SWEEP_CALLS, "no more than a run's calls");
    assert_eq!(store.bulk_delete_calls.get(), SWEEP_CALLS);
    assert_eq!(first.tenants, 2);
    assert_eq!(first.unfinished, 1, "big has more left");
    assert!(
        conversation_ids(&store, "small").is_empty(),
        "small got its share"
    );
    let left = conversation_ids(&store, "big").len();
    assert!(left > 0 && left < 60, "{left}");
    let mut runs = 1;
    while !conversation_ids(&store, "big").is_empty() {
        let report = block_on(sweep(&store, NOW)).expect("swept");
        assert!(report.calls <= SWEEP_CALLS);
        runs += 1;
        assert!(runs < 20, "the backlog shrinks every run");
    }
    assert!(runs > 1);
}

#[test]
fn the_sweep_takes_on_at_most_a_runs_tenants_oldest_first() {
    let store = MemoryStore::new();
    for i in 0..(SWEEP_TENANTS + 5) {
        let id = format!("t{i:02}");
        tenant(&store, &id, i64::from(i), Some(7));
        chat(&store, &id, &format!("c{i:02}"), "v1", 0);
    }
    let first = block_on(sweep(&store, NOW)).expect("swept");
    assert_eq!(first.tenants, SWEEP_TENANTS);
    assert!(conversation_ids(&store, "t00").is_empty());
    assert_eq!(conversation_ids(&store, "t24"), vec!["c24"], "waits a run");
    let second = block_on(sweep(&store, NOW)).expect("swept");
    assert_eq!(second.tenants, 5);
    assert!(conversation_ids(&store, "t24").is_empty());
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
        now: NOW,
    }
}

#[test]
fn a_tenant_sets_and_clears_its_retention() {
    let (store, entropy, policy) = (MemoryStore::new(), Counter(Cell::new(0)), Policy::default());
    let ops = management(&store, &entropy, &policy);
    tenant(&store, "t1", 0, None);
    let body = |v: Value| v.as_object().cloned().expect("object");
    let (saved, _) =
        block_on(ops.set_retention("t1", &body(json!({"retentionDays": 90})))).expect("saved");
    assert_eq!(saved.retention_days, Some(90));
    assert_eq!(
        block_on(store.tenant("t1"))
            .expect("read")
            .and_then(|t| t.retention_days),
        Some(90)
    );
    for (bad, field) in [
        (json!({}), "retentionDays"),
        (json!({"retentionDays": 0}), "retentionDays"),
        (json!({"retentionDays": 30, "name": "x"}), "name"),
        (json!({"status": "active"}), "status"),
    ] {
        let e = block_on(ops.set_retention("t1", &body(bad.clone()))).expect_err("refused");
        assert!(
            matches!(&e, ApiError::Invalid { field: f, .. } if f == field),
            "{bad}: {e:?}"
        );
    }
    let (cleared, _) =
        block_on(ops.set_retention("t1", &body(json!({"retentionDays": null})))).expect("saved");
    assert_eq!(cleared.retention_days, None);
    assert!(matches!(
        block_on(ops.set_retention("nobody", &body(json!({"retentionDays": 5})))),
        Err(ApiError::NotFound(_))
    ));
}

#[test]
fn erase_deletes_one_end_users_conversations_of_one_tenant_with_counts() {
    let store = MemoryStore::with_delete_batch(3);
    let (entropy, policy) = (Counter(Cell::new(0)), Policy::default());
    let ops = management(&store, &entropy, &policy);
    tenant(&store, "t1", 0, None);
    tenant(&store, "t2", 1, None);
    for i in 0..4 {
        chat(&store, "t1", &format!("ann{i}"), "u:ann", NOW - i);
    }
    chat(&store, "t1", "bob", "v_bob", NOW);
    chat(&store, "t2", "ann-elsewhere", "u:ann", NOW);
    let erased = block_on(ops.erase_end_user("t1", "u:ann")).expect("erased");
    assert_eq!(
        erased,
        Erased {
            deleted: Deleted {
                conversations: 4,
                messages: 8,
                feedback: 4
            },
            complete: true
        }
    );
    assert!(store.bulk_delete_calls.get() > 1, "in batches");
    assert_eq!(conversation_ids(&store, "t1"), vec!["bob"]);
    assert_eq!(conversation_ids(&store, "t2"), vec!["ann-elsewhere"]);
    let nothing = block_on(ops.erase_end_user("t1", "u:ann")).expect("erased");
    assert_eq!(nothing.deleted, Deleted::default());
    assert!(nothing.complete);
}

#[test]
fn erase_stops_after_a_requests_batches_and_says_so() {
    let store = MemoryStore::with_delete_batch(1);
    let (entropy, policy) = (Counter(Cell::new(0)), Policy::default());
    let ops = management(&store, &entropy, &policy);
    tenant(&store, "t1", 0, None);
    for i in 0..10 {
        chat(&store, "t1", &format!("c{i}"), "v_many", NOW - i);
    }
    // 10 conversations × (2 messages + the row) = 30 rows, one a call: more than ERASE_CALLS.
    let first = block_on(ops.erase_end_user("t1", "v_many")).expect("erased");
    assert!(!first.complete);
    assert_eq!(store.bulk_delete_calls.get(), ERASE_CALLS);
    let second = block_on(ops.erase_end_user("t1", "v_many")).expect("erased");
    assert!(second.complete);
    assert_eq!(
        first.deleted.conversations + second.deleted.conversations,
        10
    );
    assert_eq!(first.deleted.messages + second.deleted.messages, 20);
    assert!(conversation_ids(&store, "t1").is_empty());
}

#[test]
fn export_pages_one_end_users_conversations_with_messages_in_one_tenant() {
    let store = MemoryStore::new();
    let (entropy, policy) = (Counter(Cell::new(0)), Policy::default());
    let ops = management(&store, &entropy, &policy);
    tenant(&store, "t1", 0, None);
    tenant(&store, "t2", 1, None);
    for i in 0..5 {
        chat(&store, "t1", &format!("c{i}"), "u:ann", NOW - 100 + i);
    }
    chat(&store, "t1", "other", "v_bob", NOW);
    chat(&store, "t2", "elsewhere", "u:ann", NOW);
    let mut seen = Vec::new();
    let mut after = None;
    for _ in 0..5 {
        let page = block_on(ops.export_end_user(
            "t1",
            "u:ann",
            &Paging {
                limit: 2,
                after: after.clone(),
            },
        ))
        .expect("page");
        assert!(page.items.len() <= 2);
        for (conversation, messages) in &page.items {
            assert_eq!(conversation.visitor_id.as_deref(), Some("u:ann"));
            assert_eq!(messages.len(), 2);
            assert_eq!(messages[1].feedback, Some(Rating::Up));
            assert!(messages[1].timing.is_some());
            seen.push(conversation.id.clone());
        }
        after = page.next;
        if after.is_none() {
            break;
        }
    }
    assert_eq!(
        seen,
        vec!["c4", "c3", "c2", "c1", "c0"],
        "newest first, no repeats"
    );
    let capped = block_on(ops.export_end_user(
        "t1",
        "u:ann",
        &Paging {
            limit: 500,
            after: None,
        },
    ))
    .expect("page");
    assert_eq!(capped.items.len(), 5);
    let none = block_on(ops.export_end_user(
        "t2",
        "v_bob",
        &Paging {
            limit: 10,
            after: None,
        },
    ))
    .expect("page");
    assert!(none.items.is_empty() && none.next.is_none());
}
