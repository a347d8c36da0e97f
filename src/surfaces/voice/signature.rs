//! `X-Twilio-Signature`: base64 of HMAC-SHA1 under the tenant's Auth Token, over the URL
//! Twilio requested followed by each form parameter's name and value, names sorted (twilio-node's
//! `getExpectedTwilioSignature`). Twilio is inconsistent about explicit default ports, so the URL
//! is tried as received, with its default port added and with its port removed; the scheme
//! Twilio signed can also differ from what the worker sees behind a tunnel (`http` for `https`,
//! `https` for `wss`), so both are tried. Every candidate is compared in constant time.

use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::auth::crypto::constant_time_eq;

/// Name of the header.
pub const HEADER: &str = "x-twilio-signature";

/// The signature Twilio computes for `url` and `params` under `auth_token`.
pub fn expected(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    sorted.dedup();
    // HMAC takes keys of any length, so `new_from_slice` cannot fail.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(auth_token.as_bytes())
        .unwrap_or_else(|_| unreachable!());
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64(&mac.finalize().into_bytes())
}

/// Whether `header` signs the request to `url` with `params` (see the module notes for the
/// URL forms tried).
pub fn is_valid(auth_token: &str, header: &str, url: &str, params: &[(String, String)]) -> bool {
    let header = header.trim();
    if header.is_empty() || auth_token.is_empty() {
        return false;
    }
    candidates(url).iter().any(|candidate| {
        constant_time_eq(
            expected(auth_token, candidate, params).as_bytes(),
            header.as_bytes(),
        )
    })
}

/// The URL forms a signature may have been computed over.
fn candidates(url: &str) -> Vec<String> {
    let mut schemes = vec![url.to_owned()];
    for (from, to) in [
        ("http://", "https://"),
        ("ws://", "wss://"),
        ("wss://", "https://"),
        ("ws://", "https://"),
    ] {
        if let Some(rest) = url.strip_prefix(from) {
            schemes.push(format!("{to}{rest}"));
        }
    }
    let mut all = Vec::new();
    for url in schemes {
        for form in [with_port(&url), without_port(&url)] {
            if !all.contains(&form) {
                all.push(form);
            }
        }
        if !all.contains(&url) {
            all.push(url);
        }
    }
    all
}

/// `(scheme://, host, :port or "", rest)` of an absolute URL.
fn split(url: &str) -> Option<(&str, &str, &str, &str)> {
    let scheme_end = url.find("://")? + 3;
    let after = &url[scheme_end..];
    let authority_len = after.find(['/', '?', '#']).unwrap_or(after.len());
    let authority = &after[..authority_len];
    let rest = &after[authority_len..];
    let port_start = authority
        .rfind(':')
        .filter(|&i| !authority[i..].contains(']'));
    let (host, port) = match port_start {
        Some(i) => authority.split_at(i),
        None => (authority, ""),
    };
    Some((&url[..scheme_end], host, port, rest))
}

fn with_port(url: &str) -> String {
    match split(url) {
        Some((scheme, host, "", rest)) => {
            let port = match scheme {
                "https://" | "wss://" => ":443",
                _ => ":80",
            };
            format!("{scheme}{host}{port}{rest}")
        }
        _ => url.to_owned(),
    }
}

/// `url` without its port when that is the scheme's default: a signature over the URL
/// without a port never vouches for a request to another port.
fn without_port(url: &str) -> String {
    match split(url) {
        Some((scheme @ ("https://" | "wss://"), host, ":443", rest))
        | Some((scheme @ ("http://" | "ws://"), host, ":80", rest)) => {
            format!("{scheme}{host}{rest}")
        }
        _ => url.to_owned(),
    }
}

/// Standard base64 with padding (what Twilio's header holds).
fn base64(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(DIGITS[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Vec<(String, String)> {
        [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675310"),
            ("Digits", "1234"),
            ("From", "+14158675310"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// Twilio's own documented example (api-snippets, signature_validation.3.x.js).
    #[test]
    fn matches_twilios_documented_example() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(
            expected("12345", url, &params()),
            "GvWf1cFY/Q7PnoempGyD5oXAezc="
        );
        assert!(is_valid(
            "12345",
            "GvWf1cFY/Q7PnoempGyD5oXAezc=",
            url,
            &params()
        ));
    }

    #[test]
    fn both_port_forms_and_the_public_scheme_are_accepted() {
        let signed_with_port = expected("tok", "https://x.test:443/voice", &params());
        assert!(is_valid(
            "tok",
            &signed_with_port,
            "https://x.test/voice",
            &params()
        ));
        let signed_without = expected("tok", "https://x.test/voice", &params());
        assert!(is_valid(
            "tok",
            &signed_without,
            "https://x.test:443/voice",
            &params()
        ));
        // Behind a tunnel the worker sees http://; Twilio signed https://.
        assert!(is_valid(
            "tok",
            &signed_without,
            "http://x.test/voice",
            &params()
        ));
        let relay = expected("tok", "wss://x.test/voice/relay", &[]);
        assert!(is_valid("tok", &relay, "ws://x.test/voice/relay", &[]));
        assert!(is_valid("tok", &relay, "wss://x.test:443/voice/relay", &[]));
    }

    #[test]
    fn tampering_is_refused() {
        let url = "https://x.test/voice";
        let good = expected("tok", url, &params());
        let mut tampered = params();
        tampered[3].1 = "+19999999999".into();
        assert!(!is_valid("tok", &good, url, &tampered));
        assert!(!is_valid("other", &good, url, &params()));
        assert!(!is_valid(
            "tok",
            &good,
            "https://x.test/voice?x=1",
            &params()
        ));
        assert!(!is_valid("tok", "", url, &params()));
        assert!(!is_valid("", &expected("", url, &params()), url, &params()));
        assert!(!is_valid(
            "tok",
            &good,
            "https://evil.test/voice",
            &params()
        ));
    }

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn ports_are_split_after_ipv6_literals() {
        assert_eq!(with_port("http://[::1]/x"), "http://[::1]:80/x");
        assert_eq!(without_port("http://[::1]:80/x"), "http://[::1]/x");
        assert_eq!(
            without_port("https://127.0.0.1:443/x?a=b"),
            "https://127.0.0.1/x?a=b"
        );
        // Only a default port is dropped: another port is another URL.
        assert_eq!(without_port("http://[::1]:8787/x"), "http://[::1]:8787/x");
        assert_eq!(
            without_port("https://h.example:80/x"),
            "https://h.example:80/x"
        );
    }
}
