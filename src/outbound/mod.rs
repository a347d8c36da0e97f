//! The one outbound policy: every request the worker makes on a tenant's behalf (webhook tools,
//! tool test calls, and every later integration) is checked here before it is sent, and again
//! at every redirect hop.
//!
//! The rules: `https` to public hosts only, no credentials in the URL, no control characters in
//! headers. Hosts the operator lists in `WEBHOOK_ALLOW_HOSTS` (optionally with a port) may also
//! use plain `http` and private addresses, for development.
//!
//! Workers cannot resolve DNS before fetching, so names are judged by their spelling. The check
//! is deliberately stricter than the URL standard: a host must already be in the form the
//! runtime's URL parser would produce (lowercase ASCII letters, digits, dots and hyphens, or a
//! canonical IP address), so no parser normalisation (percent-decoding, IDNA mapping, numeric
//! IPv4 forms, stripped tabs) can turn an accepted spelling into a different host. The glue
//! confirms that with the runtime's own parser before it connects (`confirm`).

mod headers;
mod host;
mod redirect;

#[cfg(target_arch = "wasm32")]
pub mod fetch;

pub use headers::check_header;
pub use redirect::{is_redirect, next_hop, Hop, MAX_REDIRECTS};

use std::fmt;
use std::net::Ipv6Addr;

/// A URL the policy refused, with the reason a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

fn refuse(message: impl Into<String>) -> Refused {
    Refused(message.into())
}

/// The scheme of an outbound URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `http`: only for allowlisted development hosts.
    Http,
    /// `https`.
    Https,
}

impl Scheme {
    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A URL the policy accepted: where the request will connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL as given (already checked to be free of anything a parser would rewrite).
    pub url: String,
    /// `http` or `https`.
    pub scheme: Scheme,
    /// Lowercase host without a trailing dot; IPv6 without brackets.
    pub host: String,
    /// The port the connection uses (the scheme's default when the URL names none).
    pub port: u16,
}

impl Target {
    /// Whether `other` has the same scheme, host and port (the browser's notion of origin).
    pub fn same_origin(&self, other: &Target) -> bool {
        self.scheme == other.scheme && self.host == other.host && self.port == other.port
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

/// What the runtime's URL parser (`new URL(..)`) made of a URL, field by field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// `href`: what the request will be sent to.
    pub href: String,
    /// `protocol`, with its colon (`https:`).
    pub protocol: String,
    /// `username`.
    pub username: String,
    /// `password`.
    pub password: String,
    /// `hostname` (IPv6 in brackets).
    pub hostname: String,
    /// `port`: empty for the scheme's default.
    pub port: String,
}

/// One `WEBHOOK_ALLOW_HOSTS` entry: a host, and optionally the one port it opens.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Allowed {
    host: String,
    port: Option<u16>,
}

/// The outbound rules, with the operator's development allowlist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    allowed: Vec<Allowed>,
}

impl Policy {
    /// Reads `WEBHOOK_ALLOW_HOSTS`: comma-separated `host` or `host:port` entries (`[v6]:port`
    /// for IPv6). Entries that are not a plain host are ignored, so a typo opens nothing.
    pub fn from_allowlist(list: &str) -> Policy {
        let allowed = list
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .filter_map(|entry| {
                let (host, port) = host::split_authority(entry).ok()?;
                Some(Allowed { host, port })
            })
            .collect();
        Policy { allowed }
    }

    /// This policy, also opening the host and port of `url`: an endpoint the operator set in
    /// the environment (a collector on a private network), never one a tenant typed.
    pub fn trusting(&self, url: &str) -> Policy {
        let mut policy = self.clone();
        let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        let authority = after_scheme
            .split(['/', '?', '#'])
            .next()
            .unwrap_or_default();
        if !authority.contains('@') {
            if let Ok((host, port)) = host::split_authority(authority) {
                policy.allowed.push(Allowed { host, port });
            }
        }
        policy
    }

    /// The allowlist as `host` / `host:port` strings, for display.
    pub fn allowlist(&self) -> Vec<String> {
        self.allowed
            .iter()
            .map(|a| match (a.port, a.host.contains(':')) {
                (None, _) => a.host.clone(),
                (Some(port), false) => format!("{}:{port}", a.host),
                (Some(port), true) => format!("[{}]:{port}", a.host),
            })
            .collect()
    }

    fn allows(&self, host: &str, port: u16) -> bool {
        self.allowed
            .iter()
            .any(|a| a.host == host && a.port.is_none_or(|p| p == port))
    }

    /// Checks `url` against the rules; the error says which rule it broke.
    pub fn check(&self, url: &str) -> Result<Target, Refused> {
        if let Some(c) = url.chars().find(|c| c.is_control() || c.is_whitespace()) {
            return Err(refuse(format!(
                "URLs may not contain spaces or control characters (found U+{:04X}); percent-encode them",
                u32::from(c)
            )));
        }
        if url.contains('\\') {
            return Err(refuse(
                "URLs may not contain a backslash; write / or percent-encode it as %5C",
            ));
        }
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| refuse(format!("{url} is not an absolute URL")))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "https" => Scheme::Https,
            "http" => Scheme::Http,
            other => return Err(refuse(format!("URLs must use https, not {other}"))),
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        if authority.contains('@') {
            return Err(refuse("URLs may not contain credentials (user@host)"));
        }
        let (host, port) = host::split_authority(authority).map_err(refuse)?;
        let port = port.unwrap_or(scheme.default_port());
        let allowlisted = self.allows(&host, port);
        if scheme == Scheme::Http && !allowlisted {
            return Err(refuse(format!(
                "URLs must use https (plain http only reaches hosts in WEBHOOK_ALLOW_HOSTS): {host}"
            )));
        }
        if !allowlisted {
            if let Some(reason) = host::forbidden(&host) {
                return Err(refuse(format!("The host {host} is not allowed: {reason}")));
            }
        }
        Ok(Target {
            url: url.to_owned(),
            scheme,
            host,
            port,
        })
    }

    /// Refuses `target` unless the runtime's parser reads it as the same scheme, host and port
    /// with no credentials: the last word before connecting, so the rules judged the host that
    /// is actually reached.
    pub fn confirm(&self, target: &Target, parsed: &Parsed) -> Result<(), Refused> {
        let changed = || {
            refuse(format!(
                "The URL {} is read differently by the runtime ({}); it was not called",
                target.url, parsed.href
            ))
        };
        if parsed.protocol != format!("{}:", target.scheme.as_str())
            || !parsed.username.is_empty()
            || !parsed.password.is_empty()
        {
            return Err(changed());
        }
        let port = if parsed.port.is_empty() {
            target.scheme.default_port()
        } else {
            parsed.port.parse().map_err(|_| changed())?
        };
        let same_host = match parsed
            .hostname
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
        {
            Some(v6) => match (v6.parse::<Ipv6Addr>(), target.host.parse::<Ipv6Addr>()) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            },
            None => parsed.hostname.trim_end_matches('.') == target.host,
        };
        if !same_host || port != target.port {
            return Err(changed());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
