//! The D1 schema and `store::rows` agree: every SQL statement of `rows` compiles against the
//! migrated schema in real SQLite (what D1 runs), and every column a SELECT returns is a field
//! its row type reads, so a renamed column or a typo fails here rather than in production.

use std::collections::BTreeSet;

use serde::de::{self, Deserialize, Deserializer, Visitor};

use super::convex_wire::TurnContextRow;
use super::rows::{self, *};

/// The fields a row type reads (`rows::probe` records every lookup).
fn fields_of<T: FromRow>() -> BTreeSet<String> {
    rows::probe::fields_of::<T>().into_iter().collect()
}

/// The fields a derived `Deserialize` names when it asks for a struct.
fn serde_fields_of<'de, T: Deserialize<'de>>() -> BTreeSet<String> {
    struct Probe;
    impl<'de> Deserializer<'de> for Probe {
        type Error = serde_json::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom(fields.join(",")))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    match T::deserialize(Probe) {
        Ok(_) => BTreeSet::new(),
        Err(e) => e.to_string().split(',').map(str::to_owned).collect(),
    }
}

/// Every statement of `rows`, by the name it has there.
fn statements() -> Vec<(&'static str, String)> {
    let s = |sql: &str| sql.to_owned();
    vec![
        ("select_agent", rows::select_agent()),
        ("select_tenant_agents", rows::select_tenant_agents()),
        ("INSERT_AGENT", s(INSERT_AGENT)),
        ("UPDATE_AGENT", s(UPDATE_AGENT)),
        ("DELETE_AGENT", s(DELETE_AGENT)),
        ("DISABLE_AGENT", s(DISABLE_AGENT)),
        ("DELETE_AGENT_MESSAGES", s(DELETE_AGENT_MESSAGES)),
        ("DELETE_AGENT_CONVERSATIONS", s(DELETE_AGENT_CONVERSATIONS)),
        ("INSERT_TENANT", s(INSERT_TENANT)),
        ("select_tenants", rows::select_tenants()),
        ("select_tenant", rows::select_tenant()),
        ("UPDATE_TENANT", s(UPDATE_TENANT)),
        ("SET_IDENTITY_SECRET", s(SET_IDENTITY_SECRET)),
        ("SET_SIGNING_SECRET", s(SET_SIGNING_SECRET)),
        ("ADD_USAGE", s(ADD_USAGE)),
        ("ADD_MONTHLY_USAGE", s(ADD_MONTHLY_USAGE)),
        ("ADD_EMBEDDING_USAGE", s(ADD_EMBEDDING_USAGE)),
        (
            "ADD_MONTHLY_EMBEDDING_USAGE",
            s(ADD_MONTHLY_EMBEDDING_USAGE),
        ),
        ("TURN_SPEND", s(TURN_SPEND)),
        ("TURN_CONVERSATION", s(TURN_CONVERSATION)),
        ("TURN_RESENT", s(TURN_RESENT)),
        ("TURN_WINDOW", s(TURN_WINDOW)),
        ("EAGER_CONVERSATION", s(EAGER_CONVERSATION)),
        ("EAGER_MESSAGE", s(EAGER_MESSAGE)),
        ("EAGER_TOUCH", s(EAGER_TOUCH)),
        ("SELECT_USAGE", s(SELECT_USAGE)),
        ("select_keys_by_lookup", rows::select_keys_by_lookup()),
        ("select_tenant_keys", rows::select_tenant_keys()),
        ("INSERT_KEY", s(INSERT_KEY)),
        ("REVOKE_KEY", s(REVOKE_KEY)),
        ("select_conversation", rows::select_conversation()),
        ("select_conversations", rows::select_conversations()),
        (
            "select_conversations_short",
            rows::select_conversations_short(),
        ),
        (
            "DELETE_CONVERSATION_MESSAGES",
            s(DELETE_CONVERSATION_MESSAGES),
        ),
        ("DELETE_CONVERSATION", s(DELETE_CONVERSATION)),
        ("SELECT_FEEDBACK", s(SELECT_FEEDBACK)),
        ("INSERT_CONVERSATION", s(INSERT_CONVERSATION)),
        ("SELECT_MESSAGES", s(SELECT_MESSAGES)),
        ("SET_FEEDBACK", s(SET_FEEDBACK)),
        ("INSERT_MESSAGE", s(INSERT_MESSAGE)),
        ("TOUCH_CONVERSATION", s(TOUCH_CONVERSATION)),
        ("DELETE_MESSAGES_AFTER", s(DELETE_MESSAGES_AFTER)),
        ("SELECT_INTEGRATION", s(SELECT_INTEGRATION)),
        ("PUT_INTEGRATION", s(PUT_INTEGRATION)),
        ("DELETE_INTEGRATION", s(DELETE_INTEGRATION)),
        ("SELECT_CALL", s(SELECT_CALL)),
        ("SAVE_CALL", s(SAVE_CALL)),
        ("select_retention_due", rows::select_retention_due()),
        ("delete_inactive_messages", rows::delete_inactive_messages()),
        (
            "delete_inactive_conversations",
            rows::delete_inactive_conversations(),
        ),
        ("delete_visitor_messages", rows::delete_visitor_messages()),
        (
            "delete_visitor_conversations",
            rows::delete_visitor_conversations(),
        ),
        (
            "select_visitor_conversations",
            rows::select_visitor_conversations(),
        ),
        ("select_visitor_messages", rows::select_visitor_messages()),
    ]
}

/// The names `rows.rs` defines statements under: `pub const NAME: &str` and
/// `pub fn name() -> String`.
fn defined_statements() -> BTreeSet<String> {
    include_str!("rows.rs")
        .lines()
        .filter_map(|line| {
            if let Some(rest) = line.strip_prefix("pub const ") {
                let (name, ty) = rest.split_once(':')?;
                return ty
                    .trim_start()
                    .starts_with("&str")
                    .then(|| name.trim().to_owned());
            }
            let rest = line.strip_prefix("pub fn ")?;
            let (name, tail) = rest.split_once('(')?;
            tail.starts_with(") -> String").then(|| name.to_owned())
        })
        .collect()
}

/// A database migrated exactly as `migrations/` says, in order.
fn migrated() -> rusqlite::Connection {
    let db = rusqlite::Connection::open_in_memory().expect("sqlite");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("migrations/")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no migrations in {}", dir.display());
    for file in files {
        let sql = std::fs::read_to_string(&file).expect("readable migration");
        db.execute_batch(&sql)
            .unwrap_or_else(|e| panic!("{} does not apply: {e}", file.display()));
    }
    db
}

#[test]
fn every_statement_is_listed_here() {
    let listed: BTreeSet<String> = statements().iter().map(|(n, _)| n.to_string()).collect();
    let defined = defined_statements();
    let missing: Vec<_> = defined.difference(&listed).collect();
    // AGENT_COLUMNS and friends are fragments, not statements.
    let missing: Vec<_> = missing
        .into_iter()
        .filter(|n| !n.ends_with("_COLUMNS"))
        .collect();
    assert!(
        missing.is_empty(),
        "rows.rs statements not checked here: {missing:?}"
    );
    assert!(listed.len() >= 30, "only {} statements found", listed.len());
}

#[test]
fn every_statement_compiles_against_the_migrated_schema() {
    let db = migrated();
    for (name, sql) in statements() {
        db.prepare(&sql)
            .unwrap_or_else(|e| panic!("{name} does not fit the schema: {e}\n{sql}"));
    }
}

#[test]
fn every_selected_column_is_read_by_its_row_type() {
    let db = migrated();
    let checks: Vec<(&str, String, BTreeSet<String>)> = vec![
        (
            "select_agent",
            rows::select_agent(),
            fields_of::<AgentRow>(),
        ),
        (
            "select_tenant_agents",
            rows::select_tenant_agents(),
            fields_of::<AgentRow>(),
        ),
        (
            "select_tenants",
            rows::select_tenants(),
            fields_of::<TenantRow>(),
        ),
        (
            "select_tenant",
            rows::select_tenant(),
            fields_of::<TenantRow>(),
        ),
        (
            "select_keys_by_lookup",
            rows::select_keys_by_lookup(),
            fields_of::<KeyRow>(),
        ),
        (
            "select_tenant_keys",
            rows::select_tenant_keys(),
            fields_of::<KeyRow>(),
        ),
        (
            "select_conversation",
            rows::select_conversation(),
            fields_of::<ConversationRow>(),
        ),
        (
            "select_conversations",
            rows::select_conversations(),
            fields_of::<ConversationRow>(),
        ),
        (
            "select_conversations_short",
            rows::select_conversations_short(),
            fields_of::<ConversationRow>(),
        ),
        (
            "TURN_CONVERSATION",
            TURN_CONVERSATION.to_owned(),
            fields_of::<ConversationRow>(),
        ),
        (
            "SELECT_MESSAGES",
            SELECT_MESSAGES.to_owned(),
            fields_of::<MessageRow>(),
        ),
        (
            "TURN_WINDOW",
            TURN_WINDOW.to_owned(),
            fields_of::<MessageRow>(),
        ),
        (
            "TURN_RESENT",
            TURN_RESENT.to_owned(),
            fields_of::<ResentRow>(),
        ),
        ("TURN_SPEND", TURN_SPEND.to_owned(), fields_of::<SpendRow>()),
        (
            "SELECT_USAGE",
            SELECT_USAGE.to_owned(),
            fields_of::<UsageRow>(),
        ),
        (
            "SELECT_FEEDBACK",
            SELECT_FEEDBACK.to_owned(),
            fields_of::<FeedbackRow>(),
        ),
        (
            "SELECT_INTEGRATION",
            SELECT_INTEGRATION.to_owned(),
            fields_of::<IntegrationRow>(),
        ),
        (
            "SELECT_CALL",
            SELECT_CALL.to_owned(),
            fields_of::<CallRow>(),
        ),
        (
            "select_retention_due",
            rows::select_retention_due(),
            fields_of::<TenantRow>(),
        ),
        (
            "select_visitor_conversations",
            rows::select_visitor_conversations(),
            fields_of::<ConversationRow>(),
        ),
        (
            "select_visitor_messages",
            rows::select_visitor_messages(),
            fields_of::<MessageRow>(),
        ),
    ];
    for (name, sql, fields) in checks {
        assert!(!fields.is_empty(), "{name}: its row type names no fields");
        let statement = db.prepare(&sql).expect("compiles");
        let unread: Vec<&str> = statement
            .column_names()
            .into_iter()
            .filter(|column| !fields.contains(*column))
            .collect();
        assert!(
            unread.is_empty(),
            "{name} returns columns its row type never reads: {unread:?}"
        );
    }
    // The probe itself can fail: a row type that reads a field no statement returns is seen.
    assert!(serde_fields_of::<TurnContextRow>().contains("spend"));
}

#[test]
fn conversation_search_is_answered_from_the_index() {
    let db = migrated();
    let plan: Vec<String> = db
        .prepare(&format!(
            "EXPLAIN QUERY PLAN {}",
            rows::select_conversations()
        ))
        .expect("compiles")
        .query_map(
            rusqlite::params![
                "t1",
                None::<String>,
                None::<i64>,
                None::<String>,
                "order",
                50,
                None::<String>,
                None::<String>,
                None::<String>,
                None::<i64>,
                "\"order\""
            ],
            |row| row.get::<_, String>(3),
        )
        .expect("plans")
        .filter_map(Result::ok)
        .collect();
    let plan = plan.join("\n");
    // FTS5 names the constraints it answers in the index string: `M` is the MATCH.
    let fts = plan
        .lines()
        .find(|line| line.contains("VIRTUAL TABLE INDEX"))
        .unwrap_or_default();
    assert!(
        fts.rsplit(':').next().is_some_and(|idx| idx.contains('M')),
        "the search does not use the FTS index:\n{plan}"
    );
    // The messages table is read per listed conversation (its summary), never scanned whole.
    assert!(
        !plan.contains("SCAN m\n") && !plan.ends_with("SCAN m"),
        "{plan}"
    );
}

/// The query plan of `sql` with `params`, one line per step.
fn plan_of(db: &rusqlite::Connection, sql: &str, params: impl rusqlite::Params) -> String {
    db.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .expect("compiles")
        .query_map(params, |row| row.get::<_, String>(3))
        .expect("plans")
        .filter_map(Result::ok)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn retention_and_erase_read_through_indexes() {
    let db = migrated();
    // The sweep's work list: one seek per tenant into its oldest conversations.
    let due = plan_of(
        &db,
        &rows::select_retention_due(),
        rusqlite::params![0, 0, "", 10],
    );
    assert!(
        due.contains("conversations_by_tenant_updated"),
        "the due check does not use the index:\n{due}"
    );
    for (name, sql) in [
        ("inactive messages", rows::delete_inactive_messages()),
        (
            "inactive conversations",
            rows::delete_inactive_conversations(),
        ),
    ] {
        let plan = plan_of(&db, &sql, rusqlite::params!["t1", 5, 1000]);
        assert!(
            plan.contains("conversations_by_tenant_updated") && !plan.contains("SCAN c"),
            "{name}:\n{plan}"
        );
    }
    for (name, sql) in [
        ("visitor messages", rows::delete_visitor_messages()),
        (
            "visitor conversations",
            rows::delete_visitor_conversations(),
        ),
        ("visitor page", rows::select_visitor_conversations()),
    ] {
        let plan = if name == "visitor page" {
            plan_of(
                &db,
                &sql,
                rusqlite::params!["t1", "v1", None::<i64>, None::<String>, 10],
            )
        } else {
            plan_of(&db, &sql, rusqlite::params!["t1", "v1", 1000])
        };
        assert!(
            plan.contains("conversations_by_visitor") && !plan.contains("SCAN c"),
            "{name}:\n{plan}"
        );
    }
}

#[test]
fn bulk_deletes_remove_a_batch_of_messages_then_the_emptied_conversations() {
    let db = migrated();
    db.execute_batch(
        "INSERT INTO tenants (id, name, created_at, retention_days) VALUES ('t1', 't1', 0, 30), ('t2', 't2', 0, NULL);
         INSERT INTO agents (id, tenant_id, config, created_at, updated_at) VALUES ('a1', 't1', '{}', 0, 0), ('b1', 't2', '{}', 0, 0);
         INSERT INTO conversations (id, tenant_id, agent_id, visitor_id, created_at, updated_at) VALUES
           ('old', 't1', 'a1', 'v1', 0, 10), ('new', 't1', 'a1', 'u:ann', 0, 100), ('other', 't2', 'b1', 'v1', 0, 10);
         INSERT INTO messages (id, conversation_id, tenant_id, seq, role, parts, created_at, feedback) VALUES
           ('m1', 'old', 't1', 1, 'user', '[]', 0, NULL), ('m2', 'old', 't1', 2, 'assistant', '[]', 0, 'up'),
           ('m3', 'old', 't1', 3, 'user', '[]', 0, NULL), ('n1', 'new', 't1', 1, 'user', '[]', 0, NULL),
           ('o1', 'other', 't2', 1, 'user', '[]', 0, NULL);
         INSERT INTO calls (conversation_id, tenant_id, agent_id, call_sid, caller, callee, started_at) VALUES
           ('old', 't1', 'a1', 'CA1', '+1', '+2', 0);",
    )
    .expect("seeded");
    let run = |sql: &str, params: &[&dyn rusqlite::ToSql]| -> Vec<Option<String>> {
        let mut statement = db.prepare(sql).expect("compiles");
        let rows: Vec<Option<String>> = statement
            .query_map(params, |row| row.get::<_, Option<String>>(0))
            .expect("runs")
            .filter_map(Result::ok)
            .collect();
        rows
    };
    // Due: t1 holds a conversation last active at 10, before 40 days - 30 days.
    let day = 86_400_000_i64;
    let due = run(&rows::select_retention_due(), &[&(40 * day), &-1, &"", &10]);
    assert_eq!(due, vec![Some("t1".to_owned())]);
    assert!(run(&rows::select_retention_due(), &[&(20 * day), &-1, &"", &10]).is_empty());
    // A batch of two: two of old's three messages, and no conversation is empty yet.
    let messages = run(&rows::delete_inactive_messages(), &[&"t1", &50, &2]);
    assert_eq!(messages.len(), 2);
    assert!(run(&rows::delete_inactive_conversations(), &[&"t1", &50, &2]).is_empty());
    let messages = run(&rows::delete_inactive_messages(), &[&"t1", &50, &2]);
    assert_eq!(messages.len(), 1);
    let gone = run(&rows::delete_inactive_conversations(), &[&"t1", &50, &2]);
    assert_eq!(gone, vec![Some("old".to_owned())]);
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).expect("counts") };
    assert_eq!(
        count("SELECT count(*) FROM calls"),
        0,
        "the call record follows"
    );
    assert_eq!(count("SELECT count(*) FROM conversations"), 2);
    assert_eq!(
        count("SELECT count(*) FROM message_search"),
        2,
        "the search index follows"
    );
    // The verified user's conversation, by visitor id; t2's v1 is another tenant's.
    assert_eq!(
        run(&rows::delete_visitor_messages(), &[&"t1", &"u:ann", &1000]).len(),
        1
    );
    assert_eq!(
        run(
            &rows::delete_visitor_conversations(),
            &[&"t1", &"u:ann", &1000]
        ),
        vec![Some("new".to_owned())]
    );
    assert!(run(&rows::delete_visitor_messages(), &[&"t1", &"v1", &1000]).is_empty());
    assert_eq!(
        count("SELECT count(*) FROM conversations WHERE tenant_id = 't2'"),
        1
    );
    assert_eq!(
        count("SELECT count(*) FROM messages WHERE tenant_id = 't2'"),
        1
    );
}

#[test]
fn a_turns_embedding_tokens_go_to_the_knowledge_line_without_counting_a_message() {
    let db = migrated();
    let usage = crate::llm::Usage {
        input_tokens: 50,
        output_tokens: 5,
        cost: 0.0,
        embedding_tokens: 7,
    };
    for _ in 0..2 {
        let turn = bind(usage_params("t1", "a1", "2026-03-01", &usage, None));
        let tokens = bind(embedding_usage_params("t1", "2026-03-01", &usage, None));
        for (sql, params) in [
            (ADD_USAGE, &turn),
            (ADD_MONTHLY_USAGE, &turn),
            (ADD_EMBEDDING_USAGE, &tokens),
            (ADD_MONTHLY_EMBEDDING_USAGE, &tokens),
        ] {
            db.execute(sql, rusqlite::params_from_iter(params.iter()))
                .expect("usage");
        }
    }
    let line = |sql: &str| -> (i64, i64) {
        db.query_row(sql, [], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect(sql)
    };
    assert_eq!(
        line("SELECT messages, input_tokens FROM usage_daily WHERE agent_id = 'a1'"),
        (2, 100)
    );
    assert_eq!(
        line("SELECT messages, input_tokens FROM usage_daily WHERE agent_id = 'knowledge:embeddings'"),
        (0, 14)
    );
    assert_eq!(
        line("SELECT messages, input_tokens FROM usage_monthly WHERE agent_id = 'knowledge:embeddings'"),
        (0, 14)
    );
    assert_eq!(
        line("SELECT messages, input_tokens FROM usage_monthly WHERE agent_id = ''"),
        (2, 114),
        "the tenant's total has both, and each turn once"
    );
}

/// Binds `rows` parameters as rusqlite values.
fn bind(params: Vec<Param>) -> Vec<rusqlite::types::Value> {
    params
        .into_iter()
        .map(|p| match p {
            Param::Null => rusqlite::types::Value::Null,
            Param::Text(t) => rusqlite::types::Value::Text(t),
            Param::Int(i) => rusqlite::types::Value::Integer(i),
            Param::Real(r) => rusqlite::types::Value::Real(r),
        })
        .collect()
}

/// Fills `db` (migrated, with tenants and agents) with what `case` says.
fn hold(db: &rusqlite::Connection, case: &crate::app::turn::eager_cases::Case) {
    use crate::app::turn::eager_cases::MONTH;
    if let Some(c) = case.conversation() {
        db.execute(
            INSERT_CONVERSATION,
            rusqlite::params_from_iter(bind(conversation_params(&c))),
        )
        .expect("conversation");
        for (seq, id, role) in case.messages() {
            db.execute(
                "INSERT INTO messages (id, conversation_id, tenant_id, seq, role, parts, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, '[]', 0)",
                rusqlite::params![id, c.id, c.tenant_id, seq, role.as_str()],
            )
            .expect("message");
        }
    }
    for (agent, cost) in [("", case.spend.0), ("a1", case.spend.1)] {
        // No row and a row of 0 read the same.
        if cost > 0.0 || agent.is_empty() {
            db.execute(
                "INSERT INTO usage_monthly (tenant_id, agent_id, month, messages, cost) \
                 VALUES ('t1', ?1, ?2, 1, ?3)",
                rusqlite::params![agent, MONTH, cost],
            )
            .expect("usage");
        }
    }
}

/// D1 checks in SQL what `EagerStart::allowed` checks of the reads: the message (and a new
/// conversation) is written exactly when allowed, and nothing is touched otherwise.
#[test]
fn the_eager_statements_write_exactly_what_the_rule_allows() {
    use crate::app::turn::{eager_cases, eager_start};
    use proptest::test_runner::{Config, TestCaseError, TestRunner};
    let db = migrated();
    db.execute_batch(
        "PRAGMA foreign_keys = ON;
         INSERT INTO tenants (id, name, created_at) VALUES ('t1', 't1', 0), ('t2', 't2', 0);
         INSERT INTO agents (id, tenant_id, config, created_at, updated_at)
           VALUES ('a1', 't1', '{}', 0, 0), ('a2', 't1', '{}', 0, 0), ('a3', 't2', '{}', 0, 0);",
    )
    .expect("tenants and agents");
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).expect(sql) };
    let state = || {
        (
            count("SELECT COUNT(*) FROM conversations"),
            count("SELECT COUNT(*) FROM messages"),
            count("SELECT COALESCE(SUM(updated_at), 0) FROM conversations"),
        )
    };
    let mut runner = TestRunner::new(Config {
        cases: 512,
        ..Config::default()
    });
    let check = |case: eager_cases::Case| -> Result<(), TestCaseError> {
        let eager = eager_start(&case.agent(), &case.request());
        let allowed = eager.allowed(&case.context());
        let before = state();
        let [conversation, message, touch] = eager_params(&eager, eager_cases::MONTH);
        let mut changed = Vec::new();
        for (sql, params) in [
            (EAGER_CONVERSATION, conversation),
            (EAGER_MESSAGE, message),
            (EAGER_TOUCH, touch),
        ] {
            changed.push(
                db.execute(sql, rusqlite::params_from_iter(bind(params)))
                    .expect(sql),
            );
        }
        proptest::prop_assert_eq!(changed[1] == 1, allowed, "changes {:?}", changed);
        if !allowed {
            proptest::prop_assert_eq!(before, state(), "a refused start writes nothing");
            return Ok(());
        }
        let (seq, created, updated): (i64, i64, i64) = db
            .query_row(
                "SELECT m.seq, m.created_at, c.updated_at FROM messages m \
                 JOIN conversations c ON c.id = m.conversation_id \
                 WHERE c.id = ?1 AND m.id = ?2 AND c.tenant_id = 't1' AND c.agent_id = 'a1' \
                 AND c.visitor_id = 'v1'",
                rusqlite::params![eager.conversation.id, eager.message.id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .expect("the visitor's conversation holds the message");
        proptest::prop_assert_eq!(seq, case.count + 1);
        proptest::prop_assert_eq!((created, updated), (1_000, 1_000));
        proptest::prop_assert_eq!(changed[0] == 1, case.conversation().is_none());
        Ok(())
    };
    // Each case runs in a transaction rolled back after it, on one migrated database.
    let result = runner.run(&eager_cases::case(), |case| {
        db.execute_batch("BEGIN").expect("begin");
        hold(&db, &case);
        let outcome = check(case);
        db.execute_batch("ROLLBACK").expect("rollback");
        outcome
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
