//! Hosts: reading one from an authority in its only accepted spelling, and the addresses and
//! names no tenant request may reach.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Splits `host[:port]` (or `[v6][:port]`) into a lowercase host without its trailing dot and
/// the port, refusing every spelling the URL standard would rewrite.
pub(super) fn split_authority(authority: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (inside, after) = bracketed
            .split_once(']')
            .ok_or_else(|| format!("{authority} has an unclosed IPv6 bracket"))?;
        let ip: Ipv6Addr = inside
            .parse()
            .map_err(|_| format!("[{inside}] is not an IPv6 address"))?;
        let port = match after {
            "" => None,
            _ => Some(port_of(after.strip_prefix(':').unwrap_or("x"))?),
        };
        (ip.to_string(), port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port_of(port)?)),
            None => (authority, None),
        };
        (hostname(host)?, port)
    };
    Ok((host, port))
}

fn port_of(port: &str) -> Result<u16, String> {
    match port.parse::<u16>() {
        Ok(n) if n > 0 && port.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(format!("{port} is not a port number")),
    }
}

/// A host name or dotted IPv4 address, lowercased, in the one form the URL parser keeps as is.
fn hostname(host: &str) -> Result<String, String> {
    let trimmed = host.strip_suffix('.').unwrap_or(host);
    if trimmed.is_empty() {
        return Err("The URL has no host".into());
    }
    if let Some(c) = trimmed
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '.' || *c == '-'))
    {
        return Err(if c.is_ascii() {
            format!(
                "The host {host} contains '{c}'; hosts have letters, digits, dots and hyphens only"
            )
        } else {
            format!(
                "The host {host} contains the non-ASCII character U+{:04X}; write international names in their xn-- form",
                u32::from(c)
            )
        });
    }
    let lower = trimmed.to_ascii_lowercase();
    let labels: Vec<&str> = lower.split('.').collect();
    if labels.iter().any(|label| label.is_empty()) {
        return Err(format!("The host {host} has an empty label"));
    }
    // The URL standard reads a host whose last label is a number as IPv4, in any of its
    // decimal, octal or hex forms; only the canonical dotted-decimal form is accepted.
    let last = labels[labels.len() - 1];
    let numeric = last.bytes().all(|b| b.is_ascii_digit())
        || last
            .strip_prefix("0x")
            .is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()));
    if numeric {
        let ip: Ipv4Addr = lower.parse().map_err(|_| {
            format!("The host {host} is a numeric address that is not plain dotted IPv4")
        })?;
        return Ok(ip.to_string());
    }
    Ok(lower)
}

/// Why a host is refused, if it is.
pub(super) fn forbidden(host: &str) -> Option<&'static str> {
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return forbidden_v4(ip);
    }
    if let Ok(ip) = host.parse::<Ipv6Addr>() {
        return forbidden_v6(ip);
    }
    let is = |name: &str| host == name || host.ends_with(&format!(".{name}"));
    if is("localhost") || host == "localhost.localdomain" {
        return Some("it names this machine");
    }
    if is("internal") || is("local") || is("home.arpa") || host == "metadata" {
        return Some("it names an internal or metadata service");
    }
    // Public DNS names that answer with any address written into them (127.0.0.1.nip.io).
    if ["nip.io", "sslip.io", "xip.io", "localtest.me", "lvh.me"]
        .iter()
        .any(|name| is(name))
    {
        return Some("it is a wildcard DNS name that can point at private addresses");
    }
    None
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    let reason = match (a, b) {
        (0, _) => "it is a 'this network' address",
        (10, _) | (172, 16..=31) | (192, 168) => "it is a private address",
        (100, 64..=127) => "it is a carrier-grade NAT address",
        (127, _) => "it is a loopback address",
        (169, 254) => "it is a link-local (metadata) address",
        (192, 0) if c == 0 => "it is an IETF protocol address",
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
    let segments = ip.segments();
    let first = segments[0];
    // IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16) embed an IPv4
    // address that some networks route to.
    if segments[..6] == [0; 6] && !ip.is_loopback() && !ip.is_unspecified() {
        let [_, _, _, _, _, _, hi, lo] = segments;
        return forbidden_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)))
            .or(Some("it is an IPv4-compatible address"));
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some("it is a NAT64 address");
    }
    if first == 0x2002 {
        return Some("it is a 6to4 address");
    }
    if ip.is_loopback() || ip.is_unspecified() {
        Some("it is a loopback or unspecified address")
    } else if first & 0xfe00 == 0xfc00 {
        Some("it is a unique-local (private) address")
    } else if first & 0xffc0 == 0xfe80 || first & 0xffc0 == 0xfec0 {
        Some("it is a link-local or site-local address")
    } else if first & 0xff00 == 0xff00 {
        Some("it is a multicast address")
    } else {
        None
    }
}
