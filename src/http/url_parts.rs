//! What the worker reads from a request URL: its path, origin and query parameters. Done by
//! hand because the `url` crate (with its IDNA tables) would double the wasm size for this.

/// The path of a URL as the runtime serialises it: after the host, up to `?` or `#` (both are
/// percent-encoded inside a path, so the first of them ends it).
pub fn path(url: &str) -> &str {
    let Some(scheme_end) = url.find("://") else {
        let end = url.find(['?', '#']).unwrap_or(url.len());
        return if url.starts_with('/') {
            &url[..end]
        } else {
            "/"
        };
    };
    let after_scheme = &url[scheme_end + 3..];
    let rest = &after_scheme[after_scheme
        .find(['/', '?', '#'])
        .unwrap_or(after_scheme.len())..];
    let path = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
    if path.is_empty() {
        "/"
    } else {
        path
    }
}

/// `scheme://host[:port]` of an absolute URL.
pub fn origin(url: &str) -> Option<&str> {
    let scheme_end = url.find("://")?;
    let rest = &url[scheme_end + 3..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    (authority_len > 0).then(|| &url[..scheme_end + 3 + authority_len])
}

/// The first value of query parameter `name`, percent- and `+`-decoded.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or("");
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(key)? == name).then(|| decode(value)).flatten()
    })
}

/// The name-value pairs of an `application/x-www-form-urlencoded` body, in order; pairs that
/// are not valid UTF-8 once decoded are left out.
pub fn form_pairs(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode(key)?, decode(value)?))
        })
        .collect()
}

/// Decodes `application/x-www-form-urlencoded` text; `None` when it is not valid UTF-8.
fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            // Only two hex digits make an escape: `from_str_radix` alone would also take a
            // sign (`%+1`), which the URL standard leaves as written.
            b'%' if i + 2 < bytes.len()
                && bytes[i + 1].is_ascii_hexdigit()
                && bytes[i + 2].is_ascii_hexdigit() =>
            {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_ends_at_the_query_or_fragment() {
        for (url, expected) in [
            (
                "https://a.example/api/agents/x/chat?k=1",
                "/api/agents/x/chat",
            ),
            ("http://127.0.0.1:8787/v1/models#top", "/v1/models"),
            ("https://a.example", "/"),
            ("https://a.example?x=/y", "/"),
            ("https://a.example/", "/"),
            ("/relative?q", "/relative"),
        ] {
            assert_eq!(path(url), expected, "{url}");
        }
    }

    #[test]
    fn form_bodies() {
        assert_eq!(
            form_pairs("From=%2B1555&CallerName=Ann+Lee&Empty=&Flag"),
            vec![
                ("From".to_owned(), "+1555".to_owned()),
                ("CallerName".to_owned(), "Ann Lee".to_owned()),
                ("Empty".to_owned(), String::new()),
                ("Flag".to_owned(), String::new()),
            ]
        );
        assert_eq!(form_pairs(""), vec![]);
        assert_eq!(form_pairs("a=%FF"), vec![]);
        // A sign is not a hex digit: `%+1` stays as written (with `+` a space), as the URL
        // standard reads it.
        assert_eq!(
            form_pairs("a=%+1&b=%-f"),
            vec![
                ("a".to_owned(), "% 1".to_owned()),
                ("b".to_owned(), "%-f".to_owned())
            ]
        );
    }

    #[test]
    fn origins() {
        assert_eq!(
            origin("http://127.0.0.1:8787/api/x?y"),
            Some("http://127.0.0.1:8787")
        );
        assert_eq!(origin("https://a.example"), Some("https://a.example"));
        assert_eq!(origin("https:///x"), None);
        assert_eq!(origin("/relative"), None);
    }

    #[test]
    fn query_params() {
        let url = "https://w.example/api/admin/conversations?agentId=a%2D1&limit=5&q=hello+world&bad=%zz&x#frag";
        assert_eq!(query_param(url, "agentId").as_deref(), Some("a-1"));
        assert_eq!(query_param(url, "limit").as_deref(), Some("5"));
        assert_eq!(query_param(url, "q").as_deref(), Some("hello world"));
        assert_eq!(query_param(url, "bad").as_deref(), Some("%zz"));
        assert_eq!(query_param(url, "x").as_deref(), Some(""));
        assert_eq!(query_param(url, "missing"), None);
        assert_eq!(query_param("https://w.example/", "a"), None);
        assert_eq!(
            query_param("https://w.example/?a=%E2%82%AC%", "a").as_deref(),
            Some("€%")
        );
        assert_eq!(query_param("https://w.example/?a=%FF", "a"), None);
    }
}
