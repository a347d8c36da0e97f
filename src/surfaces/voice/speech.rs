//! The voice encoder's text filter: model text in, speakable text out. Markdown (emphasis,
//! headings, list markers, code, tables, HTML tags, citation marks) and URLs never reach
//! text-to-speech; a link keeps its words and loses its address.
//!
//! It works on a stream: text is released as soon as it cannot be the start of something that
//! must be dropped (an unfinished word that may be a URL, a link or a marker is held until the
//! next whitespace), so plain words reach the caller at once.

/// Filters one answer's text as it streams.
#[derive(Debug, Default)]
pub struct Speech {
    pending: String,
    /// The last character released was a space (or nothing was released yet).
    after_space: bool,
    /// The next word starts a line (where `#`, `-`, `1.` are markers).
    line_start: bool,
    /// Inside a fenced code block.
    in_fence: bool,
    /// Inside the `(address)` of a link.
    in_link_address: bool,
    /// Inside an HTML tag.
    in_tag: bool,
    started: bool,
}

impl Speech {
    /// A filter at the start of an answer.
    pub fn new() -> Self {
        Self {
            after_space: true,
            line_start: true,
            ..Self::default()
        }
    }

    /// Takes more model text; returns what may be spoken now (possibly empty).
    pub fn push(&mut self, delta: &str) -> String {
        self.pending.push_str(delta);
        let cut = self.safe_cut();
        let ready: String = self.pending.drain(..cut).collect();
        self.filter(&ready)
    }

    /// Ends the answer: returns whatever is left, filtered.
    pub fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.pending);
        let mut out = self.filter(&rest);
        if out.ends_with(' ') {
            out.pop();
        }
        out
    }

    /// How much of `pending` can be decided now: up to the last whitespace, or all of it when
    /// the unfinished last word is plain.
    fn safe_cut(&self) -> usize {
        let text = &self.pending;
        let word_start = text
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
            .map_or(0, |(i, c)| i + c.len_utf8());
        let fragment = &text[word_start..];
        let at_line_start = if word_start == 0 {
            self.line_start
        } else {
            text[..word_start].contains('\n')
        };
        if fragment.is_empty() || self.is_plain(fragment, at_line_start) {
            text.len()
        } else {
            word_start
        }
    }

    fn is_plain(&self, fragment: &str, at_line_start: bool) -> bool {
        if self.in_fence || self.in_link_address || self.in_tag {
            return false;
        }
        if at_line_start && fragment.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        let lower = fragment.to_ascii_lowercase();
        let maybe_address = ["https://", "http://", "www."]
            .iter()
            .any(|a| a.starts_with(lower.as_str()) || lower.starts_with(a));
        !maybe_address
            && fragment
                .chars()
                .all(|c| c.is_alphanumeric() || ".,!?;'\"-".contains(c))
    }

    fn filter(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while !rest.is_empty() {
            let space_len = rest.len() - rest.trim_start().len();
            if space_len > 0 {
                if rest[..space_len].contains('\n') {
                    self.line_start = true;
                }
                if !self.after_space && self.started {
                    out.push(' ');
                    self.after_space = true;
                }
                rest = &rest[space_len..];
                continue;
            }
            let word_len = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let spoken = self.word(&rest[..word_len]);
            if !spoken.is_empty() {
                out.push_str(&spoken);
                self.after_space = false;
                self.started = true;
            }
            rest = &rest[word_len..];
        }
        out
    }

    /// What one whitespace-free word becomes.
    fn word(&mut self, word: &str) -> String {
        let line_start = std::mem::take(&mut self.line_start);
        if self.in_fence {
            if word.starts_with("```") {
                self.in_fence = false;
            }
            return String::new();
        }
        if word.starts_with("```") {
            self.in_fence = true;
            return String::new();
        }
        let mut word = word;
        if self.in_link_address {
            match word.find(')') {
                Some(i) => {
                    self.in_link_address = false;
                    word = &word[i + 1..];
                }
                None => return String::new(),
            }
        }
        if self.in_tag {
            match word.find('>') {
                Some(i) => {
                    self.in_tag = false;
                    word = &word[i + 1..];
                }
                None => return String::new(),
            }
        }
        if line_start && is_line_marker(word) {
            return String::new();
        }
        let mut out = String::with_capacity(word.len());
        let mut rest = word;
        while !rest.is_empty() {
            // A link: keep its words, drop `](address)`.
            if let Some(after) = rest.strip_prefix("](") {
                match after.find(')') {
                    Some(i) => rest = &after[i + 1..],
                    None => {
                        self.in_link_address = true;
                        rest = "";
                    }
                }
                continue;
            }
            if is_address(rest) {
                // The address runs to the end of the word, less closing punctuation.
                let end = rest
                    .trim_end_matches(|c: char| ".,!?;:)]>\"'".contains(c))
                    .len();
                rest = &rest[end..];
                rest = rest.trim_start_matches([')', ']', '>']);
                continue;
            }
            let mut chars = rest.chars();
            let Some(c) = chars.next() else { break };
            match c {
                '<' if chars
                    .clone()
                    .next()
                    .is_some_and(|n| n.is_ascii_alphabetic() || n == '/' || n == '!') =>
                {
                    match rest.find('>') {
                        Some(i) => rest = &rest[i + 1..],
                        None => {
                            self.in_tag = true;
                            rest = "";
                        }
                    }
                    continue;
                }
                '[' => {
                    // A citation mark such as [1] says nothing.
                    let inner_end = rest.find(']');
                    if let Some(end) = inner_end {
                        if end > 1 && rest[1..end].bytes().all(|b| b.is_ascii_digit()) {
                            rest = &rest[end + 1..];
                            continue;
                        }
                    }
                }
                '(' if is_address(chars.as_str()) => {}
                '*' | '`' | '|' | '~' | ']' => {}
                '#' if out.is_empty() => {}
                '_' if out.is_empty()
                    || !chars.clone().next().is_some_and(char::is_alphanumeric) => {}
                c => out.push(c),
            }
            rest = chars.as_str();
        }
        out
    }
}

/// Whether text starts with a web address.
fn is_address(text: &str) -> bool {
    let head = text.get(..8).unwrap_or(text).to_ascii_lowercase();
    head.starts_with("http://") || head.starts_with("https://") || head.starts_with("www.")
}

/// `#`, `##`, `-`, `*`, `+`, `>`, `1.`, `2)`: what starts a heading, list item or quote.
fn is_line_marker(word: &str) -> bool {
    if !word.is_empty() && word.bytes().all(|b| b == b'#') {
        return true;
    }
    if matches!(word, "-" | "*" | "+" | ">" | "•") {
        return true;
    }
    let digits = word.trim_end_matches(['.', ')']);
    digits.len() < word.len()
        && !digits.is_empty()
        && digits.len() <= 3
        && digits.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spoken(text: &str) -> String {
        let mut speech = Speech::new();
        let mut out = speech.push(text);
        out.push_str(&speech.finish());
        out
    }

    /// The same text fed in every pair of cuts (and one character at a time) says the same.
    fn streamed_everywhere(text: &str) -> String {
        let whole = spoken(text);
        let chars: Vec<char> = text.chars().collect();
        let mut speech = Speech::new();
        let mut one_by_one = String::new();
        for c in &chars {
            one_by_one.push_str(&speech.push(&c.to_string()));
        }
        one_by_one.push_str(&speech.finish());
        assert_eq!(one_by_one, whole, "char by char");
        for i in 0..=chars.len() {
            let (a, b): (String, String) =
                (chars[..i].iter().collect(), chars[i..].iter().collect());
            let mut speech = Speech::new();
            let mut out = speech.push(&a);
            out.push_str(&speech.push(&b));
            out.push_str(&speech.finish());
            assert_eq!(out, whole, "cut at {i}");
        }
        whole
    }

    #[test]
    fn markdown_and_urls_never_reach_speech() {
        let text = "## Opening hours\n\n**We are open** 9 to 5. See [our page](https://shop.example/hours) or https://shop.example/x.\n- item *two*\n1. `code` here\n> quoted\n| a | b |\n```js\nconsole.log(1)\n```\nDone [1].";
        let out = streamed_everywhere(text);
        assert_eq!(
            out,
            "Opening hours We are open 9 to 5. See our page or . item two code here quoted a b Done ."
        );
        for banned in ["*", "#", "[", "]", "(", "http", "`", "|", "console"] {
            assert!(!out.contains(banned), "{banned} in {out}");
        }
    }

    #[test]
    fn html_and_addresses_in_parentheses_are_dropped() {
        let out = streamed_everywhere(
            "Here: <img src=x onerror=\"alert(1)\"> and <b>bold</b> (www.shop.example) ok",
        );
        assert_eq!(out, "Here: and bold ok");
    }

    #[test]
    fn plain_words_are_released_at_once() {
        let mut speech = Speech::new();
        assert_eq!(speech.push("Hello"), "Hello");
        assert_eq!(speech.push(" there, friend"), " there, friend");
        // Something that may become an address waits for the rest of the word.
        assert_eq!(speech.push(" htt"), " ");
        assert_eq!(speech.push("ps://x.test/a now"), "now");
        assert_eq!(speech.push(" **bo"), " ");
        assert_eq!(speech.push("ld** end."), "bold end.");
        assert_eq!(speech.finish(), "");
    }

    #[test]
    fn words_with_inner_underscores_and_symbols_survive() {
        assert_eq!(
            spoken("Call my_tool_name for _this_ in C# now"),
            "Call my_tool_name for this in C# now"
        );
        assert_eq!(spoken("It costs $5 - 10% off!"), "It costs $5 - 10% off!");
        assert_eq!(spoken("Año 2024: ¿qué tal?"), "Año 2024: ¿qué tal?");
    }
}
