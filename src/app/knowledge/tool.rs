//! Tool mode (`knowledge.mode: "tool"`): instead of retrieving for every user turn, the model is
//! offered `search_knowledge` and searches when it needs to. A call runs the same retrieval as
//! auto mode (the agent's bases, `topK`, `minScore`), and what it finds becomes the answer's
//! citations and the turn's retrieval spans through `ToolRunner::take_notes`, on every surface.

use std::cell::RefCell;

use serde_json::{json, Value};

use super::{citation, retrieve, Embedder};
use crate::knowledge::{Hit, KnowledgeConfig, DEFAULT_FALLBACK};
use crate::llm::ToolSpec;
use crate::store::knowledge::KnowledgeStore;
use crate::store::{Agent, Store};
use crate::tools::{Retrieved, ToolNotes};

/// The name the model calls the search by.
pub const NAME: &str = "search_knowledge";

/// Longest query the model may search with, in characters.
pub const MAX_QUERY_CHARS: usize = 2_000;

/// Bytes of passage text one result carries at most, shared by its hits, so that even `topK` 20
/// stays a whole JSON answer under the loop's cap on tool results (`MAX_TOOL_OUTPUT_BYTES`).
const TEXT_BUDGET: usize = crate::tools::MAX_TOOL_OUTPUT_BYTES * 3 / 4;

/// What the model is offered.
pub fn spec() -> ToolSpec {
    ToolSpec::function(
        NAME,
        "Searches the agent's knowledge bases (the business's documents, pages and curated \
         answers) and returns the most relevant passages, best first, numbered for citing.",
        json!({
            "type": "object",
            "properties": {
                "query": {
                    "type": "string",
                    "description": "What to look for, in the visitor's words or a rephrasing."
                }
            },
            "required": ["query"],
            "additionalProperties": false
        }),
    )
}

/// What tool mode adds to the system prompt: when to search, how to cite, and for a strict
/// agent that it answers only from the search's results.
pub fn prompt_block(config: &KnowledgeConfig) -> String {
    let mut out = String::from(
        "\n\n## Knowledge\nThe business's documents are searchable with the search_knowledge tool. \
         Search them whenever the visitor asks about the business, its products, services or \
         policies. Results are numbered [1], [2], …: cite the numbers you use. A result marked \
         \"curated answer\" is the business's own answer: prefer it.",
    );
    if config.strict {
        let fallback = config.fallback.as_deref().unwrap_or(DEFAULT_FALLBACK);
        out.push_str(&format!(
            "\nAnswer only from search_knowledge results: search before answering any question. \
             If nothing relevant is found, say exactly: \"{fallback}\""
        ));
    }
    out
}

/// The search tool of one agent's turn: what it may search and what it found so far.
pub struct KnowledgeTool<'a, S, E> {
    store: &'a S,
    embedder: &'a E,
    tenant_id: &'a str,
    config: &'a KnowledgeConfig,
    clock: fn() -> i64,
    found: RefCell<Found>,
}

#[derive(Default)]
struct Found {
    /// Chunks cited so far in this answer, in citation order (a chunk found twice keeps its
    /// number and is cited once).
    cited: Vec<String>,
    notes: ToolNotes,
}

impl<'a, S: Store + KnowledgeStore, E: Embedder> KnowledgeTool<'a, S, E> {
    /// The tool for `agent`'s turn when its knowledge is in tool mode; `None` otherwise (auto
    /// mode retrieves before the turn instead). `clock` is the time in ms, for the spans.
    pub fn for_agent(
        store: &'a S,
        embedder: &'a E,
        agent: &'a Agent,
        clock: fn() -> i64,
    ) -> Option<Self> {
        let config = &agent.config.knowledge;
        config.searched_by_tool().then(|| Self {
            store,
            embedder,
            tenant_id: &agent.tenant_id,
            config,
            clock,
            found: RefCell::new(Found::default()),
        })
    }

    /// Runs one call: `{query}` searched in the agent's bases; the ranked hits, numbered like
    /// the citations they become. An error is a sentence for the model.
    pub async fn call(&self, input: &Value) -> Result<Value, String> {
        let query = input
            .get("query")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .ok_or_else(|| "search_knowledge needs a query: what to look for.".to_owned())?;
        let query: String = query.chars().take(MAX_QUERY_CHARS).collect();
        let started_ms = (self.clock)();
        let found = retrieve(
            self.store,
            self.embedder,
            self.tenant_id,
            &self.config.bases,
            &query,
            self.config.top_k,
            self.config.min_score,
        )
        .await
        .map_err(|_| {
            "The knowledge search is unavailable right now; say so rather than guessing.".to_owned()
        })?;
        let mut state = self.found.borrow_mut();
        state.notes.embedding_tokens += found.embedding_tokens;
        state.notes.retrievals.push(Retrieved {
            query: query.clone(),
            hits: super::retrieval_hits(&found.hits),
            started_ms,
        });
        let share = TEXT_BUDGET / found.hits.len().max(1);
        let results: Vec<Value> = found
            .hits
            .iter()
            .map(|hit| {
                let number = match state.cited.iter().position(|c| *c == hit.chunk_id) {
                    Some(i) => i + 1,
                    None => {
                        state.cited.push(hit.chunk_id.clone());
                        let number = state.cited.len();
                        state.notes.citations.push(citation(number, hit));
                        number
                    }
                };
                result_view(number, hit, share)
            })
            .collect();
        let mut answer = json!({ "query": query, "results": results });
        if found.hits.is_empty() {
            answer["note"] = json!(match (self.config.strict, &self.config.fallback) {
                (true, fallback) => format!(
                    "Nothing in the knowledge base matches. Answer only with: \"{}\"",
                    fallback.as_deref().unwrap_or(DEFAULT_FALLBACK)
                ),
                (false, _) => "Nothing in the knowledge base matches.".to_owned(),
            });
        }
        Ok(answer)
    }

    /// The citations and retrievals of the calls since the last take.
    pub fn take_notes(&self) -> ToolNotes {
        std::mem::take(&mut self.found.borrow_mut().notes)
    }
}

/// One hit as the model reads it.
fn result_view(number: usize, hit: &Hit, max_text_bytes: usize) -> Value {
    let mut view = json!({
        "number": number,
        "title": hit.title,
        "text": clip(&hit.text, max_text_bytes),
        "score": (hit.score * 1000.0).round() / 1000.0,
        "sourceId": hit.source_id,
    });
    if let Some(url) = &hit.url {
        view["url"] = json!(url);
    }
    if !hit.heading.is_empty() {
        view["heading"] = json!(hit.heading);
    }
    if hit.kind == crate::knowledge::SourceKind::Qa {
        view["curated"] = json!(true);
    }
    view
}

/// `text` cut to at most `max_bytes` (at a character boundary), marked when cut.
fn clip(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_owned();
    }
    let mut end = max_bytes.saturating_sub(3);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
