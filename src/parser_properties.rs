//! Property tests for every parser of outside input that lives in the core: whatever bytes
//! arrive, in whatever pieces, none of them panics, and what they accept a stricter reading
//! accepts too. Bounded case counts keep `cargo test` fast.

use proptest::prelude::*;
use serde_json::Value;

use crate::app::knowledge::{check_file_name, file_text};
use crate::auth::origin::{is_allowed, validate_rule};
use crate::http::url_parts::form_pairs;
use crate::llm::openai::ChunkDecoder;
use crate::llm::sse::{SseEvent, SseParser};
use crate::llm::tool_calls::ToolCallAccumulator;
use crate::llm::ToolCallFragment;
use crate::surfaces::mcp::wire::{self, Incoming};
use crate::surfaces::voice::{relay, signature};
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

/// Form text: pairs of names and values with the characters forms escape, `%` escapes (good,
/// short and with signs, `%+1` is not an escape) and stray separators.
fn form_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-zA-Z0-9_]{0,6}",
        Just("+".to_owned()),
        Just("%2B".to_owned()),
        Just("%e2%82%ac".to_owned()),
        Just("%+1".to_owned()),
        Just("%-1".to_owned()),
        Just("%4".to_owned()),
        Just("%zz".to_owned()),
        Just("%ff".to_owned()),
        Just("=".to_owned()),
        Just("&".to_owned()),
        "[ -~é]{0,3}",
    ];
    proptest::collection::vec(piece, 0..10).prop_map(|p| p.concat())
}

/// Whether the URL standard's reading of form `body` decodes to valid UTF-8 everywhere (it
/// replaces bad bytes with U+FFFD; `form_pairs` leaves such pairs out instead).
fn form_is_utf8(body: &str) -> bool {
    body.split('&').all(|pair| {
        let bytes: Vec<u8> = url::form_urlencoded::parse(pair.as_bytes())
            .flat_map(|(k, v)| [k, v])
            .flat_map(|s| s.into_owned().into_bytes())
            .collect();
        !String::from_utf8_lossy(&bytes).contains('\u{FFFD}')
    }) && !body.contains('\u{FFFD}')
}

/// A URL Twilio might sign: scheme, host, maybe a port, a path and a query.
fn twilio_url() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            Just("https://"),
            Just("http://"),
            Just("wss://"),
            Just("ws://")
        ],
        prop_oneof![
            "[a-z]{1,8}\\.example",
            Just("[::1]".to_owned()),
            Just("127.0.0.1".to_owned())
        ],
        prop_oneof![
            Just(String::new()),
            Just(":443".to_owned()),
            Just(":80".to_owned()),
            "(:[1-9][0-9]{1,4})"
        ],
        "(/[a-z0-9]{0,6}){0,3}",
        prop_oneof![Just(String::new()), "\\?[a-z]=[a-z0-9:%]{0,6}"],
    )
        .prop_map(|(scheme, host, port, path, query)| format!("{scheme}{host}{port}{path}{query}"))
}

fn form_params() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec(("[A-Za-z]{1,8}", "[ -~é]{0,10}"), 0..6)
}

/// The port of an absolute URL as written (`None` without one).
fn written_port(url: &str) -> Option<String> {
    let after = &url[url.find("://")? + 3..];
    let authority = &after[..after.find(['/', '?', '#']).unwrap_or(after.len())];
    let colon = authority
        .rfind(':')
        .filter(|&i| !authority[i..].contains(']'))?;
    Some(authority[colon + 1..].to_owned())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn twilio_form_bodies_read_as_the_url_standard_reads_them(body in prop_oneof![form_text(), "[ -~]{0,30}"]) {
        let ours = form_pairs(&body);
        if form_is_utf8(&body) {
            let standard: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            prop_assert_eq!(ours, standard, "body {:?}", body);
        }
    }

    #[test]
    fn twilio_form_bodies_round_trip_through_a_form_writer(pairs in proptest::collection::vec(("[ -~é€]{0,8}", "[ -~é€\n]{0,12}"), 0..6)) {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish();
        prop_assert_eq!(form_pairs(&body), pairs);
    }

}

proptest! {
    // Each case checks a dozen HMACs over every URL form: fewer cases keep it under a second.
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn twilio_signatures_round_trip_and_bind_the_url_and_every_parameter(
        token in "[a-f0-9]{32}",
        url in twilio_url(),
        params in form_params(),
        header in "[ -~]{0,40}",
        extra in "[a-z]{1,6}",
    ) {
        let signature = signature::expected(&token, &url, &params);
        prop_assert!(signature::is_valid(&token, &signature, &url, &params), "own signature refused for {}", url);
        prop_assert!(!signature::is_valid("", &signature, &url, &params));
        prop_assert!(!signature::is_valid(&token, "", &url, &params));
        // Another path, another parameter or another port is another request.
        let longer = format!("{url}{extra}");
        prop_assert!(!signature::is_valid(&token, &signature, &longer, &params));
        let mut more = params.clone();
        more.push(("Injected".into(), extra.clone()));
        prop_assert!(!signature::is_valid(&token, &signature, &url, &more));
        if let Some(port) = written_port(&url).filter(|p| p != "443" && p != "80") {
            let moved = url.replacen(&format!(":{port}"), ":1", 1);
            prop_assert!(!signature::is_valid(&token, &signature, &moved, &params), "{} signed, {} accepted", url, moved);
            let dropped = url.replacen(&format!(":{port}"), "", 1);
            prop_assert!(!signature::is_valid(&token, &signature::expected(&token, &dropped, &params), &url, &params), "a signature without port {} accepted", port);
        }
        // Arbitrary headers and URLs never panic.
        let _ = signature::is_valid(&token, &header, &header, &params);
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn relay_frames_never_panic_and_only_objects_with_a_known_type_count(frame in prop_oneof![
        json_value().prop_map(|v| v.to_string()),
        "[ -~é]{0,40}",
        json_value().prop_map(|v| serde_json::json!({"type": "prompt", "voicePrompt": v, "last": v}).to_string()),
        json_value().prop_map(|v| serde_json::json!({"type": "setup", "customParameters": v, "callSid": v}).to_string()),
    ]) {
        let parsed = relay::parse(&frame);
        let value: Value = serde_json::from_str(&frame).unwrap_or(Value::Null);
        let kind = value.get("type").and_then(Value::as_str);
        if !matches!(kind, Some("setup" | "prompt" | "interrupt" | "dtmf" | "error")) {
            prop_assert_eq!(parsed, relay::Inbound::Ignored);
        }
    }

    #[test]
    fn relay_frames_round_trip(
        text in "[ -~é€😀\"\\\\\n]{0,20}",
        last in any::<bool>(),
        digit in "[0-9*#]",
        ms in any::<u64>(),
        params in proptest::collection::btree_map("[a-zA-Z]{1,6}", "[ -~é]{0,8}", 0..4),
    ) {
        let prompt = serde_json::json!({"type": "prompt", "voicePrompt": text, "lang": "en-US", "last": last}).to_string();
        prop_assert_eq!(relay::parse(&prompt), relay::Inbound::Prompt { text: text.clone(), last });
        let interrupt = serde_json::json!({"type": "interrupt", "utteranceUntilInterrupt": text, "durationUntilInterruptMs": ms}).to_string();
        prop_assert_eq!(relay::parse(&interrupt), relay::Inbound::Interrupt { heard: text.clone(), duration_ms: Some(ms) });
        let dtmf = serde_json::json!({"type": "dtmf", "digit": digit}).to_string();
        prop_assert_eq!(relay::parse(&dtmf), relay::Inbound::Dtmf { digit: digit.clone() });
        let setup = serde_json::json!({"type": "setup", "callSid": "CA1", "customParameters": params}).to_string();
        match relay::parse(&setup) {
            relay::Inbound::Setup(s) => {
                prop_assert_eq!(s.call_sid, "CA1");
                prop_assert_eq!(s.parameters, params.into_iter().collect::<Vec<_>>());
            }
            other => prop_assert!(false, "setup read as {:?}", other),
        }
        // What the agent writes is one JSON object with exactly what was given.
        let frame: Value = serde_json::from_str(&relay::text(&text, last)).unwrap_or(Value::Null);
        prop_assert_eq!(frame, serde_json::json!({"type": "text", "token": text, "last": last}));
        let data = serde_json::json!({"reason": text});
        let end: Value = serde_json::from_str(&relay::end(&data)).unwrap_or(Value::Null);
        prop_assert_eq!(end["type"].as_str(), Some("end"));
        let handoff: Value = serde_json::from_str(end["handoffData"].as_str().unwrap_or("")).unwrap_or(Value::Null);
        prop_assert_eq!(handoff, data);
    }

    #[test]
    fn mcp_client_requests_are_what_the_mcp_server_reads(
        name in "[a-zA-Z0-9_\\-]{1,12}",
        arguments in json_value(),
        cursor in proptest::option::of("[ -~]{0,10}"),
    ) {
        let arguments = if arguments.is_object() { arguments } else { serde_json::json!({"value": arguments}) };
        for (body, method) in [
            (mcp::call_tool(&name, &arguments), "tools/call"),
            (mcp::list_tools(cursor.as_deref()), "tools/list"),
            (mcp::initialize(), "initialize"),
        ] {
            match wire::read(body.as_bytes()) {
                Ok(Incoming::Request { method: read, params, .. }) => {
                    prop_assert_eq!(read, method);
                    if method == "tools/call" {
                        let (called, args) = wire::tool_call(&params).map_err(|e| TestCaseError::fail(e.message))?;
                        prop_assert_eq!(called, name.as_str());
                        prop_assert_eq!(&Value::Object(args.clone()), &arguments);
                    }
                }
                other => prop_assert!(false, "{} read as {:?}", body, other),
            }
        }
        prop_assert_eq!(wire::read(mcp::initialized().as_bytes()).ok(), Some(Incoming::Accepted));
    }

    #[test]
    fn mcp_server_answers_are_what_the_mcp_client_reads(
        id in 0u64..1000,
        result in json_value(),
        sse in any::<bool>(),
        message in "[ -~]{0,20}",
    ) {
        let id_value = Value::from(id);
        let answer = wire::result(&id_value, result.clone());
        let (content_type, body) = if sse {
            ("text/event-stream", format!("event: message\ndata: {answer}\n\n"))
        } else {
            ("application/json", answer.clone())
        };
        prop_assert_eq!(mcp::read_answer(200, Some(content_type), &body, id, false).ok(), Some(result.clone()));
        // The answer to another request, or one that is not JSON-RPC 2.0, is not this answer.
        prop_assert!(mcp::read_answer(200, Some(content_type), &body, id + 1, false).is_err());
        let unversioned = answer.replacen("\"jsonrpc\":\"2.0\"", "\"jsonrpc\":\"1.0\"", 1);
        prop_assert!(mcp::read_answer(200, Some("application/json"), &unversioned, id, false).is_err(), "{}", unversioned);
        let error = wire::error(Some(&id_value), &wire::RpcError::new(-32602, message.clone()));
        match mcp::read_answer(200, Some("application/json"), &error, id, false) {
            Err(mcp::McpError::Protocol { code, message: read }) => {
                prop_assert_eq!(code, -32602);
                prop_assert_eq!(read, message);
            }
            other => prop_assert!(false, "error read as {:?}", other),
        }
    }

    #[test]
    fn uploaded_file_names_and_texts_never_panic_and_only_text_kinds_pass(
        name in prop_oneof!["[ -~é]{0,12}", "[a-z]{0,6}\\.(txt|md|markdown|html|htm|csv|pdf|docx|TXT|Html|exe|)"],
        text in prop_oneof!["[ -~é\n,\"]{0,60}", Just("a,b\n\"1,2\",3\n\"unclosed,4\n".to_owned()), Just("<html><p>x</p>".to_owned())],
    ) {
        if check_file_name(&name).is_ok() {
            let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
            prop_assert!(["txt", "md", "markdown", "html", "htm", "csv", "pdf", "docx"].contains(&ext.as_str()), "{} accepted", name);
        }
        let _ = file_text(&name, &text);
    }

    #[test]
    fn pdf_and_docx_extraction_never_panics_on_any_bytes_or_damaged_files(
        junk in proptest::collection::vec(any::<u8>(), 0..400),
        tokens in proptest::collection::vec(prop_oneof![
            Just("1 0 obj".to_owned()), Just("endobj".to_owned()), Just("stream\n".to_owned()),
            Just("endstream".to_owned()), Just("<<".to_owned()), Just(">>".to_owned()),
            Just("[".to_owned()), Just("]".to_owned()), Just("/Type /Page".to_owned()),
            Just("/Contents 2 0 R".to_owned()), Just("/Kids [1 0 R]".to_owned()), Just("trailer".to_owned()),
            Just("(a\\(b".to_owned()), Just("<4142".to_owned()), Just("BT".to_owned()), Just("Tj".to_owned()),
            Just("TJ".to_owned()), Just("/Filter /FlateDecode".to_owned()), Just("/Type /ObjStm /N 3 /First 2".to_owned()),
            Just("beginbfrange".to_owned()), "[ -~]{0,6}".prop_map(|s| s),
        ], 0..40),
        cut in 0usize..2_000,
        flip in 0usize..2_000,
    ) {
        use crate::knowledge::inflate::TestInflate;
        use futures::executor::block_on;
        let _ = block_on(crate::knowledge::pdf::extract(&junk, &TestInflate));
        let mut pdf = b"%PDF-1.7\n".to_vec();
        pdf.extend(tokens.join(" ").into_bytes());
        let _ = block_on(crate::knowledge::pdf::extract(&pdf, &TestInflate));
        let _ = block_on(crate::knowledge::docx::extract(&junk, &TestInflate));
        let mut zip = b"PK\x03\x04".to_vec();
        zip.extend_from_slice(&junk);
        zip.extend_from_slice(b"PK\x05\x06");
        zip.extend_from_slice(&junk[..junk.len().min(18)]);
        let _ = block_on(crate::knowledge::docx::extract(&zip, &TestInflate));
        let doc = crate::knowledge::docx::tests::sample(true);
        let mut damaged = doc[..cut.min(doc.len())].to_vec();
        damaged.extend_from_slice(&doc[cut.min(doc.len())..]);
        if let Some(b) = damaged.get_mut(flip) {
            *b ^= 0xA5;
        }
        let _ = block_on(crate::knowledge::docx::extract(&damaged, &TestInflate));
        let _ = block_on(crate::knowledge::docx::extract(&doc[..cut.min(doc.len())], &TestInflate));
    }
}
