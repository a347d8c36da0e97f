-- Knowledge: a tenant's bases, their sources (with ingestion status) and the chunks search
-- reads. Chunks carry their tenant and base so every search filters on them; the lexical half
-- is an FTS5 table kept in step by triggers (base_id is an indexed column whose ids stay one
-- token, so a MATCH can be restricted to an agent's bases inside the index); the vector half is
-- the `vector` column (base64 of little-endian f32s), read per base and cached per isolate.

CREATE TABLE knowledge_bases (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX knowledge_bases_by_tenant ON knowledge_bases (tenant_id, created_at, id);

CREATE TABLE knowledge_sources (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  base_id TEXT NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('text', 'qa', 'url', 'sitemap', 'file')),
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
  updated_at INTEGER NOT NULL
);
CREATE INDEX knowledge_sources_by_base ON knowledge_sources (base_id, created_at, id);
CREATE INDEX knowledge_sources_by_kind ON knowledge_sources (kind, updated_at);

CREATE TABLE knowledge_chunks (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  base_id TEXT NOT NULL,
  source_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  title TEXT NOT NULL,
  url TEXT,
  heading TEXT NOT NULL,
  text TEXT NOT NULL,
  vector TEXT
);
CREATE INDEX knowledge_chunks_by_source ON knowledge_chunks (source_id);
CREATE INDEX knowledge_chunks_by_base ON knowledge_chunks (base_id);

CREATE VIRTUAL TABLE knowledge_fts USING fts5(
  base_id,
  title,
  heading,
  text,
  tokenize = "porter unicode61 tokenchars '_-'"
);

-- Each trigger body ends with "; END;" on one line: the migration runners split statements at
-- a semicolon that ends a line.
CREATE TRIGGER knowledge_chunks_fts_insert AFTER INSERT ON knowledge_chunks BEGIN
  INSERT INTO knowledge_fts (rowid, base_id, title, heading, text) VALUES (new.rowid, new.base_id, new.title, new.heading, new.text); END;

CREATE TRIGGER knowledge_chunks_fts_delete AFTER DELETE ON knowledge_chunks BEGIN
  DELETE FROM knowledge_fts WHERE rowid = old.rowid; END;
