/** Messages: answers and their ratings. Internal functions only. */
import { v } from "convex/values";
import type { Infer } from "convex/values";
import type { Doc } from "./_generated/dataModel";
import { internal } from "./_generated/api";
import { internalMutation, internalQuery } from "./_generated/server";
import type { DatabaseReader } from "./_generated/server";
import {
  addEmbeddingTokens,
  addUsage,
  appendMessage,
  assertCount,
  assertDay,
  conversationById,
  fail,
  feedbackCursor,
  feedbackRow,
  messageById,
  messageText,
  newMessage,
  nullable,
  rating,
  searchGramsOf,
  snippet,
  type FeedbackRow,
} from "./model";

/**
 * Stores an answer in one transaction: appends it with the next `seq`, moves the
 * conversation's `updatedAt` forward to its `createdAt`, and adds it to the agent's usage of
 * `day` and to the month's running totals of the agent and the tenant (one more message, its
 * tokens and cost; rows are created when missing).
 *
 * Safe to retry: an answer whose id the conversation already holds changes nothing, so usage is
 * never counted twice.
 */
export const appendAnswer = internalMutation({
  args: { message: newMessage, agentId: v.string(), day: v.string(), embeddingTokens: v.optional(v.number()) },
  returns: v.null(),
  handler: async (ctx, { message, agentId, day, embeddingTokens }) => {
    assertDay(day, "day");
    if (message.role !== "assistant") fail("Invalid", "An answer must have role assistant");
    const conversation = await conversationById(ctx.db, message.conversationId);
    if (conversation === null) {
      fail("NotFound", `Conversation ${message.conversationId} does not exist`);
    }
    if (conversation.tenantId !== message.tenantId || conversation.agentId !== agentId) {
      fail("Mismatch", `Conversation ${conversation.id} is not of agent ${agentId}`);
    }
    if (!(await appendMessage(ctx.db, message))) return null;
    if (message.createdAt > conversation.updatedAt) {
      await ctx.db.patch("conversations", conversation._id, { updatedAt: message.createdAt });
    }
    await addUsage(ctx.db, message.tenantId, agentId, day, message);
    await addEmbeddingTokens(ctx.db, message.tenantId, day, embeddingTokens);
    return null;
  },
});

/**
 * Rates an answer (or clears the rating); false unless it is an assistant message of that
 * tenant's (and, when given, that agent's) conversation.
 */
export const setFeedback = internalMutation({
  args: {
    tenantId: v.string(),
    agentId: nullable(v.string()),
    conversationId: v.string(),
    messageId: v.string(),
    rating: nullable(rating),
    now: v.number(),
  },
  returns: v.boolean(),
  handler: async (ctx, { tenantId, agentId, conversationId, messageId, rating, now }) => {
    const conversation = await conversationById(ctx.db, conversationId);
    if (conversation === null || conversation.tenantId !== tenantId) return false;
    if (agentId !== null && conversation.agentId !== agentId) return false;
    const message = await messageById(ctx.db, conversationId, messageId);
    if (message === null || message.role !== "assistant") return false;
    await ctx.db.patch("messages", message._id, { feedback: rating, feedbackAt: now });
    return true;
  },
});

type FeedbackCursor = Infer<typeof feedbackCursor>;

/**
 * The index ranges that hold a tenant's rated messages after `before`, in list order:
 * feedbackAt descending, then message id descending. `gt("feedbackAt", null)` skips the
 * messages never rated (null sorts before every number), so they are never read.
 */
function ratedRanges(db: DatabaseReader, tenantId: string, before: FeedbackCursor | null) {
  const messages = () => db.query("messages");
  if (before === null) {
    return [
      messages()
        .withIndex("by_tenant_feedback", (q) => q.eq("tenantId", tenantId).gt("feedbackAt", null))
        .order("desc"),
    ];
  }
  return [
    messages()
      .withIndex("by_tenant_feedback", (q) =>
        q.eq("tenantId", tenantId).eq("feedbackAt", before.feedbackAt).lt("id", before.messageId),
      )
      .order("desc"),
    messages()
      .withIndex("by_tenant_feedback", (q) =>
        q.eq("tenantId", tenantId).gt("feedbackAt", null).lt("feedbackAt", before.feedbackAt),
      )
      .order("desc"),
  ];
}

/**
 * A tenant's rated answers (optionally one agent's, optionally only one rating), newest rating
 * first, then by message id descending; up to `limit` of them. `before` is the last row of the
 * previous page: only ratings after it in that order. Each row carries the answer's text and the
 * text of the nearest earlier user message of its conversation (or null), each cut to 300
 * characters with "…" appended when longer.
 *
 * It reads the tenant's rated messages from `before` on until `limit` match, so filtering on a
 * rare agent or rating reads more (cleared ratings keep their feedbackAt and are skipped too).
 */
export const feedbackForTenant = internalQuery({
  args: {
    tenantId: v.string(),
    agentId: nullable(v.string()),
    rating: nullable(rating),
    limit: v.number(),
    before: nullable(feedbackCursor),
  },
  returns: v.array(feedbackRow),
  handler: async (ctx, { tenantId, agentId, rating, limit, before }) => {
    assertCount(limit, "limit", 0);
    const rows: FeedbackRow[] = [];
    if (limit === 0) return rows;
    const conversations = new Map<string, Doc<"conversations"> | null>();
    for (const range of ratedRanges(ctx.db, tenantId, before)) {
      for await (const message of range) {
        if (message.feedback === null || message.feedbackAt === null) continue;
        if (rating !== null && message.feedback !== rating) continue;
        let conversation = conversations.get(message.conversationId);
        if (conversation === undefined) {
          conversation = await conversationById(ctx.db, message.conversationId);
          conversations.set(message.conversationId, conversation);
        }
        if (conversation === null || conversation.tenantId !== tenantId) continue;
        if (agentId !== null && conversation.agentId !== agentId) continue;
        // No index on role: the nearest earlier user message is almost always the one before.
        const asked = await ctx.db
          .query("messages")
          .withIndex("by_conversation", (q) =>
            q.eq("conversationId", message.conversationId).lt("seq", message.seq),
          )
          .order("desc")
          .filter((q) => q.eq(q.field("role"), "user"))
          .first();
        rows.push({
          conversationId: message.conversationId,
          messageId: message.id,
          agentId: conversation.agentId,
          rating: message.feedback,
          feedbackAt: message.feedbackAt,
          answer: snippet(messageText(message.parts)),
          question: asked === null ? null : snippet(messageText(asked.parts)),
        });
        if (rows.length === limit) return rows;
      }
    }
    return rows;
  },
});

/** Messages one call of `indexForSearch` reads. */
const INDEX_BATCH = 200;

/**
 * Gives messages stored before message search existed their `searchGrams`, one page per call,
 * and schedules itself for the next page, so one `npx convex run messages:indexForSearch` indexes
 * the whole deployment. Messages that have it are left alone: safe to run again.
 */
export const indexForSearch = internalMutation({
  args: { cursor: v.optional(nullable(v.string())), limit: v.optional(v.number()) },
  returns: v.object({ indexed: v.number(), cursor: nullable(v.string()) }),
  handler: async (ctx, { cursor = null, limit = INDEX_BATCH }) => {
    assertCount(limit, "limit", 1);
    const page = await ctx.db.query("messages").paginate({ cursor, numItems: limit });
    let indexed = 0;
    for (const message of page.page) {
      if (message.searchGrams !== undefined) continue;
      await ctx.db.patch("messages", message._id, { searchGrams: searchGramsOf(message.parts) });
      indexed += 1;
    }
    const next = page.isDone ? null : page.continueCursor;
    if (next !== null) await ctx.scheduler.runAfter(0, internal.messages.indexForSearch, { cursor: next, limit });
    return { indexed, cursor: next };
  },
});
