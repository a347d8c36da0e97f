//! The tenant-scoped handle's knowledge rows.

use super::{foreign, Scoped};
use crate::knowledge::{Hit, KnowledgeBase, NewChunk, SearchQuery, Source};
use crate::store::knowledge::{KnowledgeStore, SourceUpdate};
use crate::store::StoreError;

impl<S: KnowledgeStore> Scoped<'_, S> {
    /// Stores a new base of this tenant.
    pub async fn create_base(&self, base: &KnowledgeBase) -> Result<(), StoreError> {
        if base.tenant_id != self.tenant_id {
            return Err(foreign("The knowledge base"));
        }
        self.store.create_base(base).await
    }

    /// At most `limit` of the tenant's bases after `after`, oldest first.
    pub async fn bases(
        &self,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<KnowledgeBase>, StoreError> {
        self.store.bases(self.tenant_id, after, limit).await
    }

    /// One of the tenant's bases.
    pub async fn base(&self, base_id: &str) -> Result<Option<KnowledgeBase>, StoreError> {
        self.store.base(self.tenant_id, base_id).await
    }

    /// Renames one of the tenant's bases; false when it has none with this id.
    pub async fn rename_base(
        &self,
        base_id: &str,
        name: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.store
            .rename_base(self.tenant_id, base_id, name, now)
            .await
    }

    /// Deletes one of the tenant's bases with everything in it.
    pub async fn delete_base(&self, base_id: &str) -> Result<bool, StoreError> {
        self.store.delete_base(self.tenant_id, base_id).await
    }

    /// Stores a new source of this tenant.
    pub async fn create_source(&self, source: &Source) -> Result<(), StoreError> {
        if source.tenant_id != self.tenant_id {
            return Err(foreign("The source"));
        }
        self.store.create_source(source).await
    }

    /// At most `limit` sources of one of the tenant's bases after `after`, oldest first.
    pub async fn sources(
        &self,
        base_id: &str,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<Source>, StoreError> {
        self.store
            .sources(self.tenant_id, base_id, after, limit)
            .await
    }

    /// One of the tenant's sources.
    pub async fn source(&self, source_id: &str) -> Result<Option<Source>, StoreError> {
        self.store.source(self.tenant_id, source_id).await
    }

    /// Records one of the tenant's sources' ingestion state.
    pub async fn update_source(
        &self,
        source_id: &str,
        update: &SourceUpdate,
    ) -> Result<bool, StoreError> {
        self.store
            .update_source(self.tenant_id, source_id, update)
            .await
    }

    /// Replaces one of the tenant's sources' chunks, all at once.
    pub async fn replace_chunks(
        &self,
        source: &Source,
        chunks: &[NewChunk],
        update: &SourceUpdate,
    ) -> Result<(), StoreError> {
        if source.tenant_id != self.tenant_id {
            return Err(foreign("The source"));
        }
        self.store.replace_chunks(source, chunks, update).await
    }

    /// Deletes one of the tenant's sources with its chunks.
    pub async fn delete_source(&self, source_id: &str) -> Result<bool, StoreError> {
        self.store.delete_source(self.tenant_id, source_id).await
    }

    /// Searches the tenant's bases (others' ids find nothing).
    pub async fn search(&self, query: &SearchQuery<'_>) -> Result<Vec<Hit>, StoreError> {
        self.store.search(self.tenant_id, query).await
    }
}
