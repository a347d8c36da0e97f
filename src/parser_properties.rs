//! Property tests for every parser of outside input that lives in the core: whatever bytes
//! arrive, in whatever pieces, none of them panics, and what they accept a stricter reading
//! accepts too. Bounded case counts keep `cargo test` fast.

use proptest::prelude::*;
use serde_json::Value;

use crate::auth::origin::{is_allowed, validate_rule};
use crate::llm::openai::ChunkDecoder;
use crate::llm::sse::{SseEvent, SseParser};
use crate::llm::tool_calls::ToolCallAccumulator;
use crate::llm::ToolCallFragment;
use crate::surfaces::mcp::wire::{self, Incoming};
use crate::surfaces::widget::body;
use crate::tools::mcp;

fn events_of(pieces: &[&[u8]]) -> Vec<SseEvent> {
    let mut parser = SseParser::new();
    let mut out = Vec::new();
    for piece in pieces {
        parser.feed(piece, &mut out);
    }
    parser.finish(&mut out);
    out
}

/// SSE-looking bytes: fields, data lines, comments, blank lines, CR/LF mixes and junk.
fn sse_bytes() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        Just(b"data: {\"a\":1}".to_vec()),
        Just(b"data:".to_vec()),
        Just(b"event: message".to_vec()),
        Just(b": keepalive".to_vec()),
        Just(b"id: 7".to_vec()),
        Just(Vec::new()),
        "[ -~é€😀]{0,12}".prop_map(|s| s.into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..8),
    ];
    let end = prop_oneof![
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec())
    ];
    proptest::collection::vec((line, end), 0..12).prop_map(|lines| {
        lines
            .into_iter()
            .flat_map(|(l, e)| l.into_iter().chain(e))
            .collect()
    })
}

/// A JSON value of bounded depth, for bodies that are JSON but maybe not the right shape.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[a-z0-9 ]{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("jsonrpc".to_owned()),
                    Just("id".to_owned()),
                    Just("method".to_owned()),
                    Just("params".to_owned()),
                    Just("messages".to_owned()),
                    Just("parts".to_owned()),
                    Just("text".to_owned()),
                    "[a-z]{1,6}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn sse_events_do_not_depend_on_how_the_bytes_are_split(bytes in sse_bytes(), cuts in proptest::collection::vec(any::<usize>(), 0..6)) {
        let whole = events_of(&[&bytes]);
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        points.sort_unstable();
        let mut pieces = Vec::new();
        let mut start = 0;
        for point in points {
            pieces.push(&bytes[start..point]);
            start = point;
        }
        pieces.push(&bytes[start..]);
        prop_assert_eq!(events_of(&pieces), whole);
    }

    #[test]
    fn model_chunks_never_panic(data in prop_oneof![
        json_value().prop_map(|v| v.to_string()),
        "[ -~]{0,40}",
        Just("{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":4294967296}]}}]}".to_owned()),
    ]) {
        let mut decoder = ChunkDecoder::default();
        let mut out = Vec::new();
        let _ = decoder.decode(&data, &mut out);
    }

    #[test]
    fn tool_call_fragments_end_in_calls_with_distinct_ids(fragments in proptest::collection::vec(
        (proptest::option::of(0u32..4), proptest::option::of("[a-z_]{0,3}"), proptest::option::of("[a-z]{0,5}"), "[{}\":a-z0-9]{0,6}"),
        0..16,
    )) {
        let mut accumulator = ToolCallAccumulator::new("call");
        let mut updates = Vec::new();
        for (index, id, name, arguments) in fragments {
            accumulator.push(ToolCallFragment { index, id, name, arguments }, &mut updates);
        }
        let calls = accumulator.finish();
        let mut ids: Vec<&str> = calls.iter().map(|c| c.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        prop_assert_eq!(ids.len(), calls.len());
    }

    #[test]
    fn chat_bodies_never_panic_and_respect_the_length_limit(
        body in prop_oneof![
            json_value().prop_map(|v| v.to_string().into_bytes()),
            proptest::collection::vec(any::<u8>(), 0..64),
        ],
        max in 1usize..64,
    ) {
        if let Ok(parsed) = body::parse(&body, max) {
            prop_assert!(parsed.text.chars().count() <= max);
        }
    }

    #[test]
    fn origin_rules_accept_only_what_a_url_parser_reads_the_same(rule in prop_oneof![
        "(https?|ftp)://(\\*\\.)?[a-z0-9.\\-\\[\\]:]{0,16}(:[0-9]{0,6})?/?",
        "[ -~]{0,24}",
    ]) {
        if validate_rule(&rule).is_ok() {
            let concrete = rule.trim().trim_end_matches('/').replace("*.", "x.");
            let parsed = url::Url::parse(&concrete);
            prop_assert!(parsed.is_ok(), "accepted {rule:?}, which a URL parser refuses");
            let origin = parsed.map(|u| u.origin().ascii_serialization()).unwrap_or_default();
            // What a browser would send for that origin is allowed by the rule.
            prop_assert!(is_allowed(&origin, std::slice::from_ref(&rule)), "{rule:?} does not allow {origin:?}");
        }
    }

    #[test]
    fn browser_origins_that_match_are_real_origins(origin in "[ -~]{0,24}", rule in "https?://[a-z0-9.\\-]{1,12}(:[1-9][0-9]{0,3})?") {
        if is_allowed(&origin, &[rule]) {
            let parsed = url::Url::parse(&origin);
            prop_assert!(parsed.is_ok(), "allowed {origin:?}, which is not a URL");
            prop_assert_eq!(parsed.map(|u| u.origin().ascii_serialization()).unwrap_or_default(), origin.to_ascii_lowercase());
        }
    }

    #[test]
    fn mcp_server_messages_never_panic_and_requests_are_json_rpc(body in prop_oneof![
        json_value().prop_map(|v| v.to_string().into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..48),
    ]) {
        if let Ok(Incoming::Request { id, .. }) = wire::read(&body) {
            let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            prop_assert_eq!(value.get("jsonrpc").and_then(Value::as_str), Some("2.0"));
            prop_assert!(id.is_string() || id.is_i64() || id.is_u64());
        }
    }

    #[test]
    fn mcp_client_answers_never_panic(
        status in prop_oneof![Just(200u16), Just(202), Just(404), Just(500), any::<u16>()],
        sse in any::<bool>(),
        body in prop_oneof![json_value().prop_map(|v| v.to_string()), "[ -~\n]{0,40}"],
    ) {
        let content_type = if sse { "text/event-stream" } else { "application/json" };
        if let Ok(result) = mcp::read_answer(status, Some(content_type), &body, 3, true) {
            prop_assert!((200..300).contains(&status));
            let _ = mcp::tool_output(&result);
            let _ = mcp::read_tools(&result);
        }
    }
}
