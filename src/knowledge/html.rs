//! HTML to the Markdown-like text the chunker reads: headings become `#` lines, list items
//! `- ` lines, table rows `| a | b |` lines, block elements paragraph breaks; scripts, styles,
//! navigation and footers are dropped. Also the page's `<title>` and its links (for crawls).
//! A small hand-written scanner: no HTML crate in the wasm, and any input (however broken)
//! yields some text rather than an error.

/// What a page yields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// The `<title>`, when it has one.
    pub title: Option<String>,
    /// Structured text.
    pub text: String,
    /// `href`s of its links, as written.
    pub links: Vec<String>,
}

/// Elements whose content is not part of the page's text.
const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "svg", "nav", "footer", "iframe", "head",
];

/// Elements that end a paragraph.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "header",
    "aside",
    "ul",
    "ol",
    "table",
    "thead",
    "tbody",
    "blockquote",
    "pre",
    "form",
    "figure",
    "dl",
    "hr",
];

/// Decodes the character references that matter in text.
pub fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        // A reference is short: look for its `;` in the next few characters (not bytes, so a
        // multi-byte letter there cannot split).
        let end = rest
            .char_indices()
            .take(12)
            .find(|(_, c)| *c == ';')
            .map(|(i, _)| i);
        let decoded = end.and_then(|end| {
            let name = &rest[1..end];
            let ch = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ if name.starts_with("#x") || name.starts_with("#X") => {
                    u32::from_str_radix(&name[2..], 16)
                        .ok()
                        .and_then(char::from_u32)
                }
                _ if name.starts_with('#') => name[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            };
            ch.map(|c| (c, end + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The value of attribute `name` in a tag's inside (`a href="x" class=y`).
fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find(name) {
        let at = from + found;
        from = at + name.len();
        let before_ok = at == 0 || lower.as_bytes()[at - 1].is_ascii_whitespace();
        let after = lower[from..].trim_start();
        if !before_ok || !after.starts_with('=') {
            continue;
        }
        let value_start = tag.len() - after.len() + 1;
        let value = tag[value_start..].trim_start();
        let (quoted, body) = match value.chars().next() {
            Some(q @ ('"' | '\'')) => (Some(q), &value[1..]),
            _ => (None, value),
        };
        let end = match quoted {
            Some(q) => body.find(q).unwrap_or(body.len()),
            None => body
                .find(|c: char| c.is_ascii_whitespace() || c == '>')
                .unwrap_or(body.len()),
        };
        return Some(decode_entities(&body[..end]));
    }
    None
}

/// Converts a page to structured text (see the module comment).
pub fn to_text(html: &str) -> Page {
    let mut page = Page::default();
    let mut out = String::with_capacity(html.len() / 2);
    let mut skip_depth: Vec<String> = Vec::new();
    let mut in_title = false;
    let mut title = String::new();
    let mut rest = html;
    let mut cell_open = false;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            push_text(&mut out, rest, skip_depth.is_empty(), in_title, &mut title);
            break;
        };
        push_text(
            &mut out,
            &rest[..lt],
            skip_depth.is_empty(),
            in_title,
            &mut title,
        );
        rest = &rest[lt..];
        if rest.starts_with("<!--") {
            rest = rest.find("-->").map_or("", |end| &rest[end + 3..]);
            continue;
        }
        let Some(gt) = rest.find('>') else {
            break;
        };
        let inside = &rest[1..gt];
        rest = &rest[gt + 1..];
        let closing = inside.starts_with('/');
        let inside = inside.trim_start_matches('/');
        let name: String = inside
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if name.is_empty() {
            continue;
        }
        if name == "title" {
            in_title = !closing;
            continue;
        }
        if SKIPPED.contains(&name.as_str()) {
            if closing {
                if let Some(pos) = skip_depth.iter().rposition(|n| *n == name) {
                    skip_depth.truncate(pos);
                }
            } else if !inside.ends_with('/') {
                skip_depth.push(name);
            }
            continue;
        }
        // A crawl follows menus and footers too, though their text is not indexed.
        if name == "a" && !closing && skip_depth.iter().all(|n| n == "nav" || n == "footer") {
            if let Some(href) = attribute(inside, "href") {
                page.links.push(href);
            }
        }
        if !skip_depth.is_empty() {
            continue;
        }
        match name.as_str() {
            "br" => out.push('\n'),
            "li" if !closing => out.push_str("\n- "),
            "tr" => {
                if closing && cell_open {
                    out.push_str(" |");
                }
                cell_open = false;
                if !out.ends_with('\n') {
                    out.push('\n');
                }
            }
            "td" | "th" if !closing => {
                out.push_str(if cell_open { " | " } else { "| " });
                cell_open = true;
            }
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                out.push_str("\n\n");
                if !closing {
                    let level = usize::from(name.as_bytes()[1] - b'0');
                    out.push_str(&"#".repeat(level));
                    out.push(' ');
                }
            }
            _ if BLOCKS.contains(&name.as_str()) => out.push_str("\n\n"),
            _ => {}
        }
    }
    let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
    page.title = (!title.is_empty()).then_some(title);
    page.text = tidy(&out);
    page
}

fn push_text(out: &mut String, raw: &str, visible: bool, in_title: bool, title: &mut String) {
    if in_title {
        title.push_str(&decode_entities(raw));
        return;
    }
    if !visible || raw.is_empty() {
        return;
    }
    let text = decode_entities(raw);
    let mut last_space = out.ends_with([' ', '\n']) || out.is_empty();
    for c in text.chars() {
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
                last_space = true;
            }
        } else {
            out.push(c);
            last_space = false;
        }
    }
}

/// Trims every line and keeps at most one blank line in a row.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = true;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            if !blank {
                out.push('\n');
            }
            blank = true;
            continue;
        }
        if line == "-" || line == "|" {
            continue;
        }
        out.push_str(line);
        out.push('\n');
        blank = false;
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ampersand_before_accented_letters_is_text_not_a_crash() {
        assert_eq!(decode_entities("&%\n'XVéé.éG.gR=x"), "&%\n'XVéé.éG.gR=x");
        assert_eq!(
            decode_entities("café &amp; thé&eacute;"),
            "café & thé&eacute;"
        );
        assert_eq!(decode_entities("&#233;t&#xE9;"), "été");
    }

    #[test]
    fn keeps_headings_lists_and_tables_and_drops_scripts() {
        let html = r#"<html><head><title>Help &amp; FAQ</title><style>p{}</style></head>
        <body><nav><a href="/menu">Menu</a></nav>
        <h1>Returns</h1><p>Send it   back
        within <b>30</b> days.</p><script>var x = "<p>no</p>";</script>
        <ul><li>Unused</li><li>With receipt</li></ul>
        <table><tr><th>Plan</th><th>Price</th></tr><tr><td>Pro</td><td>&#36;9</td></tr></table>
        <h2>Contact</h2><p>Mail <a href='mailto:x@y.z'>us</a>.</p><footer>© us</footer></body></html>"#;
        let page = to_text(html);
        assert_eq!(page.title.as_deref(), Some("Help & FAQ"));
        assert_eq!(
            page.text,
            "# Returns\n\nSend it back within 30 days.\n\n- Unused\n- With receipt\n\n| Plan | Price |\n| Pro | $9 |\n\n## Contact\n\nMail us."
        );
        assert_eq!(
            page.links,
            vec!["/menu".to_owned(), "mailto:x@y.z".to_owned()]
        );
    }

    #[test]
    fn survives_broken_markup() {
        for html in [
            "<",
            "<p",
            "a < b > c",
            "<!-- never closed",
            "&#xZZ; &bogus; &",
            "<script>",
        ] {
            let _ = to_text(html);
        }
        assert_eq!(to_text("a < b").text, "a");
        assert_eq!(
            decode_entities("&#xZZ; &bogus; & &lt;"),
            "&#xZZ; &bogus; & <"
        );
        assert_eq!(
            to_text("<a href=/x>y</a><A HREF=\"/z?a=1&amp;b=2\">").links,
            vec!["/x", "/z?a=1&b=2"]
        );
    }
}
