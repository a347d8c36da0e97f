use std::cell::RefCell;
use std::collections::HashMap;

use futures::executor::block_on;
use serde_json::json;

use super::*;
use crate::store::memory::MemoryStore;

struct Web(HashMap<String, (u16, String)>);

impl Fetcher for Web {
    async fn get(&self, url: &str) -> Fetched {
        self.0
            .get(url)
            .cloned()
            .ok_or_else(|| FetchError::Failed("connection refused".to_owned()))
    }
}

fn web(pages: &[(&str, u16, &str)]) -> Web {
    Web(pages
        .iter()
        .map(|(u, s, b)| (u.to_string(), (*s, b.to_string())))
        .collect())
}

/// Embeds by letters: texts that share words point the same way (enough to test wiring).
struct Letters {
    calls: RefCell<u32>,
    fail: bool,
}

impl Embedder for Letters {
    fn enabled(&self) -> bool {
        true
    }
    async fn embed(&self, texts: &[String], _: InputKind) -> Result<(Vec<Vec<f32>>, u64), String> {
        *self.calls.borrow_mut() += 1;
        if self.fail {
            return Err("embeddings endpoint down".into());
        }
        Ok((
            texts
                .iter()
                .map(|t| {
                    let mut v = vec![0.0f32; 26];
                    for c in t.to_lowercase().bytes().filter(u8::is_ascii_lowercase) {
                        v[usize::from(c - b'a')] += 1.0;
                    }
                    v
                })
                .collect(),
            texts.len() as u64 * 3,
        ))
    }
}

struct Off;
impl Embedder for Off {
    fn enabled(&self) -> bool {
        false
    }
    async fn embed(&self, _: &[String], _: InputKind) -> Result<(Vec<Vec<f32>>, u64), String> {
        Err("off".into())
    }
}

fn policy() -> Policy {
    Policy::from_allowlist("")
}

fn ids() -> impl FnMut() -> String {
    let mut n = 0;
    move || {
        n += 1;
        format!("chk_{n}")
    }
}

fn setup(store: &MemoryStore, tenant: &str, base: &str) {
    block_on(store.tenant_scope(tenant).create_base(&KnowledgeBase {
        id: base.into(),
        tenant_id: tenant.into(),
        name: "Help".into(),
        created_at: 1,
        updated_at: 1,
    }))
    .expect("base");
}

fn add(store: &MemoryStore, tenant: &str, base: &str, id: &str, body: NewSource) -> Source {
    let source = new_source(tenant, base, id.into(), body, 10);
    block_on(store.tenant_scope(tenant).create_source(&source)).expect("source");
    source
}

#[test]
fn source_bodies_are_checked_by_type() {
    let p = policy();
    assert_eq!(
        parse_source(&json!({"type": "text", "title": "T", "text": "body"}), &p),
        Ok(NewSource::Text {
            title: "T".into(),
            text: "body".into()
        })
    );
    assert!(matches!(
        parse_source(&json!({"type": "qa", "question": "Q?", "answer": "A."}), &p),
        Ok(NewSource::Qa { .. })
    ));
    assert_eq!(
        parse_source(
            &json!({"type": "sitemap", "url": "https://docs.example/sitemap.xml"}),
            &p
        ),
        Ok(NewSource::Sitemap {
            url: "https://docs.example/sitemap.xml".into(),
            max_pages: 50
        })
    );
    let field = |body: serde_json::Value| match parse_source(&body, &p) {
        Err(ApiError::Invalid { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(field(json!({"type": "pdf"})), "type");
    assert_eq!(field(json!({"type": "text", "title": "T"})), "text");
    assert_eq!(
        field(json!({"type": "text", "title": "T", "text": "x", "url": "u"})),
        "url"
    );
    assert_eq!(
        field(json!({"type": "url", "url": "http://127.0.0.1/admin"})),
        "url",
        "SSRF rules apply"
    );
    assert_eq!(
        field(json!({"type": "url", "url": "https://10.0.0.1/"})),
        "url"
    );
    assert_eq!(
        field(json!({"type": "sitemap", "url": "https://a.example/s.xml", "maxPages": 0})),
        "maxPages"
    );
    assert!(parse_source(&json!([1]), &p).is_err());
}

#[test]
fn files_are_read_by_their_kind() {
    assert!(check_file_name("guide.MD").is_ok());
    assert!(check_file_name("x.PDF").is_ok());
    assert!(check_file_name("x.docx").is_ok());
    assert!(check_file_name("x.doc").is_err());
    assert!(check_file_name("noext").is_err());
    assert_eq!(
        file_text(
            "p.csv",
            "sku,name,price\nA-1,\"Desk, oak\",120\n\nB-2,Chair,\n"
        ),
        "sku: A-1; name: Desk, oak; price: 120\n\nsku: B-2; name: Chair\n\n"
    );
    assert_eq!(
        file_text("p.html", "<h1>Hi</h1><p>there</p>"),
        "# Hi\n\nthere"
    );
}

#[test]
fn uploads_are_read_by_content_and_unreadable_ones_become_failed_sources_that_stay_failed() {
    use crate::knowledge::inflate::TestInflate;
    use upload::file_source;
    let read = |name: &str, bytes: &[u8]| block_on(file_source(name, bytes.to_vec(), &TestInflate));
    let page = b"BT /F1 18 Tf 72 700 Td (Returns) Tj /F1 10 Tf 72 650 Td (Within 30 days.) Tj ET";
    let pdf = crate::knowledge::pdf::tests::pdf(
        &[
            (1, "<< /Type /Catalog /Pages 2 0 R >>", None),
            (2, "<< /Type /Pages /Kids [3 0 R] >>", None),
            (3, "<< /Type /Page /Contents 4 0 R >>", None),
            (4, "<< >>", Some(&page[..])),
        ],
        "<< /Root 1 0 R >>",
    );
    assert_eq!(
        read("Guide.PDF", &pdf),
        Ok(NewSource::File {
            name: "Guide.PDF".into(),
            text: "# Returns\n\nWithin 30 days.".into()
        })
    );
    let unreadable = |r: Result<NewSource, ApiError>| match r {
        Ok(NewSource::Unreadable { reason, .. }) => reason,
        other => panic!("{other:?}"),
    };
    assert!(unreadable(read("a.pdf", b"plain words")).contains("not a PDF"));
    assert!(unreadable(read("a.docx", &pdf)).contains("not a DOCX"));
    assert!(unreadable(read("a.pdf", b"%PDF-1.7 cut")).contains("damaged"));
    assert!(
        read("a.txt", &[0xFF, 0xFE]).is_err(),
        "text files stay UTF-8"
    );
    assert!(read("a.exe", b"MZ").is_err());

    let store = MemoryStore::new();
    setup(&store, "t1", "kb_1");
    let body = read("scan.pdf", b"%PDF-1.7 cut").expect("a failed source");
    let failed = add(&store, "t1", "kb_1", "src_f", body);
    assert_eq!(failed.status, SourceStatus::Failed);
    assert!(failed
        .error
        .as_deref()
        .is_some_and(|e| e.contains("damaged")));
    let again = block_on(ingest(&store, &failed, &web(&[]), &Off, &mut ids(), 20));
    assert!(matches!(again, Err(IngestError::Permanent(r)) if r.contains("damaged")));
}

#[test]
fn a_text_source_is_chunked_embedded_and_searchable_then_skipped_when_unchanged() {
    let store = MemoryStore::new();
    setup(&store, "t1", "kb_1");
    let source = add(
        &store,
        "t1",
        "kb_1",
        "src_1",
        NewSource::Text {
            title: "Returns".into(),
            text:
                "# Refunds\nRefunds are paid within five days.\n\n# Shipping\nParcels leave daily."
                    .into(),
        },
    );
    let embedder = Letters {
        calls: RefCell::new(0),
        fail: false,
    };
    let done = block_on(ingest(
        &store,
        &source,
        &web(&[]),
        &embedder,
        &mut ids(),
        20,
    ))
    .expect("ingest");
    assert_eq!(done.chunks, 2);
    assert!(!done.unchanged);
    assert_eq!(done.embedding_tokens, 6);
    let usage = block_on(store.tenant_scope("t1").usage("1970-01-01")).expect("usage");
    assert!(
        usage
            .iter()
            .any(|u| u.agent_id == EMBEDDING_USAGE && u.input_tokens == 6),
        "{usage:?}"
    );
    let stored = block_on(store.tenant_scope("t1").source("src_1"))
        .expect("read")
        .expect("source");
    assert_eq!(
        (stored.status, stored.chunk_count, stored.progress),
        (SourceStatus::Ready, 2, 100)
    );
    let found = block_on(retrieve(
        &store,
        &embedder,
        "t1",
        &["kb_1".into()],
        "how long do refunds take",
        3,
        0.0,
    ))
    .expect("search");
    assert!(found.semantic);
    assert_eq!(found.hits[0].heading, "Refunds");
    assert!(found.hits[0].score > 0.5, "{}", found.hits[0].score);
    // The same text again: nothing is embedded.
    let calls = *embedder.calls.borrow();
    let again = block_on(ingest(
        &store,
        &stored,
        &web(&[]),
        &embedder,
        &mut ids(),
        30,
    ))
    .expect("again");
    assert!(again.unchanged);
    assert_eq!(*embedder.calls.borrow(), calls);
}

#[test]
fn searches_never_cross_tenants_or_bases() {
    let store = MemoryStore::new();
    setup(&store, "t1", "kb_1");
    setup(&store, "t2", "kb_2");
    for (tenant, base, id) in [("t1", "kb_1", "s1"), ("t2", "kb_2", "s2")] {
        let s = add(
            &store,
            tenant,
            base,
            id,
            NewSource::Text {
                title: "Doc".into(),
                text: format!("secret refund policy of {tenant}"),
            },
        );
        block_on(ingest(&store, &s, &web(&[]), &Off, &mut ids(), 20)).expect("ingest");
    }
    let hits = |tenant: &str, bases: &[&str]| {
        let bases: Vec<String> = bases.iter().map(|b| b.to_string()).collect();
        block_on(retrieve(
            &store,
            &Off,
            tenant,
            &bases,
            "refund policy",
            5,
            0.0,
        ))
        .expect("search")
        .hits
    };
    let mine = hits("t1", &["kb_1", "kb_2"]);
    assert_eq!(mine.len(), 1);
    assert!(mine[0].text.contains("t1"));
    assert!(hits("t1", &["kb_2"]).is_empty());
    assert!(hits("t2", &["kb_1"]).is_empty());
}

#[test]
fn web_pages_obey_robots_and_failures_are_readable() {
    let store = MemoryStore::new();
    setup(&store, "t1", "kb_1");
    let site = web(&[
        ("https://docs.example/robots.txt", 200, "User-agent: *\nDisallow: /private\n"),
        ("https://docs.example/help", 200, "<html><title>Help</title><h1>Hours</h1><p>Open 9 to 5.</p></html>"),
        ("https://docs.example/private/x", 200, "<p>hidden</p>"),
        ("https://docs.example/gone", 404, "nope"),
        ("https://docs.example/sitemap.xml", 200, "<urlset><url><loc>https://docs.example/help</loc></url><url><loc>https://docs.example/private/x</loc></url><url><loc>https://other.example/x</loc></url><url><loc>https://docs.example/down</loc></url></urlset>"),
    ]);
    let page = add(
        &store,
        "t1",
        "kb_1",
        "s1",
        NewSource::Url {
            url: "https://docs.example/help".into(),
        },
    );
    let done = block_on(ingest(&store, &page, &site, &Off, &mut ids(), 20)).expect("page");
    assert_eq!(done.chunks, 1);
    let stored = block_on(store.tenant_scope("t1").source("s1"))
        .expect("read")
        .expect("row");
    assert_eq!(stored.title, "Help", "the page's title replaces its URL");
    let hit = &block_on(retrieve(
        &store,
        &Off,
        "t1",
        &["kb_1".into()],
        "opening hours",
        3,
        0.0,
    ))
    .expect("search")
    .hits[0];
    assert_eq!(hit.url.as_deref(), Some("https://docs.example/help"));
    assert_eq!(hit.heading, "Hours");

    let private = add(
        &store,
        "t1",
        "kb_1",
        "s2",
        NewSource::Url {
            url: "https://docs.example/private/x".into(),
        },
    );
    let err = block_on(ingest(&store, &private, &site, &Off, &mut ids(), 20)).expect_err("robots");
    assert!(
        matches!(&err, IngestError::Permanent(r) if r.contains("robots.txt")),
        "{err:?}"
    );
    let gone = add(
        &store,
        "t1",
        "kb_1",
        "s3",
        NewSource::Url {
            url: "https://docs.example/gone".into(),
        },
    );
    let err = block_on(ingest(&store, &gone, &site, &Off, &mut ids(), 20)).expect_err("404");
    assert_eq!(
        err,
        IngestError::Permanent("https://docs.example/gone answered HTTP 404.".into())
    );
    let down = add(
        &store,
        "t1",
        "kb_1",
        "s4",
        NewSource::Url {
            url: "https://down.example/".into(),
        },
    );
    assert!(matches!(
        block_on(ingest(&store, &down, &site, &Off, &mut ids(), 20)),
        Err(IngestError::Transient(_))
    ));
    block_on(record_failure(&store, &gone, err.reason(), 30)).expect("record");
    let failed = block_on(store.tenant_scope("t1").source("s3"))
        .expect("read")
        .expect("row");
    assert_eq!(failed.status, SourceStatus::Failed);
    assert!(failed.error.as_deref().is_some_and(|e| e.contains("404")));

    let map = add(
        &store,
        "t1",
        "kb_1",
        "s5",
        NewSource::Sitemap {
            url: "https://docs.example/sitemap.xml".into(),
            max_pages: 10,
        },
    );
    let done = block_on(ingest(&store, &map, &site, &Off, &mut ids(), 20)).expect("sitemap");
    assert_eq!(
        done.chunks, 1,
        "robots-denied, foreign and unreachable pages are left out"
    );
}

#[test]
fn a_failed_embedding_leaves_the_old_chunks_and_search_falls_back_to_words() {
    let store = MemoryStore::new();
    setup(&store, "t1", "kb_1");
    let source = add(
        &store,
        "t1",
        "kb_1",
        "s1",
        NewSource::Text {
            title: "Doc".into(),
            text: "Warranty lasts two years.".into(),
        },
    );
    block_on(ingest(&store, &source, &web(&[]), &Off, &mut ids(), 20)).expect("first");
    let mut changed = block_on(store.tenant_scope("t1").source("s1"))
        .expect("read")
        .expect("row");
    changed.content = Some("Warranty lasts three years.".into());
    let broken = Letters {
        calls: RefCell::new(0),
        fail: true,
    };
    assert!(matches!(
        block_on(ingest(&store, &changed, &web(&[]), &broken, &mut ids(), 30)),
        Err(IngestError::Transient(_))
    ));
    let found = block_on(retrieve(
        &store,
        &broken,
        "t1",
        &["kb_1".into()],
        "warranty",
        3,
        0.0,
    ))
    .expect("search");
    assert!(
        !found.semantic,
        "the vector half is skipped when embeddings fail"
    );
    assert_eq!(found.hits.len(), 1);
    assert!(
        found.hits[0].text.contains("two"),
        "the old chunks stay until new ones replace them"
    );
}

#[test]
fn curated_answers_come_first_and_citations_carry_the_passage() {
    let store = MemoryStore::new();
    setup(&store, "t1", "kb_1");
    let text = add(
        &store,
        "t1",
        "kb_1",
        "s1",
        NewSource::Text {
            title: "Policy".into(),
            text: "Returns of opened items: contact support about returns.".into(),
        },
    );
    let qa = add(
        &store,
        "t1",
        "kb_1",
        "s2",
        NewSource::Qa {
            question: "Can I return opened items?".into(),
            answer: "Yes, within 14 days.".into(),
        },
    );
    for s in [&text, &qa] {
        block_on(ingest(&store, s, &web(&[]), &Off, &mut ids(), 20)).expect("ingest");
    }
    let found = block_on(retrieve(
        &store,
        &Off,
        "t1",
        &["kb_1".into()],
        "return opened items",
        5,
        0.0,
    ))
    .expect("search");
    assert_eq!(found.hits[0].kind, SourceKind::Qa);
    assert!(found.hits[0]
        .text
        .starts_with("Q: Can I return opened items?\nA: Yes"));
    let events = citations(&found.hits);
    match &events[0] {
        AgentEvent::Citation {
            source_id,
            url,
            metadata,
            ..
        } => {
            assert_eq!(source_id, "kb1");
            assert_eq!(url, &None);
            assert_eq!(metadata["knowledge"]["sourceId"], "s2");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        turn_query("and Spain?", Some("shipping to France")),
        "shipping to France\nand Spain?"
    );
    assert_eq!(
        turn_query("a long question with many words in it", Some("x")),
        "a long question with many words in it"
    );
}

#[test]
fn a_stateless_turn_searches_with_its_newest_user_message_and_the_one_before_a_short_one() {
    use crate::llm::ChatMessage;
    let user = |text: &str| ChatMessage::User {
        content: text.into(),
    };
    let messages = [
        ChatMessage::System {
            content: "Be brief.".into(),
        },
        user("shipping to France"),
        ChatMessage::Assistant {
            content: Some("Three days.".into()),
            tool_calls: vec![],
        },
        user("and Spain?"),
    ];
    assert_eq!(
        query_of_messages(&messages),
        "shipping to France\nand Spain?"
    );
    assert_eq!(query_of_messages(&messages[..2]), "shipping to France");
    assert_eq!(query_of_messages(&[]), "");
}

fn tool_agent(mode: crate::knowledge::KnowledgeMode, strict: bool) -> crate::store::Agent {
    let mut agent = crate::store::Agent {
        id: "a1".into(),
        tenant_id: "t1".into(),
        ..crate::store::Agent::default()
    };
    agent.config.knowledge = KnowledgeConfig {
        bases: vec!["kb_1".into()],
        mode,
        top_k: 3,
        strict,
        fallback: Some("Ask our team.".into()),
        ..KnowledgeConfig::default()
    };
    agent
}

#[test]
fn the_search_tool_is_offered_only_in_tool_mode_and_its_prompt_keeps_a_strict_agent_to_it() {
    use crate::knowledge::KnowledgeMode;
    let store = MemoryStore::new();
    let spec = serde_json::to_value(tool::spec()).expect("spec");
    assert_eq!(spec["function"]["name"], "search_knowledge");
    assert_eq!(spec["function"]["parameters"]["required"], json!(["query"]));
    let auto = tool_agent(KnowledgeMode::Auto, false);
    assert!(tool::KnowledgeTool::for_agent(&store, &Off, &auto, || 0).is_none());
    let mut none = tool_agent(KnowledgeMode::Tool, false);
    none.config.knowledge.bases.clear();
    assert!(tool::KnowledgeTool::for_agent(&store, &Off, &none, || 0).is_none());
    let strict = tool_agent(KnowledgeMode::Tool, true);
    let block = tool::prompt_block(&strict.config.knowledge);
    assert!(block.contains("search_knowledge"));
    assert!(block.contains("Answer only from search_knowledge results"));
    assert!(block.contains("say exactly: \"Ask our team.\""));
    let loose = tool::prompt_block(&tool_agent(KnowledgeMode::Tool, false).config.knowledge);
    assert!(loose.contains("search_knowledge") && !loose.contains("Answer only"));
}

#[test]
fn a_tool_mode_turn_retrieves_nothing_up_front() {
    use crate::knowledge::KnowledgeMode;
    let store = MemoryStore::new();
    setup(&store, "t1", "kb_1");
    let s = add(
        &store,
        "t1",
        "kb_1",
        "s1",
        NewSource::Text {
            title: "Returns".into(),
            text: "Items can be returned within 30 days.".into(),
        },
    );
    block_on(ingest(&store, &s, &web(&[]), &Off, &mut ids(), 20)).expect("ingest");
    let agent = tool_agent(KnowledgeMode::Tool, true);
    let mut recorder = crate::observe::TurnRecorder::new(
        crate::observe::TraceMeta::default(),
        crate::observe::Capture {
            spans: true,
            content: true,
        },
        crate::observe::Redactor::new(Vec::<String>::new()),
        [1; 32],
        Box::new(|| 5),
    );
    let (block, cited) = block_on(grounding(
        &store,
        &Off,
        &agent,
        "returned within 30 days",
        &mut recorder,
        0,
    ))
    .expect("knowledge");
    assert!(cited.is_empty());
    assert!(!block.contains("30 days"), "{block}");
    assert!(block.contains("Answer only from search_knowledge results"));
}

#[test]
fn the_search_tool_returns_ranked_numbered_hits_and_cites_each_chunk_once() {
    use crate::knowledge::KnowledgeMode;
    let store = MemoryStore::new();
    setup(&store, "t1", "kb_1");
    setup(&store, "t2", "kb_2");
    let mine = add(
        &store,
        "t1",
        "kb_1",
        "s1",
        NewSource::Text {
            title: "Returns".into(),
            text: "Items can be returned within 30 days of delivery.".into(),
        },
    );
    let theirs = add(
        &store,
        "t2",
        "kb_2",
        "s2",
        NewSource::Text {
            title: "Other".into(),
            text: "Items can be returned by fax only.".into(),
        },
    );
    for s in [&mine, &theirs] {
        block_on(ingest(&store, s, &web(&[]), &Off, &mut ids(), 20)).expect("ingest");
    }
    let agent = tool_agent(KnowledgeMode::Tool, true);
    let search = tool::KnowledgeTool::for_agent(&store, &Off, &agent, || 42).expect("tool mode");
    let found =
        block_on(search.call(&json!({ "query": "items returned delivery" }))).expect("found");
    let results = found["results"].as_array().expect("results");
    assert_eq!(
        results.len(),
        1,
        "only the agent's own tenant and bases: {found}"
    );
    assert_eq!(results[0]["number"], 1);
    assert_eq!(results[0]["sourceId"], "s1");
    assert_eq!(results[0]["title"], "Returns");
    assert!(results[0]["text"]
        .as_str()
        .is_some_and(|t| t.contains("30 days")));
    assert!(results[0]["score"].as_f64().is_some_and(|s| s > 0.0));
    let again =
        block_on(search.call(&json!({ "query": "returned within 30 days" }))).expect("again");
    assert_eq!(
        again["results"][0]["number"], 1,
        "the same chunk keeps its number"
    );
    let notes = search.take_notes();
    assert_eq!(
        notes.citations.len(),
        1,
        "cited once: {:?}",
        notes.citations
    );
    assert!(
        matches!(&notes.citations[0], AgentEvent::Citation { source_id, .. } if source_id == "kb1")
    );
    assert_eq!(notes.retrievals.len(), 2);
    assert_eq!(notes.retrievals[0].query, "items returned delivery");
    assert_eq!(notes.retrievals[0].started_ms, 42);
    assert_eq!(notes.retrievals[0].hits[0].source, results_chunk(&store));
    assert!(search.take_notes().citations.is_empty(), "taken once");
    let nothing = block_on(search.call(&json!({ "query": "zebra xylophone" }))).expect("empty");
    assert_eq!(nothing["results"], json!([]));
    assert!(nothing["note"]
        .as_str()
        .is_some_and(|n| n.contains("Ask our team.")));
    assert!(block_on(search.call(&json!({ "query": "  " }))).is_err());
    assert!(block_on(search.call(&json!({}))).is_err());
}

/// The id of the one chunk of tenant t1.
fn results_chunk(store: &MemoryStore) -> String {
    block_on(retrieve(
        store,
        &Off,
        "t1",
        &["kb_1".into()],
        "returned delivery",
        1,
        0.0,
    ))
    .expect("search")
    .hits[0]
        .chunk_id
        .clone()
}

#[test]
fn twenty_long_hits_still_fit_the_tool_result_cap_as_whole_json() {
    use crate::knowledge::KnowledgeMode;
    let store = MemoryStore::new();
    setup(&store, "t1", "kb_1");
    let sections: String = (0..20)
        .map(|i| format!("# Lamp {i}\n{}\n\n", "The lamp glows warmly é. ".repeat(70)))
        .collect();
    let s = add(
        &store,
        "t1",
        "kb_1",
        "s1",
        NewSource::Text {
            title: "Lamps".into(),
            text: sections,
        },
    );
    block_on(ingest(&store, &s, &web(&[]), &Off, &mut ids(), 20)).expect("ingest");
    let mut agent = tool_agent(KnowledgeMode::Tool, false);
    agent.config.knowledge.top_k = 20;
    let search = tool::KnowledgeTool::for_agent(&store, &Off, &agent, || 0).expect("tool mode");
    let found = block_on(search.call(&json!({ "query": "lamp glows warmly" }))).expect("found");
    assert_eq!(found["results"].as_array().map(Vec::len), Some(20));
    let (shown, _) = crate::tools::cap_output(found, crate::tools::MAX_TOOL_OUTPUT_BYTES);
    assert!(shown.is_object(), "not cut into a string");
}

/// A site for crawls: pages with their content type, redirects (to where they land, or
/// refused like a forbidden host), and a log of what was fetched.
struct Site {
    pages: HashMap<String, (u16, &'static str, String)>,
    redirects: HashMap<String, Option<String>>,
    fetched: RefCell<Vec<String>>,
}

impl Site {
    fn new(pages: &[(&str, &'static str, &str)], redirects: &[(&str, Option<&str>)]) -> Self {
        Site {
            pages: pages
                .iter()
                .map(|(u, t, b)| (u.to_string(), (200, *t, b.to_string())))
                .collect(),
            redirects: redirects
                .iter()
                .map(|(from, to)| (from.to_string(), to.map(str::to_owned)))
                .collect(),
            fetched: RefCell::new(Vec::new()),
        }
    }
}

impl Fetcher for Site {
    async fn get(&self, url: &str) -> Fetched {
        self.page(url).await.map(|p| (p.status, p.body))
    }

    async fn page(&self, url: &str) -> Result<Page, FetchError> {
        self.fetched.borrow_mut().push(url.to_owned());
        let landed = match self.redirects.get(url) {
            Some(None) => return Err(FetchError::Refused("a private address".into())),
            Some(Some(to)) => to.clone(),
            None => url.to_owned(),
        };
        match self.pages.get(&landed) {
            Some((status, kind, body)) => Ok(Page {
                status: *status,
                body: body.clone(),
                content_type: Some(kind.to_string()),
                url: landed,
            }),
            None if landed.ends_with("/robots.txt") => Ok(Page {
                status: 404,
                body: String::new(),
                content_type: None,
                url: landed,
            }),
            None => Err(FetchError::Failed("connection refused".into())),
        }
    }
}

fn linked(title: &str, links: &[&str]) -> String {
    let anchors: String = links
        .iter()
        .map(|l| format!("<a href=\"{l}\">{l}</a> "))
        .collect();
    format!("<html><title>{title}</title><body><nav>{anchors}</nav><h1>{title}</h1><p>Lampwick {title}.</p></body></html>")
}

#[test]
fn a_crawl_follows_same_host_html_links_breadth_first_within_depth_and_pages() {
    let store = MemoryStore::new();
    setup(&store, "t1", "kb_1");
    let home = linked(
        "Home",
        &[
            "/a",
            "b#part",
            "https://other.example/x",
            "/private/p",
            "/moved",
            "/forbidden",
            "/down",
            "/file.pdf",
            "/data",
            "mailto:x@y.z",
            "/a",
        ],
    );
    let a = linked("Alpha", &["/a/deep", "/"]);
    let deep = linked("Deep", &["/a/deeper"]);
    let site = Site::new(
        &[
            (
                "https://docs.example/robots.txt",
                "text/plain",
                "User-agent: *\nDisallow: /private\n",
            ),
            ("https://docs.example/", "text/html; charset=utf-8", &home),
            ("https://docs.example/a", "text/html", &a),
            ("https://docs.example/b", "text/html", &linked("Beta", &[])),
            ("https://docs.example/a/deep", "text/html", &deep),
            (
                "https://docs.example/a/deeper",
                "text/html",
                &linked("Deeper", &[]),
            ),
            (
                "https://docs.example/private/p",
                "text/html",
                &linked("Secret", &[]),
            ),
            (
                "https://docs.example/data",
                "application/json",
                "{\"k\": \"json body\"}",
            ),
            (
                "https://other.example/landing",
                "text/html",
                &linked("Elsewhere", &[]),
            ),
        ],
        &[
            (
                "https://docs.example/moved",
                Some("https://other.example/landing"),
            ),
            ("https://docs.example/forbidden", None),
        ],
    );
    let crawl = add(
        &store,
        "t1",
        "kb_1",
        "s1",
        NewSource::Crawl {
            url: "https://Docs.example".into(),
            max_pages: 50,
            max_depth: 2,
        },
    );
    let done = block_on(ingest(&store, &crawl, &site, &Off, &mut ids(), 20)).expect("crawl");
    let titles = |store: &MemoryStore| -> Vec<String> {
        let hits = block_on(retrieve(
            store,
            &Off,
            "t1",
            &["kb_1".into()],
            "lampwick",
            20,
            0.0,
        ))
        .expect("search")
        .hits;
        let mut t: Vec<String> = hits.into_iter().map(|h| h.title).collect();
        t.sort();
        t
    };
    assert_eq!(
        titles(&store),
        ["Alpha", "Beta", "Deep", "Home"],
        "depth 2: /a/deeper is 3 links away"
    );
    assert_eq!(done.chunks, 4);
    let fetched = site.fetched.borrow().clone();
    for never in [
        "https://docs.example/private/p",
        "https://other.example/x",
        "https://docs.example/file.pdf",
        "https://docs.example/a/deeper",
    ] {
        assert!(
            !fetched.iter().any(|f| f == never),
            "{never} fetched: {fetched:?}"
        );
    }
    let mut unique = fetched.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), fetched.len(), "each page once: {fetched:?}");
    assert_eq!(
        fetched[1], "https://docs.example/",
        "the start page first (after robots.txt)"
    );

    // maxPages counts fetches; maxDepth 0 is the start page alone.
    let site_fetches = |max_pages, max_depth| {
        let s = Site::new(
            &[
                ("https://docs.example/", "text/html", &home),
                ("https://docs.example/a", "text/html", &a),
                ("https://docs.example/b", "text/html", &linked("Beta", &[])),
            ],
            &[],
        );
        let source = add(
            &store,
            "t1",
            "kb_1",
            "s2",
            NewSource::Crawl {
                url: "https://docs.example/".into(),
                max_pages,
                max_depth,
            },
        );
        let done = block_on(ingest(&store, &source, &s, &Off, &mut ids(), 30)).expect("crawl");
        let pages = s
            .fetched
            .borrow()
            .iter()
            .filter(|f| !f.ends_with("robots.txt"))
            .count();
        (done.chunks, pages)
    };
    assert_eq!(site_fetches(2, 5), (2, 2));
    assert_eq!(site_fetches(50, 0), (1, 1));

    // A start page that cannot be read fails the source with the reason.
    let gone = add(
        &store,
        "t1",
        "kb_1",
        "s3",
        NewSource::Crawl {
            url: "https://docs.example/moved".into(),
            max_pages: 5,
            max_depth: 1,
        },
    );
    let err = block_on(ingest(&store, &gone, &site, &Off, &mut ids(), 40)).expect_err("foreign");
    assert!(
        matches!(&err, IngestError::Permanent(r) if r.contains("another host")),
        "{err:?}"
    );
    let refused = add(
        &store,
        "t1",
        "kb_1",
        "s4",
        NewSource::Crawl {
            url: "https://docs.example/forbidden".into(),
            max_pages: 5,
            max_depth: 1,
        },
    );
    let err = block_on(ingest(&store, &refused, &site, &Off, &mut ids(), 40)).expect_err("refused");
    assert!(matches!(err, IngestError::Permanent(_)), "{err:?}");

    // Re-sync of an unchanged site: nothing is embedded or written again.
    let again = block_on(store.tenant_scope("t1").source("s1"))
        .expect("read")
        .expect("row");
    let done = block_on(ingest(&store, &again, &site, &Off, &mut ids(), 50)).expect("again");
    assert!(done.unchanged);
}

#[test]
fn crawl_bodies_take_pages_and_depth_within_their_caps() {
    let p = policy();
    assert_eq!(
        parse_source(
            &json!({"type": "crawl", "url": "https://docs.example/"}),
            &p
        ),
        Ok(NewSource::Crawl {
            url: "https://docs.example/".into(),
            max_pages: DEFAULT_CRAWL_PAGES,
            max_depth: DEFAULT_CRAWL_DEPTH,
        })
    );
    assert_eq!(
        parse_source(
            &json!({"type": "crawl", "url": "https://docs.example/", "maxPages": 500, "maxDepth": 0}),
            &p
        ),
        Ok(NewSource::Crawl {
            url: "https://docs.example/".into(),
            max_pages: 500,
            max_depth: 0
        })
    );
    let field = |body: serde_json::Value| match parse_source(&body, &p) {
        Err(ApiError::Invalid { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        field(json!({"type": "crawl", "url": "https://docs.example/", "maxDepth": 6})),
        "maxDepth"
    );
    assert_eq!(
        field(json!({"type": "crawl", "url": "https://docs.example/", "maxPages": 501})),
        "maxPages"
    );
    assert_eq!(
        field(json!({"type": "crawl", "url": "http://10.0.0.1/"})),
        "url"
    );
    assert_eq!(
        field(json!({"type": "crawl", "url": "https://docs.example/", "depth": 1})),
        "depth"
    );
    let source = new_source(
        "t1",
        "kb_1",
        "s1".into(),
        NewSource::Crawl {
            url: "https://docs.example/".into(),
            max_pages: 9,
            max_depth: 3,
        },
        1,
    );
    let view = source_view(&source);
    assert_eq!(
        (
            view["type"].clone(),
            view["maxPages"].clone(),
            view["maxDepth"].clone()
        ),
        (json!("crawl"), json!(9), json!(3))
    );
    assert!(SourceKind::Crawl.is_web());
}

#[test]
fn a_turns_query_embeddings_are_its_usage_and_the_answers_write_counts_them() {
    use crate::knowledge::KnowledgeMode;
    let store = MemoryStore::new();
    setup(&store, "t1", "kb_1");
    let letters = Letters {
        calls: RefCell::new(0),
        fail: false,
    };
    let s = add(
        &store,
        "t1",
        "kb_1",
        "s1",
        NewSource::Text {
            title: "Returns".into(),
            text: "Items can be returned within 30 days.".into(),
        },
    );
    block_on(ingest(&store, &s, &web(&[]), &letters, &mut ids(), 20)).expect("ingest");
    let mut recorder = crate::observe::TurnRecorder::new(
        crate::observe::TraceMeta::default(),
        crate::observe::Capture {
            spans: false,
            content: false,
        },
        crate::observe::Redactor::new(Vec::<String>::new()),
        [1; 32],
        Box::new(|| 5),
    );
    // Auto mode: the grounding's query embedding (3 tokens from `Letters`) is counted even
    // when the trace keeps no spans.
    let auto = tool_agent(KnowledgeMode::Auto, false);
    block_on(grounding(
        &store,
        &letters,
        &auto,
        "returned",
        &mut recorder,
        0,
    ))
    .expect("grounded");
    assert_eq!(recorder.embedding_tokens(), 3);
    // Tool mode: each search's tokens go with its notes to the engine.
    let agent = tool_agent(KnowledgeMode::Tool, false);
    let tool = tool::KnowledgeTool::for_agent(&store, &letters, &agent, || 0).expect("tool");
    block_on(tool.call(&json!({"query": "returns"}))).expect("first");
    block_on(tool.call(&json!({"query": "refund"}))).expect("second");
    assert_eq!(tool.take_notes().embedding_tokens, 6);

    // The answer's one write adds the tokens to the knowledge line, not to the agent's.
    let before = block_on(store.tenant_scope("t1").usage("1970-01-01")).expect("usage");
    let ingested: u64 = before.iter().map(|u| u.input_tokens).sum();
    let answer = crate::store::StoredMessage {
        id: "m1".into(),
        conversation_id: "c1".into(),
        tenant_id: "t1".into(),
        seq: 0,
        role: crate::agent::context::Role::Assistant,
        parts: vec![],
        status: crate::store::MessageStatus::Complete,
        model: Some("m".into()),
        finish_reason: None,
        usage: crate::llm::Usage {
            input_tokens: 100,
            output_tokens: 10,
            cost: 0.0,
            embedding_tokens: 9,
        },
        error: None,
        feedback: None,
        created_at: 1,
        timing: None,
    };
    block_on(store.append_answer(&answer, "a1", "2026-02-01")).expect("answer");
    let usage = block_on(store.tenant_scope("t1").usage("2026-02-01")).expect("usage");
    let line = |id: &str| usage.iter().find(|u| u.agent_id == id).cloned().expect(id);
    assert_eq!((line("a1").messages, line("a1").input_tokens), (1, 100));
    let knowledge = line(EMBEDDING_USAGE);
    assert_eq!((knowledge.messages, knowledge.input_tokens), (0, 9));
    assert!(
        ingested > 0,
        "ingestion's own tokens are counted apart, at ingestion"
    );

    // A search outside a turn counts as one on the knowledge line.
    block_on(record_search_usage(
        &store,
        "t1",
        4,
        1_767_225_600_000 + 86_400_000 * 31,
    ));
    let usage = block_on(store.tenant_scope("t1").usage("2026-02-01")).expect("usage");
    let knowledge = usage
        .iter()
        .find(|u| u.agent_id == EMBEDDING_USAGE)
        .expect("line");
    assert_eq!((knowledge.messages, knowledge.input_tokens), (1, 13));
}
