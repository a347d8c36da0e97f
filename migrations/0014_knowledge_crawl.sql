-- Crawl sources: the pages reached by links from a start page, at most max_pages of them and
-- at most max_depth links away. SQLite cannot change a CHECK constraint in place, so the
-- sources table is rebuilt with 'crawl' allowed and the max_depth column (chunks do not
-- reference sources by foreign key, so nothing cascades while the old table is dropped).

CREATE TABLE knowledge_sources_next (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  base_id TEXT NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('text', 'qa', 'url', 'sitemap', 'crawl', 'file')),
  title TEXT NOT NULL,
  url TEXT,
  content TEXT,
  max_pages INTEGER,
  status TEXT NOT NULL CHECK (status IN ('queued', 'processing', 'ready', 'failed')),
  progress INTEGER NOT NULL DEFAULT 0,
  chunk_count INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  content_hash TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  max_depth INTEGER
);

INSERT INTO knowledge_sources_next (id, tenant_id, base_id, kind, title, url, content, max_pages,
  status, progress, chunk_count, error, content_hash, created_at, updated_at)
SELECT id, tenant_id, base_id, kind, title, url, content, max_pages, status, progress,
  chunk_count, error, content_hash, created_at, updated_at FROM knowledge_sources;

DROP TABLE knowledge_sources;
ALTER TABLE knowledge_sources_next RENAME TO knowledge_sources;
CREATE INDEX knowledge_sources_by_base ON knowledge_sources (base_id, created_at, id);
CREATE INDEX knowledge_sources_by_kind ON knowledge_sources (kind, updated_at);
