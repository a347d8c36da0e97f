/** Conversations and the start of a chat turn. Internal functions only. */
import { v } from "convex/values";
import { internalMutation, internalQuery } from "./_generated/server";
import {
  appendMessage,
  assertCount,
  assertDay,
  conversationById,
  conversationRow,
  conversationRowOf,
  conversationWithMessages,
  fail,
  loadConversation,
  newMessage,
  nullable,
  orderBy,
  spendOf,
  spendRow,
} from "./model";

/** A conversation with its messages (by `seq`), or null. */
export const get = internalQuery({
  args: { conversationId: v.string() },
  returns: v.union(v.null(), conversationWithMessages),
  handler: async (ctx, { conversationId }) => loadConversation(ctx.db, conversationId),
});

/**
 * What a chat turn reads, in one snapshot: the conversation (when an id is given) with its
 * messages, and the spend since `sinceDay` of the tenant (all agents) and of this agent.
 * The conversation is returned whoever owns it; the worker checks ownership.
 */
export const turnContext = internalQuery({
  args: {
    conversationId: nullable(v.string()),
    tenantId: v.string(),
    agentId: v.string(),
    sinceDay: v.string(),
  },
  returns: v.object({ conversation: v.union(v.null(), conversationWithMessages), spend: spendRow }),
  handler: async (ctx, { conversationId, tenantId, agentId, sinceDay }) => {
    assertDay(sinceDay, "sinceDay");
    return {
      conversation: conversationId === null ? null : await loadConversation(ctx.db, conversationId),
      spend: await spendOf(ctx.db, tenantId, agentId, sinceDay),
    };
  },
});

/**
 * Starts a turn in one transaction: creates the conversation (when `create`), drops its
 * messages after `replaceAfter` (a regenerated answer replaces them), appends the user message
 * with the next `seq` and sets the conversation's `updatedAt` to that message's `createdAt`.
 *
 * Safe to retry: creating a conversation that exists exactly as given (same tenant, agent and
 * visitor) is a no-op, and a user message whose id the conversation holds is not appended again.
 */
export const startTurn = internalMutation({
  args: {
    conversation: conversationRow,
    create: v.boolean(),
    replaceAfter: nullable(v.number()),
    userMessage: nullable(newMessage),
  },
  returns: v.null(),
  handler: async (ctx, { conversation, create, replaceAfter, userMessage }) => {
    let stored = await conversationById(ctx.db, conversation.id);
    if (stored !== null) {
      const same =
        stored.tenantId === conversation.tenantId &&
        stored.agentId === conversation.agentId &&
        (!create || stored.visitorId === conversation.visitorId);
      if (!same) fail("Conflict", `Conversation ${conversation.id} belongs to someone else`);
    } else if (create) {
      const id = await ctx.db.insert("conversations", conversation);
      stored = await ctx.db.get("conversations", id);
    } else {
      fail("NotFound", `Conversation ${conversation.id} does not exist`);
    }
    if (stored === null) fail("NotFound", `Conversation ${conversation.id} does not exist`);

    if (replaceAfter !== null) {
      const later = await ctx.db
        .query("messages")
        .withIndex("by_conversation", (q) =>
          q.eq("conversationId", conversation.id).gt("seq", replaceAfter),
        )
        .collect();
      for (const message of later) await ctx.db.delete("messages", message._id);
    }

    if (userMessage !== null) {
      if (userMessage.role !== "user") fail("Invalid", "The user message must have role user");
      if (
        userMessage.conversationId !== conversation.id ||
        userMessage.tenantId !== stored.tenantId
      ) {
        fail("Mismatch", `Message ${userMessage.id} is not of conversation ${conversation.id}`);
      }
      await appendMessage(ctx.db, userMessage);
      await ctx.db.patch("conversations", stored._id, { updatedAt: userMessage.createdAt });
    }
    return null;
  },
});

/** A tenant's conversations (optionally one agent's), most recently updated first. */
export const listForTenant = internalQuery({
  args: { tenantId: v.string(), agentId: nullable(v.string()), limit: v.number() },
  returns: v.array(conversationRow),
  handler: async (ctx, { tenantId, agentId, limit }) => {
    assertCount(limit, "limit", 0);
    if (limit === 0) return [];
    const page =
      agentId === null
        ? await ctx.db
            .query("conversations")
            .withIndex("by_tenant", (q) => q.eq("tenantId", tenantId))
            .order("desc")
            .take(limit)
        : await ctx.db
            .query("conversations")
            .withIndex("by_agent", (q) => q.eq("tenantId", tenantId).eq("agentId", agentId))
            .order("desc")
            .take(limit);
    return orderBy(page.map(conversationRowOf), [(c) => c.updatedAt, "desc"], [(c) => c.id, "asc"]);
  },
});
