//! `KnowledgeStore` for whichever store the worker uses.
#![allow(clippy::disallowed_methods)]

use super::super::knowledge::{KnowledgeStore, SourceUpdate};
use super::super::StoreError;
use super::AnyStore;
use crate::knowledge::{Hit, KnowledgeBase, NewChunk, SearchQuery, Source};

impl KnowledgeStore for AnyStore {
    async fn create_base(&self, base: &KnowledgeBase) -> Result<(), StoreError> {
        match self {
            AnyStore::D1(s) => s.create_base(base).await,
            AnyStore::Convex(s) => s.create_base(base).await,
        }
    }
    async fn bases(
        &self,
        tenant_id: &str,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<KnowledgeBase>, StoreError> {
        match self {
            AnyStore::D1(s) => s.bases(tenant_id, after, limit).await,
            AnyStore::Convex(s) => s.bases(tenant_id, after, limit).await,
        }
    }
    async fn base(
        &self,
        tenant_id: &str,
        base_id: &str,
    ) -> Result<Option<KnowledgeBase>, StoreError> {
        match self {
            AnyStore::D1(s) => s.base(tenant_id, base_id).await,
            AnyStore::Convex(s) => s.base(tenant_id, base_id).await,
        }
    }
    async fn rename_base(
        &self,
        tenant_id: &str,
        base_id: &str,
        name: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        match self {
            AnyStore::D1(s) => s.rename_base(tenant_id, base_id, name, now).await,
            AnyStore::Convex(s) => s.rename_base(tenant_id, base_id, name, now).await,
        }
    }
    async fn delete_base(&self, tenant_id: &str, base_id: &str) -> Result<bool, StoreError> {
        match self {
            AnyStore::D1(s) => s.delete_base(tenant_id, base_id).await,
            AnyStore::Convex(s) => s.delete_base(tenant_id, base_id).await,
        }
    }
    async fn create_source(&self, source: &Source) -> Result<(), StoreError> {
        match self {
            AnyStore::D1(s) => s.create_source(source).await,
            AnyStore::Convex(s) => s.create_source(source).await,
        }
    }
    async fn sources(
        &self,
        tenant_id: &str,
        base_id: &str,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<Source>, StoreError> {
        match self {
            AnyStore::D1(s) => s.sources(tenant_id, base_id, after, limit).await,
            AnyStore::Convex(s) => s.sources(tenant_id, base_id, after, limit).await,
        }
    }
    async fn source(&self, tenant_id: &str, source_id: &str) -> Result<Option<Source>, StoreError> {
        match self {
            AnyStore::D1(s) => s.source(tenant_id, source_id).await,
            AnyStore::Convex(s) => s.source(tenant_id, source_id).await,
        }
    }
    async fn update_source(
        &self,
        tenant_id: &str,
        source_id: &str,
        update: &SourceUpdate,
    ) -> Result<bool, StoreError> {
        match self {
            AnyStore::D1(s) => s.update_source(tenant_id, source_id, update).await,
            AnyStore::Convex(s) => s.update_source(tenant_id, source_id, update).await,
        }
    }
    async fn replace_chunks(
        &self,
        source: &Source,
        chunks: &[NewChunk],
        update: &SourceUpdate,
    ) -> Result<(), StoreError> {
        match self {
            AnyStore::D1(s) => s.replace_chunks(source, chunks, update).await,
            AnyStore::Convex(s) => s.replace_chunks(source, chunks, update).await,
        }
    }
    async fn delete_source(&self, tenant_id: &str, source_id: &str) -> Result<bool, StoreError> {
        match self {
            AnyStore::D1(s) => s.delete_source(tenant_id, source_id).await,
            AnyStore::Convex(s) => s.delete_source(tenant_id, source_id).await,
        }
    }
    async fn search(
        &self,
        tenant_id: &str,
        query: &SearchQuery<'_>,
    ) -> Result<Vec<Hit>, StoreError> {
        match self {
            AnyStore::D1(s) => s.search(tenant_id, query).await,
            AnyStore::Convex(s) => s.search(tenant_id, query).await,
        }
    }
    async fn web_sources_due(
        &self,
        before: i64,
        limit: u32,
    ) -> Result<Vec<(String, String)>, StoreError> {
        match self {
            AnyStore::D1(s) => s.web_sources_due(before, limit).await,
            AnyStore::Convex(s) => s.web_sources_due(before, limit).await,
        }
    }
}
