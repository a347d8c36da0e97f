//! `KnowledgeStore` on Convex (`convex/knowledge.ts`): chunks are written in batches under a
//! new generation and made live in one mutation; search is one action that fuses the text and
//! vector indexes.

use serde_json::{json, Value};

use super::super::convex_wire::{self as wire, decode, DeleteStep, Kind};
use super::super::knowledge::{
    base_from, hit_from, pairs, source_from, KnowledgeStore, SourceUpdate,
};
use super::super::{in_batches, StoreError};
use super::ConvexStore;
use crate::knowledge::{Hit, KnowledgeBase, NewChunk, SearchQuery, Source};

/// Chunks per `knowledge:putChunks` call (with 1536-dimension vectors, about 2 MB).
const CHUNKS_PER_CALL: usize = 100;

fn update_json(u: &SourceUpdate) -> Value {
    json!({
        "status": u.status.as_str(),
        "progress": u.progress,
        "chunkCount": u.chunk_count,
        "error": u.error,
        "contentHash": u.content_hash,
        "title": u.title,
        "now": u.now,
    })
}

fn source_json(s: &Source) -> Value {
    json!({
        "id": s.id,
        "tenantId": s.tenant_id,
        "baseId": s.base_id,
        "kind": s.kind.as_str(),
        "title": s.title,
        "url": s.url,
        "content": s.content,
        "maxPages": s.max_pages,
        "maxDepth": s.max_depth,
        "status": s.status.as_str(),
        "progress": s.progress,
        "chunkCount": s.chunk_count,
        "error": s.error,
        "contentHash": s.content_hash,
        "createdAt": s.created_at,
        "updatedAt": s.updated_at,
    })
}

/// The words of an FTS query (`"a" OR "b"` → `a b`): Convex's text index takes plain words.
fn words_of(fts: &str) -> String {
    fts.split(" OR ")
        .map(|w| w.trim_matches('"'))
        .collect::<Vec<_>>()
        .join(" ")
}

impl KnowledgeStore for ConvexStore {
    async fn create_base(&self, base: &KnowledgeBase) -> Result<(), StoreError> {
        let args = json!({ "base": {
            "id": base.id, "tenantId": base.tenant_id, "name": base.name,
            "createdAt": base.created_at, "updatedAt": base.updated_at,
        }});
        self.call(Kind::Mutation, "knowledge:createBase", args)
            .await
            .map(|_| ())
    }

    async fn bases(
        &self,
        tenant_id: &str,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<KnowledgeBase>, StoreError> {
        let rows: Vec<Value> = self
            .query(
                "knowledge:listBases",
                json!({ "tenantId": tenant_id, "after": wire::cursor(after), "limit": limit }),
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
            .query(
                "knowledge:getBase",
                json!({ "tenantId": tenant_id, "baseId": base_id }),
            )
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
        self.mutation(
            "knowledge:renameBase",
            json!({ "tenantId": tenant_id, "baseId": base_id, "name": name, "now": now }),
        )
        .await
    }

    async fn delete_base(&self, tenant_id: &str, base_id: &str) -> Result<bool, StoreError> {
        self.remove_in_batches(
            "knowledge:removeBase",
            json!({ "tenantId": tenant_id, "baseId": base_id }),
        )
        .await
    }

    async fn create_source(&self, source: &Source) -> Result<(), StoreError> {
        self.call(
            Kind::Mutation,
            "knowledge:createSource",
            json!({ "source": source_json(source) }),
        )
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
        let rows: Vec<Value> = self
            .query(
                "knowledge:listSources",
                json!({ "tenantId": tenant_id, "baseId": base_id, "after": wire::cursor(after), "limit": limit }),
            )
            .await?;
        rows.iter().map(source_from).collect()
    }

    async fn source(&self, tenant_id: &str, source_id: &str) -> Result<Option<Source>, StoreError> {
        let row: Option<Value> = self
            .query(
                "knowledge:getSource",
                json!({ "tenantId": tenant_id, "sourceId": source_id }),
            )
            .await?;
        row.as_ref().map(source_from).transpose()
    }

    async fn update_source(
        &self,
        tenant_id: &str,
        source_id: &str,
        update: &SourceUpdate,
    ) -> Result<bool, StoreError> {
        self.mutation(
            "knowledge:updateSource",
            json!({ "tenantId": tenant_id, "sourceId": source_id, "update": update_json(update) }),
        )
        .await
    }

    async fn replace_chunks(
        &self,
        source: &Source,
        chunks: &[NewChunk],
        update: &SourceUpdate,
    ) -> Result<(), StoreError> {
        // A generation newer than any before (the update's time), written in batches and made
        // live by one mutation; searches ignore chunks of other generations.
        let generation = update.now;
        let ids = json!({ "tenantId": source.tenant_id, "sourceId": source.id });
        for batch in chunks.chunks(CHUNKS_PER_CALL) {
            let items: Vec<Value> = batch
                .iter()
                .map(|c| {
                    json!({ "id": c.id, "title": c.title, "url": c.url, "heading": c.heading,
                            "text": c.text, "vector": c.vector })
                })
                .collect();
            let mut args = ids.clone();
            args["generation"] = json!(generation);
            args["chunks"] = Value::Array(items);
            self.call(Kind::Mutation, "knowledge:putChunks", args)
                .await?;
        }
        let mut args = ids.clone();
        args["generation"] = json!(generation);
        args["update"] = update_json(update);
        let had_older: bool = self.mutation("knowledge:commitChunks", args).await?;
        if had_older {
            in_batches(|| async {
                let step: DeleteStep = self.mutation("knowledge:pruneChunks", ids.clone()).await?;
                Ok(step != DeleteStep::More)
            })
            .await?;
        }
        Ok(())
    }

    async fn delete_source(&self, tenant_id: &str, source_id: &str) -> Result<bool, StoreError> {
        self.remove_in_batches(
            "knowledge:removeSource",
            json!({ "tenantId": tenant_id, "sourceId": source_id }),
        )
        .await
    }

    async fn search(
        &self,
        tenant_id: &str,
        query: &SearchQuery<'_>,
    ) -> Result<Vec<Hit>, StoreError> {
        // One action fuses both rankings, so it waits for the vector.
        let vector = query.vector.clone().await;
        let args = json!({
            "tenantId": tenant_id,
            "baseIds": query.base_ids,
            "words": words_of(&query.fts),
            "vector": vector,
            "candidates": query.candidates,
            "topK": query.top_k,
        });
        let value = self.call(Kind::Action, "knowledge:search", args).await?;
        let rows: Vec<Value> = decode(value, "knowledge:search")?;
        rows.iter().map(|r| hit_from(r, 0.0, 0)).collect()
    }

    async fn web_sources_due(
        &self,
        before: i64,
        limit: u32,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows: Vec<Value> = self
            .query(
                "knowledge:webSourcesDue",
                json!({ "before": before, "limit": limit }),
            )
            .await?;
        Ok(pairs(&rows, ("tenant_id", "tenantId"), ("id", "id"))
            .into_iter()
            .filter_map(|(t, id)| Some((t, id.as_str()?.to_owned())))
            .collect())
    }
}
