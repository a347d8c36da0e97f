/** Conversations and the start of a chat turn. Internal functions only. */
import { v } from "convex/values";
import type { Infer } from "convex/values";
import { internalMutation, internalQuery } from "./_generated/server";
import type { DatabaseReader } from "./_generated/server";
import {
  appendMessage,
  assertCount,
  assertDay,
  conversationById,
  conversationCursor,
  conversationListRow,
  conversationRow,
  conversationRowOf,
  conversationWithMessages,
  deleteConversation,
  fail,
  loadConversation,
  messageStatus,
  messageText,
  newMessage,
  nullable,
  rating,
  snippet,
  spendOf,
  spendRow,
  type ConversationListRow,
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

type ConversationCursor = Infer<typeof conversationCursor>;

/**
 * The index ranges that hold a tenant's (or one agent's) conversations after `before`, in list
 * order: updatedAt descending, then id descending. The indexes end with (updatedAt, id), so the
 * index order is the list order and a cursor is two ranges: the rest of its `updatedAt`, then
 * everything older.
 */
function ranges(
  db: DatabaseReader,
  tenantId: string,
  agentId: string | null,
  before: ConversationCursor | null,
) {
  const conversations = () => db.query("conversations");
  if (agentId === null) {
    if (before === null) {
      return [conversations().withIndex("by_tenant", (q) => q.eq("tenantId", tenantId)).order("desc")];
    }
    return [
      conversations()
        .withIndex("by_tenant", (q) =>
          q.eq("tenantId", tenantId).eq("updatedAt", before.updatedAt).lt("id", before.id),
        )
        .order("desc"),
      conversations()
        .withIndex("by_tenant", (q) => q.eq("tenantId", tenantId).lt("updatedAt", before.updatedAt))
        .order("desc"),
    ];
  }
  if (before === null) {
    return [
      conversations()
        .withIndex("by_agent", (q) => q.eq("tenantId", tenantId).eq("agentId", agentId))
        .order("desc"),
    ];
  }
  return [
    conversations()
      .withIndex("by_agent", (q) =>
        q
          .eq("tenantId", tenantId)
          .eq("agentId", agentId)
          .eq("updatedAt", before.updatedAt)
          .lt("id", before.id),
      )
      .order("desc"),
    conversations()
      .withIndex("by_agent", (q) =>
        q.eq("tenantId", tenantId).eq("agentId", agentId).lt("updatedAt", before.updatedAt),
      )
      .order("desc"),
  ];
}

/** The text of the first message of the conversation with `needle` (lower case) in it, or null. */
async function mentions(db: DatabaseReader, conversationId: string, needle: string) {
  const messages = db
    .query("messages")
    .withIndex("by_conversation", (q) => q.eq("conversationId", conversationId));
  for await (const message of messages) {
    const text = messageText(message.parts);
    if (text.toLowerCase().includes(needle)) return text;
  }
  return null;
}

/**
 * A tenant's conversations (optionally one agent's), most recently updated first, then by id
 * descending; up to `limit` of them.
 *
 * - `before`: the last row of the previous page; only conversations after it in that order.
 * - `search`: only conversations where some message's text (its "text" parts, concatenated)
 *   contains it, ignoring case (`matchText` is the first such message's text, uncut; else null); trimmed, and ignored when empty. It reads the tenant's (or
 *   agent's) conversations from `before` on, and their messages, until `limit` match, so a rare
 *   term in a large tenant reads a lot (bounded by Convex's per-query read limits).
 */
export const listForTenant = internalQuery({
  args: {
    tenantId: v.string(),
    agentId: nullable(v.string()),
    limit: v.number(),
    before: v.optional(nullable(conversationCursor)),
    search: v.optional(nullable(v.string())),
    rating: v.optional(nullable(rating)),
    channel: v.optional(nullable(v.string())),
    status: v.optional(nullable(messageStatus)),
    preview: v.optional(nullable(v.boolean())),
  },
  returns: v.array(conversationListRow),
  handler: async (ctx, args) => {
    const { tenantId, agentId, limit, before = null, search = null } = args;
    assertCount(limit, "limit", 0);
    const rows: ConversationListRow[] = [];
    if (limit === 0) return rows;
    const needle = (search ?? "").trim().toLowerCase();
    for (const range of ranges(ctx.db, tenantId, agentId, before)) {
      for await (const conversation of range) {
        const row = conversationRowOf(conversation);
        if (args.channel != null && row.channel !== args.channel) continue;
        if (args.preview != null && row.preview !== args.preview) continue;
        const matchText = needle === "" ? null : await mentions(ctx.db, conversation.id, needle);
        if (needle !== "" && matchText === null) continue;
        const listed = { ...row, ...(await summary(ctx.db, conversation.id)), matchText };
        if (args.rating != null && listed.rating !== args.rating) continue;
        if (args.status != null && listed.lastStatus !== args.status) continue;
        rows.push(listed);
        if (rows.length === limit) return rows;
      }
    }
    return rows;
  },
});

/** What the inbox shows of a conversation, from its messages (the same rules as D1's query). */
async function summary(db: DatabaseReader, conversationId: string) {
  const messages = db
    .query("messages")
    .withIndex("by_conversation", (q) => q.eq("conversationId", conversationId));
  let firstMessage: string | null = null;
  let messageCount = 0;
  let up = false;
  let down = false;
  let lastStatus: ConversationListRow["lastStatus"] = null;
  for await (const message of messages) {
    messageCount += 1;
    if (message.role === "user" && firstMessage === null) firstMessage = snippet(messageText(message.parts));
    if (message.role === "assistant") lastStatus = message.status;
    if (message.feedback === "up") up = true;
    if (message.feedback === "down") down = true;
  }
  const rated: ConversationListRow["rating"] = down ? "down" : up ? "up" : null;
  return { firstMessage, messageCount, rating: rated, lastStatus };
}

/** Deletes a tenant's conversation and its messages (usage stays); false unless it owns it. */
export const remove = internalMutation({
  args: { tenantId: v.string(), conversationId: v.string() },
  returns: v.boolean(),
  handler: async (ctx, { tenantId, conversationId }) => {
    const conversation = await conversationById(ctx.db, conversationId);
    if (conversation === null || conversation.tenantId !== tenantId) return false;
    await deleteConversation(ctx.db, conversation);
    return true;
  },
});
