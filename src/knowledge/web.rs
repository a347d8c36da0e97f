//! The web side of ingestion, as pure functions: robots.txt rules (RFC 9309: the group for our
//! agent or `*`, longest matching rule wins, `Allow` on a tie), the `<loc>`s of a sitemap,
//! which of them a sitemap source may take (same host as the sitemap, at most `max_pages`), and
//! the links a crawl follows (resolved, normalised, same origin, no binary files).

/// The product token crawls announce and robots.txt groups may name.
pub const USER_AGENT: &str = "EdgeAgentChat";

/// Most pages one sitemap source takes, whatever it asks for.
pub const MAX_SITEMAP_PAGES: u32 = 500;

/// Most pages one crawl source fetches, whatever it asks for (like a sitemap's).
pub const MAX_CRAWL_PAGES: u32 = MAX_SITEMAP_PAGES;

/// Deepest a crawl goes from its start page (0: the start page alone).
pub const MAX_CRAWL_DEPTH: u32 = 5;

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

/// Extensions of links a crawl does not fetch: files that are not pages.
const BINARY_EXTENSIONS: &[&str] = &[
    "7z", "avi", "bin", "bmp", "css", "csv", "dmg", "doc", "docx", "eot", "epub", "exe", "flac",
    "gif", "gz", "ico", "iso", "jpeg", "jpg", "js", "json", "m4a", "mov", "mp3", "mp4", "mpeg",
    "msi", "odt", "ogg", "otf", "pdf", "png", "ppt", "pptx", "rar", "rss", "svg", "tar", "tgz",
    "tif", "tiff", "ttf", "wasm", "wav", "webm", "webp", "woff", "woff2", "xls", "xlsx", "xml",
    "zip",
];

/// An absolute http(s) URL in the one spelling a crawl compares: scheme and host lowercased,
/// the default port dropped, `.` and `..` segments resolved, an empty path as `/`, spaces
/// escaped, the fragment gone. `None` for anything else (other schemes, user info, no host).
pub fn normalize_url(url: &str) -> Option<String> {
    let url = url
        .trim()
        .replace(['\t', '\n', '\r'], "")
        .replace(' ', "%20");
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => ":80",
        "https" => ":443",
        _ => return None,
    };
    let rest = rest.split('#').next().unwrap_or("");
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = rest[..end].to_ascii_lowercase();
    let authority = authority.strip_suffix(default_port).unwrap_or(&authority);
    let authority = authority.strip_suffix(':').unwrap_or(authority);
    if authority.is_empty() || authority.contains(['@', '\\']) || authority.starts_with(':') {
        return None;
    }
    let tail = &rest[end..];
    let (path, query) = match tail.find('?') {
        Some(q) => (&tail[..q], Some(&tail[q..])),
        None => (tail, None),
    };
    Some(format!(
        "{scheme}://{authority}{}{}",
        remove_dot_segments(path),
        query.unwrap_or("")
    ))
}

/// A path with its `.` and `..` segments resolved (RFC 3986, 5.2.4), `/` when empty.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *segment {
            "." => {
                if last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

/// `href` as an absolute, normalised URL, resolved against the page `base` (itself absolute);
/// `None` for a link to the page itself (`#…`), to another scheme (`mailto:`, `javascript:`,
/// `tel:`…) or that cannot be read.
pub fn resolve_link(base: &str, href: &str) -> Option<String> {
    let href = href.trim();
    if href.is_empty() || href.starts_with('#') {
        return None;
    }
    let scheme_end = href.find(':');
    let first_delimiter = href.find(['/', '?', '#']).unwrap_or(href.len());
    if let Some(colon) = scheme_end.filter(|c| *c < first_delimiter) {
        let scheme = &href[..colon];
        let is_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if is_scheme {
            // Only `http://…` and `https://…`: the scheme-relative `http:page` is too rare to
            // be worth reading.
            return href[colon..]
                .starts_with("://")
                .then(|| normalize_url(href))
                .flatten();
        }
    }
    let base = normalize_url(base)?;
    let (scheme, rest) = base.split_once("://")?;
    let path_start = rest.find('/').map_or(rest.len(), |i| i);
    let origin = format!("{scheme}://{}", &rest[..path_start]);
    let base_path = rest[path_start..].split('?').next().unwrap_or("/");
    let joined = if let Some(other) = href.strip_prefix("//") {
        format!("{scheme}://{other}")
    } else if href.starts_with('/') {
        format!("{origin}{href}")
    } else if href.starts_with('?') {
        format!("{origin}{base_path}{href}")
    } else {
        let directory = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
        format!("{origin}{directory}{href}")
    };
    normalize_url(&joined)
}

/// Whether a URL's path names a file a crawl skips (an image, an archive, a PDF…).
pub fn is_binary_link(url: &str) -> bool {
    let path = path_of(url);
    let path = path.split('?').next().unwrap_or("");
    let last = path.rsplit('/').next().unwrap_or("");
    last.rsplit_once('.')
        .is_some_and(|(_, ext)| BINARY_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
}

/// The links of the page at `page_url` a crawl of `origin` may follow, in page order and each
/// once: resolved, normalised, on that same origin (scheme, host and port), not binary files.
pub fn crawl_links(page_url: &str, hrefs: &[String], origin: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    hrefs
        .iter()
        .filter_map(|href| resolve_link(page_url, href))
        .filter(|link| origin_of(link).as_deref() == Some(origin) && !is_binary_link(link))
        .filter(|link| seen.insert(link.clone()))
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

    #[test]
    fn crawl_links_are_resolved_normalised_and_kept_on_their_origin() {
        let page = "https://docs.example/guide/intro?x=1#top";
        let hrefs: Vec<String> = [
            "setup",
            "../faq#answers",
            "/guide/./setup",
            "?page=2",
            "#top",
            "",
            "https://DOCS.example:443/contact",
            "//docs.example/about",
            "http://docs.example/plain",
            "https://other.example/x",
            "mailto:help@docs.example",
            "javascript:void(0)",
            "tel:+123",
            "/files/manual.PDF",
            "/logo.png?v=2",
            "/guide/setup",
            "a b",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let links = crawl_links(page, &hrefs, "https://docs.example");
        assert_eq!(
            links,
            vec![
                "https://docs.example/guide/setup",
                "https://docs.example/faq",
                "https://docs.example/guide/intro?page=2",
                "https://docs.example/contact",
                "https://docs.example/about",
                "https://docs.example/guide/a%20b",
            ]
        );
        assert_eq!(
            normalize_url("HTTP://Example.COM:80").as_deref(),
            Some("http://example.com/")
        );
        assert_eq!(
            normalize_url("https://example.com:8443/a/b/../c/./d?q=1#f").as_deref(),
            Some("https://example.com:8443/a/c/d?q=1")
        );
        assert_eq!(normalize_url("ftp://example.com/x"), None);
        assert_eq!(normalize_url("https://user@example.com/x"), None);
        assert_eq!(
            resolve_link("https://h.example/a/", ".."),
            Some("https://h.example/".into())
        );
        assert_eq!(
            resolve_link("http://127.0.0.1:8080/a/b", "c/d"),
            Some("http://127.0.0.1:8080/a/c/d".into())
        );
        assert!(is_binary_link("https://h.example/x/archive.tar.gz"));
        assert!(!is_binary_link("https://h.example/x.html"));
        assert!(!is_binary_link("https://h.example/v1.2/"));
    }

    #[test]
    fn resolved_links_match_the_url_standard() {
        // The `url` crate implements the WHATWG parser fetch uses: a link resolved here names
        // the page the runtime would fetch.
        let base = "https://docs.example/guide/intro/page?q=1";
        for href in [
            "a",
            "./a",
            "../a",
            "../../../../a",
            "/a/./b/../c",
            "?z=2",
            "a?b=c",
            "//docs.example/x",
            "https://docs.example/a/../b",
            "a/",
            "..",
            ".",
            "/",
            "x/y/../../z",
        ] {
            let ours = resolve_link(base, href).expect(href);
            let theirs = url::Url::parse(base)
                .and_then(|b| b.join(href))
                .expect(href);
            let mut theirs = theirs.to_string();
            if let Some(i) = theirs.find('#') {
                theirs.truncate(i);
            }
            assert_eq!(ours, theirs, "{href}");
        }
    }
}
