/**
 * Validators of the knowledge tables (the D1 schema of migrations/0010_knowledge.sql in
 * camelCase). Not a module of functions: shared by schema.ts and knowledge.ts.
 */
import { v } from "convex/values";
import type { Infer } from "convex/values";
import type { Doc } from "./_generated/dataModel";
import { fail, nullable } from "./model";

/** The embedding sizes chunks can be stored with (one vector index each). */
export const VECTOR_DIMENSIONS = [384, 768, 1024, 1536] as const;

export const sourceKind = v.union(
  v.literal("text"),
  v.literal("qa"),
  v.literal("url"),
  v.literal("sitemap"),
  v.literal("crawl"),
  v.literal("file"),
);
export const sourceStatus = v.union(
  v.literal("queued"),
  v.literal("processing"),
  v.literal("ready"),
  v.literal("failed"),
);

export const knowledgeBase = {
  id: v.string(),
  tenantId: v.string(),
  name: v.string(),
  createdAt: v.number(),
  updatedAt: v.number(),
};
export const knowledgeBaseDoc = v.object(knowledgeBase);
export const knowledgeBaseRow = v.object(knowledgeBase);

export const knowledgeSource = {
  id: v.string(),
  tenantId: v.string(),
  baseId: v.string(),
  kind: sourceKind,
  title: v.string(),
  url: nullable(v.string()),
  content: nullable(v.string()),
  maxPages: nullable(v.number()),
  /** Crawl sources only; absent on sources stored before crawls existed. */
  maxDepth: v.optional(nullable(v.number())),
  status: sourceStatus,
  progress: v.number(),
  chunkCount: v.number(),
  error: nullable(v.string()),
  contentHash: nullable(v.string()),
  createdAt: v.number(),
  updatedAt: v.number(),
};
export const knowledgeSourceRow = v.object(knowledgeSource);
/** The stored source: the row plus the chunk generation searches see (0: none yet). */
export const knowledgeSourceDoc = v.object({ ...knowledgeSource, generation: v.number() });

export const knowledgeChunkDoc = v.object({
  id: v.string(),
  tenantId: v.string(),
  baseId: v.string(),
  sourceId: v.string(),
  generation: v.number(),
  kind: sourceKind,
  title: v.string(),
  url: nullable(v.string()),
  heading: v.string(),
  text: v.string(),
  /** What the text index reads: title, heading and text. */
  body: v.string(),
  vector384: v.optional(v.array(v.float64())),
  vector768: v.optional(v.array(v.float64())),
  vector1024: v.optional(v.array(v.float64())),
  vector1536: v.optional(v.array(v.float64())),
});

/** A chunk as the worker writes it. */
export const newChunk = v.object({
  id: v.string(),
  title: v.string(),
  url: nullable(v.string()),
  heading: v.string(),
  text: v.string(),
  vector: nullable(v.array(v.float64())),
});

/**
 * A chunk (as the worker writes it) stored as a `knowledgeChunks` document at `place`: the text
 * index's `body` derived, the embedding in the vector field of its size (other sizes refused).
 * Ingestion and `store:import` both store chunks this way.
 */
export function chunkDocument(
  chunk: Infer<typeof newChunk>,
  place: Pick<Doc<"knowledgeChunks">, "tenantId" | "baseId" | "sourceId" | "generation" | "kind">,
): Omit<Doc<"knowledgeChunks">, "_id" | "_creationTime"> {
  const { vector, ...rest } = chunk;
  const doc = { ...rest, ...place, body: [chunk.title, chunk.heading, chunk.text].filter(Boolean).join("\n") };
  if (vector === null) return doc;
  if (!VECTOR_DIMENSIONS.includes(vector.length as (typeof VECTOR_DIMENSIONS)[number])) {
    fail("Invalid", `Chunk ${chunk.id}: embeddings of ${vector.length} dimensions are not supported (${VECTOR_DIMENSIONS.join(", ")})`);
  }
  return { ...doc, [`vector${vector.length}`]: vector };
}

/** A search hit as the worker reads it. */
export const chunkHit = v.object({
  id: v.string(),
  sourceId: v.string(),
  baseId: v.string(),
  kind: sourceKind,
  title: v.string(),
  url: nullable(v.string()),
  heading: v.string(),
  text: v.string(),
  score: v.number(),
  /** Its best place in either ranking (1: first in one). */
  bestRank: v.number(),
});
export type ChunkHit = Infer<typeof chunkHit>;

/** A source's state change. */
export const sourceUpdate = v.object({
  status: sourceStatus,
  progress: v.number(),
  chunkCount: nullable(v.number()),
  error: nullable(v.string()),
  contentHash: nullable(v.string()),
  title: nullable(v.string()),
  now: v.number(),
});
