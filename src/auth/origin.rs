//! Allowed origins: which web pages may use an agent's widget endpoints.
//!
//! A rule is an exact origin (`https://shop.example`, `http://localhost:8787`) or a wildcard
//! for subdomains (`https://*.example.com`, which matches `https://a.b.example.com` but not
//! `https://example.com`). Scheme and port must match exactly.

/// Why an origin rule is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not an origin: use scheme://host[:port], optionally with *. before the host.")]
pub struct BadRule(pub String);

/// A parsed origin: scheme, host (lowercase) and port (explicit or the scheme's default).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin<'a> {
    scheme: &'a str,
    host: String,
    port: u16,
}

fn parse(origin: &str, allow_wildcard: bool) -> Option<Origin<'_>> {
    let (scheme, rest) = origin.split_once("://")?;
    let default_port = match scheme {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) if !rest.starts_with('[') || host.ends_with(']') => {
            (host, port_number(port)?)
        }
        _ => (rest, default_port),
    };
    let host = host.to_ascii_lowercase();
    let bare = host
        .strip_prefix("*.")
        .filter(|_| allow_wildcard)
        .unwrap_or(&host);
    (is_dns_name(bare) || is_bracketed_ipv6(bare)).then_some(Origin { scheme, host, port })
}

/// A port as browsers write it: digits without a leading zero, 1 to 65535.
fn port_number(text: &str) -> Option<u16> {
    let valid =
        !text.is_empty() && !text.starts_with('0') && text.bytes().all(|b| b.is_ascii_digit());
    valid.then(|| text.parse::<u16>().ok()).flatten()
}

/// Dot-separated labels of letters, digits and inner hyphens; a name whose last label is a
/// number is an IPv4 address to a URL parser, so it must be one written the way browsers write
/// it (`127.0.0.1`, not `127.1` or `0x7f.1`).
fn is_dns_name(host: &str) -> bool {
    let labels_ok = host.len() <= 253
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    let last = host.rsplit('.').next().unwrap_or("");
    let numeric = last.bytes().all(|b| b.is_ascii_digit())
        || (last.len() > 1 && last[..2].eq_ignore_ascii_case("0x"));
    labels_ok && (!numeric || is_dotted_quad(host))
}

fn is_dotted_quad(host: &str) -> bool {
    let parts: Vec<&str> = host.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 3
                && (p.len() == 1 || !p.starts_with('0'))
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

/// `[` hex groups and colons (a dotted IPv4 tail allowed) `]`, with at least two colons.
fn is_bracketed_ipv6(host: &str) -> bool {
    let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) else {
        return false;
    };
    inner.bytes().filter(|&b| b == b':').count() >= 2
        && inner
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
}

/// Checks a rule when a tenant saves it.
pub fn validate_rule(rule: &str) -> Result<(), BadRule> {
    parse(rule.trim().trim_end_matches('/'), true)
        .map(|_| ())
        .ok_or_else(|| BadRule(rule.to_owned()))
}

/// Whether the browser-sent `origin` is allowed by any of `rules`. `null` and junk never are.
pub fn is_allowed(origin: &str, rules: &[String]) -> bool {
    let Some(origin) = parse(origin, false) else {
        return false;
    };
    rules.iter().any(|rule| {
        let Some(rule) = parse(rule.trim().trim_end_matches('/'), true) else {
            return false;
        };
        if rule.scheme != origin.scheme || rule.port != origin.port {
            return false;
        }
        match rule.host.strip_prefix("*.") {
            Some(parent) => origin
                .host
                .strip_suffix(parent)
                .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
            None => rule.host == origin.host,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn exact_origins_match_scheme_host_and_port() {
        let r = rules(&["https://shop.example", "http://localhost:8787/"]);
        assert!(is_allowed("https://shop.example", &r));
        assert!(is_allowed("https://SHOP.example:443", &r));
        assert!(is_allowed("http://localhost:8787", &r));
        assert!(!is_allowed("http://shop.example", &r));
        assert!(!is_allowed("https://shop.example:8443", &r));
        assert!(!is_allowed("http://localhost:8788", &r));
        assert!(!is_allowed("https://shop.example.evil.test", &r));
        assert!(!is_allowed("https://evilshop.example", &r));
        assert!(!is_allowed("null", &r));
        assert!(!is_allowed("", &r));
    }

    #[test]
    fn wildcards_cover_subdomains_only() {
        let r = rules(&["https://*.example.com"]);
        assert!(is_allowed("https://a.example.com", &r));
        assert!(is_allowed("https://a.b.example.com", &r));
        assert!(!is_allowed("https://example.com", &r));
        assert!(!is_allowed("https://badexample.com", &r));
        assert!(!is_allowed("https://a.example.com.evil.test", &r));
        assert!(!is_allowed("https://*.example.com", &r));
    }

    #[test]
    fn rules_are_validated() {
        assert!(validate_rule("https://*.example.com").is_ok());
        assert!(validate_rule("http://127.0.0.1:3000").is_ok());
        assert!(validate_rule("https://[::1]:8443").is_ok());
        assert!(validate_rule("example.com").is_err());
        assert!(validate_rule("ftp://example.com").is_err());
        assert!(validate_rule("https://exa mple.com").is_err());
        assert!(validate_rule("https://").is_err());
        assert!(validate_rule("*").is_err());
        assert!(validate_rule("https://[::1]").is_ok());
        // What a URL parser would read otherwise (or not at all) is refused, so a rule never
        // silently fails to match what browsers send.
        for bad in [
            "http://[",
            "http://0",
            "http://127.1",
            "http://0x7f.0.0.1",
            "http://a:080",
            "http://a:0",
            "http://a..b",
            "http://-a.example",
            "https://example.com.",
        ] {
            assert!(validate_rule(bad).is_err(), "{bad}");
        }
        assert!(is_allowed(
            "https://[::1]:8443",
            &rules(&["https://[::1]:8443"])
        ));
    }
}
