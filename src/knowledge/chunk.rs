//! Structure-aware chunking: a document (Markdown-like text, which `html::to_text` also
//! produces) is split on headings first, then packed paragraph by paragraph into chunks of about
//! `TARGET_TOKENS`, each carrying the path of headings above it. A paragraph longer than a chunk
//! is cut at sentence (then word) boundaries, and consecutive chunks of one section share about
//! `OVERLAP_TOKENS` so a sentence cut in two is still found whole.

/// Tokens a chunk aims for (Dify's automatic mode uses 500; smaller chunks cite more precisely).
pub const TARGET_TOKENS: usize = 450;
/// Tokens repeated at the start of the next chunk of the same section.
pub const OVERLAP_TOKENS: usize = 50;
/// Most chunks one source may produce (about 1.8 MB of text at the target size).
pub const MAX_CHUNKS: usize = 4_000;

/// One piece of a document, ready to be indexed.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// Headings above the text, outermost first, joined by " > " (empty at the top level).
    pub heading: String,
    /// The text itself.
    pub text: String,
    /// Its estimated size in tokens.
    pub tokens: usize,
}

/// Estimated model tokens of `text`: about four characters a token for English prose, never
/// fewer than the words (so short-word languages are not underestimated).
pub fn estimate_tokens(text: &str) -> usize {
    let chars = text.chars().count();
    let words = text.split_whitespace().count();
    chars.div_ceil(4).max(words)
}

/// A heading line's level and text (`# Title` is 1).
fn heading(line: &str) -> Option<(usize, &str)> {
    let trimmed = line.trim_start();
    let level = trimmed.bytes().take_while(|b| *b == b'#').count();
    if level == 0 || level > 6 {
        return None;
    }
    let rest = &trimmed[level..];
    if !rest.starts_with(' ') {
        return None;
    }
    let text = rest.trim().trim_end_matches('#').trim();
    (!text.is_empty()).then_some((level, text))
}

/// A run of text under one heading path.
struct Section {
    heading: String,
    paragraphs: Vec<String>,
}

/// Splits text into sections on headings and into paragraphs on blank lines. List items and
/// table rows stay in the paragraph of their neighbours, so a list or table is kept together.
fn sections(text: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    let mut path: Vec<(usize, String)> = Vec::new();
    let mut current = Section {
        heading: String::new(),
        paragraphs: Vec::new(),
    };
    let mut paragraph = String::new();
    let end_paragraph = |paragraph: &mut String, section: &mut Section| {
        let text = paragraph.trim();
        if !text.is_empty() {
            section.paragraphs.push(text.to_owned());
        }
        paragraph.clear();
    };
    for line in text.lines() {
        if let Some((level, title)) = heading(line) {
            end_paragraph(&mut paragraph, &mut current);
            let finished = std::mem::replace(
                &mut current,
                Section {
                    heading: String::new(),
                    paragraphs: Vec::new(),
                },
            );
            if !finished.paragraphs.is_empty() {
                out.push(finished);
            }
            path.retain(|(l, _)| *l < level);
            path.push((level, title.to_owned()));
            current.heading = path
                .iter()
                .map(|(_, t)| t.as_str())
                .collect::<Vec<_>>()
                .join(" > ");
        } else if line.trim().is_empty() {
            end_paragraph(&mut paragraph, &mut current);
        } else {
            if !paragraph.is_empty() {
                paragraph.push('\n');
            }
            paragraph.push_str(line.trim_end());
        }
    }
    end_paragraph(&mut paragraph, &mut current);
    if !current.paragraphs.is_empty() {
        out.push(current);
    }
    out
}

/// Cuts a paragraph too long for one chunk into pieces of at most `limit` tokens, at sentence
/// ends where it can and at spaces where it must.
fn split_long(paragraph: &str, limit: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut piece = String::new();
    for sentence in sentences(paragraph) {
        if estimate_tokens(sentence) > limit {
            for word in sentence.split_whitespace() {
                if !piece.is_empty() && estimate_tokens(&piece) + estimate_tokens(word) > limit {
                    pieces.push(std::mem::take(&mut piece));
                }
                if !piece.is_empty() {
                    piece.push(' ');
                }
                piece.push_str(word);
            }
            continue;
        }
        if !piece.is_empty() && estimate_tokens(&piece) + estimate_tokens(sentence) > limit {
            pieces.push(std::mem::take(&mut piece));
        }
        if !piece.is_empty() {
            piece.push(' ');
        }
        piece.push_str(sentence.trim());
    }
    if !piece.trim().is_empty() {
        pieces.push(piece);
    }
    pieces
}

/// Sentences of a paragraph (ends at `.`, `!`, `?` or a line break followed by space).
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        let end = matches!(b, b'.' | b'!' | b'?' | b'\n')
            && bytes.get(i + 1).is_none_or(|n| n.is_ascii_whitespace());
        if end {
            let sentence = text[start..=i].trim();
            if !sentence.is_empty() {
                out.push(sentence);
            }
            start = i + 1;
        }
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// The last `tokens` or so of `text`, starting at a word.
fn tail(text: &str, tokens: usize) -> &str {
    let words: Vec<(usize, &str)> = text
        .split_whitespace()
        .map(|w| (w.as_ptr() as usize - text.as_ptr() as usize, w))
        .collect();
    let mut taken = 0;
    let mut start = text.len();
    for (offset, word) in words.iter().rev() {
        taken += estimate_tokens(word);
        if taken > tokens {
            break;
        }
        start = *offset;
    }
    &text[start..]
}

/// Splits a document into chunks of about `target` tokens with `overlap` tokens shared between
/// neighbours of one section; at most `MAX_CHUNKS`.
pub fn chunk_with(text: &str, target: usize, overlap: usize) -> Vec<Chunk> {
    let target = target.max(16);
    let overlap = overlap.min(target / 4);
    let mut chunks = Vec::new();
    for section in sections(text) {
        let mut pieces: Vec<String> = Vec::new();
        for paragraph in section.paragraphs {
            if estimate_tokens(&paragraph) > target {
                pieces.extend(split_long(&paragraph, target - overlap));
            } else {
                pieces.push(paragraph);
            }
        }
        let mut current = String::new();
        for piece in pieces {
            if !current.is_empty() && estimate_tokens(&current) + estimate_tokens(&piece) > target {
                let carried = tail(&current, overlap).to_owned();
                chunks.push(make(&section.heading, std::mem::take(&mut current)));
                if overlap > 0 && !carried.is_empty() {
                    current = carried;
                }
            }
            if !current.is_empty() {
                current.push_str("\n\n");
            }
            current.push_str(&piece);
        }
        if !current.trim().is_empty() {
            chunks.push(make(&section.heading, current));
        }
        if chunks.len() >= MAX_CHUNKS {
            chunks.truncate(MAX_CHUNKS);
            break;
        }
    }
    chunks
}

/// `chunk_with` at the defaults (`TARGET_TOKENS`, `OVERLAP_TOKENS`).
pub fn chunk(text: &str) -> Vec<Chunk> {
    chunk_with(text, TARGET_TOKENS, OVERLAP_TOKENS)
}

fn make(heading: &str, text: String) -> Chunk {
    let text = text.trim().to_owned();
    Chunk {
        heading: heading.to_owned(),
        tokens: estimate_tokens(&text),
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_headings_and_keeps_the_heading_path() {
        let doc = "# Guide\nIntro text.\n\n## Refunds\nRefunds take 5 days.\n\n### Abroad\nLonger abroad.\n\n## Shipping\nWe ship daily.";
        let chunks = chunk(doc);
        let view: Vec<(&str, &str)> = chunks
            .iter()
            .map(|c| (c.heading.as_str(), c.text.as_str()))
            .collect();
        assert_eq!(
            view,
            vec![
                ("Guide", "Intro text."),
                ("Guide > Refunds", "Refunds take 5 days."),
                ("Guide > Refunds > Abroad", "Longer abroad."),
                ("Guide > Shipping", "We ship daily."),
            ]
        );
    }

    #[test]
    fn packs_paragraphs_up_to_the_target_with_overlap() {
        let paragraph = "word ".repeat(30); // 30 tokens
        let doc: String = (0..10).map(|i| format!("P{i} {paragraph}\n\n")).collect();
        let chunks = chunk_with(&doc, 100, 10);
        assert!(chunks.len() >= 3, "{}", chunks.len());
        for c in &chunks {
            assert!(c.tokens <= 100 + 10, "{} tokens", c.tokens);
        }
        // Each later chunk starts with the end of the previous one.
        for pair in chunks.windows(2) {
            let carried: String = pair[0].text.split_whitespace().last().unwrap().into();
            assert!(pair[1].text.starts_with(&carried), "{:?}", pair[1].text);
        }
        // Nothing is lost: every paragraph marker appears.
        let all: String = chunks.iter().map(|c| c.text.clone()).collect();
        for i in 0..10 {
            assert!(all.contains(&format!("P{i} ")), "P{i}");
        }
    }

    #[test]
    fn cuts_a_long_paragraph_at_sentences_then_words() {
        let long = "This is one sentence that goes on. ".repeat(200);
        let chunks = chunk_with(&long, 60, 0);
        assert!(chunks.len() > 5);
        for c in &chunks {
            assert!(c.tokens <= 60, "{}", c.tokens);
            assert!(c.text.ends_with('.'), "{:?}", c.text);
        }
        let no_spaces = "x".repeat(10_000);
        let chunks = chunk_with(&no_spaces, 60, 0);
        assert_eq!(chunks.len(), 1, "one word cannot be cut at a space");
    }

    #[test]
    fn keeps_lists_and_tables_together() {
        let doc = "## Plans\n| Plan | Price |\n| Basic | 5 |\n| Pro | 9 |\n\n- one\n- two";
        let chunks = chunk(doc);
        assert_eq!(chunks.len(), 1);
        assert!(chunks[0].text.contains("| Pro | 9 |\n\n- one\n- two"));
    }

    #[test]
    fn handles_empty_and_odd_input() {
        assert!(chunk("").is_empty());
        assert!(chunk("\n\n   \n").is_empty());
        assert!(chunk("#").len() == 1, "a lone # is text, not a heading");
        assert_eq!(
            chunk("#NoSpace").first().map(|c| c.heading.as_str()),
            Some("")
        );
        let emoji = "😀 ".repeat(2_000);
        assert!(!chunk(&emoji).is_empty());
        assert_eq!(estimate_tokens("one two three"), 4);
    }
}
