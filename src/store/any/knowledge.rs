//! `KnowledgeStore` for whichever store the worker uses. Each call runs behind one boxed
//! future, so the D1 and Convex code of an operation is compiled once, not again at every
//! call site (which costs the wasm tens of KB).
#![allow(clippy::disallowed_methods)]

use futures::future::LocalBoxFuture;

use super::super::knowledge::{KnowledgeStore, SourceUpdate};
use super::super::StoreError;
use super::AnyStore;
use crate::knowledge::{Hit, KnowledgeBase, NewChunk, SearchQuery, Source};

impl KnowledgeStore for AnyStore {
    async fn create_base(&self, base: &KnowledgeBase) -> Result<(), StoreError> {
        let call: LocalBoxFuture<'_, Result<(), StoreError>> = match self {
            AnyStore::D1(s) => Box::pin(s.create_base(base)),
            AnyStore::Convex(s) => Box::pin(s.create_base(base)),
        };
        call.await
    }
    async fn bases(
        &self,
        tenant_id: &str,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<KnowledgeBase>, StoreError> {
        let call: LocalBoxFuture<'_, Result<Vec<KnowledgeBase>, StoreError>> = match self {
            AnyStore::D1(s) => Box::pin(s.bases(tenant_id, after, limit)),
            AnyStore::Convex(s) => Box::pin(s.bases(tenant_id, after, limit)),
        };
        call.await
    }
    async fn base(
        &self,
        tenant_id: &str,
        base_id: &str,
    ) -> Result<Option<KnowledgeBase>, StoreError> {
        let call: LocalBoxFuture<'_, Result<Option<KnowledgeBase>, StoreError>> = match self {
            AnyStore::D1(s) => Box::pin(s.base(tenant_id, base_id)),
            AnyStore::Convex(s) => Box::pin(s.base(tenant_id, base_id)),
        };
        call.await
    }
    async fn rename_base(
        &self,
        tenant_id: &str,
        base_id: &str,
        name: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let call: LocalBoxFuture<'_, Result<bool, StoreError>> = match self {
            AnyStore::D1(s) => Box::pin(s.rename_base(tenant_id, base_id, name, now)),
            AnyStore::Convex(s) => Box::pin(s.rename_base(tenant_id, base_id, name, now)),
        };
        call.await
    }
    async fn delete_base(&self, tenant_id: &str, base_id: &str) -> Result<bool, StoreError> {
        let call: LocalBoxFuture<'_, Result<bool, StoreError>> = match self {
            AnyStore::D1(s) => Box::pin(s.delete_base(tenant_id, base_id)),
            AnyStore::Convex(s) => Box::pin(s.delete_base(tenant_id, base_id)),
        };
        call.await
    }
    async fn create_source(&self, source: &Source) -> Result<(), StoreError> {
        let call: LocalBoxFuture<'_, Result<(), StoreError>> = match self {
            AnyStore::D1(s) => Box::pin(s.create_source(source)),
            AnyStore::Convex(s) => Box::pin(s.create_source(source)),
        };
        call.await
    }
    async fn sources(
        &self,
        tenant_id: &str,
        base_id: &str,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<Source>, StoreError> {
        let call: LocalBoxFuture<'_, Result<Vec<Source>, StoreError>> = match self {
            AnyStore::D1(s) => Box::pin(s.sources(tenant_id, base_id, after, limit)),
            AnyStore::Convex(s) => Box::pin(s.sources(tenant_id, base_id, after, limit)),
        };
        call.await
    }
    async fn source(&self, tenant_id: &str, source_id: &str) -> Result<Option<Source>, StoreError> {
        let call: LocalBoxFuture<'_, Result<Option<Source>, StoreError>> = match self {
            AnyStore::D1(s) => Box::pin(s.source(tenant_id, source_id)),
            AnyStore::Convex(s) => Box::pin(s.source(tenant_id, source_id)),
        };
        call.await
    }
    async fn update_source(
        &self,
        tenant_id: &str,
        source_id: &str,
        update: &SourceUpdate,
    ) -> Result<bool, StoreError> {
        let call: LocalBoxFuture<'_, Result<bool, StoreError>> = match self {
            AnyStore::D1(s) => Box::pin(s.update_source(tenant_id, source_id, update)),
            AnyStore::Convex(s) => Box::pin(s.update_source(tenant_id, source_id, update)),
        };
        call.await
    }
    async fn replace_chunks(
        &self,
        source: &Source,
        chunks: &[NewChunk],
        update: &SourceUpdate,
    ) -> Result<(), StoreError> {
        let call: LocalBoxFuture<'_, Result<(), StoreError>> = match self {
            AnyStore::D1(s) => Box::pin(s.replace_chunks(source, chunks, update)),
            AnyStore::Convex(s) => Box::pin(s.replace_chunks(source, chunks, update)),
        };
        call.await
    }
    async fn delete_source(&self, tenant_id: &str, source_id: &str) -> Result<bool, StoreError> {
        let call: LocalBoxFuture<'_, Result<bool, StoreError>> = match self {
            AnyStore::D1(s) => Box::pin(s.delete_source(tenant_id, source_id)),
            AnyStore::Convex(s) => Box::pin(s.delete_source(tenant_id, source_id)),
        };
        call.await
    }
    async fn search(
        &self,
        tenant_id: &str,
        query: &SearchQuery<'_>,
    ) -> Result<Vec<Hit>, StoreError> {
        let call: LocalBoxFuture<'_, Result<Vec<Hit>, StoreError>> = match self {
            AnyStore::D1(s) => Box::pin(s.search(tenant_id, query)),
            AnyStore::Convex(s) => Box::pin(s.search(tenant_id, query)),
        };
        call.await
    }
    async fn web_sources_due(
        &self,
        before: i64,
        limit: u32,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let call: LocalBoxFuture<'_, Result<Vec<(String, String)>, StoreError>> = match self {
            AnyStore::D1(s) => Box::pin(s.web_sources_due(before, limit)),
            AnyStore::Convex(s) => Box::pin(s.web_sources_due(before, limit)),
        };
        call.await
    }
}
