//! DOCX to the Markdown-like text the chunker reads: a paragraph styled as a heading (or the
//! title) becomes a `#` line, a numbered or bulleted paragraph a `- ` line, a table row a
//! `| a | b |` line, anything else a paragraph. Only `word/document.xml` (and the style names
//! of `word/styles.xml`) is read: images, headers, footers, comments and deleted revisions are
//! left out. A small hand-written ZIP and XML reader, no crates: any input yields text or a
//! readable reason, never a panic.

use super::html::decode_entities;
use super::inflate::{Inflate, Wrapping, MAX_INFLATED_BYTES};

/// One file of a ZIP archive, as its central directory describes it.
struct Entry {
    name: String,
    method: u16,
    compressed: usize,
    size: usize,
    local_offset: usize,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The entries of a ZIP archive's central directory.
fn entries(zip: &[u8]) -> Result<Vec<Entry>, String> {
    const NOT_ZIP: &str = "The file is not a DOCX document (no ZIP directory found).";
    // The end-of-directory record is in the last 64 KiB + 22 bytes (after an optional comment).
    let floor = zip.len().saturating_sub(65_557);
    let end = (floor..zip.len().saturating_sub(21))
        .rev()
        .find(|&i| zip[i..].starts_with(b"PK\x05\x06"))
        .ok_or(NOT_ZIP)?;
    let count = u16_at(zip, end + 10).ok_or(NOT_ZIP)? as usize;
    let mut at = u32_at(zip, end + 16).ok_or(NOT_ZIP)? as usize;
    let mut out = Vec::with_capacity(count.min(4_096));
    for _ in 0..count {
        if !zip.get(at..).is_some_and(|r| r.starts_with(b"PK\x01\x02")) {
            return Err("The DOCX document is damaged (its ZIP directory is cut short).".into());
        }
        let field = |off: usize| u16_at(zip, at + off).map(usize::from);
        let long = |off: usize| u32_at(zip, at + off).map(|v| v as usize);
        let (Some(method), Some(compressed), Some(size), Some(name_len), Some(extra), Some(note)) = (
            u16_at(zip, at + 10),
            long(20),
            long(24),
            field(28),
            field(30),
            field(32),
        ) else {
            return Err("The DOCX document is damaged.".into());
        };
        let local_offset = long(42).ok_or("The DOCX document is damaged.")?;
        let name = zip
            .get(at + 46..at + 46 + name_len)
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .ok_or("The DOCX document is damaged.")?;
        out.push(Entry {
            name,
            method,
            compressed,
            size,
            local_offset,
        });
        at += 46 + name_len + extra + note;
    }
    Ok(out)
}

/// The bytes of one entry, inflated.
async fn entry_bytes<I: Inflate>(
    zip: &[u8],
    entry: &Entry,
    inflater: &I,
) -> Result<Vec<u8>, String> {
    let damaged = || {
        format!(
            "The DOCX document is damaged ({} cannot be read).",
            entry.name
        )
    };
    if entry.compressed == 0xFFFF_FFFF || entry.size == 0xFFFF_FFFF {
        return Err("The DOCX document uses ZIP64, which is not supported.".into());
    }
    let local = entry.local_offset;
    if !zip
        .get(local..)
        .is_some_and(|r| r.starts_with(b"PK\x03\x04"))
    {
        return Err(damaged());
    }
    let name_len = u16_at(zip, local + 26).ok_or_else(damaged)? as usize;
    let extra = u16_at(zip, local + 28).ok_or_else(damaged)? as usize;
    let start = local + 30 + name_len + extra;
    let data = zip
        .get(start..start.saturating_add(entry.compressed))
        .ok_or_else(damaged)?;
    match entry.method {
        0 => Ok(data.to_vec()),
        8 => inflater
            .inflate(data, Wrapping::Raw, MAX_INFLATED_BYTES)
            .await
            .map_err(|e| format!("The DOCX document is damaged ({}: {e}).", entry.name)),
        m => Err(format!(
            "The DOCX document uses a compression this reader does not know (method {m})."
        )),
    }
}

/// Extracts the structured text of a DOCX document.
pub async fn extract<I: Inflate>(bytes: &[u8], inflater: &I) -> Result<String, String> {
    let list = entries(bytes)?;
    let find = |name: &str| list.iter().find(|e| e.name == name);
    let document = find("word/document.xml")
        .ok_or("The file is not a Word document (it has no word/document.xml).")?;
    let xml = entry_bytes(bytes, document, inflater).await?;
    let styles = match find("word/styles.xml") {
        // Style names are a refinement: a document without readable styles still has text.
        Some(entry) => entry_bytes(bytes, entry, inflater)
            .await
            .map(|s| heading_styles(&String::from_utf8_lossy(&s)))
            .unwrap_or_default(),
        None => Vec::new(),
    };
    Ok(document_text(&String::from_utf8_lossy(&xml), &styles))
}

/// One tag of an XML text: its name (prefix kept), whether it closes, self-closes, and its
/// inside (for attributes).
struct Tag<'a> {
    name: &'a str,
    closing: bool,
    empty: bool,
    inside: &'a str,
}

/// A piece of XML: a tag or the text between tags (still entity-encoded).
enum Node<'a> {
    Tag(Tag<'a>),
    Text(&'a str),
}

/// Walks XML, giving `on` each tag and text. Comments, processing instructions and
/// declarations are skipped.
fn walk<'a>(xml: &'a str, mut on: impl FnMut(Node<'a>)) {
    let mut rest = xml;
    while let Some(open) = rest.find('<') {
        if open > 0 {
            on(Node::Text(&rest[..open]));
        }
        rest = &rest[open..];
        let skip_to = |end: &str, rest: &str| rest.find(end).map(|i| i + end.len());
        let consumed = if rest.starts_with("<!--") {
            skip_to("-->", rest)
        } else if rest.starts_with("<![CDATA[") {
            let end = rest.find("]]>");
            if let Some(end) = end {
                on(Node::Text(&rest[9..end]));
            }
            end.map(|e| e + 3)
        } else if rest.starts_with("<?") || rest.starts_with("<!") {
            skip_to(">", rest)
        } else {
            rest.find('>').map(|close| {
                let body = &rest[1..close];
                let closing = body.starts_with('/');
                let body = body.trim_start_matches('/');
                let empty = body.ends_with('/');
                let body = body.trim_end_matches('/');
                let name_end = body
                    .find(|c: char| c.is_ascii_whitespace())
                    .unwrap_or(body.len());
                on(Node::Tag(Tag {
                    name: &body[..name_end],
                    closing,
                    empty,
                    inside: &body[name_end..],
                }));
                close + 1
            })
        };
        match consumed {
            Some(n) => rest = &rest[n..],
            None => return,
        }
    }
    if !rest.is_empty() {
        on(Node::Text(rest));
    }
}

/// The value of attribute `name` (exact, with its prefix) inside a tag.
fn attr(inside: &str, name: &str) -> Option<String> {
    let mut from = 0;
    while let Some(found) = inside[from..].find(name) {
        let at = from + found;
        from = at + name.len();
        let before_ok = at == 0 || inside.as_bytes()[at - 1].is_ascii_whitespace();
        let after = inside[from..].trim_start();
        if !before_ok || !after.starts_with('=') {
            continue;
        }
        let value = after[1..].trim_start();
        let quote = value.chars().next()?;
        if quote != '"' && quote != '\'' {
            return None;
        }
        let body = &value[1..];
        let end = body.find(quote).unwrap_or(body.len());
        return Some(decode_entities(&body[..end]));
    }
    None
}

/// The heading level a style's name means (`heading 2` is 2, `Title` 1).
fn level_of_name(name: &str) -> Option<usize> {
    let lower = name.to_ascii_lowercase().replace(' ', "");
    if lower == "title" {
        return Some(1);
    }
    let digits = lower.strip_prefix("heading")?;
    digits.parse::<usize>().ok().filter(|l| (1..=6).contains(l))
}

/// Style ids of `styles.xml` whose names are headings, with their levels (Word writes
/// localized ids such as `berschrift1` but keeps the English name `heading 1`).
fn heading_styles(xml: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    walk(xml, |node| {
        let Node::Tag(tag) = node else { return };
        match tag.name {
            "w:style" if !tag.closing => current = attr(tag.inside, "w:styleId"),
            "w:name" if !tag.closing => {
                if let (Some(id), Some(level)) = (
                    current.as_ref(),
                    attr(tag.inside, "w:val").as_deref().and_then(level_of_name),
                ) {
                    out.push((id.clone(), level));
                }
            }
            _ => {}
        }
    });
    out
}

/// What a paragraph is.
#[derive(Default)]
struct Paragraph {
    text: String,
    heading: Option<usize>,
    list_level: Option<usize>,
}

/// The text of `word/document.xml` (see the module comment); `styles` maps style ids to
/// heading levels.
fn document_text(xml: &str, styles: &[(String, usize)]) -> String {
    let mut out = String::new();
    let mut paragraph = Paragraph::default();
    let mut in_text = false;
    // `w:tab` inside `w:tabs` is a tab stop, not a tab.
    let mut in_tab_stops = false;
    // Tables nest: each open table's current row of cells.
    let mut rows: Vec<Vec<String>> = Vec::new();
    // Text inside these is not the document's (deleted revisions, field codes, the fallback
    // copy of a text box).
    let mut skipped = 0usize;
    let level_of_style = |id: &str| {
        styles
            .iter()
            .find(|(s, _)| s == id)
            .map(|(_, l)| *l)
            .or_else(|| level_of_name(id))
    };
    walk(xml, |node| {
        let tag = match node {
            Node::Text(text) => {
                if in_text && skipped == 0 {
                    paragraph.text.push_str(&decode_entities(text));
                }
                return;
            }
            Node::Tag(tag) => tag,
        };
        {
            let opening = !tag.closing;
            match tag.name {
                "w:del" | "w:instrText" | "w:delText" | "mc:Fallback" if !tag.empty => {
                    if opening {
                        skipped += 1;
                    } else {
                        skipped = skipped.saturating_sub(1);
                    }
                }
                _ if skipped > 0 => {}
                "w:p" if opening && !tag.empty => paragraph = Paragraph::default(),
                "w:p" => {
                    let done = std::mem::take(&mut paragraph);
                    finish_paragraph(done, &mut rows, &mut out);
                }
                "w:pStyle" if opening => {
                    if let Some(style) = attr(tag.inside, "w:val") {
                        paragraph.heading = level_of_style(&style);
                    }
                }
                "w:outlineLvl" if opening && paragraph.heading.is_none() => {
                    paragraph.heading = attr(tag.inside, "w:val")
                        .and_then(|v| v.parse::<usize>().ok())
                        .filter(|l| *l < 6)
                        .map(|l| l + 1);
                }
                "w:numPr" if opening => {
                    paragraph.list_level.get_or_insert(0);
                }
                "w:ilvl" if opening => {
                    let level = attr(tag.inside, "w:val").and_then(|v| v.parse().ok());
                    paragraph.list_level = Some(level.unwrap_or(0).min(8));
                }
                "w:t" => in_text = opening && !tag.empty,
                "w:tabs" => in_tab_stops = opening && !tag.empty,
                "w:tab" if opening && !in_tab_stops => paragraph.text.push('\t'),
                "w:br" | "w:cr" if opening => paragraph.text.push('\n'),
                "w:noBreakHyphen" if opening => paragraph.text.push('-'),
                "w:tbl" if opening && !tag.empty => {
                    if rows.is_empty() && !out.is_empty() {
                        out.push('\n');
                    }
                    rows.push(Vec::new());
                }
                "w:tbl" if tag.closing => {
                    rows.pop();
                    if rows.is_empty() {
                        out.push('\n');
                    }
                }
                "w:tr" if opening && !tag.empty => {
                    if let Some(row) = rows.last_mut() {
                        row.clear();
                    }
                }
                "w:tr" if tag.closing => {
                    let Some(cells) = rows.last_mut().map(std::mem::take) else {
                        return;
                    };
                    if cells.iter().all(|c| c.trim().is_empty()) {
                        return;
                    }
                    let mut line = String::from("|");
                    for cell in &cells {
                        line.push(' ');
                        line.push_str(&squash(cell));
                        line.push_str(" |");
                    }
                    match rows.len() {
                        // A table inside a cell: its rows join that cell's text.
                        n if n > 1 => push_cell_text(&mut rows[n - 2], &line),
                        _ => {
                            out.push_str(&line);
                            out.push('\n');
                        }
                    }
                }
                "w:tc" if opening && !tag.empty => {
                    if let Some(row) = rows.last_mut() {
                        row.push(String::new());
                    }
                }
                _ => {}
            }
        }
    });
    tidy(&out)
}

/// Adds text to the last cell of a row (a paragraph or a nested table's row).
fn push_cell_text(row: &mut Vec<String>, text: &str) {
    if row.is_empty() {
        row.push(String::new());
    }
    if let Some(cell) = row.last_mut() {
        if !cell.is_empty() {
            cell.push(' ');
        }
        cell.push_str(text);
    }
}

/// Writes a finished paragraph: into the open table's cell, or as a heading, list item or
/// paragraph.
fn finish_paragraph(p: Paragraph, rows: &mut [Vec<String>], out: &mut String) {
    let text = p.text.replace('\t', " ");
    let text = text.trim();
    if let Some(row) = rows.last_mut() {
        if !text.is_empty() {
            push_cell_text(row, text);
        }
        return;
    }
    if text.is_empty() {
        return;
    }
    let one_line = squash(text);
    match (p.heading, p.list_level) {
        (Some(level), _) => {
            out.push('\n');
            out.push_str(&"#".repeat(level));
            out.push(' ');
            out.push_str(&one_line);
            out.push_str("\n\n");
        }
        (None, Some(level)) => {
            out.push_str(&"  ".repeat(level));
            out.push_str("- ");
            out.push_str(&one_line);
            out.push('\n');
        }
        (None, None) => {
            if !out.is_empty() && !out.ends_with("\n\n") {
                out.push('\n');
            }
            for line in text.lines() {
                let line = squash(line);
                if !line.is_empty() {
                    out.push_str(&line);
                    out.push('\n');
                }
            }
            out.push('\n');
        }
    }
}

/// The words of `text` joined by single spaces.
pub(crate) fn squash(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Collapses runs of blank lines and trims the ends.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        if line.trim().is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(line.trim_end());
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::knowledge::inflate::TestInflate;

    /// A ZIP archive of `files` (deflated when `deflate`), as Word writes them.
    pub fn zip(files: &[(&str, &str)], deflate: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let mut directory = Vec::new();
        for (name, body) in files {
            let data = if deflate {
                miniz_oxide::deflate::compress_to_vec(body.as_bytes(), 6)
            } else {
                body.as_bytes().to_vec()
            };
            let method: u16 = if deflate { 8 } else { 0 };
            let offset = out.len() as u32;
            out.extend_from_slice(b"PK\x03\x04");
            out.extend_from_slice(&[20, 0, 0, 0]);
            out.extend_from_slice(&method.to_le_bytes());
            out.extend_from_slice(&[0; 8]);
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&data);
            directory.extend_from_slice(b"PK\x01\x02");
            directory.extend_from_slice(&[20, 0, 20, 0, 0, 0]);
            directory.extend_from_slice(&method.to_le_bytes());
            directory.extend_from_slice(&[0; 8]);
            directory.extend_from_slice(&(data.len() as u32).to_le_bytes());
            directory.extend_from_slice(&(body.len() as u32).to_le_bytes());
            directory.extend_from_slice(&(name.len() as u16).to_le_bytes());
            directory.extend_from_slice(&[0; 12]);
            directory.extend_from_slice(&offset.to_le_bytes());
            directory.extend_from_slice(name.as_bytes());
        }
        let start = out.len() as u32;
        out.extend_from_slice(&directory);
        out.extend_from_slice(b"PK\x05\x06");
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(files.len() as u16).to_le_bytes());
        out.extend_from_slice(&(files.len() as u16).to_le_bytes());
        out.extend_from_slice(&(directory.len() as u32).to_le_bytes());
        out.extend_from_slice(&start.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out
    }

    const BODY: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>
<w:p><w:pPr><w:pStyle w:val="Title"/></w:pPr><w:r><w:t>Lamp manual</w:t></w:r></w:p>
<w:p><w:pPr><w:pStyle w:val="berschrift1"/></w:pPr><w:r><w:t>Setup</w:t></w:r></w:p>
<w:p><w:r><w:t xml:space="preserve">Plug the lamp in &amp; press </w:t></w:r><w:r><w:t>the switch.</w:t></w:r></w:p>
<w:p><w:pPr><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr></w:pPr><w:r><w:t>Unused</w:t></w:r></w:p>
<w:p><w:pPr><w:numPr><w:ilvl w:val="1"/><w:numId w:val="1"/></w:numPr></w:pPr><w:r><w:t>With receipt</w:t></w:r></w:p>
<w:p><w:pPr><w:pStyle w:val="Heading2"/></w:pPr><w:r><w:t>Prices</w:t></w:r></w:p>
<w:tbl><w:tr><w:tc><w:p><w:r><w:t>Plan</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>Price</w:t></w:r></w:p></w:tc></w:tr>
<w:tr><w:tc><w:p><w:r><w:t>Pro</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>$9</w:t></w:r><w:r><w:tab/><w:t>a month</w:t></w:r></w:p></w:tc></w:tr></w:tbl>
<w:p><w:r><w:delText>old words</w:delText></w:r><w:r><w:t>Line one</w:t><w:br/><w:t>line two</w:t></w:r></w:p>
</w:body></w:document>"#;

    /// A sample document (deflated or stored).
    pub fn sample(deflate: bool) -> Vec<u8> {
        zip(
            &[("word/styles.xml", STYLES), ("word/document.xml", BODY)],
            deflate,
        )
    }

    const STYLES: &str = r#"<w:styles><w:style w:type="paragraph" w:styleId="berschrift1"><w:name w:val="heading 1"/></w:style></w:styles>"#;

    #[test]
    fn headings_lists_tables_and_breaks_become_structured_text() {
        for deflate in [true, false] {
            let file = zip(
                &[("word/styles.xml", STYLES), ("word/document.xml", BODY)],
                deflate,
            );
            let text = block_on(extract(&file, &TestInflate)).unwrap();
            assert_eq!(
                text,
                "# Lamp manual\n\n# Setup\n\nPlug the lamp in & press the switch.\n\n- Unused\n  - With receipt\n\n## Prices\n\n| Plan | Price |\n| Pro | $9 a month |\n\nLine one\nline two"
            );
            let chunks = crate::knowledge::chunk::chunk(&text);
            assert!(chunks
                .iter()
                .any(|c| c.heading == "Setup" && c.text.contains("- Unused")));
            assert!(chunks
                .iter()
                .any(|c| c.heading == "Setup > Prices" && c.text.contains("| Pro | $9 a month |")));
        }
    }

    #[test]
    fn not_a_docx_or_a_damaged_one_is_a_reason() {
        for bad in [&b""[..], b"PK\x03\x04garbage", b"%PDF-1.7", &[0xFF; 100]] {
            assert!(block_on(extract(bad, &TestInflate)).is_err());
        }
        let no_document = zip(&[("hello.txt", "hi")], true);
        let err = block_on(extract(&no_document, &TestInflate)).unwrap_err();
        assert!(err.contains("word/document.xml"), "{err}");
        let file = zip(&[("word/document.xml", BODY)], true);
        for cut in [10, file.len() / 2, file.len() - 30, file.len() - 1] {
            let _ = block_on(extract(&file[..cut], &TestInflate));
        }
        let mut flipped = file.clone();
        for i in (40..flipped.len()).step_by(7) {
            flipped[i] ^= 0x5A;
            let _ = block_on(extract(&flipped, &TestInflate));
        }
    }

    #[test]
    fn broken_xml_still_yields_text() {
        for xml in [
            "<w:p><w:r><w:t>open",
            "</w:tr></w:tbl><w:t>x</w:t></w:p>",
            "<w:tbl><w:tr><w:tc><w:p><w:t>a",
            "<<<>>>&amp;",
        ] {
            let _ = document_text(xml, &[]);
        }
    }
}
