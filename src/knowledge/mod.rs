//! Knowledge: what a tenant's documents are made of and how they are searched, with no
//! `worker::` types. Bases hold sources (a text, a Q&A pair, a web page, a sitemap); ingestion
//! turns a source into chunks (`chunk`, after `html` for pages); search fuses a lexical and a
//! vector ranking (`rank`). The stores keep the rows; `app::knowledge` runs the use cases.

pub mod chunk;
#[cfg(target_arch = "wasm32")]
pub mod client;
pub mod docx;
pub mod embed;
pub mod html;
pub mod inflate;
pub mod pdf;
pub mod rank;
pub mod web;

use futures::future::{LocalBoxFuture, Shared};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A tenant's collection of sources, attachable to any number of agents.
#[derive(Debug, Clone, PartialEq)]
pub struct KnowledgeBase {
    /// Id (`kb_…`).
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// The tenant's label.
    pub name: String,
    /// Creation time, ms since the epoch.
    pub created_at: i64,
    /// Last change of the base or any of its chunks, ms since the epoch (vector caches key on it).
    pub updated_at: i64,
}

/// The usage line knowledge's embeddings (ingestion's and searches') are counted under,
/// beside the agents' (no agent id can contain `:`), so they count towards the tenant's spend
/// and show in its usage.
pub const EMBEDDING_USAGE: &str = "knowledge:embeddings";

/// What a source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// A text the tenant pasted.
    Text,
    /// A question with a curated answer.
    Qa,
    /// One web page.
    Url,
    /// The pages a sitemap lists (same host, at most `max_pages`).
    Sitemap,
    /// The pages reached by links from a start page (same host, at most `max_pages`, at most
    /// `max_depth` links away).
    Crawl,
    /// An uploaded file (txt, md, html, csv).
    File,
}

impl SourceKind {
    /// Stored and API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Text => "text",
            SourceKind::Qa => "qa",
            SourceKind::Url => "url",
            SourceKind::Sitemap => "sitemap",
            SourceKind::Crawl => "crawl",
            SourceKind::File => "file",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "text" => SourceKind::Text,
            "qa" => SourceKind::Qa,
            "url" => SourceKind::Url,
            "sitemap" => SourceKind::Sitemap,
            "crawl" => SourceKind::Crawl,
            "file" => SourceKind::File,
            _ => return None,
        })
    }

    /// Whether ingestion fetches it from the web (and a schedule re-syncs it).
    pub fn is_web(self) -> bool {
        matches!(
            self,
            SourceKind::Url | SourceKind::Sitemap | SourceKind::Crawl
        )
    }
}

/// Where a source is in its ingestion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceStatus {
    /// Waiting in the ingestion queue.
    Queued,
    /// Being fetched, chunked and embedded.
    Processing,
    /// Searchable.
    Ready,
    /// Ingestion gave up; `error` says why. Its previous chunks (if any) stay searchable.
    Failed,
}

impl SourceStatus {
    /// Stored and API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceStatus::Queued => "queued",
            SourceStatus::Processing => "processing",
            SourceStatus::Ready => "ready",
            SourceStatus::Failed => "failed",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "queued" => SourceStatus::Queued,
            "processing" => SourceStatus::Processing,
            "ready" => SourceStatus::Ready,
            "failed" => SourceStatus::Failed,
            _ => return None,
        })
    }
}

/// One source of a knowledge base.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// Id (`src_…`).
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// The base it belongs to.
    pub base_id: String,
    /// What it is.
    pub kind: SourceKind,
    /// Title shown in citations (a page's `<title>` once fetched).
    pub title: String,
    /// The page, sitemap or file name.
    pub url: Option<String>,
    /// What was pasted or uploaded (text and Q&A: the text; Q&A as `question\n\nanswer`).
    pub content: Option<String>,
    /// Most pages a sitemap or crawl source takes.
    pub max_pages: Option<u32>,
    /// How many links away from its start page a crawl goes.
    pub max_depth: Option<u32>,
    /// Where ingestion is.
    pub status: SourceStatus,
    /// Progress while processing, 0–100.
    pub progress: u32,
    /// Chunks it has in the index.
    pub chunk_count: u32,
    /// Why it failed.
    pub error: Option<String>,
    /// SHA-256 of the text last indexed (an unchanged page is not embedded again).
    pub content_hash: Option<String>,
    /// Creation time, ms since the epoch.
    pub created_at: i64,
    /// Last change, ms since the epoch.
    pub updated_at: i64,
}

/// A chunk ready to be written: its text, where it sits and (with embeddings) its vector.
#[derive(Debug, Clone, PartialEq)]
pub struct NewChunk {
    /// Id (`chk_…`).
    pub id: String,
    /// Title of its page or source.
    pub title: String,
    /// Its page's address (sitemaps have many pages per source).
    pub url: Option<String>,
    /// Heading path above it.
    pub heading: String,
    /// The text.
    pub text: String,
    /// Its embedding, when an embeddings endpoint is configured.
    pub vector: Option<Vec<f32>>,
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Hit {
    /// The chunk.
    pub chunk_id: String,
    /// Its source.
    pub source_id: String,
    /// Its base.
    pub base_id: String,
    /// What the source is (Q&A hits are curated answers).
    pub kind: SourceKind,
    /// Title of its page or source.
    pub title: String,
    /// Its page, for web sources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Heading path above it.
    pub heading: String,
    /// The text.
    pub text: String,
    /// Fused score, 0–1 (1: first in both rankings).
    pub score: f64,
    /// Its best place in either ranking (1: first in one of them; 0: unknown).
    #[serde(skip)]
    pub best_rank: usize,
}

/// The query's embedding as it arrives (`None` without one): a store awaits it only where it
/// needs it, so what does not (D1's keyword ranking) runs while the query is being embedded.
pub type QueryVector<'a> = Shared<LocalBoxFuture<'a, Option<Vec<f32>>>>;

/// What a search asks.
#[derive(Clone)]
pub struct SearchQuery<'a> {
    /// The bases to search (all the tenant's, already checked).
    pub base_ids: &'a [String],
    /// The FTS5 query for the lexical half (`fts_query` of the visitor's words).
    pub fts: String,
    /// The query's embedding, when embeddings are configured.
    pub vector: QueryVector<'a>,
    /// How many candidates each half contributes.
    pub candidates: usize,
    /// How many hits to return.
    pub top_k: usize,
}

/// Candidates each ranking contributes before fusion, for a wanted `top_k`. As deep as the
/// answer and no deeper: keyword matches far down the list only added noise to paraphrased
/// questions (bench/knowledge-eval.mjs: recall@5 0.925 with 2-4x `top_k`, 0.942 with `top_k`).
pub fn candidates_for(top_k: usize) -> usize {
    top_k.clamp(10, 100)
}

/// Sorts fused hits best first, with curated Q&A answers that one ranking put first ahead of
/// the rest (a matching curated answer wins over retrieved text), and drops those under
/// `min_score`.
pub fn finish_hits(mut hits: Vec<Hit>, min_score: f64, top_k: usize) -> Vec<Hit> {
    hits.retain(|h| h.score >= min_score);
    hits.sort_by(|a, b| {
        let qa = |h: &Hit| h.kind == SourceKind::Qa && h.best_rank == 1;
        qa(b)
            .cmp(&qa(a))
            .then_with(|| b.score.total_cmp(&a.score))
            .then_with(|| a.chunk_id.cmp(&b.chunk_id))
    });
    hits.truncate(top_k);
    hits
}

/// Words too common to rank by (English, German, Spanish, French, Portuguese), left out of the
/// keyword query: matching only them says nothing about a chunk.
const STOPWORDS: &[&str] = &[
    "about", "after", "all", "and", "any", "are", "but", "can", "could", "did", "does", "doesn",
    "don", "for", "from", "get", "had", "has", "have", "how", "into", "its", "just", "more", "not",
    "off", "one", "our", "out", "than", "that", "the", "their", "them", "then", "there", "these",
    "they", "this", "too", "very", "was", "way", "what", "when", "where", "which", "while", "who",
    "why", "will", "with", "would", "you", "your", "der", "die", "das", "den", "dem", "des", "ein",
    "eine", "einen", "und", "ist", "für", "mit", "auf", "wie", "ich", "sie", "wir", "gibt", "habe",
    "lange", "los", "las", "una", "uno", "por", "para", "con", "que", "qué", "del", "cómo", "les",
    "des", "une", "pour", "avec", "est", "dans", "sur", "puis", "comment", "combien", "uma", "com",
    "não", "para", "quanto", "posso",
];

/// An FTS5 query matching any of the words of `text` (each quoted, so no word is an operator);
/// empty when it has none. Words of one or two letters and `STOPWORDS` are dropped: they
/// match everything.
pub fn fts_query(text: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    // `-` and `_` stay inside words, as the index's tokenizer keeps them (product codes).
    for word in text
        .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_'))
        .map(|w| w.trim_matches(|c| c == '-' || c == '_'))
        .filter(|w| w.chars().count() > 2)
    {
        let word = word.to_lowercase();
        if STOPWORDS.contains(&word.as_str()) {
            continue;
        }
        if !words.contains(&word) && words.len() < 16 {
            words.push(word);
        }
    }
    words
        .iter()
        .map(|w| format!("\"{w}\""))
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// SHA-256 hex of a text (the content hash of a source).
pub fn content_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// How an agent uses knowledge (`knowledge` in its config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct KnowledgeConfig {
    /// The bases it answers from (none: knowledge is off).
    pub bases: Vec<String>,
    /// `auto`: retrieve for every user turn; `tool`: let the model call `search_knowledge`.
    pub mode: KnowledgeMode,
    /// Chunks put in front of the model.
    pub top_k: u32,
    /// Fused score (0–1) a chunk needs to be used.
    pub min_score: f64,
    /// Answer only from knowledge; say `fallback` when nothing relevant is found.
    pub strict: bool,
    /// What a strict agent says when nothing relevant is found.
    pub fallback: Option<String>,
}

/// Default chunks per answer.
pub const DEFAULT_TOP_K: u32 = 5;
/// Most chunks per answer.
pub const MAX_TOP_K: u32 = 20;
/// Most bases one agent may use.
pub const MAX_AGENT_BASES: usize = 10;

impl Default for KnowledgeConfig {
    fn default() -> Self {
        Self {
            bases: Vec::new(),
            mode: KnowledgeMode::Auto,
            top_k: DEFAULT_TOP_K,
            min_score: 0.0,
            strict: false,
            fallback: None,
        }
    }
}

impl KnowledgeConfig {
    /// Whether the agent retrieves at all.
    pub fn enabled(&self) -> bool {
        !self.bases.is_empty()
    }

    /// Whether the model searches by calling `search_knowledge` (tool mode, with bases).
    pub fn searched_by_tool(&self) -> bool {
        self.enabled() && self.mode == KnowledgeMode::Tool
    }

    /// Whether every user turn is grounded before the model call (auto mode, with bases).
    pub fn searched_every_turn(&self) -> bool {
        self.enabled() && self.mode == KnowledgeMode::Auto
    }

    /// The problem with the settings, as `(field, message)`.
    pub fn problem(&self) -> Option<(String, String)> {
        if self.bases.len() > MAX_AGENT_BASES {
            return Some((
                "knowledge.bases".into(),
                format!("An agent can use at most {MAX_AGENT_BASES} knowledge bases."),
            ));
        }
        if let Some(i) = self.bases.iter().position(|b| !is_base_id(b)) {
            return Some((
                format!("knowledge.bases[{i}]"),
                "Not a knowledge base id.".into(),
            ));
        }
        if self.top_k == 0 || self.top_k > MAX_TOP_K {
            return Some((
                "knowledge.topK".into(),
                format!("Must be between 1 and {MAX_TOP_K}."),
            ));
        }
        if !(0.0..=1.0).contains(&self.min_score) {
            return Some((
                "knowledge.minScore".into(),
                "Must be between 0 and 1.".into(),
            ));
        }
        if self
            .fallback
            .as_ref()
            .is_some_and(|f| f.chars().count() > 1_000)
        {
            return Some((
                "knowledge.fallback".into(),
                "At most 1,000 characters.".into(),
            ));
        }
        None
    }
}

/// How an agent retrieves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KnowledgeMode {
    /// Retrieve for every user turn.
    Auto,
    /// Offer a `search_knowledge` tool.
    Tool,
}

/// Whether `id` looks like a base id (`kb_` and 1–60 URL-safe characters).
pub fn is_base_id(id: &str) -> bool {
    id.strip_prefix("kb_").is_some_and(|rest| {
        !rest.is_empty()
            && rest.len() <= 60
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    })
}

/// What a strict agent says when nothing relevant is found and its `fallback` is not set.
pub const DEFAULT_FALLBACK: &str = "I don't know that; please contact us.";

/// The knowledge block appended to the system prompt: the passages, numbered like the citations.
pub fn prompt_block(hits: &[Hit], strict: bool, fallback: Option<&str>) -> String {
    let mut out = String::from("\n\n## Knowledge\n");
    if hits.is_empty() {
        if strict {
            let fallback = fallback.unwrap_or(DEFAULT_FALLBACK);
            out.push_str(&format!(
                "Nothing in the knowledge base matches this question. Answer only with: \"{fallback}\""
            ));
            return out;
        }
        out.push_str("Nothing in the knowledge base matches this question.");
        return out;
    }
    out.push_str(
        "Passages from the business's documents that may answer the visitor, numbered [1], [2], …. \
         Cite the numbers you use. A passage marked \"curated answer\" is the business's own answer: prefer it.\n",
    );
    if strict {
        let fallback = fallback.unwrap_or(DEFAULT_FALLBACK);
        out.push_str(&format!(
            "Answer only from these passages. If they do not answer the question, say exactly: \"{fallback}\"\n"
        ));
    }
    for (i, hit) in hits.iter().enumerate() {
        let curated = if hit.kind == SourceKind::Qa {
            " (curated answer)"
        } else {
            ""
        };
        let place = if hit.heading.is_empty() {
            hit.title.clone()
        } else {
            format!("{} — {}", hit.title, hit.heading)
        };
        out.push_str(&format!("\n[{}] {place}{curated}\n{}\n", i + 1, hit.text));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(id: &str, kind: SourceKind, score: f64) -> Hit {
        ranked(id, kind, score, 2)
    }

    fn ranked(id: &str, kind: SourceKind, score: f64, best_rank: usize) -> Hit {
        Hit {
            chunk_id: id.into(),
            source_id: "src_1".into(),
            base_id: "kb_1".into(),
            kind,
            title: "T".into(),
            url: None,
            heading: String::new(),
            text: id.into(),
            score,
            best_rank,
        }
    }

    #[test]
    fn fts_queries_quote_words_and_drop_short_ones() {
        assert_eq!(
            fts_query("What is the refund policy?"),
            "\"refund\" OR \"policy\"",
            "common words are left out"
        );
        assert_eq!(fts_query("a OR b \"; DROP"), "\"drop\"");
        assert_eq!(fts_query("  "), "");
        assert_eq!(fts_query("SKU-4411 -- x_"), "\"sku-4411\"");
        assert_eq!(
            fts_query("Rückgabe für Geräte"),
            "\"rückgabe\" OR \"geräte\""
        );
        assert_eq!(fts_query(&"word ".repeat(40)), "\"word\"");
    }

    #[test]
    fn curated_answers_go_first_and_the_floor_applies() {
        let hits = vec![
            hit("a", SourceKind::Text, 0.9),
            ranked("q", SourceKind::Qa, 0.6, 1),
            hit("low", SourceKind::Text, 0.1),
            hit("weak_qa", SourceKind::Qa, 0.3),
        ];
        let done = finish_hits(hits, 0.2, 10);
        let ids: Vec<&str> = done.iter().map(|h| h.chunk_id.as_str()).collect();
        assert_eq!(ids, vec!["q", "a", "weak_qa"]);
    }

    #[test]
    fn agent_settings_are_checked() {
        let mut config = KnowledgeConfig {
            bases: vec!["kb_ok".into()],
            ..KnowledgeConfig::default()
        };
        assert_eq!(config.problem(), None);
        config.top_k = 0;
        assert_eq!(config.problem().map(|p| p.0), Some("knowledge.topK".into()));
        config.top_k = 5;
        config.bases.push("agt_x".into());
        assert_eq!(
            config.problem().map(|p| p.0),
            Some("knowledge.bases[1]".into())
        );
        config.bases.pop();
        config.min_score = 2.0;
        assert_eq!(
            config.problem().map(|p| p.0),
            Some("knowledge.minScore".into())
        );
    }

    #[test]
    fn the_prompt_numbers_passages_and_says_the_fallback_when_strict() {
        let block = prompt_block(
            &[hit("refunds take 5 days", SourceKind::Text, 1.0)],
            true,
            Some("Ask support."),
        );
        assert!(block.contains("[1] T\nrefunds take 5 days"));
        assert!(block.contains("say exactly: \"Ask support.\""));
        assert!(prompt_block(&[], true, Some("Ask support."))
            .contains("Answer only with: \"Ask support.\""));
        assert!(!prompt_block(&[], false, None).contains("Answer only"));
    }
}
