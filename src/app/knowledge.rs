//! The knowledge use cases over any `KnowledgeStore`: managing bases and sources (what each
//! request checks and writes), ingesting a source (fetch, extract, chunk, embed, replace its
//! chunks, record its status), and retrieval, the one search every surface calls (the widget's
//! turn, the playground, and later MCP's `search_knowledge`, voice and `/v1`).

use futures::FutureExt;
use serde_json::{json, Value};

use crate::agent::AgentEvent;
use crate::error::ApiError;
use crate::knowledge::chunk::chunk;
use crate::knowledge::html;
use crate::knowledge::web::{self, Robots};
use crate::knowledge::{
    candidates_for, content_hash, finish_hits, fts_query, Hit, KnowledgeBase, KnowledgeConfig,
    NewChunk, SearchQuery, Source, SourceKind, SourceStatus,
};
use crate::observe::{RetrievalHit, TurnRecorder};
use crate::outbound::Policy;
use crate::store::knowledge::{KnowledgeStore, SourceUpdate};
use crate::store::scoped::ScopedStore;
use crate::store::{Store, StoreError};

/// Longest text of a text source or Q&A answer, in characters.
pub const MAX_TEXT_CHARS: usize = 500_000;
/// Longest base name or source title.
pub const MAX_NAME_CHARS: usize = 200;
/// Largest page or sitemap ingestion reads.
pub const MAX_PAGE_BYTES: usize = 10 * 1024 * 1024;
/// Texts per embeddings request.
pub const EMBED_BATCH: usize = 64;
/// Most hits one search returns.
pub const MAX_SEARCH_TOP_K: u32 = 50;

/// Refuses fields of a JSON object body other than `allowed`.
fn only(body: &Value, allowed: &[&str]) -> Result<(), ApiError> {
    let object = body
        .as_object()
        .ok_or_else(|| ApiError::BadRequest("The body must be a JSON object.".into()))?;
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(extra) => Err(ApiError::invalid(
            extra.clone(),
            format!("{extra} is not a known field."),
        )),
        None => Ok(()),
    }
}

/// `POST …/search` `{query, topK}`: the query and how many hits (default 5).
pub fn search_body(body: &Value) -> Result<(String, u32, Rankings), ApiError> {
    only(body, &["query", "topK", "mode"])?;
    let rankings = match body.get("mode").and_then(Value::as_str) {
        None if body.get("mode").is_none_or(Value::is_null) => Rankings::Hybrid,
        Some("hybrid") => Rankings::Hybrid,
        Some("lexical") => Rankings::Lexical,
        Some("vector") => Rankings::Vector,
        _ => {
            return Err(ApiError::invalid(
                "mode",
                "mode must be hybrid, lexical or vector.",
            ))
        }
    };
    let query = string_field(body, "query", 2_000)?;
    let top_k = match body.get("topK") {
        None | Some(Value::Null) => crate::knowledge::DEFAULT_TOP_K,
        Some(v) => v
            .as_u64()
            .filter(|k| (1..=u64::from(MAX_SEARCH_TOP_K)).contains(k))
            .ok_or_else(|| {
                ApiError::invalid("topK", format!("topK must be 1 to {MAX_SEARCH_TOP_K}."))
            })? as u32,
    };
    Ok((query, top_k, rankings))
}

/// Which rankings a search runs (the playground and the benchmark compare them; chat uses
/// `Hybrid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rankings {
    /// Keywords and vectors, fused (vectors only when embeddings are configured).
    Hybrid,
    /// Keywords (BM25) only.
    Lexical,
    /// Vectors only.
    Vector,
}

/// A new source as the API accepts it.
#[derive(Debug, Clone, PartialEq)]
pub enum NewSource {
    /// `{type: "text", title, text}`.
    Text {
        /// Title for citations.
        title: String,
        /// The text (Markdown headings are kept as structure).
        text: String,
    },
    /// `{type: "qa", question, answer}`.
    Qa {
        /// The question.
        question: String,
        /// The curated answer.
        answer: String,
    },
    /// `{type: "url", url}`.
    Url {
        /// The page.
        url: String,
    },
    /// `{type: "sitemap", url, maxPages}`.
    Sitemap {
        /// The sitemap.
        url: String,
        /// Most pages to take.
        max_pages: u32,
    },
    /// `{type: "crawl", url, maxPages, maxDepth}`.
    Crawl {
        /// The start page.
        url: String,
        /// Most pages to fetch.
        max_pages: u32,
        /// Most links away from the start page.
        max_depth: u32,
    },
    /// A file upload (txt, md, html, csv, pdf, docx), its text already read.
    File {
        /// File name.
        name: String,
        /// Its text.
        text: String,
    },
    /// An uploaded PDF or DOCX whose text could not be read: a failed source.
    Unreadable {
        /// File name.
        name: String,
        /// Why, as the source shows it.
        reason: String,
    },
}

fn string_field(body: &Value, field: &str, max: usize) -> Result<String, ApiError> {
    let text = body
        .get(field)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::invalid(field, format!("{field} is required.")))?;
    if text.chars().count() > max {
        return Err(ApiError::invalid(
            field,
            format!("{field} is longer than {max} characters."),
        ));
    }
    Ok(text.to_owned())
}

/// Reads a source body (`type` picks the kind; other fields are refused), checking URLs against
/// the outbound policy so a source that could never be fetched is refused at once.
pub fn parse_source(body: &Value, policy: &Policy) -> Result<NewSource, ApiError> {
    let object = body
        .as_object()
        .ok_or_else(|| ApiError::BadRequest("The body must be a JSON object.".into()))?;
    let kind = object.get("type").and_then(Value::as_str).unwrap_or("");
    let allowed: &[&str] = match kind {
        "text" => &["type", "title", "text"],
        "qa" => &["type", "question", "answer"],
        "url" => &["type", "url"],
        "sitemap" => &["type", "url", "maxPages"],
        "crawl" => &["type", "url", "maxPages", "maxDepth"],
        _ => return Err(ApiError::invalid(
            "type",
            "type must be text, qa, url, sitemap or crawl (files are uploaded as multipart/form-data).",
        )),
    };
    if let Some(extra) = object.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::invalid(
            extra.clone(),
            format!("{extra} is not a field of a {kind} source."),
        ));
    }
    let checked_url = |field: &str| -> Result<String, ApiError> {
        let url = string_field(body, field, 2_000)?;
        policy
            .check(&url)
            .map_err(|e| ApiError::invalid(field, e.0))?;
        Ok(url)
    };
    Ok(match kind {
        "text" => NewSource::Text {
            title: string_field(body, "title", MAX_NAME_CHARS)?,
            text: string_field(body, "text", MAX_TEXT_CHARS)?,
        },
        "qa" => NewSource::Qa {
            question: string_field(body, "question", 2_000)?,
            answer: string_field(body, "answer", 20_000)?,
        },
        "url" => NewSource::Url {
            url: checked_url("url")?,
        },
        "sitemap" => NewSource::Sitemap {
            url: checked_url("url")?,
            max_pages: bounded(body, "maxPages", 1, web::MAX_SITEMAP_PAGES, 50)?,
        },
        _ => NewSource::Crawl {
            url: checked_url("url")?,
            max_pages: bounded(
                body,
                "maxPages",
                1,
                web::MAX_CRAWL_PAGES,
                DEFAULT_CRAWL_PAGES,
            )?,
            max_depth: bounded(
                body,
                "maxDepth",
                0,
                web::MAX_CRAWL_DEPTH,
                DEFAULT_CRAWL_DEPTH,
            )?,
        },
    })
}

/// Pages a crawl fetches when `maxPages` is not given.
pub const DEFAULT_CRAWL_PAGES: u32 = 50;
/// How deep a crawl goes when `maxDepth` is not given.
pub const DEFAULT_CRAWL_DEPTH: u32 = 2;

/// An optional whole-number field from `min` to `max` (`default` when absent or null).
fn bounded(body: &Value, field: &str, min: u32, max: u32, default: u32) -> Result<u32, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .filter(|n| (u64::from(min)..=u64::from(max)).contains(n))
            .map(|n| n as u32)
            .ok_or_else(|| ApiError::invalid(field, format!("{field} must be {min} to {max}."))),
    }
}

/// The name of an uploaded file, checked: a txt, md, markdown, html, htm, csv, pdf or docx
/// file.
pub fn check_file_name(name: &str) -> Result<SourceKind, ApiError> {
    let lower = name.to_ascii_lowercase();
    let ext = lower.rsplit_once('.').map_or("", |(_, e)| e);
    match ext {
        "txt" | "md" | "markdown" | "html" | "htm" | "csv" | "pdf" | "docx" => Ok(SourceKind::File),
        _ => Err(ApiError::invalid(
            "file",
            "Upload a txt, md, html, csv, pdf or docx file.",
        )),
    }
}

/// The text an uploaded file contributes (HTML is reduced to structured text; CSV rows become
/// table lines with their header).
pub fn file_text(name: &str, text: &str) -> String {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".html") || lower.ends_with(".htm") {
        return html::to_text(text).text;
    }
    if lower.ends_with(".csv") {
        return csv_text(text);
    }
    text.to_owned()
}

/// CSV as text: each row a line `header: value; …`, so every chunk carries the column names.
fn csv_text(text: &str) -> String {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else {
        return String::new();
    };
    let header = split_csv(header);
    let mut out = String::new();
    for line in lines {
        let cells = split_csv(line);
        let row: Vec<String> = header
            .iter()
            .zip(cells.iter())
            .filter(|(_, v)| !v.is_empty())
            .map(|(h, v)| format!("{h}: {v}"))
            .collect();
        out.push_str(&row.join("; "));
        out.push_str("\n\n");
    }
    out
}

fn split_csv(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => cells.push(std::mem::take(&mut cell).trim().to_owned()),
            _ => cell.push(c),
        }
    }
    cells.push(cell.trim().to_owned());
    cells
}

/// A source row for a new source, queued.
pub fn new_source(tenant_id: &str, base_id: &str, id: String, body: NewSource, now: i64) -> Source {
    let mut max_depth = None;
    let (kind, title, url, content, max_pages) = match body {
        NewSource::Text { title, text } => (SourceKind::Text, title, None, Some(text), None),
        NewSource::Qa { question, answer } => (SourceKind::Qa, question, None, Some(answer), None),
        NewSource::Url { url } => (SourceKind::Url, url.clone(), Some(url), None, None),
        NewSource::Sitemap { url, max_pages } => (
            SourceKind::Sitemap,
            url.clone(),
            Some(url),
            None,
            Some(max_pages),
        ),
        NewSource::Crawl {
            url,
            max_pages,
            max_depth: depth,
        } => {
            max_depth = Some(depth);
            let title = url.clone();
            (SourceKind::Crawl, title, Some(url), None, Some(max_pages))
        }
        NewSource::File { name, text } => {
            (SourceKind::File, name.clone(), Some(name), Some(text), None)
        }
        NewSource::Unreadable { name, reason } => {
            let mut source = new_source(
                tenant_id,
                base_id,
                id,
                NewSource::File {
                    name,
                    text: String::new(),
                },
                now,
            );
            source.content = None;
            source.status = SourceStatus::Failed;
            source.error = Some(reason.chars().take(500).collect());
            return source;
        }
    };
    Source {
        id,
        tenant_id: tenant_id.to_owned(),
        base_id: base_id.to_owned(),
        kind,
        title,
        url,
        content,
        max_pages,
        max_depth,
        status: SourceStatus::Queued,
        progress: 0,
        chunk_count: 0,
        error: None,
        content_hash: None,
        created_at: now,
        updated_at: now,
    }
}

/// A base's name from `{name}`, checked.
pub fn base_name(body: &Value) -> Result<String, ApiError> {
    only(body, &["name"])?;
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::invalid(
            "name",
            format!("name must be 1 to {MAX_NAME_CHARS} characters."),
        ));
    }
    Ok(name.to_owned())
}

/// A base of the tenant, or 404.
pub async fn base_of<S: Store + KnowledgeStore>(
    store: &S,
    tenant_id: &str,
    base_id: &str,
) -> Result<KnowledgeBase, ApiError> {
    store
        .tenant_scope(tenant_id)
        .base(base_id)
        .await?
        .ok_or(ApiError::NotFound("Knowledge base"))
}

/// A source of the tenant's base, or 404 (another base's source is not found here).
pub async fn source_of<S: Store + KnowledgeStore>(
    store: &S,
    tenant_id: &str,
    base_id: &str,
    source_id: &str,
) -> Result<Source, ApiError> {
    store
        .tenant_scope(tenant_id)
        .source(source_id)
        .await?
        .filter(|s| s.base_id == base_id)
        .ok_or(ApiError::NotFound("Source"))
}

/// One document ingestion read: a page or a pasted text.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Title for citations.
    pub title: String,
    /// Its address, for web pages.
    pub url: Option<String>,
    /// Structured text.
    pub text: String,
}

/// Why a page could not be read.
#[derive(Debug, Clone, PartialEq)]
pub enum FetchError {
    /// The outbound policy refused a hop (a private host, a redirect elsewhere): retrying
    /// cannot help.
    Refused(String),
    /// The connection failed or timed out.
    Failed(String),
}

/// What a web source's page read gave.
pub type Fetched = Result<(u16, String), FetchError>;

/// A page as a crawl reads it: where it ended up and what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// HTTP status of the final answer.
    pub status: u16,
    /// The body.
    pub body: String,
    /// Its `content-type`, when it said.
    pub content_type: Option<String>,
    /// The address of the final answer, after redirects.
    pub url: String,
}

/// What ingestion needs from the network: a GET under the outbound policy.
#[allow(async_fn_in_trait)]
pub trait Fetcher {
    /// Status and body of `url`, or why there is none.
    async fn get(&self, url: &str) -> Fetched;

    /// `get`, with the final address and content type (a crawl follows only HTML, and only
    /// while redirects stay on its host). Without them: `url` itself, type unknown.
    async fn page(&self, url: &str) -> Result<Page, FetchError> {
        let (status, body) = self.get(url).await?;
        Ok(Page {
            status,
            body,
            content_type: None,
            url: url.to_owned(),
        })
    }
}

/// Whether an embedding is for a query or a passage (e5-style models embed them differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// A search query.
    Query,
    /// A document chunk.
    Passage,
}

/// An OpenAI-compatible `/embeddings` endpoint.
#[allow(async_fn_in_trait)]
pub trait Embedder {
    /// Whether one is configured (without one, retrieval is lexical only).
    fn enabled(&self) -> bool;
    /// Embeddings of `texts`, in order, and the tokens the call counted.
    async fn embed(
        &self,
        texts: &[String],
        kind: InputKind,
    ) -> Result<(Vec<Vec<f32>>, u64), String>;
}

/// Why ingestion stopped; the text is what the source's status shows.
#[derive(Debug, Clone, PartialEq)]
pub enum IngestError {
    /// Worth another try (the site or an endpoint was unreachable, the store was busy).
    Transient(String),
    /// Another try would fail the same way.
    Permanent(String),
}

impl IngestError {
    /// The reason shown on the source.
    pub fn reason(&self) -> &str {
        match self {
            IngestError::Transient(r) | IngestError::Permanent(r) => r,
        }
    }
}

impl From<StoreError> for IngestError {
    fn from(e: StoreError) -> Self {
        IngestError::Transient(format!("The store failed: {e}"))
    }
}

/// Fetches a page: a readable reason for anything but a 2xx text answer within the size cap.
async fn fetch_page<F: Fetcher>(fetcher: &F, url: &str) -> Result<String, IngestError> {
    match fetcher.get(url).await {
        Err(FetchError::Refused(reason)) => Err(IngestError::Permanent(format!("{url}: {reason}"))),
        Err(FetchError::Failed(reason)) => Err(IngestError::Transient(format!("{url}: {reason}"))),
        Ok((status, body)) => match unreadable(url, status, body.len()) {
            Some(error) => Err(error),
            None => Ok(body),
        },
    }
}

/// Why a page's answer (its status and size) is not one ingestion reads, as the error it is:
/// a server error or 429 may pass, anything else will not; `None` when it can be read.
fn unreadable(url: &str, status: u16, len: usize) -> Option<IngestError> {
    if (200..300).contains(&status) {
        return (len > MAX_PAGE_BYTES).then(|| {
            IngestError::Permanent(format!(
                "{url} is larger than {} MB.",
                MAX_PAGE_BYTES / (1024 * 1024)
            ))
        });
    }
    let reason = format!("{url} answered HTTP {status}.");
    Some(if status >= 500 || status == 429 {
        IngestError::Transient(reason)
    } else {
        IngestError::Permanent(reason)
    })
}

/// The robots.txt rules of `url`'s origin, refusing the source when they forbid `url` itself.
async fn robots_allowing<F: Fetcher>(fetcher: &F, url: &str) -> Result<Robots, IngestError> {
    let robots = robots_of(fetcher, url).await;
    if robots.allows(&web::path_of(url)) {
        return Ok(robots);
    }
    Err(IngestError::Permanent(format!(
        "robots.txt of {} does not allow fetching {url}.",
        web::origin_of(url).unwrap_or_default()
    )))
}

/// The robots.txt rules of a URL's origin (none when it has no robots.txt).
async fn robots_of<F: Fetcher>(fetcher: &F, url: &str) -> Robots {
    let Some(origin) = web::origin_of(url) else {
        return Robots::default();
    };
    match fetcher.get(&format!("{origin}/robots.txt")).await {
        Ok((200..=299, body)) => Robots::parse(&body),
        _ => Robots::default(),
    }
}

/// A page as a document (HTML reduced to structured text, plain text as it is).
fn page_document(url: &str, body: &str) -> Document {
    let looks_html = {
        let head = body.trim_start();
        let head = &head[..head.len().min(512)].to_ascii_lowercase();
        head.starts_with('<')
            && (head.contains("<html")
                || head.contains("<!doctype")
                || head.contains("<body")
                || head.contains("<p")
                || head.contains("<h"))
    };
    if looks_html {
        let page = html::to_text(body);
        Document {
            title: page.title.unwrap_or_else(|| url.to_owned()),
            url: Some(url.to_owned()),
            text: page.text,
        }
    } else {
        Document {
            title: url.to_owned(),
            url: Some(url.to_owned()),
            text: body.to_owned(),
        }
    }
}

/// Reports progress while a sitemap's pages are read.
#[allow(async_fn_in_trait)]
pub trait Progress {
    /// `percent` of the pages are read.
    async fn report(&self, percent: u32);
}

/// The documents a source is made of: its text, or its page(s) read from the web (obeying
/// robots.txt; a sitemap's pages on its own host only, at most `max_pages`).
pub async fn documents<F: Fetcher, P: Progress>(
    source: &Source,
    fetcher: &F,
    progress: &P,
) -> Result<Vec<Document>, IngestError> {
    match source.kind {
        // An upload whose text could not be extracted has none to re-read.
        SourceKind::File if source.content.is_none() => {
            Err(IngestError::Permanent(source.error.clone().unwrap_or_else(
                || "The file's text could not be read: upload it again.".into(),
            )))
        }
        SourceKind::Text | SourceKind::File => Ok(vec![Document {
            title: source.title.clone(),
            url: None,
            text: source.content.clone().unwrap_or_default(),
        }]),
        SourceKind::Qa => Ok(vec![Document {
            title: source.title.clone(),
            url: None,
            text: format!(
                "Q: {}\nA: {}",
                source.title,
                source.content.as_deref().unwrap_or_default()
            ),
        }]),
        SourceKind::Url => {
            let url = source.url.clone().unwrap_or_default();
            robots_allowing(fetcher, &url).await?;
            let body = fetch_page(fetcher, &url).await?;
            Ok(vec![page_document(&url, &body)])
        }
        SourceKind::Sitemap => {
            let url = source.url.clone().unwrap_or_default();
            let xml = fetch_page(fetcher, &url).await?;
            let locations = web::sitemap_locations(&xml);
            let pages = web::pages_of_sitemap(&url, &locations, source.max_pages.unwrap_or(50));
            if pages.is_empty() {
                return Err(IngestError::Permanent(format!(
                    "The sitemap {url} lists no pages on its own host."
                )));
            }
            let robots = robots_of(fetcher, &url).await;
            let mut docs = Vec::new();
            let mut skipped = 0;
            for (i, page) in pages.iter().enumerate() {
                if robots.allows(&web::path_of(page)) {
                    // One unreachable page does not fail the sitemap: it is left out.
                    match fetch_page(fetcher, page).await {
                        Ok(body) => docs.push(page_document(page, &body)),
                        Err(_) => skipped += 1,
                    }
                } else {
                    skipped += 1;
                }
                if i % 5 == 4 {
                    progress.report(((i + 1) * 80 / pages.len()) as u32).await;
                }
            }
            if docs.is_empty() {
                return Err(IngestError::Transient(format!(
                    "None of the {} pages of {url} could be read ({skipped} left out).",
                    pages.len()
                )));
            }
            Ok(docs)
        }
        SourceKind::Crawl => crawl(source, fetcher, progress).await,
    }
}

/// A crawl: breadth first from the start page, following `<a href>`s on the same origin
/// (`web::crawl_links`) up to `max_depth` links away, each page once, obeying robots.txt, at
/// most `max_pages` fetched. Only HTML pages are followed; a page that fails, that robots.txt
/// forbids or that redirects off the origin is left out. The start page failing fails the
/// source, as a `url` source would.
async fn crawl<F: Fetcher, P: Progress>(
    source: &Source,
    fetcher: &F,
    progress: &P,
) -> Result<Vec<Document>, IngestError> {
    let raw = source.url.clone().unwrap_or_default();
    let start = web::normalize_url(&raw).unwrap_or_else(|| raw.clone());
    let origin = web::origin_of(&start).unwrap_or_default();
    let max_pages = source
        .max_pages
        .unwrap_or(DEFAULT_CRAWL_PAGES)
        .clamp(1, web::MAX_CRAWL_PAGES) as usize;
    let max_depth = source
        .max_depth
        .unwrap_or(DEFAULT_CRAWL_DEPTH)
        .min(web::MAX_CRAWL_DEPTH);
    let robots = robots_allowing(fetcher, &start).await?;
    // Links waiting beyond what can still be fetched are not worth keeping.
    let most_known = max_pages * 4;
    let mut known = std::collections::HashSet::from([start.clone()]);
    let mut queue = std::collections::VecDeque::from([(start.clone(), 0u32)]);
    let mut docs = Vec::new();
    let mut fetched = 0;
    let mut left_out = 0;
    while let Some((url, depth)) = queue.pop_front() {
        if fetched >= max_pages {
            break;
        }
        if !robots.allows(&web::path_of(&url)) {
            left_out += 1;
            continue;
        }
        fetched += 1;
        let page = match fetcher.page(&url).await {
            Ok(page) => page,
            Err(e) if url == start => {
                return Err(match e {
                    FetchError::Refused(r) => IngestError::Permanent(format!("{url}: {r}")),
                    FetchError::Failed(r) => IngestError::Transient(format!("{url}: {r}")),
                })
            }
            Err(_) => {
                left_out += 1;
                continue;
            }
        };
        let landed = web::normalize_url(&page.url).unwrap_or_else(|| page.url.clone());
        let readable = (200..300).contains(&page.status)
            && page.body.len() <= MAX_PAGE_BYTES
            && web::origin_of(&landed).as_deref() == Some(origin.as_str())
            && robots.allows(&web::path_of(&landed));
        let kind = page.content_type.as_deref().map(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
        let html = kind.as_deref().is_none_or(|t| t == "text/html");
        let text = html || kind.as_deref().is_some_and(|t| t == "text/plain");
        if url == start && !(readable && text) {
            // The start page is the crawl: say why it could not be read.
            let transient = page.status >= 500 || page.status == 429;
            return Err(
                if web::origin_of(&landed).as_deref() != Some(origin.as_str()) {
                    let reason = format!("{start} redirects to another host ({landed}).");
                    if transient {
                        IngestError::Transient(reason)
                    } else {
                        IngestError::Permanent(reason)
                    }
                } else {
                    unreadable(&url, page.status, page.body.len()).unwrap_or_else(|| {
                        IngestError::Permanent(format!("{url} is not an HTML or text page."))
                    })
                },
            );
        }
        // A redirect to a page already known is that page, read (or to be read) once.
        if !(readable && text) || (landed != url && known.contains(&landed)) {
            left_out += 1;
            continue;
        }
        known.insert(landed.clone());
        if !html {
            docs.push(page_document(&landed, &page.body));
        } else {
            // One parse gives both the text and the links.
            let parsed = html::to_text(&page.body);
            if depth < max_depth {
                for link in web::crawl_links(&landed, &parsed.links, &origin) {
                    if known.len() < most_known && known.insert(link.clone()) {
                        queue.push_back((link, depth + 1));
                    }
                }
            }
            docs.push(Document {
                title: parsed.title.unwrap_or_else(|| landed.clone()),
                url: Some(landed),
                text: parsed.text,
            });
        }
        if fetched % 5 == 0 {
            progress.report((fetched * 80 / max_pages) as u32).await;
        }
    }
    if docs.is_empty() {
        return Err(IngestError::Transient(format!(
            "None of the pages of {start} could be read ({left_out} left out)."
        )));
    }
    Ok(docs)
}

/// The chunks of a source's documents (a Q&A pair is one chunk), ids from `id`.
pub fn chunks_of(
    source: &Source,
    docs: &[Document],
    id: &mut dyn FnMut() -> String,
) -> Vec<NewChunk> {
    let mut out = Vec::new();
    for doc in docs {
        let pieces = if source.kind == SourceKind::Qa {
            vec![crate::knowledge::chunk::Chunk {
                heading: String::new(),
                text: doc.text.clone(),
                tokens: 0,
            }]
        } else {
            chunk(&doc.text)
        };
        for piece in pieces {
            if out.len() >= crate::knowledge::chunk::MAX_CHUNKS {
                return out;
            }
            out.push(NewChunk {
                id: id(),
                title: doc.title.clone(),
                url: doc.url.clone(),
                heading: piece.heading,
                text: piece.text,
                vector: None,
            });
        }
    }
    out
}

/// What the embedding input of a chunk is: its place and its text.
fn embedding_input(c: &NewChunk) -> String {
    if c.heading.is_empty() {
        format!("{}\n{}", c.title, c.text)
    } else {
        format!("{} — {}\n{}", c.title, c.heading, c.text)
    }
}

/// What one ingestion did.
#[derive(Debug, Clone, PartialEq)]
pub struct Ingested {
    /// Chunks now searchable.
    pub chunks: u32,
    /// The content was unchanged since the last sync: nothing was embedded or written.
    pub unchanged: bool,
    /// Tokens the embeddings endpoint counted.
    pub embedding_tokens: u64,
}

struct StoreProgress<'a, S> {
    store: &'a S,
    source: &'a Source,
    now: i64,
}

impl<S: Store + KnowledgeStore> Progress for StoreProgress<'_, S> {
    async fn report(&self, percent: u32) {
        let update = SourceUpdate {
            status: SourceStatus::Processing,
            progress: percent.min(99),
            chunk_count: None,
            error: None,
            content_hash: None,
            title: None,
            now: self.now,
        };
        // Progress is a hint: a failed write of it does not stop the ingestion.
        let _ = self
            .store
            .tenant_scope(&self.source.tenant_id)
            .update_source(&self.source.id, &update)
            .await;
    }
}

/// Ingests a source: reads it, skips it when its text is unchanged, chunks and embeds it and
/// replaces its chunks at once. Records `processing` first; the caller records a failure.
pub async fn ingest<S: Store + KnowledgeStore, F: Fetcher, E: Embedder>(
    store: &S,
    source: &Source,
    fetcher: &F,
    embedder: &E,
    id: &mut dyn FnMut() -> String,
    now: i64,
) -> Result<Ingested, IngestError> {
    let scoped = store.tenant_scope(&source.tenant_id);
    let processing = SourceUpdate {
        status: SourceStatus::Processing,
        progress: 0,
        chunk_count: None,
        error: None,
        content_hash: None,
        title: None,
        now,
    };
    scoped.update_source(&source.id, &processing).await?;
    let progress = StoreProgress { store, source, now };
    let docs = documents(source, fetcher, &progress).await?;
    let all_text: String = docs
        .iter()
        .map(|d| format!("{}\n{}\n", d.title, d.text))
        .collect();
    let hash = content_hash(&format!("{}|{all_text}", embedder.enabled()));
    let web_title = match source.kind {
        SourceKind::Url => docs.first().map(|d| d.title.clone()),
        _ => None,
    };
    if source.content_hash.as_deref() == Some(hash.as_str()) && source.chunk_count > 0 {
        let ready = SourceUpdate {
            status: SourceStatus::Ready,
            progress: 100,
            chunk_count: None,
            error: None,
            content_hash: None,
            title: web_title,
            now,
        };
        scoped.update_source(&source.id, &ready).await?;
        return Ok(Ingested {
            chunks: source.chunk_count,
            unchanged: true,
            embedding_tokens: 0,
        });
    }
    let mut chunks = chunks_of(source, &docs, id);
    if chunks.is_empty() {
        return Err(IngestError::Permanent(
            "The source has no text to index.".into(),
        ));
    }
    let mut tokens = 0;
    if embedder.enabled() {
        let total = chunks.len();
        for (batch_index, batch) in chunks.chunks_mut(EMBED_BATCH).enumerate() {
            let inputs: Vec<String> = batch.iter().map(embedding_input).collect();
            let (vectors, used) = embedder
                .embed(&inputs, InputKind::Passage)
                .await
                .map_err(IngestError::Transient)?;
            if vectors.len() != batch.len() {
                return Err(IngestError::Transient(format!(
                    "The embeddings endpoint returned {} vectors for {} texts.",
                    vectors.len(),
                    batch.len()
                )));
            }
            tokens += used;
            for (c, v) in batch.iter_mut().zip(vectors) {
                c.vector = Some(v);
            }
            let done = ((batch_index + 1) * EMBED_BATCH).min(total);
            progress.report(80 + (done * 19 / total) as u32).await;
        }
    }
    let count = chunks.len() as u32;
    let ready = SourceUpdate {
        status: SourceStatus::Ready,
        progress: 100,
        chunk_count: Some(count),
        error: None,
        content_hash: Some(hash),
        title: web_title,
        now,
    };
    scoped.replace_chunks(source, &chunks, &ready).await?;
    if tokens > 0 {
        let usage = crate::llm::Usage {
            input_tokens: tokens,
            ..Default::default()
        };
        // The chunks are in: a usage write that fails is not worth embedding everything again.
        let _ = scoped
            .record_usage(EMBEDDING_USAGE, &crate::dates::utc_day(now), &usage)
            .await;
    }
    Ok(Ingested {
        chunks: count,
        unchanged: false,
        embedding_tokens: tokens,
    })
}

/// The usage line ingestion's and searches' embeddings are counted under.
pub use crate::knowledge::EMBEDDING_USAGE;

/// Counts the query embedding of a search outside a chat turn (the playground's, MCP's
/// `search_knowledge`) under `EMBEDDING_USAGE`, one search as one message. A failed write does
/// not fail the search it belongs to.
pub async fn record_search_usage<S: Store>(store: &S, tenant_id: &str, tokens: u64, now: i64) {
    if tokens == 0 {
        return;
    }
    let usage = crate::llm::Usage {
        input_tokens: tokens,
        ..Default::default()
    };
    let _ = store
        .tenant_scope(tenant_id)
        .record_usage(EMBEDDING_USAGE, &crate::dates::utc_day(now), &usage)
        .await;
}

/// Records that a source's ingestion failed (its previous chunks, if any, stay searchable).
pub async fn record_failure<S: Store + KnowledgeStore>(
    store: &S,
    source: &Source,
    reason: &str,
    now: i64,
) -> Result<(), StoreError> {
    let failed = SourceUpdate {
        status: SourceStatus::Failed,
        progress: 0,
        chunk_count: None,
        error: Some(reason.chars().take(500).collect()),
        content_hash: None,
        title: None,
        now,
    };
    store
        .tenant_scope(&source.tenant_id)
        .update_source(&source.id, &failed)
        .await
        .map(|_| ())
}

/// What a retrieval found, and what it cost.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Retrieval {
    /// The hits, best first (curated answers ahead).
    pub hits: Vec<Hit>,
    /// Tokens the query's embedding counted.
    pub embedding_tokens: u64,
    /// Whether the vector half ran (false: lexical only).
    pub semantic: bool,
}

/// The one search: the tenant's `bases` for `query`, lexical and (with embeddings) vector
/// rankings fused; at most `top_k` hits scoring at least `min_score`. A failing embeddings
/// endpoint degrades the search to lexical rather than failing it.
pub async fn retrieve<S: Store + KnowledgeStore, E: Embedder>(
    store: &S,
    embedder: &E,
    tenant_id: &str,
    bases: &[String],
    query: &str,
    top_k: u32,
    min_score: f64,
) -> Result<Retrieval, StoreError> {
    let only_some = (tenant_id, bases, query, top_k, min_score);
    retrieve_with(store, embedder, only_some, Rankings::Hybrid).await
}

/// `retrieve` with a choice of rankings; `what` is `(tenant, bases, query, top_k, min_score)`.
pub async fn retrieve_with<S: Store + KnowledgeStore, E: Embedder>(
    store: &S,
    embedder: &E,
    what: (&str, &[String], &str, u32, f64),
    rankings: Rankings,
) -> Result<Retrieval, StoreError> {
    let (tenant_id, bases, query, top_k, min_score) = what;
    let fts = if rankings == Rankings::Vector {
        String::new()
    } else {
        fts_query(query)
    };
    let embeds = embedder.enabled() && rankings != Rankings::Lexical && !query.trim().is_empty();
    if fts.is_empty() && !embeds {
        return Ok(Retrieval::default());
    }
    // The query is embedded while the store does what needs no vector (D1 reads its keyword
    // ranking meanwhile): the embedding round trip is most of what retrieval adds to a turn.
    let tokens = std::cell::Cell::new(0);
    let embedding = async {
        if !embeds {
            return None;
        }
        let (mut vectors, used) = embedder
            .embed(&[query.to_owned()], InputKind::Query)
            .await
            .ok()?;
        tokens.set(used);
        vectors.pop()
    };
    let top_k = top_k.clamp(1, MAX_SEARCH_TOP_K) as usize;
    let search = SearchQuery {
        base_ids: bases,
        fts,
        vector: embedding.boxed_local().shared(),
        candidates: candidates_for(top_k),
        top_k: top_k * 2,
    };
    let hits = store.tenant_scope(tenant_id).search(&search).await?;
    // A store with nothing to search never asked for the vector; it is not fetched after.
    let semantic = search.vector.peek().is_some_and(Option::is_some);
    let tokens = tokens.get();
    Ok(Retrieval {
        hits: finish_hits(hits, min_score, top_k),
        embedding_tokens: tokens,
        semantic,
    })
}

/// The query an auto-mode turn searches with: the visitor's message, with the previous user
/// message in front when the new one is short (a follow-up such as "and for Spain?").
pub fn turn_query(latest: &str, previous_user: Option<&str>) -> String {
    match previous_user {
        Some(prev) if latest.split_whitespace().count() < 8 => {
            format!("{prev}\n{latest}")
        }
        _ => latest.to_owned(),
    }
}

/// The query of a turn from its history (oldest first): the newest user message, with the
/// one before it for a short follow-up.
pub fn query_of_history(history: &[crate::store::StoredMessage]) -> String {
    use crate::agent::context::Role;
    let mut users = history
        .iter()
        .rev()
        .filter(|m| m.role == Role::User)
        .map(|m| crate::agent::message::text_of(&m.parts));
    let latest = users.next().unwrap_or_default();
    let previous = users.next();
    turn_query(&latest, previous.as_deref())
}

/// The stored parts of citation events (what the message keeps of them).
pub fn citation_parts(events: &[AgentEvent]) -> Vec<Value> {
    let mut builder = crate::agent::message::MessageBuilder::new();
    for event in events {
        builder.apply(event);
    }
    builder.finish()
}

/// Retrieval for an agent's turn, per its knowledge settings (`None` when it uses none).
pub async fn for_turn<S: Store + KnowledgeStore, E: Embedder>(
    store: &S,
    embedder: &E,
    tenant_id: &str,
    config: &KnowledgeConfig,
    query: &str,
) -> Option<Retrieval> {
    if !config.enabled() {
        return None;
    }
    match retrieve(
        store,
        embedder,
        tenant_id,
        &config.bases,
        query,
        config.top_k,
        config.min_score,
    )
    .await
    {
        Ok(found) => Some(found),
        // No knowledge is better than no answer: the turn goes on without it.
        Err(_) => Some(Retrieval::default()),
    }
}

/// What knowledge adds to an agent's turn: the passages for the system prompt and the citation
/// events, retrieved for `query` and recorded as the turn's retrieval span (from `started_ms`);
/// `None` when the agent uses no knowledge. In tool mode only the instructions for
/// `search_knowledge`, which the surface offers through its tools. Every surface grounds its
/// turns this way.
pub async fn grounding<S: Store + KnowledgeStore, E: Embedder>(
    store: &S,
    embedder: &E,
    agent: &crate::store::Agent,
    query: &str,
    recorder: &mut TurnRecorder,
    started_ms: i64,
) -> Option<(String, Vec<AgentEvent>)> {
    let config = &agent.config.knowledge;
    if config.searched_by_tool() {
        // The model searches when it needs to (`tool::KnowledgeTool`), so nothing is retrieved
        // up front.
        return Some((tool::prompt_block(config), Vec::new()));
    }
    let found = for_turn(store, embedder, &agent.tenant_id, config, query).await?;
    recorder.retrieval(query, &retrieval_hits(&found.hits), started_ms);
    recorder.embedded(found.embedding_tokens);
    let block =
        crate::knowledge::prompt_block(&found.hits, config.strict, config.fallback.as_deref());
    Some((block, citations(&found.hits)))
}

/// What `grounding` adds to the system prompt of an agent's turns without searching anything
/// (no knowledge, or knowledge searched by tool); `None` when a turn's question is searched
/// first, so its prompt is not known before then.
pub fn prompt_without_search(agent: &crate::store::Agent) -> Option<String> {
    let config = &agent.config.knowledge;
    if config.searched_by_tool() {
        return Some(tool::prompt_block(config));
    }
    (!config.enabled()).then(String::new)
}

/// Grounds a stored turn (widget, MCP `ask`, phone) in knowledge: the question of `history`
/// searched, the passages (or tool mode's instructions) appended to `system_prompt`, and the
/// citation events returned for the surface to send and store.
pub async fn ground_stored_turn<S: Store + KnowledgeStore, E: Embedder>(
    store: &S,
    embedder: &E,
    agent: &crate::store::Agent,
    history: &[crate::store::StoredMessage],
    recorder: &mut TurnRecorder,
    started_ms: i64,
    system_prompt: &mut String,
) -> Vec<AgentEvent> {
    let query = query_of_history(history);
    match grounding(store, embedder, agent, &query, recorder, started_ms).await {
        Some((block, citations)) => {
            system_prompt.push_str(&block);
            citations
        }
        None => Vec::new(),
    }
}

/// What a retrieval span records of the hits.
pub fn retrieval_hits(hits: &[Hit]) -> Vec<RetrievalHit> {
    hits.iter()
        .map(|h| RetrievalHit {
            source: h.chunk_id.clone(),
            score: h.score,
            text: Some(h.text.clone()),
        })
        .collect()
}

/// The query of a stateless turn (the caller sent the conversation): its newest user message,
/// with the one before it for a short follow-up.
pub fn query_of_messages(messages: &[crate::llm::ChatMessage]) -> String {
    let mut users = messages.iter().rev().filter_map(|m| match m {
        crate::llm::ChatMessage::User { content } => Some(content.as_str()),
        _ => None,
    });
    let latest = users.next().unwrap_or_default();
    turn_query(latest, users.next())
}

/// Puts a turn's citations (as stored parts) ahead of its answer's parts, as they were sent.
pub fn cite(outcome: &mut crate::agent::TurnOutcome, cited: &[AgentEvent]) {
    if cited.is_empty() {
        return;
    }
    let mut parts = citation_parts(cited);
    parts.append(&mut outcome.parts);
    outcome.parts = parts;
}

/// The citation events of the hits a turn used: a web page as `source-url`, anything else as
/// `source-document`, each with the passage, score and chunk in its provider metadata.
pub fn citations(hits: &[Hit]) -> Vec<AgentEvent> {
    hits.iter()
        .enumerate()
        .map(|(i, hit)| citation(i + 1, hit))
        .collect()
}

/// The citation event of a hit numbered `number` in its answer (`kb{number}`).
pub fn citation(number: usize, hit: &Hit) -> AgentEvent {
    let metadata = json!({ "knowledge": {
        "chunkId": hit.chunk_id,
        "sourceId": hit.source_id,
        "baseId": hit.base_id,
        "heading": hit.heading,
        "text": hit.text.chars().take(1_200).collect::<String>(),
        "score": (hit.score * 1000.0).round() / 1000.0,
    }});
    AgentEvent::Citation {
        source_id: format!("kb{number}"),
        url: hit.url.clone(),
        title: hit.title.clone(),
        metadata,
    }
}

/// A hit as the search API shows it.
pub fn hit_view(hit: &Hit) -> Value {
    json!({
        "sourceId": hit.source_id,
        "chunkId": hit.chunk_id,
        "baseId": hit.base_id,
        "kind": hit.kind,
        "title": hit.title,
        "url": hit.url,
        "heading": hit.heading,
        "text": hit.text,
        "score": (hit.score * 1000.0).round() / 1000.0,
    })
}

/// A base as the API shows it.
pub fn base_view(base: &KnowledgeBase) -> Value {
    json!({
        "id": base.id,
        "name": base.name,
        "createdAt": base.created_at,
        "updatedAt": base.updated_at,
    })
}

/// A source as the API shows it (a text's content is not repeated in listings).
pub fn source_view(source: &Source) -> Value {
    let mut view = json!({
        "id": source.id,
        "baseId": source.base_id,
        "type": source.kind,
        "title": source.title,
        "status": source.status,
        "progress": source.progress,
        "chunkCount": source.chunk_count,
        "error": source.error,
        "createdAt": source.created_at,
        "updatedAt": source.updated_at,
    });
    if let Some(url) = &source.url {
        view["url"] = json!(url);
    }
    if let Some(max) = source.max_pages {
        view["maxPages"] = json!(max);
    }
    if let Some(depth) = source.max_depth {
        view["maxDepth"] = json!(depth);
    }
    if source.kind == SourceKind::Qa {
        view["question"] = json!(source.title);
        view["answer"] = json!(source.content);
    }
    view
}

pub mod tool;
pub mod upload;

#[cfg(test)]
mod tests;
