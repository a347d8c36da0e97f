use proptest::prelude::*;

use super::*;

fn open() -> Policy {
    Policy::default()
}

/// What a WHATWG URL parser (the `url` crate, the same standard the runtime's `URL` follows)
/// makes of `url`.
fn whatwg(url: &str) -> Option<Parsed> {
    let parsed = url::Url::parse(url).ok()?;
    Some(Parsed {
        href: parsed.as_str().to_owned(),
        protocol: format!("{}:", parsed.scheme()),
        username: parsed.username().to_owned(),
        password: parsed.password().unwrap_or("").to_owned(),
        hostname: parsed.host_str().unwrap_or("").to_owned(),
        port: parsed.port().map(|p| p.to_string()).unwrap_or_default(),
    })
}

#[test]
fn public_https_urls_pass() {
    for url in [
        "https://api.shop.example/orders?id=1",
        "https://hooks.example.com:8443/x",
        "https://93.184.216.34/path",
        "https://[2606:2800:220:1:248:1893:25c8:1946]/x",
        "HTTPS://API.EXAMPLE.COM./x",
        "https://xn--bcher-kva.example/caf%C3%A9",
        "https://1.example.com/",
        "https://api.example.com/søk?q=ä",
    ] {
        let target = open().check(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        let parsed = whatwg(url).expect("parses");
        assert_eq!(open().confirm(&target, &parsed), Ok(()), "{url}");
    }
    let target = open()
        .check("HTTPS://API.EXAMPLE.COM.:443/x")
        .expect("passes");
    assert_eq!(
        (target.host.as_str(), target.port),
        ("api.example.com", 443)
    );
}

#[test]
fn private_loopback_link_local_and_metadata_targets_are_refused() {
    for url in [
        "https://127.0.0.1/",
        "https://127.1.2.3:8080/",
        "https://10.0.0.8/",
        "https://172.20.1.1/",
        "https://192.168.1.1/",
        "https://169.254.169.254/latest/meta-data/",
        "https://100.100.100.200/",
        "https://0.0.0.0/",
        "https://224.0.0.1/",
        "https://[::1]/",
        "https://[::]/",
        "https://[fd00::1]/",
        "https://[fe80::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:7f00:1]/",
        "https://[::ffff:169.254.169.254]/",
        "https://[::127.0.0.1]/",
        "https://[64:ff9b::7f00:1]/",
        "https://[2002:7f00:1::]/",
        "https://localhost/",
        "https://LOCALHOST./",
        "https://api.localhost/",
        "https://metadata.google.internal/",
        "https://printer.local/",
        "https://router.home.arpa/",
        "https://127.0.0.1.nip.io/",
        "https://app.localtest.me/",
        "https://2130706433/",
        "https://0x7f000001/",
        "https://0x7f.0.0.1/",
        "https://0177.0.0.1/",
        "https://127.1/",
        "https://127.0.0.1.1/",
    ] {
        assert!(open().check(url).is_err(), "{url} must be refused");
    }
}

/// The spellings an attack run saved and called: each one is a loopback address to the
/// runtime's parser, and each must be refused before any parser sees it.
#[test]
fn spellings_a_parser_would_rewrite_are_refused() {
    let mut reach_loopback = 0;
    for url in [
        "https://%31%32%37.0.0.1/",
        "https://loc%61lhost/",
        "https://localhost%2e/",
        "https://127.0.0.1%2e/",
        "https://\u{FF11}\u{FF12}\u{FF17}.\u{FF10}.\u{FF10}.\u{FF11}/",
        "https://127\u{3002}0\u{3002}0\u{3002}1/",
        "https://127\u{FF0E}0.0.1/",
        "https://127.0.0\t.1/",
        "https://127.0.\n0.1/",
        "https://loc\ralhost/",
        "https://localhost\u{AD}/",
        "https://local\u{200B}host/",
        "https://127.0.0.1\\.example.com/",
        "https:\\\\127.0.0.1/",
        "https://example.com\\@127.0.0.1/",
        " https://127.0.0.1/",
        "https://127.0.0.1 /",
        "https://ＬＯＣＡＬＨＯＳＴ/",
        "https://[::1%25eth0]/",
        "https://example.com:+443/",
        "https://example.com:0/",
        "https://example.com:99999/",
    ] {
        let verdict = open().check(url);
        assert!(verdict.is_err(), "{url:?} must be refused, got {verdict:?}");
        let host = whatwg(url)
            .map(|parsed| parsed.hostname)
            .unwrap_or_default();
        if ["127.0.0.1", "localhost", "[::1]"].contains(&host.as_str()) {
            reach_loopback += 1;
        }
    }
    // The list is made of real attacks: the URL standard turns most of them into loopback.
    assert!(reach_loopback >= 14, "only {reach_loopback} reach loopback");
}

#[test]
fn schemes_and_credentials() {
    assert!(open()
        .check("http://api.example.com/")
        .unwrap_err()
        .0
        .contains("https"));
    assert!(open().check("ftp://api.example.com/").is_err());
    assert!(open().check("file:///etc/passwd").is_err());
    assert!(open().check("api.example.com/x").is_err());
    assert!(open()
        .check("https://user:pw@api.example.com/")
        .unwrap_err()
        .0
        .contains("credentials"));
    assert!(open().check("https://api.example.com@127.0.0.1/").is_err());
}

#[test]
fn allowlisted_hosts_may_use_http_and_private_addresses_on_their_port() {
    let policy = Policy::from_allowlist(" 127.0.0.1:9000, Dev.Local. ,[::1]:7000, bad entry ,");
    assert_eq!(
        policy.allowlist(),
        ["127.0.0.1:9000", "dev.local", "[::1]:7000"]
    );
    assert!(policy.check("http://127.0.0.1:9000/hook").is_ok());
    assert!(
        policy.check("http://127.0.0.1:9001/hook").is_err(),
        "another port stays shut"
    );
    assert!(
        policy.check("http://127.0.0.1/hook").is_err(),
        "the default port is another port"
    );
    assert!(policy.check("https://dev.local/hook").is_ok());
    assert!(
        policy.check("http://DEV.local:8080/hook").is_ok(),
        "no port: every port"
    );
    assert!(policy.check("http://[::1]:7000/").is_ok());
    assert!(policy.check("http://[::1]:7001/").is_err());
    assert!(policy.check("http://10.0.0.1/").is_err());
    assert!(policy.check("http://%31%32%37.0.0.1:9000/").is_err());
    assert!(policy.check("http://127.0.0.1\t:9000/").is_err());
    let any_port = Policy::from_allowlist("127.0.0.1");
    assert!(any_port.check("http://127.0.0.1:1234/").is_ok());
}

#[test]
fn confirm_refuses_what_the_parser_reads_differently() {
    let target = open().check("https://api.example.com/x").expect("passes");
    let parsed = whatwg("https://api.example.com/x").expect("parses");
    assert_eq!(open().confirm(&target, &parsed), Ok(()));
    for changed in [
        Parsed {
            hostname: "127.0.0.1".into(),
            ..parsed.clone()
        },
        Parsed {
            port: "8443".into(),
            ..parsed.clone()
        },
        Parsed {
            protocol: "http:".into(),
            ..parsed.clone()
        },
        Parsed {
            username: "u".into(),
            ..parsed.clone()
        },
    ] {
        assert!(open().confirm(&target, &changed).is_err(), "{changed:?}");
    }
    let v6 = open()
        .check("https://[2606:2800:0:0:0:0:0:1]/")
        .expect("passes");
    let parsed = whatwg("https://[2606:2800:0:0:0:0:0:1]/").expect("parses");
    assert_eq!(open().confirm(&v6, &parsed), Ok(()));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    /// Whatever the policy accepts, the URL standard reads as the very same host and port, so
    /// the rules judged the host that is reached.
    #[test]
    fn accepted_urls_parse_to_the_host_that_was_checked(
        scheme in prop_oneof!["https", "http", "HTTPS"],
        authority in "[a-z0-9A-Z.:%@\\[\\]x\\-\u{3002}\u{FF0E}\u{FF11}\u{AD}\t\\\\]{1,24}",
        path in "[/a-z?#%.\\\\]{0,6}",
    ) {
        let url = format!("{scheme}://{authority}{path}");
        let policy = Policy::from_allowlist("127.0.0.1:9000,dev.local");
        if let Ok(target) = policy.check(&url) {
            let parsed = whatwg(&url);
            prop_assert!(parsed.is_some(), "{url:?} accepted but does not parse");
            let parsed = parsed.unwrap_or_default();
            prop_assert_eq!(policy.confirm(&target, &parsed), Ok(()), "{:?} -> {:?}", url, parsed);
        }
    }

    /// No input makes the check panic.
    #[test]
    fn any_text_gets_an_answer(url in "\\PC{0,40}") {
        let _ = open().check(&url);
    }
}

#[test]
fn redirects_keep_the_rules() {
    let policy = Policy::from_allowlist("127.0.0.1:9000,127.0.0.1:9001");
    let first = policy.check("https://hooks.example.com/a").expect("passes");
    let same = policy.check("https://hooks.example.com/b").expect("passes");
    let other = policy.check("https://other.example.com/").expect("passes");
    let plain = policy.check("http://127.0.0.1:9000/").expect("allowlisted");
    let hop = next_hop(&first, &first, "POST", 307, &same, 0).expect("follows");
    assert_eq!(
        hop,
        Hop {
            method: "POST".into(),
            keep_body: true,
            keep_credentials: true
        }
    );
    let hop = next_hop(&first, &first, "POST", 302, &other, 0).expect("follows");
    assert_eq!(
        hop,
        Hop {
            method: "GET".into(),
            keep_body: false,
            keep_credentials: false
        }
    );
    let hop = next_hop(&first, &first, "PUT", 303, &same, 0).expect("follows");
    assert_eq!((hop.method.as_str(), hop.keep_body), ("GET", false));
    let hop = next_hop(&first, &first, "PUT", 301, &same, 0).expect("follows");
    assert_eq!((hop.method.as_str(), hop.keep_body), ("PUT", true));
    // Back at the first origin after a detour, credentials may go again.
    assert!(
        next_hop(&first, &other, "GET", 302, &same, 1)
            .expect("follows")
            .keep_credentials
    );
    assert!(next_hop(&first, &first, "GET", 301, &plain, 0)
        .unwrap_err()
        .0
        .contains("plain http"));
    assert!(next_hop(&first, &first, "GET", 301, &same, MAX_REDIRECTS).is_err());
    let local = policy.check("http://127.0.0.1:9000/").expect("allowlisted");
    let local_other_port = policy.check("http://127.0.0.1:9001/").expect("allowlisted");
    assert!(
        !next_hop(&local, &local, "GET", 302, &local_other_port, 0)
            .expect("follows")
            .keep_credentials
    );
    assert!([301, 302, 303, 307, 308].into_iter().all(is_redirect));
    assert!(![200, 300, 304, 305, 306, 400].into_iter().any(is_redirect));
}

#[test]
fn headers_are_tokens_with_clean_values() {
    assert_eq!(check_header("X-Api-Key", "abc def\tghi"), Ok(()));
    for (name, value) in [
        ("", "x"),
        ("X Key", "x"),
        ("X-Key\r\nEvil", "x"),
        ("X-Key:", "x"),
        ("Ключ", "x"),
        ("X-Key", "a\r\nX-Evil: 1"),
        ("X-Key", "a\nb"),
        ("X-Key", "a\0b"),
        ("X-Key", "a\u{7f}"),
        ("Host", "internal"),
        ("content-length", "1"),
        ("X-Webhook-Signature", "t=1,v1=forged"),
    ] {
        assert!(check_header(name, value).is_err(), "{name:?}: {value:?}");
    }
}

#[test]
fn an_operator_endpoint_is_trusted_with_its_port_only() {
    let policy = Policy::from_allowlist("").trusting("http://127.0.0.1:4318/v1/traces");
    assert!(policy.check("http://127.0.0.1:4318/v1/traces").is_ok());
    assert!(policy.check("http://127.0.0.1:4319/v1/traces").is_err());
    let same = Policy::from_allowlist("").trusting("http://user@127.0.0.1:4318/");
    assert!(same.check("http://127.0.0.1:4318/").is_err());
}
