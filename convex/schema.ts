/**
 * The store's tables: the D1 schema (`migrations/*.sql`) in camelCase. Our own string ids are
 * kept in `id` fields; every tenant-scoped read goes through one of the indexes below.
 */
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
import {
  agentDoc,
  apiKeyDoc,
  callDoc,
  integrationDoc,
  conversationDoc,
  messageDoc,
  tenantDoc,
  usageDoc,
  usageMonthlyDoc,
} from "./model";
import { knowledgeBaseDoc, knowledgeChunkDoc, knowledgeSourceDoc, VECTOR_DIMENSIONS } from "./knowledgeModel";

export default defineSchema({
  tenants: defineTable(tenantDoc)
    .index("by_tenant_id", ["id"])
    // `id` last: the list order (createdAt, then id), so a page cursor is an index range.
    .index("by_created", ["createdAt", "id"]),

  agents: defineTable(agentDoc)
    .index("by_agent_id", ["id"])
    // `id` last: the list order (createdAt, then id), so a page cursor is an index range.
    .index("by_tenant", ["tenantId", "createdAt", "id"]),

  apiKeys: defineTable(apiKeyDoc)
    .index("by_key_id", ["id"])
    // `revokedAt` last: the live keys of a lookup are one range (`eq(null)`).
    .index("by_lookup", ["lookup", "revokedAt"])
    // `id` last: keys list newest first, then by id, so a page is at most three ranges.
    .index("by_tenant", ["tenantId", "createdAt", "id"])
    // `revokedAt` last: an agent's live publishable keys are one range (`eq(null)`).
    .index("by_agent", ["agentId", "kind", "revokedAt"]),

  conversations: defineTable(conversationDoc)
    .index("by_conversation_id", ["id"])
    // `id` last: the index order is the list order (updatedAt, then id), so cursors are ranges.
    .index("by_tenant", ["tenantId", "updatedAt", "id"])
    .index("by_agent", ["tenantId", "agentId", "updatedAt", "id"])
    // One end user's conversations (erase and export), in list order.
    .index("by_visitor", ["tenantId", "visitorId", "updatedAt", "id"]),

  // `searchGrams` is derived from `parts` (model.ts searchGramsOf) and never leaves the store;
  // messages stored before it existed get it from messages:indexForSearch.
  messages: defineTable(messageDoc.extend({ searchGrams: v.optional(v.string()) }))
    .index("by_conversation", ["conversationId", "seq"])
    .index("by_conversation_message", ["conversationId", "id"])
    // Rated answers by time (unrated messages have a null feedbackAt and sort first).
    .index("by_tenant_feedback", ["tenantId", "feedbackAt", "id"])
    .searchIndex("search_grams", { searchField: "searchGrams", filterFields: ["tenantId"] }),

  usageDaily: defineTable(usageDoc)
    .index("by_key", ["tenantId", "agentId", "day"])
    .index("by_tenant_day", ["tenantId", "day"]),

  // agentId "" (TENANT_TOTAL) holds the tenant's total: the spend check reads two rows.
  usageMonthly: defineTable(usageMonthlyDoc)
    .index("by_key", ["tenantId", "agentId", "month"])
    // For usage:rebuildMonthly, which replaces a tenant's month.
    .index("by_tenant_month", ["tenantId", "month"]),

  knowledgeBases: defineTable(knowledgeBaseDoc)
    .index("by_base_id", ["id"])
    .index("by_tenant", ["tenantId", "createdAt", "id"]),

  knowledgeSources: defineTable(knowledgeSourceDoc)
    .index("by_source_id", ["id"])
    .index("by_base", ["baseId", "createdAt", "id"])
    .index("by_kind", ["kind", "updatedAt"]),

  // One vector field per supported dimension (Convex allows four vector indexes a table); a
  // chunk fills the one its embedding model's size names. Search filters on baseId (equality
  // and OR only), and the action keeps only chunks of the source's live generation.
  knowledgeChunks: defineTable(knowledgeChunkDoc)
    .index("by_source", ["sourceId", "generation"])
    .index("by_base", ["baseId"])
    // For store:import, which skips chunks it already holds.
    .index("by_chunk_id", ["id"])
    .searchIndex("search_text", { searchField: "body", filterFields: ["tenantId"] })
    .vectorIndex("by_vector_384", { vectorField: "vector384", dimensions: VECTOR_DIMENSIONS[0], filterFields: ["baseId"] })
    .vectorIndex("by_vector_768", { vectorField: "vector768", dimensions: VECTOR_DIMENSIONS[1], filterFields: ["baseId"] })
    .vectorIndex("by_vector_1024", { vectorField: "vector1024", dimensions: VECTOR_DIMENSIONS[2], filterFields: ["baseId"] })
    .vectorIndex("by_vector_1536", { vectorField: "vector1536", dimensions: VECTOR_DIMENSIONS[3], filterFields: ["baseId"] }),
  // One per tenant and name (`twilio`, later `langfuse`, `otlp`).
  integrations: defineTable(integrationDoc).index("by_tenant_name", ["tenantId", "name"]),

  // One per phone conversation; deleted with it (model.ts deleteConversationSome).
  calls: defineTable(callDoc).index("by_conversation", ["conversationId"]),
});
