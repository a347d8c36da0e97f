//! The web side of ingestion, as pure functions: robots.txt rules (RFC 9309: the group for our
//! agent or `*`, longest matching rule wins, `Allow` on a tie), the `<loc>`s of a sitemap, and
//! which of them a sitemap source may take (same host as the sitemap, at most `max_pages`).

/// The product token crawls announce and robots.txt groups may name.
pub const USER_AGENT: &str = "EdgeAgentChat";

/// Most pages one sitemap source takes, whatever it asks for.
pub const MAX_SITEMAP_PAGES: u32 = 500;

/// A robots.txt group: its user agents and its rules (`true`: allow).
type Group = (Vec<String>, Vec<(bool, String)>);

/// The allow/disallow rules that apply to us.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Robots {
    rules: Vec<(bool, String)>,
}

impl Robots {
    /// Reads a robots.txt body.
    pub fn parse(text: &str) -> Self {
        let ours = USER_AGENT.to_ascii_lowercase();
        // Groups: (agents, rules); consecutive user-agent lines open one group.
        let mut groups: Vec<Group> = Vec::new();
        let mut last_was_agent = false;
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let Some((field, value)) = line.split_once(':') else {
                continue;
            };
            let field = field.trim().to_ascii_lowercase();
            let value = value.trim();
            match field.as_str() {
                "user-agent" => {
                    if !last_was_agent || groups.is_empty() {
                        groups.push((Vec::new(), Vec::new()));
                    }
                    if let Some(group) = groups.last_mut() {
                        group.0.push(value.to_ascii_lowercase());
                    }
                    last_was_agent = true;
                }
                "allow" | "disallow" => {
                    last_was_agent = false;
                    if let Some(group) = groups.last_mut() {
                        if !value.is_empty() {
                            group.1.push((field == "allow", value.to_owned()));
                        }
                    }
                }
                _ => last_was_agent = false,
            }
        }
        let named = groups
            .iter()
            .filter(|(agents, _)| {
                agents
                    .iter()
                    .any(|a| ours.starts_with(a.as_str()) && a != "*")
            })
            .flat_map(|(_, rules)| rules.clone())
            .collect::<Vec<_>>();
        let rules = if named.is_empty() {
            groups
                .iter()
                .filter(|(agents, _)| agents.iter().any(|a| a == "*"))
                .flat_map(|(_, rules)| rules.clone())
                .collect()
        } else {
            named
        };
        Robots { rules }
    }

    /// Whether the path (with its query) may be fetched.
    pub fn allows(&self, path: &str) -> bool {
        let mut best: Option<(usize, bool)> = None;
        for (allow, pattern) in &self.rules {
            if let Some(len) = matches(pattern, path) {
                let better = match best {
                    None => true,
                    Some((l, a)) => len > l || (len == l && *allow && !a),
                };
                if better {
                    best = Some((len, *allow));
                }
            }
        }
        best.is_none_or(|(_, allow)| allow)
    }
}

/// The length of `pattern` when it matches the start of `path` (`*` any run, `$` the end).
fn matches(pattern: &str, path: &str) -> Option<usize> {
    let anchored = pattern.ends_with('$');
    let body = pattern.trim_end_matches('$');
    let parts: Vec<&str> = body.split('*').collect();
    let mut at = 0;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            if !path.starts_with(part) {
                return None;
            }
            at = part.len();
        } else {
            let found = path[at..].find(part)?;
            at += found + part.len();
        }
    }
    if anchored && at != path.len() && !body.ends_with('*') {
        return None;
    }
    Some(pattern.len())
}

/// The `<loc>` addresses of a sitemap (or sitemap index), entities decoded.
pub fn sitemap_locations(xml: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<loc>") {
        rest = &rest[start + 5..];
        let Some(end) = rest.find("</loc>") else {
            break;
        };
        let loc = super::html::decode_entities(rest[..end].trim());
        let loc = loc
            .trim_start_matches("<![CDATA[")
            .trim_end_matches("]]>")
            .trim()
            .to_owned();
        if !loc.is_empty() && !out.contains(&loc) {
            out.push(loc);
        }
        rest = &rest[end..];
    }
    out
}

/// `scheme://host[:port]` of an absolute http(s) URL, lowercased.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    Some(format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

/// The path and query of an absolute URL (`/` when it has none), without the fragment.
pub fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split('#').next().unwrap_or("");
    match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('?') => format!("/{}", &rest[i..]),
        Some(i) => rest[i..].to_owned(),
        None => "/".into(),
    }
}

/// The pages a sitemap source takes: same origin as the sitemap, in sitemap order, at most
/// `max_pages` (and `MAX_SITEMAP_PAGES`).
pub fn pages_of_sitemap(sitemap_url: &str, locations: &[String], max_pages: u32) -> Vec<String> {
    let Some(origin) = origin_of(sitemap_url) else {
        return Vec::new();
    };
    let limit = max_pages.clamp(1, MAX_SITEMAP_PAGES) as usize;
    locations
        .iter()
        .filter(|loc| origin_of(loc).as_deref() == Some(origin.as_str()))
        .map(|loc| loc.split('#').next().unwrap_or(loc).to_owned())
        .take(limit)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robots_rules_follow_rfc_9309() {
        let robots = Robots::parse(
            "User-agent: *\nDisallow: /private\nAllow: /private/ok\n\nUser-agent: other\nDisallow: /\n",
        );
        assert!(robots.allows("/"));
        assert!(!robots.allows("/private/x"));
        assert!(robots.allows("/private/ok/page"));
        let ours = Robots::parse("User-agent: *\nDisallow: /\n\nUser-agent: EdgeAgentChat\nUser-agent: x\nDisallow: /admin\n");
        assert!(ours.allows("/docs"), "our own group replaces *");
        assert!(!ours.allows("/admin/x"));
        let wild = Robots::parse("User-agent: *\nDisallow: /*.pdf$\nDisallow: /tmp*\n");
        assert!(!wild.allows("/a/b.pdf"));
        assert!(wild.allows("/a/b.pdf?x=1"));
        assert!(!wild.allows("/tmpfile"));
        assert!(
            Robots::parse("garbage\n:::\nDisallow: /x").allows("/x"),
            "rules outside a group do not count"
        );
        assert!(Robots::parse("").allows("/anything"));
    }

    #[test]
    fn sitemaps_yield_same_origin_pages_up_to_the_limit() {
        let xml = "<urlset><url><loc>https://docs.example/a</loc></url><url><loc> https://docs.example/b?x=1&amp;y=2 </loc></url>\
                   <url><loc>https://evil.example/c</loc></url><url><loc>https://docs.example/a</loc></url></urlset>";
        let locs = sitemap_locations(xml);
        assert_eq!(locs.len(), 3);
        let pages = pages_of_sitemap("https://docs.example/sitemap.xml", &locs, 10);
        assert_eq!(
            pages,
            vec!["https://docs.example/a", "https://docs.example/b?x=1&y=2"]
        );
        assert_eq!(
            pages_of_sitemap("https://docs.example/sitemap.xml", &locs, 1).len(),
            1
        );
        assert!(pages_of_sitemap("ftp://x/y", &locs, 10).is_empty());
    }

    #[test]
    fn origins_and_paths() {
        assert_eq!(
            origin_of("HTTPS://Docs.Example:8443/x?y").as_deref(),
            Some("https://docs.example:8443")
        );
        assert_eq!(origin_of("https://u@h/"), None);
        assert_eq!(path_of("https://h"), "/");
        assert_eq!(path_of("https://h?q=1"), "/?q=1");
        assert_eq!(path_of("https://h/a/b?q#frag"), "/a/b?q");
    }
}
