//! `KnowledgeStore` on D1: FTS5 for the lexical ranking, exact cosine over the bases' vectors
//! (read once per base version and kept per isolate) for the vector ranking, fused in Rust.

// The store layer itself: it implements the methods the tenant-scoped handle wraps.
#![allow(clippy::disallowed_methods)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use serde_json::Value;

use super::super::knowledge::{
    self as sql, base_from, hit_from, pairs, source_from, KnowledgeStore, SourceUpdate,
};
use super::super::rows::{Param, FIRST_PAGE_BEFORE};
use super::super::{in_batches, StoreError};
use super::{page_params, D1Store};
use crate::knowledge::rank::{best_score, decode_vector, dot, fuse, top_k, unit};
use crate::knowledge::{Hit, KnowledgeBase, NewChunk, SearchQuery, Source};

/// Bases whose vectors an isolate keeps (the least recently loaded goes first).
const CACHED_BASES: usize = 32;

type Vectors = Rc<Vec<(String, Vec<f32>)>>;

thread_local! {
    /// Per base: its version (`updated_at`) and its chunks' vectors.
    static VECTORS: RefCell<HashMap<String, (i64, Vectors, u64)>> = RefCell::new(HashMap::new());
    static TICK: RefCell<u64> = const { RefCell::new(0) };
}

fn cached(base_id: &str, version: i64) -> Option<Vectors> {
    VECTORS.with(|c| {
        c.borrow()
            .get(base_id)
            .filter(|(v, _, _)| *v == version)
            .map(|(_, vectors, _)| vectors.clone())
    })
}

fn remember(base_id: &str, version: i64, vectors: Vectors) {
    let tick = TICK.with(|t| {
        let mut t = t.borrow_mut();
        *t += 1;
        *t
    });
    VECTORS.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= CACHED_BASES && !c.contains_key(base_id) {
            if let Some(oldest) = c
                .iter()
                .min_by_key(|(_, (_, _, t))| *t)
                .map(|(k, _)| k.clone())
            {
                c.remove(&oldest);
            }
        }
        c.insert(base_id.to_owned(), (version, vectors, tick));
    });
}

impl D1Store {
    async fn base_vectors(
        &self,
        tenant_id: &str,
        base_id: &str,
        version: i64,
    ) -> Result<Vectors, StoreError> {
        if let Some(vectors) = cached(base_id, version) {
            return Ok(vectors);
        }
        let mut all: Vec<(String, Vec<f32>)> = Vec::new();
        let mut after = 0i64;
        loop {
            let params = [
                base_id.into(),
                tenant_id.into(),
                Param::Int(after),
                Param::Int(sql::VECTORS_PER_PAGE),
            ];
            let rows: Vec<Value> = self.all(sql::BASE_VECTORS, &params).await?;
            let full = rows.len() as i64 == sql::VECTORS_PER_PAGE;
            after = rows
                .last()
                .and_then(|r| r.get("row").and_then(Value::as_i64))
                .unwrap_or(after);
            all.extend(
                pairs(&rows, ("id", "id"), ("vector", "vector"))
                    .into_iter()
                    // Kept as unit vectors: each search's cosine is then a dot product.
                    .filter_map(|(id, v)| decode_vector(v.as_str()?).map(|v| (id, unit(v)))),
            );
            if !full {
                break;
            }
        }
        let vectors: Vectors = Rc::new(all);
        remember(base_id, version, vectors.clone());
        Ok(vectors)
    }
}

fn json_ids(ids: &[String]) -> Param {
    Param::Text(serde_json::to_string(ids).unwrap_or_else(|_| "[]".into()))
}

impl KnowledgeStore for D1Store {
    async fn create_base(&self, base: &KnowledgeBase) -> Result<(), StoreError> {
        self.write(
            sql::INSERT_BASE,
            &[
                base.id.as_str().into(),
                base.tenant_id.as_str().into(),
                base.name.as_str().into(),
                Param::Int(base.created_at),
            ],
        )
        .await
        .map(|_| ())
    }

    async fn bases(
        &self,
        tenant_id: &str,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<KnowledgeBase>, StoreError> {
        let (time, id) = page_params(after, FIRST_PAGE_BEFORE);
        let rows: Vec<Value> = self
            .all(
                &sql::select_bases(),
                &[tenant_id.into(), time, id, Param::Int(i64::from(limit))],
            )
            .await?;
        rows.iter().map(base_from).collect()
    }

    async fn base(
        &self,
        tenant_id: &str,
        base_id: &str,
    ) -> Result<Option<KnowledgeBase>, StoreError> {
        let row: Option<Value> = self
            .first(&sql::select_base(), &[base_id.into(), tenant_id.into()])
            .await?;
        row.as_ref().map(base_from).transpose()
    }

    async fn rename_base(
        &self,
        tenant_id: &str,
        base_id: &str,
        name: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let params = [
            base_id.into(),
            tenant_id.into(),
            name.into(),
            Param::Int(now),
        ];
        Ok(self.write(sql::RENAME_BASE, &params).await? > 0)
    }

    async fn delete_base(&self, tenant_id: &str, base_id: &str) -> Result<bool, StoreError> {
        if self.base(tenant_id, base_id).await?.is_none() {
            return Ok(false);
        }
        in_batches(|| self.delete_batch(sql::DELETE_BASE_CHUNKS, base_id, tenant_id)).await?;
        let params = [base_id.into(), tenant_id.into()];
        self.run(vec![
            self.statement(sql::DELETE_BASE_SOURCES, &params)?,
            self.statement(sql::DELETE_BASE, &params)?,
        ])
        .await?;
        Ok(true)
    }

    async fn create_source(&self, source: &Source) -> Result<(), StoreError> {
        self.write(sql::INSERT_SOURCE, &sql::source_params(source))
            .await
            .map(|_| ())
    }

    async fn sources(
        &self,
        tenant_id: &str,
        base_id: &str,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<Source>, StoreError> {
        let (time, id) = page_params(after, FIRST_PAGE_BEFORE);
        let rows: Vec<Value> = self
            .all(
                &sql::select_sources(),
                &[
                    base_id.into(),
                    tenant_id.into(),
                    time,
                    id,
                    Param::Int(i64::from(limit)),
                ],
            )
            .await?;
        rows.iter().map(source_from).collect()
    }

    async fn source(&self, tenant_id: &str, source_id: &str) -> Result<Option<Source>, StoreError> {
        let row: Option<Value> = self
            .first(&sql::select_source(), &[source_id.into(), tenant_id.into()])
            .await?;
        row.as_ref().map(source_from).transpose()
    }

    async fn update_source(
        &self,
        tenant_id: &str,
        source_id: &str,
        update: &SourceUpdate,
    ) -> Result<bool, StoreError> {
        let params = sql::update_params(tenant_id, source_id, update);
        Ok(self.write(sql::UPDATE_SOURCE, &params).await? > 0)
    }

    async fn replace_chunks(
        &self,
        source: &Source,
        chunks: &[NewChunk],
        update: &SourceUpdate,
    ) -> Result<(), StoreError> {
        // One batch is one transaction: searches see the old chunks or the new, never a mix.
        let owner = [source.id.as_str().into(), source.tenant_id.as_str().into()];
        let mut statements = vec![self.statement(sql::CLEAR_SOURCE_CHUNKS, &owner)?];
        for batch in chunks.chunks(sql::CHUNKS_PER_INSERT) {
            statements.push(self.statement(sql::INSERT_CHUNKS, &sql::chunk_params(source, batch))?);
        }
        statements.push(self.statement(
            sql::UPDATE_SOURCE,
            &sql::update_params(&source.tenant_id, &source.id, update),
        )?);
        statements.push(self.statement(
            sql::TOUCH_BASE,
            &[
                source.base_id.as_str().into(),
                source.tenant_id.as_str().into(),
                Param::Int(update.now),
            ],
        )?);
        self.run(statements).await.map(|_| ())
    }

    async fn delete_source(&self, tenant_id: &str, source_id: &str) -> Result<bool, StoreError> {
        let Some(source) = self.source(tenant_id, source_id).await? else {
            return Ok(false);
        };
        in_batches(|| self.delete_batch(sql::DELETE_SOURCE_CHUNKS, source_id, tenant_id)).await?;
        let now = crate::platform::now_ms();
        self.run(vec![
            self.statement(sql::DELETE_SOURCE, &[source_id.into(), tenant_id.into()])?,
            self.statement(
                sql::TOUCH_BASE,
                &[
                    source.base_id.as_str().into(),
                    tenant_id.into(),
                    Param::Int(now),
                ],
            )?,
        ])
        .await?;
        Ok(true)
    }

    async fn search(
        &self,
        tenant_id: &str,
        query: &SearchQuery<'_>,
    ) -> Result<Vec<Hit>, StoreError> {
        if query.base_ids.is_empty() {
            return Ok(Vec::new());
        }
        let limit = Param::Int(query.candidates as i64);
        let mut statements = vec![self.statement(
            sql::BASE_VERSIONS,
            &[tenant_id.into(), json_ids(query.base_ids)],
        )?];
        if !query.fts.is_empty() {
            let matcher = sql::lexical_match(&query.fts, query.base_ids);
            statements.push(self.statement(
                sql::LEXICAL_SEARCH,
                &[Param::Text(matcher), tenant_id.into(), limit],
            )?);
        }
        // The keyword ranking is read while the query is still being embedded.
        let (results, vector) = futures::join!(self.run(statements), query.vector.clone());
        let results = results?;
        // Only the tenant's own bases come back here, so only those are searched below.
        let versions = pairs(
            &results.rows::<Value>(0)?,
            ("id", "id"),
            ("updated_at", "updatedAt"),
        );
        let lexical: Vec<Value> = if query.fts.is_empty() {
            Vec::new()
        } else {
            results.rows(1)?
        };
        let mut vector_ids: Vec<String> = Vec::new();
        if let Some(vector) = vector.clone().map(unit) {
            let mut scored: Vec<(String, f32)> = Vec::new();
            for (base_id, version) in &versions {
                let version = version.as_f64().unwrap_or(0.0) as i64;
                let vectors = self.base_vectors(tenant_id, base_id, version).await?;
                // Scored by position: only the best few ids are copied.
                let best = top_k(
                    vectors
                        .iter()
                        .enumerate()
                        .map(|(i, (_, v))| (i, dot(&vector, v))),
                    query.candidates,
                );
                scored.extend(best.into_iter().map(|(i, s)| (vectors[i].0.clone(), s)));
            }
            vector_ids = top_k(scored, query.candidates)
                .into_iter()
                .map(|(id, _)| id)
                .collect();
        }
        let id_of = |c: &Value| {
            c.get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let lexical_ids: Vec<String> = lexical.iter().map(id_of).collect();
        let fused = fuse(&lexical_ids, &vector_ids, query.top_k);
        let best = best_score(!query.fts.is_empty(), vector.is_some());
        let mut rows: HashMap<String, Value> =
            lexical.into_iter().map(|c| (id_of(&c), c)).collect();
        let missing: Vec<String> = fused
            .iter()
            .filter(|f| !rows.contains_key(&f.id))
            .map(|f| f.id.clone())
            .collect();
        if !missing.is_empty() {
            let more: Vec<Value> = self
                .all(sql::CHUNKS_BY_ID, &[tenant_id.into(), json_ids(&missing)])
                .await?;
            rows.extend(more.into_iter().map(|c| (id_of(&c), c)));
        }
        Ok(fused
            .into_iter()
            .filter_map(|f| {
                let score = (f.score / best).min(1.0);
                let rank = f
                    .lexical_rank
                    .unwrap_or(usize::MAX)
                    .min(f.vector_rank.unwrap_or(usize::MAX));
                rows.remove(&f.id)
                    .and_then(|row| hit_from(&row, score, rank).ok())
            })
            .collect())
    }

    async fn web_sources_due(
        &self,
        before: i64,
        limit: u32,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows: Vec<Value> = self
            .all(
                sql::WEB_SOURCES_DUE,
                &[Param::Int(before), Param::Int(i64::from(limit))],
            )
            .await?;
        Ok(pairs(&rows, ("tenant_id", "tenantId"), ("id", "id"))
            .into_iter()
            .filter_map(|(t, id)| Some((t, id.as_str()?.to_owned())))
            .collect())
    }
}
