//! `KnowledgeStore` in memory, for host tests: the same contract as D1 and Convex (tenant
//! scoping, atomic chunk replace, fused ranking), with a word-count lexical ranking.

use std::collections::HashMap;

use super::MemoryStore;
use crate::knowledge::rank::{best_score, cosine, fuse, top_k};
use crate::knowledge::{Hit, KnowledgeBase, NewChunk, SearchQuery, Source};
use crate::store::knowledge::{KnowledgeStore, SourceUpdate};
use crate::store::StoreError;

/// Knowledge rows.
#[derive(Debug, Default)]
pub struct KnowledgeState {
    bases: Vec<KnowledgeBase>,
    sources: Vec<Source>,
    chunks: Vec<(Source, NewChunk)>,
}

fn apply(source: &mut Source, u: &SourceUpdate) {
    source.status = u.status;
    source.progress = u.progress;
    if let Some(c) = u.chunk_count {
        source.chunk_count = c;
    }
    source.error = u.error.clone();
    if let Some(h) = &u.content_hash {
        source.content_hash = Some(h.clone());
    }
    if let Some(t) = &u.title {
        source.title = t.clone();
    }
    source.updated_at = u.now;
}

fn page<T: Clone>(
    items: Vec<&T>,
    key: impl Fn(&T) -> (i64, String),
    after: Option<&(i64, String)>,
    limit: u32,
) -> Vec<T> {
    let mut items: Vec<&T> = items
        .into_iter()
        .filter(|i| after.is_none_or(|a| key(i) > *a))
        .collect();
    items.sort_by_key(|i| key(i));
    items.into_iter().take(limit as usize).cloned().collect()
}

impl KnowledgeStore for MemoryStore {
    async fn create_base(&self, base: &KnowledgeBase) -> Result<(), StoreError> {
        self.knowledge.borrow_mut().bases.push(base.clone());
        Ok(())
    }
    async fn bases(
        &self,
        tenant_id: &str,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<KnowledgeBase>, StoreError> {
        let k = self.knowledge.borrow();
        Ok(page(
            k.bases
                .iter()
                .filter(|b| b.tenant_id == tenant_id)
                .collect(),
            |b| (b.created_at, b.id.clone()),
            after,
            limit,
        ))
    }
    async fn base(
        &self,
        tenant_id: &str,
        base_id: &str,
    ) -> Result<Option<KnowledgeBase>, StoreError> {
        Ok(self
            .knowledge
            .borrow()
            .bases
            .iter()
            .find(|b| b.id == base_id && b.tenant_id == tenant_id)
            .cloned())
    }
    async fn rename_base(
        &self,
        tenant_id: &str,
        base_id: &str,
        name: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut k = self.knowledge.borrow_mut();
        let Some(b) = k
            .bases
            .iter_mut()
            .find(|b| b.id == base_id && b.tenant_id == tenant_id)
        else {
            return Ok(false);
        };
        b.name = name.to_owned();
        b.updated_at = now;
        Ok(true)
    }
    async fn delete_base(&self, tenant_id: &str, base_id: &str) -> Result<bool, StoreError> {
        let mut k = self.knowledge.borrow_mut();
        let before = k.bases.len();
        k.bases
            .retain(|b| !(b.id == base_id && b.tenant_id == tenant_id));
        if k.bases.len() == before {
            return Ok(false);
        }
        k.sources.retain(|s| s.base_id != base_id);
        k.chunks.retain(|(s, _)| s.base_id != base_id);
        Ok(true)
    }
    async fn create_source(&self, source: &Source) -> Result<(), StoreError> {
        self.knowledge.borrow_mut().sources.push(source.clone());
        Ok(())
    }
    async fn sources(
        &self,
        tenant_id: &str,
        base_id: &str,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<Source>, StoreError> {
        let k = self.knowledge.borrow();
        Ok(page(
            k.sources
                .iter()
                .filter(|s| s.tenant_id == tenant_id && s.base_id == base_id)
                .collect(),
            |s| (s.created_at, s.id.clone()),
            after,
            limit,
        ))
    }
    async fn source(&self, tenant_id: &str, source_id: &str) -> Result<Option<Source>, StoreError> {
        Ok(self
            .knowledge
            .borrow()
            .sources
            .iter()
            .find(|s| s.id == source_id && s.tenant_id == tenant_id)
            .cloned())
    }
    async fn update_source(
        &self,
        tenant_id: &str,
        source_id: &str,
        update: &SourceUpdate,
    ) -> Result<bool, StoreError> {
        let mut k = self.knowledge.borrow_mut();
        let Some(s) = k
            .sources
            .iter_mut()
            .find(|s| s.id == source_id && s.tenant_id == tenant_id)
        else {
            return Ok(false);
        };
        apply(s, update);
        Ok(true)
    }
    async fn replace_chunks(
        &self,
        source: &Source,
        chunks: &[NewChunk],
        update: &SourceUpdate,
    ) -> Result<(), StoreError> {
        let mut k = self.knowledge.borrow_mut();
        k.chunks.retain(|(s, _)| s.id != source.id);
        k.chunks
            .extend(chunks.iter().map(|c| (source.clone(), c.clone())));
        if let Some(s) = k
            .sources
            .iter_mut()
            .find(|s| s.id == source.id && s.tenant_id == source.tenant_id)
        {
            apply(s, update);
        }
        Ok(())
    }
    async fn delete_source(&self, tenant_id: &str, source_id: &str) -> Result<bool, StoreError> {
        let mut k = self.knowledge.borrow_mut();
        let before = k.sources.len();
        k.sources
            .retain(|s| !(s.id == source_id && s.tenant_id == tenant_id));
        if k.sources.len() == before {
            return Ok(false);
        }
        k.chunks.retain(|(s, _)| s.id != source_id);
        Ok(true)
    }
    async fn search(
        &self,
        tenant_id: &str,
        query: &SearchQuery<'_>,
    ) -> Result<Vec<Hit>, StoreError> {
        let query_vector = query.vector.clone().await;
        let k = self.knowledge.borrow();
        let words: Vec<String> = query
            .fts
            .split(" OR ")
            .map(|w| w.trim_matches('"').to_owned())
            .filter(|w| !w.is_empty())
            .collect();
        let mine: Vec<&(Source, NewChunk)> = k
            .chunks
            .iter()
            .filter(|(s, _)| s.tenant_id == tenant_id && query.base_ids.contains(&s.base_id))
            .collect();
        let lexical: Vec<String> = top_k(
            mine.iter()
                .map(|(_, c)| {
                    let text = format!("{} {} {}", c.title, c.heading, c.text).to_lowercase();
                    (
                        c.id.clone(),
                        words.iter().filter(|w| text.contains(w.as_str())).count() as f32,
                    )
                })
                .filter(|(_, s)| *s > 0.0),
            query.candidates,
        )
        .into_iter()
        .map(|(id, _)| id)
        .collect();
        let vector: Vec<String> = match &query_vector {
            None => Vec::new(),
            Some(q) => top_k(
                mine.iter()
                    .filter_map(|(_, c)| c.vector.as_ref().map(|v| (c.id.clone(), cosine(q, v)))),
                query.candidates,
            )
            .into_iter()
            .map(|(id, _)| id)
            .collect(),
        };
        let best = best_score(!query.fts.is_empty(), query_vector.is_some());
        let by_id: HashMap<&str, &(Source, NewChunk)> =
            mine.iter().map(|e| (e.1.id.as_str(), *e)).collect();
        Ok(fuse(&lexical, &vector, query.top_k)
            .into_iter()
            .filter_map(|f| {
                let (s, c) = by_id.get(f.id.as_str())?;
                Some(Hit {
                    chunk_id: c.id.clone(),
                    source_id: s.id.clone(),
                    base_id: s.base_id.clone(),
                    kind: s.kind,
                    title: c.title.clone(),
                    url: c.url.clone(),
                    heading: c.heading.clone(),
                    text: c.text.clone(),
                    score: (f.score / best).min(1.0),
                    best_rank: f
                        .lexical_rank
                        .unwrap_or(usize::MAX)
                        .min(f.vector_rank.unwrap_or(usize::MAX)),
                })
            })
            .collect())
    }
    async fn web_sources_due(
        &self,
        before: i64,
        limit: u32,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let k = self.knowledge.borrow();
        Ok(k.sources
            .iter()
            .filter(|s| s.kind.is_web() && s.updated_at < before)
            .take(limit as usize)
            .map(|s| (s.tenant_id.clone(), s.id.clone()))
            .collect())
    }
}
