/**
 * Moving data between D1 and Convex: page through a table, and insert rows exported elsewhere.
 * Rows are the documents as stored (every field, camelCase, no `_id`/`_creationTime`): tenants
 * with their secrets, messages with `feedbackAt`, usage rows with `tenantId`. Internal only.
 */
import { v } from "convex/values";
import type { Infer } from "convex/values";
import { internalMutation, internalQuery } from "./_generated/server";
import type { DatabaseWriter } from "./_generated/server";
import type { Doc } from "./_generated/dataModel";
import {
  agentById,
  anyDoc,
  assertKeyHash,
  assertCount,
  conversationById,
  documents,
  fail,
  keyById,
  messageById,
  monthlyRow,
  nullable,
  searchGramsOf,
  tableName,
  tenantById,
} from "./model";
import type { TableName } from "./model";
import { VECTOR_DIMENSIONS, chunkDocument, knowledgeBaseDoc, knowledgeSourceRow, sourceKind } from "./knowledgeModel";

/**
 * A chunk as an export holds it: its live text and its embedding as plain numbers (`vector`,
 * whatever its size), without what the store derives (the text index's `body`, the vector
 * field per size, the ingestion generation).
 */
const chunkRow = v.object({
  id: v.string(),
  tenantId: v.string(),
  baseId: v.string(),
  sourceId: v.string(),
  kind: sourceKind,
  title: v.string(),
  url: nullable(v.string()),
  heading: v.string(),
  text: v.string(),
  vector: nullable(v.array(v.float64())),
});

/** The knowledge tables' rows as exports hold them (sources without their generation). */
const knowledgeRows = {
  knowledgeBases: knowledgeBaseDoc,
  knowledgeSources: knowledgeSourceRow,
  knowledgeChunks: chunkRow,
} as const;

/** Every table an export carries. */
const transferTable = v.union(
  tableName,
  v.literal("knowledgeBases"),
  v.literal("knowledgeSources"),
  v.literal("knowledgeChunks"),
);
type TransferTable = Infer<typeof transferTable>;
const transferRow = v.union(anyDoc, knowledgeBaseDoc, knowledgeSourceRow, chunkRow);
type Row = Infer<typeof transferRow>;
type ChunkRow = Infer<typeof chunkRow>;

/** One page of a table, in insertion order; `cursor` is null after the last page. */
export const exportTable = internalQuery({
  args: { table: transferTable, cursor: nullable(v.string()), limit: v.number() },
  returns: v.object({ rows: v.array(transferRow), cursor: nullable(v.string()) }),
  handler: async (ctx, { table, cursor, limit }) => {
    assertCount(limit, "limit", 1);
    if (table === "knowledgeChunks") {
      const page = await ctx.db.query("knowledgeChunks").paginate({ cursor, numItems: limit });
      // Only the chunks searches see: those of their source's live generation.
      const live = new Map<string, number | null>();
      const rows: Row[] = [];
      for (const chunk of page.page) {
        if (!live.has(chunk.sourceId)) {
          const source = await ctx.db
            .query("knowledgeSources")
            .withIndex("by_source_id", (q) => q.eq("id", chunk.sourceId))
            .unique();
          live.set(chunk.sourceId, source?.generation ?? null);
        }
        if (live.get(chunk.sourceId) === chunk.generation) rows.push(exportedChunk(chunk));
      }
      return { rows, cursor: page.isDone ? null : page.continueCursor };
    }
    const page = await ctx.db.query(table).paginate({ cursor, numItems: limit });
    return {
      rows: page.page.map(({ _id, _creationTime, ...row }) => exported(table, row)),
      cursor: page.isDone ? null : page.continueCursor,
    };
  },
});

/** A stored chunk as an export holds it. */
function exportedChunk(chunk: Doc<"knowledgeChunks">): ChunkRow {
  const vector = VECTOR_DIMENSIONS.map((n) => chunk[`vector${n}`]).find((x) => x !== undefined) ?? null;
  const { id, tenantId, baseId, sourceId, kind, title, url, heading, text } = chunk;
  return { id, tenantId, baseId, sourceId, kind, title, url, heading, text, vector };
}

/**
 * A document as D1 holds it: agents stored before versions were counted at version 1, keys
 * stored before key scopes with the scope D1 gives them, messages without `searchGrams`
 * (derived from `parts`, rebuilt on import).
 */
function exported(table: TransferTable, row: Record<string, unknown>): Row {
  if (table === "knowledgeSources") {
    const { generation: _live, ...source } = row;
    return { maxDepth: null, ...source } as Row;
  }
  if (table === "tenants") return { retentionDays: null, ...row } as Row;
  if (table === "agents") return { ...row, version: (row as { version?: number }).version ?? 1 } as Row;
  if (table === "apiKeys") return { scopeAgents: null, browser: false, perMinute: null, ...row } as Row;
  if (table === "messages") {
    const { searchGrams: _derived, ...message } = row;
    return message as Row;
  }
  return row as Row;
}

/**
 * Inserts rows into a table, skipping rows that are already there (same id; for messages the
 * same conversation and id; for usage the same tenant, agent and day or month), so an import can be
 * rerun. Returns how many rows it inserted.
 */
export const importRows = internalMutation({
  args: { table: transferTable, rows: v.array(transferRow) },
  returns: v.number(),
  handler: async (ctx, { table, rows }) => {
    const shape = table in knowledgeRows ? knowledgeRows[table as keyof typeof knowledgeRows] : documents[table as TableName];
    const known = shape.fields as Record<string, { isOptional: string }>;
    const fields = Object.keys(known).sort().join(",");
    // Optional fields (a message's `timing`) may be left out; nothing else may.
    const required = Object.keys(known).filter((k) => known[k].isOptional !== "optional");
    let inserted = 0;
    for (const [i, row] of rows.entries()) {
      const keys = Object.keys(row);
      if (keys.some((k) => !(k in known)) || required.some((k) => !(k in row))) {
        fail("Invalid", `Row ${i} does not have the fields of ${table} (${fields})`);
      }
      if (await insertIfMissing(ctx.db, table, row)) inserted += 1;
    }
    return inserted;
  },
});

async function insertIfMissing(db: DatabaseWriter, table: TransferTable, row: Row): Promise<boolean> {
  switch (table) {
    case "knowledgeBases": {
      const base = row as Infer<typeof knowledgeBaseDoc>;
      const existing = await db.query("knowledgeBases").withIndex("by_base_id", (q) => q.eq("id", base.id)).unique();
      if (existing !== null) return false;
      await db.insert("knowledgeBases", base);
      return true;
    }
    case "knowledgeSources": {
      const source = row as Infer<typeof knowledgeSourceRow>;
      const existing = await db.query("knowledgeSources").withIndex("by_source_id", (q) => q.eq("id", source.id)).unique();
      if (existing !== null) return false;
      // Imported chunks are the live generation 0; the next sync writes generation 1.
      await db.insert("knowledgeSources", { ...source, generation: 0 });
      return true;
    }
    case "knowledgeChunks": {
      const chunk = row as ChunkRow;
      const existing = await db.query("knowledgeChunks").withIndex("by_chunk_id", (q) => q.eq("id", chunk.id)).first();
      if (existing !== null) return false;
      const source = await db.query("knowledgeSources").withIndex("by_source_id", (q) => q.eq("id", chunk.sourceId)).unique();
      if (source === null || source.tenantId !== chunk.tenantId) fail("NotFound", `Chunk ${chunk.id} names no source of its tenant`);
      const { tenantId, baseId, sourceId, kind, ...written } = chunk;
      const doc = chunkDocument(written, { tenantId, baseId, sourceId, kind, generation: source.generation });
      await db.insert("knowledgeChunks", doc);
      return true;
    }
    case "tenants": {
      const tenant = row as Infer<typeof documents.tenants>;
      if ((await tenantById(db, tenant.id)) !== null) return false;
      await db.insert("tenants", tenant);
      return true;
    }
    case "agents": {
      const agent = row as Infer<typeof documents.agents>;
      if ((await agentById(db, agent.id)) !== null) return false;
      await db.insert("agents", agent);
      return true;
    }
    case "apiKeys": {
      const key = row as Infer<typeof documents.apiKeys>;
      if ((await keyById(db, key.id)) !== null) return false;
      assertKeyHash(key.hash, key.id);
      await db.insert("apiKeys", key);
      return true;
    }
    case "conversations": {
      const conversation = row as Infer<typeof documents.conversations>;
      if ((await conversationById(db, conversation.id)) !== null) return false;
      await db.insert("conversations", conversation);
      return true;
    }
    case "messages": {
      const message = row as Infer<typeof documents.messages>;
      if ((await messageById(db, message.conversationId, message.id)) !== null) return false;
      const taken = await db
        .query("messages")
        .withIndex("by_conversation", (q) =>
          q.eq("conversationId", message.conversationId).eq("seq", message.seq),
        )
        .first();
      if (taken !== null) {
        fail("Conflict", `Conversation ${message.conversationId} has another message at seq ${message.seq}`);
      }
      await db.insert("messages", { ...message, searchGrams: searchGramsOf(message.parts) });
      return true;
    }
    case "usageDaily": {
      const usage = row as Infer<typeof documents.usageDaily>;
      const existing = await db
        .query("usageDaily")
        .withIndex("by_key", (q) =>
          q.eq("tenantId", usage.tenantId).eq("agentId", usage.agentId).eq("day", usage.day),
        )
        .first();
      if (existing !== null) return false;
      await db.insert("usageDaily", usage);
      return true;
    }
    case "usageMonthly": {
      const usage = row as Infer<typeof documents.usageMonthly>;
      if ((await monthlyRow(db, usage.tenantId, usage.agentId, usage.month)) !== null) return false;
      await db.insert("usageMonthly", usage);
      return true;
    }
    case "integrations": {
      const integration = row as Infer<typeof documents.integrations>;
      const existing = await db
        .query("integrations")
        .withIndex("by_tenant_name", (q) => q.eq("tenantId", integration.tenantId).eq("name", integration.name))
        .first();
      if (existing !== null) return false;
      await db.insert("integrations", integration);
      return true;
    }
    case "calls": {
      const call = row as Infer<typeof documents.calls>;
      const existing = await db
        .query("calls")
        .withIndex("by_conversation", (q) => q.eq("conversationId", call.conversationId))
        .first();
      if (existing !== null) return false;
      await db.insert("calls", call);
      return true;
    }
  }
}
