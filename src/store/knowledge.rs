//! Knowledge persistence: the `KnowledgeStore` trait both stores implement, the D1 statements
//! and the row types both stores' answers are read into.

use serde_json::Value;

use super::rows::Param;
use super::StoreError;
use crate::knowledge::{
    Hit, KnowledgeBase, NewChunk, SearchQuery, Source, SourceKind, SourceStatus,
};

/// A change of a source's ingestion state.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceUpdate {
    /// The new status.
    pub status: SourceStatus,
    /// 0–100.
    pub progress: u32,
    /// Chunks in the index (`None`: unchanged).
    pub chunk_count: Option<u32>,
    /// Why it failed (cleared otherwise).
    pub error: Option<String>,
    /// Hash of the text indexed (`None`: unchanged).
    pub content_hash: Option<String>,
    /// A better title, such as a page's `<title>` (`None`: unchanged).
    pub title: Option<String>,
    /// When, ms since the epoch.
    pub now: i64,
}

/// Knowledge rows of both stores. Every method names the tenant and touches only its rows.
#[allow(async_fn_in_trait)]
pub trait KnowledgeStore {
    /// Stores a new base.
    async fn create_base(&self, base: &KnowledgeBase) -> Result<(), StoreError>;
    /// At most `limit` of a tenant's bases after `after`, oldest first (`(created_at, id)`).
    async fn bases(
        &self,
        tenant_id: &str,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<KnowledgeBase>, StoreError>;
    /// One of a tenant's bases.
    async fn base(
        &self,
        tenant_id: &str,
        base_id: &str,
    ) -> Result<Option<KnowledgeBase>, StoreError>;
    /// Renames a tenant's base; false when it has none with this id.
    async fn rename_base(
        &self,
        tenant_id: &str,
        base_id: &str,
        name: &str,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Deletes a tenant's base with its sources and chunks (chunks in batches, the base last);
    /// false when it has none with this id.
    async fn delete_base(&self, tenant_id: &str, base_id: &str) -> Result<bool, StoreError>;
    /// Stores a new source (its base checked by the caller).
    async fn create_source(&self, source: &Source) -> Result<(), StoreError>;
    /// At most `limit` sources of a tenant's base after `after`, oldest first.
    async fn sources(
        &self,
        tenant_id: &str,
        base_id: &str,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<Source>, StoreError>;
    /// One of a tenant's sources.
    async fn source(&self, tenant_id: &str, source_id: &str) -> Result<Option<Source>, StoreError>;
    /// Records a source's ingestion state; false when the tenant has no such source.
    async fn update_source(
        &self,
        tenant_id: &str,
        source_id: &str,
        update: &SourceUpdate,
    ) -> Result<bool, StoreError>;
    /// Replaces a source's chunks with `chunks` and records `update`, so that searches see
    /// either all the old chunks or all the new ones, never a part.
    async fn replace_chunks(
        &self,
        source: &Source,
        chunks: &[NewChunk],
        update: &SourceUpdate,
    ) -> Result<(), StoreError>;
    /// Deletes a tenant's source with its chunks; false when it has none with this id.
    async fn delete_source(&self, tenant_id: &str, source_id: &str) -> Result<bool, StoreError>;
    /// The best chunks of a tenant's bases for a query: lexical and vector rankings fused by
    /// reciprocal rank (`knowledge::rank`), at most `query.top_k`, scores 0–1.
    async fn search(
        &self,
        tenant_id: &str,
        query: &SearchQuery<'_>,
    ) -> Result<Vec<Hit>, StoreError>;
    /// Web sources (any tenant's) last synced before `before`, oldest first: what a scheduled
    /// re-sync queues again. Returns `(tenant_id, source_id)`.
    async fn web_sources_due(
        &self,
        before: i64,
        limit: u32,
    ) -> Result<Vec<(String, String)>, StoreError>;
}

/// Columns of a base.
const BASE_COLUMNS: &str =
    "SELECT id, tenant_id, name, created_at, updated_at FROM knowledge_bases";

/// A tenant's base. `?1` id, `?2` tenant.
pub fn select_base() -> String {
    format!("{BASE_COLUMNS} WHERE id = ?1 AND tenant_id = ?2")
}

/// A page of a tenant's bases, oldest first. `?1` tenant, `?2`/`?3` cursor, `?4` limit (the
/// cursor is a range bound on `knowledge_bases_by_tenant`, as for agents).
pub fn select_bases() -> String {
    format!(
        "{BASE_COLUMNS} WHERE tenant_id = ?1 AND created_at >= ?2 \
         AND (created_at > ?2 OR id > ?3) ORDER BY created_at, id LIMIT ?4"
    )
}

/// Creates a base. `?1` id, `?2` tenant, `?3` name, `?4` time.
pub const INSERT_BASE: &str =
    "INSERT INTO knowledge_bases (id, tenant_id, name, created_at, updated_at) \
     VALUES (?1, ?2, ?3, ?4, ?4)";

/// Renames a tenant's base. `?1` id, `?2` tenant, `?3` name, `?4` time.
pub const RENAME_BASE: &str =
    "UPDATE knowledge_bases SET name = ?3, updated_at = ?4 WHERE id = ?1 AND tenant_id = ?2";

/// Marks a tenant's base changed (vector caches reload it). `?1` id, `?2` tenant, `?3` time.
pub const TOUCH_BASE: &str =
    "UPDATE knowledge_bases SET updated_at = MAX(updated_at + 1, ?3) WHERE id = ?1 AND tenant_id = ?2";

/// Deletes up to `?3` chunks of a tenant's base. `?1` base, `?2` tenant.
pub const DELETE_BASE_CHUNKS: &str = "DELETE FROM knowledge_chunks WHERE rowid IN \
     (SELECT rowid FROM knowledge_chunks WHERE base_id = ?1 AND tenant_id = ?2 LIMIT ?3)";

/// Deletes a tenant's base's sources. `?1` base, `?2` tenant.
pub const DELETE_BASE_SOURCES: &str =
    "DELETE FROM knowledge_sources WHERE base_id = ?1 AND tenant_id = ?2";

/// Deletes a tenant's base. `?1` id, `?2` tenant.
pub const DELETE_BASE: &str = "DELETE FROM knowledge_bases WHERE id = ?1 AND tenant_id = ?2";

/// Columns of a source.
const SOURCE_COLUMNS: &str =
    "SELECT id, tenant_id, base_id, kind, title, url, content, max_pages, \
     status, progress, chunk_count, error, content_hash, created_at, updated_at, max_depth \
     FROM knowledge_sources";

/// A tenant's source. `?1` id, `?2` tenant.
pub fn select_source() -> String {
    format!("{SOURCE_COLUMNS} WHERE id = ?1 AND tenant_id = ?2")
}

/// A page of a tenant's base's sources, oldest first. `?1` base, `?2` tenant, `?3`/`?4`
/// cursor, `?5` limit.
pub fn select_sources() -> String {
    format!(
        "{SOURCE_COLUMNS} WHERE base_id = ?1 AND tenant_id = ?2 AND created_at >= ?3 \
         AND (created_at > ?3 OR id > ?4) ORDER BY created_at, id LIMIT ?5"
    )
}

/// Creates a source. `?1` id … `?16` max_depth, in `SOURCE_COLUMNS` order.
pub const INSERT_SOURCE: &str =
    "INSERT INTO knowledge_sources (id, tenant_id, base_id, kind, title, \
     url, content, max_pages, status, progress, chunk_count, error, content_hash, created_at, \
     updated_at, max_depth) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, \
     ?15, ?16)";

/// Records a tenant's source's state. `?1` id, `?2` tenant, `?3` status, `?4` progress, `?5`
/// chunk count or NULL, `?6` error, `?7` hash or NULL, `?8` title or NULL, `?9` time.
pub const UPDATE_SOURCE: &str = "UPDATE knowledge_sources SET status = ?3, progress = ?4, \
     chunk_count = COALESCE(?5, chunk_count), error = ?6, content_hash = COALESCE(?7, content_hash), \
     title = COALESCE(?8, title), updated_at = ?9 WHERE id = ?1 AND tenant_id = ?2";

/// Deletes up to `?3` chunks of a tenant's source. `?1` source, `?2` tenant.
pub const DELETE_SOURCE_CHUNKS: &str = "DELETE FROM knowledge_chunks WHERE rowid IN \
     (SELECT rowid FROM knowledge_chunks WHERE source_id = ?1 AND tenant_id = ?2 LIMIT ?3)";

/// Deletes every chunk of a tenant's source (inside the atomic replace). `?1` source, `?2` tenant.
pub const CLEAR_SOURCE_CHUNKS: &str =
    "DELETE FROM knowledge_chunks WHERE source_id = ?1 AND tenant_id = ?2";

/// Deletes a tenant's source. `?1` id, `?2` tenant.
pub const DELETE_SOURCE: &str = "DELETE FROM knowledge_sources WHERE id = ?1 AND tenant_id = ?2";

/// Inserts chunks from a JSON array of `{id, title, url, heading, text, vector}`. `?1` tenant,
/// `?2` base, `?3` source, `?4` kind, `?5` the array.
pub const INSERT_CHUNKS: &str = "INSERT INTO knowledge_chunks (id, tenant_id, base_id, source_id, kind, \
     title, url, heading, text, vector) SELECT json_extract(value, '$.id'), ?1, ?2, ?3, ?4, \
     json_extract(value, '$.title'), json_extract(value, '$.url'), json_extract(value, '$.heading'), \
     json_extract(value, '$.text'), json_extract(value, '$.vector') FROM json_each(?5)";

/// Chunks per `INSERT_CHUNKS` statement (each well under D1's limit on one bound value).
pub const CHUNKS_PER_INSERT: usize = 100;

/// The lexical ranking: the best chunks of a tenant by BM25 (title and heading weigh double),
/// inside the bases the MATCH names. `?1` the MATCH (`lexical_match`), `?2` tenant, `?3` limit.
/// The full-text index ranks first and only its best rows are joined to their chunks: a common
/// word matches most chunks, and reading each matching chunk's row (text and vector) before
/// sorting was most of a search's time. The tenant check after the cut still keeps every
/// other tenant's row out; a base id of another tenant in an agent's config (a random id it
/// cannot know) could only crowd the cut, never leak.
pub const LEXICAL_SEARCH: &str = "SELECT c.id, c.source_id, c.base_id, c.kind, c.title, c.url, \
     c.heading, c.text FROM (SELECT rowid, bm25(knowledge_fts, 0.0, 2.0, 2.0, 1.0) AS score \
     FROM knowledge_fts WHERE knowledge_fts MATCH ?1 ORDER BY score LIMIT ?3) f \
     JOIN knowledge_chunks c ON c.rowid = f.rowid WHERE c.tenant_id = ?2 ORDER BY f.score";

/// The bases' change times, for the vector cache. `?1` tenant, `?2` JSON array of base ids.
pub const BASE_VERSIONS: &str = "SELECT id, updated_at FROM knowledge_bases \
     WHERE tenant_id = ?1 AND id IN (SELECT value FROM json_each(?2))";

/// The vectors of a tenant's base. `?1` base, `?2` tenant.
/// One page of them, in rowid order from after `?3`, at most `?4` (pages keep each D1 answer,
/// and the memory it takes on both sides, small).
pub const BASE_VECTORS: &str = "SELECT rowid AS row, id, vector FROM knowledge_chunks \
     WHERE base_id = ?1 AND tenant_id = ?2 AND rowid > ?3 AND vector IS NOT NULL \
     ORDER BY rowid LIMIT ?4";

/// Vectors per `BASE_VECTORS` page.
pub const VECTORS_PER_PAGE: i64 = 1_000;

/// A tenant's chunks by id. `?1` tenant, `?2` JSON array of ids.
pub const CHUNKS_BY_ID: &str = "SELECT id, source_id, base_id, kind, title, url, heading, text \
     FROM knowledge_chunks WHERE tenant_id = ?1 AND id IN (SELECT value FROM json_each(?2))";

/// Web sources not synced since `?1`, oldest first, at most `?2`.
pub const WEB_SOURCES_DUE: &str = "SELECT tenant_id, id FROM knowledge_sources \
     WHERE kind IN ('url', 'sitemap', 'crawl') AND updated_at < ?1 AND status IN ('ready', 'failed') \
     ORDER BY updated_at LIMIT ?2";

/// The MATCH expression of a lexical search: the query's words, in the given bases only.
pub fn lexical_match(fts: &str, base_ids: &[String]) -> String {
    let bases = base_ids
        .iter()
        .map(|b| format!("\"{}\"", b.replace('"', "")))
        .collect::<Vec<_>>()
        .join(" OR ");
    format!("base_id : ({bases}) AND {{title heading text}} : ({fts})")
}

/// Parameters of `INSERT_CHUNKS` for one batch.
pub fn chunk_params(source: &Source, batch: &[NewChunk]) -> Vec<Param> {
    let items: Vec<serde_json::Value> = batch
        .iter()
        .map(|c| {
            serde_json::json!({
                "id": c.id,
                "title": c.title,
                "url": c.url,
                "heading": c.heading,
                "text": c.text,
                "vector": c.vector.as_deref().map(crate::knowledge::rank::encode_vector),
            })
        })
        .collect();
    vec![
        source.tenant_id.as_str().into(),
        source.base_id.as_str().into(),
        source.id.as_str().into(),
        source.kind.as_str().into(),
        Param::Text(serde_json::Value::Array(items).to_string()),
    ]
}

/// Parameters of `INSERT_SOURCE`.
pub fn source_params(s: &Source) -> Vec<Param> {
    vec![
        s.id.as_str().into(),
        s.tenant_id.as_str().into(),
        s.base_id.as_str().into(),
        s.kind.as_str().into(),
        s.title.as_str().into(),
        s.url.as_deref().into(),
        s.content.as_deref().into(),
        s.max_pages
            .map_or(Param::Null, |m| Param::Int(i64::from(m))),
        s.status.as_str().into(),
        Param::Int(i64::from(s.progress)),
        Param::Int(i64::from(s.chunk_count)),
        s.error.as_deref().into(),
        s.content_hash.as_deref().into(),
        Param::Int(s.created_at),
        Param::Int(s.updated_at),
        s.max_depth
            .map_or(Param::Null, |m| Param::Int(i64::from(m))),
    ]
}

/// Parameters of `UPDATE_SOURCE`.
pub fn update_params(tenant_id: &str, source_id: &str, u: &SourceUpdate) -> Vec<Param> {
    vec![
        source_id.into(),
        tenant_id.into(),
        u.status.as_str().into(),
        Param::Int(i64::from(u.progress)),
        u.chunk_count
            .map_or(Param::Null, |c| Param::Int(i64::from(c))),
        u.error.as_deref().into(),
        u.content_hash.as_deref().into(),
        u.title.as_deref().into(),
        Param::Int(u.now),
    ]
}

// Rows are read from JSON values by hand rather than by derived deserializers: one derive per
// row type costs several KB of wasm per store (a JSON-text and a JSON-value instance each).

/// The field `snake` (D1) or `camel` (Convex) of a row.
fn field<'a>(row: &'a Value, snake: &str, camel: &str) -> &'a Value {
    match row.get(snake) {
        Some(v) if !v.is_null() => v,
        _ => row.get(camel).unwrap_or(&Value::Null),
    }
}

fn text(row: &Value, snake: &str, camel: &str) -> Option<String> {
    field(row, snake, camel).as_str().map(str::to_owned)
}

fn number(row: &Value, snake: &str, camel: &str) -> f64 {
    field(row, snake, camel).as_f64().unwrap_or(0.0)
}

fn required(row: &Value, snake: &str, camel: &str) -> Result<String, StoreError> {
    text(row, snake, camel)
        .ok_or_else(|| StoreError::Corrupt(format!("knowledge row without {snake}")))
}

/// A base from either store's row.
pub fn base_from(row: &Value) -> Result<KnowledgeBase, StoreError> {
    Ok(KnowledgeBase {
        id: required(row, "id", "id")?,
        tenant_id: required(row, "tenant_id", "tenantId")?,
        name: required(row, "name", "name")?,
        created_at: number(row, "created_at", "createdAt") as i64,
        updated_at: number(row, "updated_at", "updatedAt") as i64,
    })
}

/// A source from either store's row.
pub fn source_from(row: &Value) -> Result<Source, StoreError> {
    let id = required(row, "id", "id")?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("source {id} {what}"));
    let kind = SourceKind::parse(&required(row, "kind", "kind")?).ok_or_else(|| corrupt("kind"))?;
    let status = SourceStatus::parse(&required(row, "status", "status")?)
        .ok_or_else(|| corrupt("status"))?;
    Ok(Source {
        tenant_id: required(row, "tenant_id", "tenantId")?,
        base_id: required(row, "base_id", "baseId")?,
        kind,
        title: required(row, "title", "title")?,
        url: text(row, "url", "url"),
        content: text(row, "content", "content"),
        max_pages: field(row, "max_pages", "maxPages")
            .as_f64()
            .map(|m| m as u32),
        max_depth: field(row, "max_depth", "maxDepth")
            .as_f64()
            .map(|m| m as u32),
        status,
        progress: number(row, "progress", "progress") as u32,
        chunk_count: number(row, "chunk_count", "chunkCount") as u32,
        error: text(row, "error", "error"),
        content_hash: text(row, "content_hash", "contentHash"),
        created_at: number(row, "created_at", "createdAt") as i64,
        updated_at: number(row, "updated_at", "updatedAt") as i64,
        id,
    })
}

/// A hit from either store's chunk row, with `score` and `best_rank` unless the row has its own.
pub fn hit_from(row: &Value, score: f64, best_rank: usize) -> Result<Hit, StoreError> {
    Ok(Hit {
        chunk_id: required(row, "id", "id")?,
        source_id: required(row, "source_id", "sourceId")?,
        base_id: required(row, "base_id", "baseId")?,
        kind: text(row, "kind", "kind")
            .and_then(|k| SourceKind::parse(&k))
            .unwrap_or(SourceKind::Text),
        title: text(row, "title", "title").unwrap_or_default(),
        url: text(row, "url", "url"),
        heading: text(row, "heading", "heading").unwrap_or_default(),
        text: text(row, "text", "text").unwrap_or_default(),
        score: row.get("score").and_then(Value::as_f64).unwrap_or(score),
        best_rank: row
            .get("bestRank")
            .and_then(Value::as_f64)
            .map_or(best_rank, |r| r as usize),
    })
}

/// `(id, text field)` pairs of rows (chunk vectors, base versions, due sources).
pub fn pairs(rows: &[Value], first: (&str, &str), second: (&str, &str)) -> Vec<(String, Value)> {
    rows.iter()
        .filter_map(|r| {
            let a = text(r, first.0, first.1)?;
            Some((a, field(r, second.0, second.1).clone()))
        })
        .collect()
}

/// Every statement here, by name, for the schema test.
pub fn statements() -> Vec<(&'static str, String)> {
    let s = |sql: &str| sql.to_owned();
    vec![
        ("select_base", select_base()),
        ("select_bases", select_bases()),
        ("INSERT_BASE", s(INSERT_BASE)),
        ("RENAME_BASE", s(RENAME_BASE)),
        ("TOUCH_BASE", s(TOUCH_BASE)),
        ("DELETE_BASE_CHUNKS", s(DELETE_BASE_CHUNKS)),
        ("DELETE_BASE_SOURCES", s(DELETE_BASE_SOURCES)),
        ("DELETE_BASE", s(DELETE_BASE)),
        ("select_source", select_source()),
        ("select_sources", select_sources()),
        ("INSERT_SOURCE", s(INSERT_SOURCE)),
        ("UPDATE_SOURCE", s(UPDATE_SOURCE)),
        ("DELETE_SOURCE_CHUNKS", s(DELETE_SOURCE_CHUNKS)),
        ("CLEAR_SOURCE_CHUNKS", s(CLEAR_SOURCE_CHUNKS)),
        ("DELETE_SOURCE", s(DELETE_SOURCE)),
        ("INSERT_CHUNKS", s(INSERT_CHUNKS)),
        ("LEXICAL_SEARCH", s(LEXICAL_SEARCH)),
        ("BASE_VERSIONS", s(BASE_VERSIONS)),
        ("BASE_VECTORS", s(BASE_VECTORS)),
        ("CHUNKS_BY_ID", s(CHUNKS_BY_ID)),
        ("WEB_SOURCES_DUE", s(WEB_SOURCES_DUE)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migrated() -> rusqlite::Connection {
        let db = rusqlite::Connection::open_in_memory().expect("sqlite");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("migrations/")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "sql"))
            .collect();
        files.sort();
        for file in files {
            db.execute_batch(&std::fs::read_to_string(&file).expect("migration"))
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        }
        db
    }

    fn bind(params: &[Param]) -> Vec<rusqlite::types::Value> {
        params
            .iter()
            .map(|p| match p {
                Param::Null => rusqlite::types::Value::Null,
                Param::Text(t) => rusqlite::types::Value::Text(t.clone()),
                Param::Int(i) => rusqlite::types::Value::Integer(*i),
                Param::Real(r) => rusqlite::types::Value::Real(*r),
            })
            .collect()
    }

    #[test]
    fn every_statement_compiles_and_every_one_is_listed() {
        let db = migrated();
        let listed = statements();
        for (name, sql) in &listed {
            db.prepare(sql)
                .unwrap_or_else(|e| panic!("{name} does not fit the schema: {e}\n{sql}"));
        }
        let defined = include_str!("knowledge.rs")
            .lines()
            .filter(|l| {
                (l.starts_with("pub const ") && l.contains(": &str"))
                    || (l.starts_with("pub fn select_") && l.contains("-> String"))
            })
            .count();
        assert_eq!(
            defined,
            listed.len(),
            "a statement is not listed in statements()"
        );
    }

    fn source(id: &str, tenant: &str, base: &str) -> Source {
        Source {
            id: id.into(),
            tenant_id: tenant.into(),
            base_id: base.into(),
            kind: SourceKind::Text,
            title: "Doc".into(),
            url: None,
            content: None,
            max_pages: None,
            max_depth: None,
            status: SourceStatus::Ready,
            progress: 100,
            chunk_count: 0,
            error: None,
            content_hash: None,
            created_at: 1,
            updated_at: 1,
        }
    }

    fn chunk(id: &str, text: &str) -> NewChunk {
        NewChunk {
            id: id.into(),
            title: "Doc".into(),
            url: None,
            heading: String::new(),
            text: text.into(),
            vector: Some(vec![1.0, 0.5]),
        }
    }

    /// The lexical search finds words (stemmed, product codes whole) in the named bases of the
    /// tenant only, through the FTS index, and deleting chunks takes them out of the index.
    #[test]
    fn lexical_search_stays_in_the_tenant_and_its_bases() {
        let db = migrated();
        db.execute("INSERT INTO tenants (id, name, status, created_at, identity_secret, signing_secret) VALUES ('t1','t1','active',1,'x','y'), ('t2','t2','active',1,'x','y')", []).expect("tenants");
        for (tenant, base) in [("t1", "kb_a"), ("t1", "kb_b"), ("t2", "kb_c")] {
            db.execute(INSERT_BASE, rusqlite::params![base, tenant, "n", 1])
                .expect("base");
        }
        let put = |src: &Source, chunks: &[NewChunk]| {
            let params = bind(&chunk_params(src, chunks));
            db.execute(INSERT_CHUNKS, rusqlite::params_from_iter(params))
                .expect("insert");
        };
        put(
            &source("s1", "t1", "kb_a"),
            &[
                chunk("c1", "Refunds are processed within five days."),
                chunk("c2", "Model SKU-4411 ships in blue."),
            ],
        );
        put(
            &source("s2", "t1", "kb_b"),
            &[chunk("c3", "Refund requests for kb_b.")],
        );
        put(
            &source("s3", "t2", "kb_c"),
            &[chunk("c4", "Another tenant's refund policy.")],
        );
        let search = |fts: &str, bases: &[&str], tenant: &str| -> Vec<String> {
            let bases: Vec<String> = bases.iter().map(|b| b.to_string()).collect();
            let m = lexical_match(fts, &bases);
            let mut stmt = db.prepare(LEXICAL_SEARCH).expect("prepare");
            stmt.query_map(rusqlite::params![m, tenant, 10], |r| r.get::<_, String>(0))
                .expect("query")
                .filter_map(Result::ok)
                .collect()
        };
        let q = crate::knowledge::fts_query("refund");
        assert_eq!(
            search(&q, &["kb_a"], "t1"),
            vec!["c1"],
            "stemmed: refund matches Refunds"
        );
        let mut both = search(&q, &["kb_a", "kb_b"], "t1");
        both.sort();
        assert_eq!(both, vec!["c1", "c3"]);
        assert!(
            search(&q, &["kb_c"], "t1").is_empty(),
            "another tenant's base is never searched"
        );
        assert_eq!(
            search(&crate::knowledge::fts_query("sku-4411"), &["kb_a"], "t1"),
            vec!["c2"]
        );
        // The plan uses the FTS index (M: the MATCH) rather than scanning chunks.
        let plan: Vec<String> = db
            .prepare(&format!("EXPLAIN QUERY PLAN {LEXICAL_SEARCH}"))
            .expect("plan")
            .query_map(rusqlite::params!["x", "t1", 5], |r| r.get::<_, String>(3))
            .expect("plans")
            .filter_map(Result::ok)
            .collect();
        assert!(
            plan.iter().any(|l| l.contains("VIRTUAL TABLE INDEX")
                && l.rsplit(':').next().is_some_and(|i| i.contains('M'))),
            "{plan:?}"
        );
        db.execute(CLEAR_SOURCE_CHUNKS, rusqlite::params!["s1", "t1"])
            .expect("clear");
        assert!(
            search(&q, &["kb_a"], "t1").is_empty(),
            "deleted chunks leave the index"
        );
        let vectors: i64 = db
            .query_row(
                "SELECT count(*) FROM knowledge_chunks WHERE vector IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(vectors, 2);
    }
}
