//! Which URLs a webhook tool may call: `https` to public hosts only, unless the operator
//! allowlists a host for development (`WEBHOOK_ALLOW_HOSTS`), which then may also use plain
//! `http` and a private address.
//!
//! Workers cannot resolve DNS before fetching, so names are judged by their spelling; the
//! Workers runtime itself cannot reach private networks, which covers names that resolve there.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Checks `url` against the outbound rules; the error says which rule it broke.
pub fn check_url(url: &str, allowed_hosts: &[String]) -> Result<(), String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url} is not an absolute URL"))?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err("Webhook URLs may not contain credentials (user@host)".into());
    }
    let host = host_of(authority).ok_or_else(|| format!("{url} has no host"))?;
    let allowlisted = allowed_hosts
        .iter()
        .any(|allowed| allowed.eq_ignore_ascii_case(&host));
    match scheme.as_str() {
        "https" => {}
        "http" if allowlisted => {}
        "http" => return Err(format!("Webhook URLs must use https (http is only allowed for hosts in WEBHOOK_ALLOW_HOSTS): {host}")),
        other => return Err(format!("Webhook URLs must use https, not {other}")),
    }
    if allowlisted {
        return Ok(());
    }
    if let Some(reason) = forbidden_host(&host) {
        return Err(format!("Webhook host {host} is not allowed: {reason}"));
    }
    Ok(())
}

/// The lowercase host of an authority (`host`, `host:port`, `[v6]:port`), without a trailing dot.
fn host_of(authority: &str) -> Option<String> {
    let host = if let Some(bracketed) = authority.strip_prefix('[') {
        bracketed.split(']').next()?
    } else {
        authority
            .rsplit_once(':')
            .map_or(authority, |(host, _port)| host)
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

/// Why a host is refused, if it is.
fn forbidden_host(host: &str) -> Option<&'static str> {
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return forbidden_v4(ip);
    }
    if let Ok(ip) = host.parse::<Ipv6Addr>() {
        return forbidden_v6(ip);
    }
    if host == "localhost" || host.ends_with(".localhost") || host == "localhost.localdomain" {
        return Some("it names this machine");
    }
    if host.ends_with(".internal") || host.ends_with(".local") || host == "metadata" {
        return Some("it names an internal or metadata service");
    }
    // Numeric spellings such as 2130706433 or 0x7f.1 reach addresses the checks above miss.
    let numeric = host.split('.').all(|label| {
        !label.is_empty()
            && (label.bytes().all(|b| b.is_ascii_digit())
                || label
                    .strip_prefix("0x")
                    .is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit())))
    });
    if numeric {
        return Some("numeric host names must be plain dotted IPv4 addresses");
    }
    None
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, _, _] = ip.octets();
    let reason = match (a, b) {
        (0, _) => "it is a 'this network' address",
        (10, _) | (172, 16..=31) | (192, 168) => "it is a private address",
        (100, 64..=127) => "it is a carrier-grade NAT address",
        (127, _) => "it is a loopback address",
        (169, 254) => "it is a link-local (metadata) address",
        (192, 0) if ip.octets()[2] == 0 => "it is an IETF protocol address",
        (198, 18..=19) => "it is a benchmarking address",
        (224..=255, _) => "it is a multicast or reserved address",
        _ => return None,
    };
    Some(reason)
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    let first = ip.segments()[0];
    if ip.is_loopback() || ip.is_unspecified() {
        Some("it is a loopback or unspecified address")
    } else if first & 0xfe00 == 0xfc00 {
        Some("it is a unique-local (private) address")
    } else if first & 0xffc0 == 0xfe80 {
        Some("it is a link-local address")
    } else if first & 0xff00 == 0xff00 {
        Some("it is a multicast address")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str) -> Result<(), String> {
        check_url(url, &[])
    }

    #[test]
    fn public_https_urls_pass() {
        for url in [
            "https://api.shop.example/orders?id=1",
            "https://hooks.example.com:8443/x",
            "https://93.184.216.34/path",
            "https://[2606:2800:220:1:248:1893:25c8:1946]/x",
            "HTTPS://API.EXAMPLE.COM./x",
        ] {
            assert_eq!(check(url), Ok(()), "{url}");
        }
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
            "https://[::ffff:169.254.169.254]/",
            "https://localhost/",
            "https://LOCALHOST./",
            "https://api.localhost/",
            "https://metadata.google.internal/",
            "https://printer.local/",
            "https://2130706433/",
            "https://0x7f000001/",
            "https://0x7f.0.0.1/",
        ] {
            assert!(check(url).is_err(), "{url} must be refused");
        }
    }

    #[test]
    fn schemes_and_credentials() {
        assert!(check("http://api.example.com/")
            .unwrap_err()
            .contains("https"));
        assert!(check("ftp://api.example.com/").is_err());
        assert!(check("file:///etc/passwd").is_err());
        assert!(check("api.example.com/x").is_err());
        assert!(check("https://user:pw@api.example.com/")
            .unwrap_err()
            .contains("credentials"));
        assert!(check("https://api.example.com@127.0.0.1/").is_err());
    }

    #[test]
    fn allowlisted_hosts_may_use_http_and_private_addresses() {
        let allowed = vec!["127.0.0.1".to_string(), "dev.local".to_string()];
        assert_eq!(check_url("http://127.0.0.1:8080/hook", &allowed), Ok(()));
        assert_eq!(check_url("https://dev.local/hook", &allowed), Ok(()));
        assert!(check_url("http://10.0.0.1/", &allowed).is_err());
    }
}
