/**
 * Knowledge: a tenant's bases, their sources and the chunks search reads. Internal functions
 * only (the worker calls them with the deploy key). Every function names the tenant and
 * touches only its rows.
 *
 * A source's chunks are written in batches under a new generation (`putChunks`), then made
 * live at once (`commitChunks` sets the source's generation); searches keep only chunks of
 * their source's live generation, so a half-written ingestion is never searchable. Older
 * generations are deleted after the commit, in batches (`pruneChunks`).
 */
import { v } from "convex/values";
import { internalAction, internalMutation, internalQuery } from "./_generated/server";
import type { DatabaseReader } from "./_generated/server";
import type { Doc } from "./_generated/dataModel";
import { internal } from "./_generated/api";
import { assertCount, DELETE_BATCH, deleteStep, fail, listCursor, nullable } from "./model";
import {
  chunkDocument,
  chunkHit,
  knowledgeBaseRow,
  knowledgeSourceRow,
  newChunk,
  sourceUpdate,
  VECTOR_DIMENSIONS,
} from "./knowledgeModel";
import type { ChunkHit } from "./knowledgeModel";

/** RRF's damping constant (src/knowledge/rank.rs RRF_K: why 5, not the usual 60). */
const RRF_K = 5;
/** The keyword ranking's weight in the fusion (src/knowledge/rank.rs LEXICAL_WEIGHT). */
const LEXICAL_WEIGHT = 0.5;

async function baseById(db: DatabaseReader, tenantId: string, baseId: string) {
  const base = await db
    .query("knowledgeBases")
    .withIndex("by_base_id", (q) => q.eq("id", baseId))
    .unique();
  return base !== null && base.tenantId === tenantId ? base : null;
}

async function sourceById(db: DatabaseReader, tenantId: string, sourceId: string) {
  const source = await db
    .query("knowledgeSources")
    .withIndex("by_source_id", (q) => q.eq("id", sourceId))
    .unique();
  return source !== null && source.tenantId === tenantId ? source : null;
}

function baseRow(b: Doc<"knowledgeBases">) {
  return { id: b.id, tenantId: b.tenantId, name: b.name, createdAt: b.createdAt, updatedAt: b.updatedAt };
}

function sourceRow(s: Doc<"knowledgeSources">) {
  const { _id, _creationTime, generation, ...row } = s;
  return row;
}

export const createBase = internalMutation({
  args: { base: knowledgeBaseRow },
  returns: v.null(),
  handler: async (ctx, { base }) => {
    if ((await ctx.db.query("knowledgeBases").withIndex("by_base_id", (q) => q.eq("id", base.id)).first()) !== null) {
      fail("Conflict", `knowledge base ${base.id} exists`);
    }
    await ctx.db.insert("knowledgeBases", base);
    return null;
  },
});

export const getBase = internalQuery({
  args: { tenantId: v.string(), baseId: v.string() },
  returns: v.union(v.null(), knowledgeBaseRow),
  handler: async (ctx, { tenantId, baseId }) => {
    const base = await baseById(ctx.db, tenantId, baseId);
    return base === null ? null : baseRow(base);
  },
});

/** Up to `limit` of a tenant's bases after `after`, oldest first (createdAt, then id). */
export const listBases = internalQuery({
  args: { tenantId: v.string(), after: v.optional(nullable(listCursor)), limit: v.number() },
  returns: v.array(knowledgeBaseRow),
  handler: async (ctx, { tenantId, after = null, limit }) => {
    assertCount(limit, "limit", 0);
    if (limit === 0) return [];
    const bases = () => ctx.db.query("knowledgeBases");
    const page =
      after === null
        ? await bases().withIndex("by_tenant", (q) => q.eq("tenantId", tenantId)).take(limit)
        : await bases()
            .withIndex("by_tenant", (q) => q.eq("tenantId", tenantId).eq("createdAt", after.createdAt).gt("id", after.id))
            .take(limit);
    if (after !== null && page.length < limit) {
      page.push(
        ...(await bases()
          .withIndex("by_tenant", (q) => q.eq("tenantId", tenantId).gt("createdAt", after.createdAt))
          .take(limit - page.length)),
      );
    }
    return page.map(baseRow);
  },
});

export const renameBase = internalMutation({
  args: { tenantId: v.string(), baseId: v.string(), name: v.string(), now: v.number() },
  returns: v.boolean(),
  handler: async (ctx, { tenantId, baseId, name, now }) => {
    const base = await baseById(ctx.db, tenantId, baseId);
    if (base === null) return false;
    await ctx.db.patch("knowledgeBases", base._id, { name, updatedAt: now });
    return true;
  },
});

/** Deletes up to a batch of a base's chunks, then its sources, then the base. */
export const removeBase = internalMutation({
  args: { tenantId: v.string(), baseId: v.string() },
  returns: deleteStep,
  handler: async (ctx, { tenantId, baseId }) => {
    const base = await baseById(ctx.db, tenantId, baseId);
    if (base === null) return "missing";
    const chunks = await ctx.db
      .query("knowledgeChunks")
      .withIndex("by_base", (q) => q.eq("baseId", baseId))
      .take(DELETE_BATCH);
    for (const chunk of chunks) await ctx.db.delete("knowledgeChunks", chunk._id);
    if (chunks.length === DELETE_BATCH) return "more";
    const sources = await ctx.db
      .query("knowledgeSources")
      .withIndex("by_base", (q) => q.eq("baseId", baseId))
      .take(DELETE_BATCH);
    for (const source of sources) await ctx.db.delete("knowledgeSources", source._id);
    if (sources.length === DELETE_BATCH) return "more";
    await ctx.db.delete("knowledgeBases", base._id);
    return "done";
  },
});

export const createSource = internalMutation({
  args: { source: knowledgeSourceRow },
  returns: v.null(),
  handler: async (ctx, { source }) => {
    if ((await baseById(ctx.db, source.tenantId, source.baseId)) === null) fail("NotFound", "knowledge base not found");
    await ctx.db.insert("knowledgeSources", { ...source, generation: 0 });
    return null;
  },
});

export const getSource = internalQuery({
  args: { tenantId: v.string(), sourceId: v.string() },
  returns: v.union(v.null(), knowledgeSourceRow),
  handler: async (ctx, { tenantId, sourceId }) => {
    const source = await sourceById(ctx.db, tenantId, sourceId);
    return source === null ? null : sourceRow(source);
  },
});

/** Up to `limit` sources of a tenant's base after `after`, oldest first. */
export const listSources = internalQuery({
  args: { tenantId: v.string(), baseId: v.string(), after: v.optional(nullable(listCursor)), limit: v.number() },
  returns: v.array(knowledgeSourceRow),
  handler: async (ctx, { tenantId, baseId, after = null, limit }) => {
    assertCount(limit, "limit", 0);
    if (limit === 0 || (await baseById(ctx.db, tenantId, baseId)) === null) return [];
    const sources = () => ctx.db.query("knowledgeSources");
    const page =
      after === null
        ? await sources().withIndex("by_base", (q) => q.eq("baseId", baseId)).take(limit)
        : await sources()
            .withIndex("by_base", (q) => q.eq("baseId", baseId).eq("createdAt", after.createdAt).gt("id", after.id))
            .take(limit);
    if (after !== null && page.length < limit) {
      page.push(
        ...(await sources()
          .withIndex("by_base", (q) => q.eq("baseId", baseId).gt("createdAt", after.createdAt))
          .take(limit - page.length)),
      );
    }
    return page.map(sourceRow);
  },
});

function applyUpdate(update: {
  status: Doc<"knowledgeSources">["status"];
  progress: number;
  chunkCount: number | null;
  error: string | null;
  contentHash: string | null;
  title: string | null;
  now: number;
}) {
  return {
    status: update.status,
    progress: update.progress,
    error: update.error,
    updatedAt: update.now,
    ...(update.chunkCount === null ? {} : { chunkCount: update.chunkCount }),
    ...(update.contentHash === null ? {} : { contentHash: update.contentHash }),
    ...(update.title === null ? {} : { title: update.title }),
  };
}

export const updateSource = internalMutation({
  args: { tenantId: v.string(), sourceId: v.string(), update: sourceUpdate },
  returns: v.boolean(),
  handler: async (ctx, { tenantId, sourceId, update }) => {
    const source = await sourceById(ctx.db, tenantId, sourceId);
    if (source === null) return false;
    await ctx.db.patch("knowledgeSources", source._id, applyUpdate(update));
    return true;
  },
});

/** Writes a batch of chunks under `generation` (not searchable until `commitChunks`). */
export const putChunks = internalMutation({
  args: { tenantId: v.string(), sourceId: v.string(), generation: v.number(), chunks: v.array(newChunk) },
  returns: v.null(),
  handler: async (ctx, { tenantId, sourceId, generation, chunks }) => {
    const source = await sourceById(ctx.db, tenantId, sourceId);
    if (source === null) fail("NotFound", "source not found");
    if (generation <= source.generation) fail("Invalid", "generation must be newer than the live one");
    for (const chunk of chunks) {
      const doc = chunkDocument(chunk, { tenantId, baseId: source.baseId, sourceId, generation, kind: source.kind });
      await ctx.db.insert("knowledgeChunks", doc);
    }
    return null;
  },
});

/** Makes `generation` the live one and records the source's state; returns whether older chunks are left. */
export const commitChunks = internalMutation({
  args: { tenantId: v.string(), sourceId: v.string(), generation: v.number(), update: sourceUpdate },
  returns: v.boolean(),
  handler: async (ctx, { tenantId, sourceId, generation, update }) => {
    const source = await sourceById(ctx.db, tenantId, sourceId);
    if (source === null) fail("NotFound", "source not found");
    const previous = source.generation;
    await ctx.db.patch("knowledgeSources", source._id, { ...applyUpdate(update), generation });
    const base = await baseById(ctx.db, tenantId, source.baseId);
    if (base !== null) await ctx.db.patch("knowledgeBases", base._id, { updatedAt: Math.max(base.updatedAt + 1, update.now) });
    return previous !== 0;
  },
});

/** Deletes up to a batch of a source's chunks that are not of its live generation. */
export const pruneChunks = internalMutation({
  args: { tenantId: v.string(), sourceId: v.string() },
  returns: deleteStep,
  handler: async (ctx, { tenantId, sourceId }) => {
    const source = await sourceById(ctx.db, tenantId, sourceId);
    if (source === null) return "missing";
    const older = await ctx.db
      .query("knowledgeChunks")
      .withIndex("by_source", (q) => q.eq("sourceId", sourceId).lt("generation", source.generation))
      .take(DELETE_BATCH);
    for (const chunk of older) await ctx.db.delete("knowledgeChunks", chunk._id);
    return older.length === DELETE_BATCH ? "more" : "done";
  },
});

/** Deletes up to a batch of a source's chunks, then the source. */
export const removeSource = internalMutation({
  args: { tenantId: v.string(), sourceId: v.string() },
  returns: deleteStep,
  handler: async (ctx, { tenantId, sourceId }) => {
    const source = await sourceById(ctx.db, tenantId, sourceId);
    if (source === null) return "missing";
    const chunks = await ctx.db
      .query("knowledgeChunks")
      .withIndex("by_source", (q) => q.eq("sourceId", sourceId))
      .take(DELETE_BATCH);
    for (const chunk of chunks) await ctx.db.delete("knowledgeChunks", chunk._id);
    if (chunks.length === DELETE_BATCH) return "more";
    await ctx.db.delete("knowledgeSources", source._id);
    const base = await baseById(ctx.db, tenantId, source.baseId);
    if (base !== null) await ctx.db.patch("knowledgeBases", base._id, { updatedAt: base.updatedAt + 1 });
    return "done";
  },
});

/** Web sources (any tenant's) last synced before `before`, oldest first. */
export const webSourcesDue = internalQuery({
  args: { before: v.number(), limit: v.number() },
  returns: v.array(v.object({ tenantId: v.string(), id: v.string() })),
  handler: async (ctx, { before, limit }) => {
    assertCount(limit, "limit", 0);
    const out: { tenantId: string; id: string }[] = [];
    for (const kind of ["url", "sitemap", "crawl"] as const) {
      const due = await ctx.db
        .query("knowledgeSources")
        .withIndex("by_kind", (q) => q.eq("kind", kind).lt("updatedAt", before))
        .take(limit);
      for (const s of due) {
        if (s.status === "ready" || s.status === "failed") out.push({ tenantId: s.tenantId, id: s.id });
      }
    }
    return out.slice(0, limit);
  },
});

/** The text-search half: the tenant's best chunks for `words`, live ones in the named bases. */
export const textCandidates = internalQuery({
  args: { tenantId: v.string(), baseIds: v.array(v.string()), words: v.string(), limit: v.number() },
  returns: v.array(chunkHit),
  handler: async (ctx, { tenantId, baseIds, words, limit }) => {
    if (words.trim() === "") return [];
    const found = await ctx.db
      .query("knowledgeChunks")
      .withSearchIndex("search_text", (q) => q.search("body", words).eq("tenantId", tenantId))
      .take(256);
    const live = await liveFilter(ctx.db, tenantId, baseIds);
    const out: { hit: ChunkHit; matched: number; order: number }[] = [];
    const terms = words.toLowerCase().split(/\s+/).filter(Boolean);
    for (const chunk of found) {
      if (await live(chunk)) out.push({ hit: hitOf(chunk, 0), matched: termsMatched(chunk.body, terms), order: out.length });
    }
    // More of the query's words first; Convex's own (BM25) order among equals.
    out.sort((a, b) => b.matched - a.matched || a.order - b.order);
    return out.slice(0, limit).map((o) => o.hit);
  },
});

/** A check that a chunk is the tenant's, in one of the bases, and of its source's live generation. */
async function liveFilter(db: DatabaseReader, tenantId: string, baseIds: string[]) {
  const generations = new Map<string, number | null>();
  return async (chunk: Doc<"knowledgeChunks">) => {
    if (chunk.tenantId !== tenantId || !baseIds.includes(chunk.baseId)) return false;
    if (!generations.has(chunk.sourceId)) {
      const source = await sourceById(db, tenantId, chunk.sourceId);
      generations.set(chunk.sourceId, source?.generation ?? null);
    }
    return generations.get(chunk.sourceId) === chunk.generation;
  };
}

/** Chunks by Convex id (from the vector index), live ones only, as hits (the action scores them). */
export const chunksByDocId = internalQuery({
  args: { tenantId: v.string(), baseIds: v.array(v.string()), ids: v.array(v.id("knowledgeChunks")) },
  returns: v.array(v.object({ docId: v.id("knowledgeChunks"), hit: chunkHit })),
  handler: async (ctx, { tenantId, baseIds, ids }) => {
    const live = await liveFilter(ctx.db, tenantId, baseIds);
    const out = [];
    for (const docId of ids) {
      const chunk = await ctx.db.get("knowledgeChunks", docId);
      if (chunk !== null && (await live(chunk))) out.push({ docId, hit: hitOf(chunk, 0) });
    }
    return out;
  },
});

function hitOf(c: Doc<"knowledgeChunks">, score: number): ChunkHit {
  return { id: c.id, sourceId: c.sourceId, baseId: c.baseId, kind: c.kind, title: c.title, url: c.url, heading: c.heading, text: c.text, score, bestRank: 0 };
}

/** How many distinct query words a chunk's text holds (Convex's text search gives no score). */
function termsMatched(body: string, words: string[]) {
  const tokens = body.toLowerCase().split(/[^\p{L}\p{N}_-]+/u);
  return words.filter((w) => tokens.some((t) => t.startsWith(w))).length;
}

/**
 * Hybrid search: the text index and (with a query vector) the vector index, each up to
 * `candidates`, fused by reciprocal rank; scores 0–1 (1: first in every ranking used).
 */
export const search = internalAction({
  args: {
    tenantId: v.string(),
    baseIds: v.array(v.string()),
    words: v.string(),
    vector: nullable(v.array(v.float64())),
    candidates: v.number(),
    topK: v.number(),
  },
  returns: v.array(chunkHit),
  handler: async (ctx, { tenantId, baseIds, words, vector, candidates, topK }): Promise<ChunkHit[]> => {
    if (baseIds.length === 0) return [];
    const bases: string[] = [];
    for (const baseId of baseIds) {
      const base = await ctx.runQuery(internal.knowledge.getBase, { tenantId, baseId });
      if (base !== null) bases.push(baseId);
    }
    if (bases.length === 0) return [];
    const textHits: ChunkHit[] = await ctx.runQuery(internal.knowledge.textCandidates, { tenantId, baseIds: bases, words, limit: candidates });
    const byId = new Map<string, ChunkHit>(textHits.map((h) => [h.id, h]));
    const lexical = textHits.map((h) => h.id);
    let semantic: string[] = [];
    if (vector !== null) {
      const dims = vector.length as (typeof VECTOR_DIMENSIONS)[number];
      if (!VECTOR_DIMENSIONS.includes(dims)) fail("Invalid", `embeddings of ${vector.length} dimensions are not supported`);
      const found = await ctx.vectorSearch("knowledgeChunks", `by_vector_${dims}`, {
        vector,
        limit: Math.min(256, Math.max(1, candidates * 2)),
        filter: (q) => q.or(...bases.map((b) => q.eq("baseId", b))),
      });
      const rows: { docId: string; hit: ChunkHit }[] = await ctx.runQuery(internal.knowledge.chunksByDocId, {
        tenantId,
        baseIds: bases,
        ids: found.map((f) => f._id),
      });
      for (const { hit } of rows) byId.set(hit.id, hit);
      semantic = rows.map((r) => r.hit.id).slice(0, candidates);
    }
    const scores = new Map<string, number>();
    const ranks = new Map<string, number>();
    const add = (weight: number) => (id: string, i: number) => {
      scores.set(id, (scores.get(id) ?? 0) + weight / (RRF_K + i + 1));
      ranks.set(id, Math.min(ranks.get(id) ?? Infinity, i + 1));
    };
    lexical.forEach(add(LEXICAL_WEIGHT));
    semantic.forEach(add(1));
    const best = ((words.trim() === "" ? 0 : LEXICAL_WEIGHT) + (vector !== null ? 1 : 0)) / (RRF_K + 1);
    const ranked = [...scores.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, topK);
    const out: ChunkHit[] = [];
    for (const [id, score] of ranked) {
      const hit = byId.get(id);
      if (hit !== undefined) out.push({ ...hit, score: Math.min(1, score / best), bestRank: ranks.get(id) ?? 0 });
    }
    return out;
  },
});
