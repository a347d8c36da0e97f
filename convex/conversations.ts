/** Conversations and the start of a chat turn. Internal functions only. */
import { v } from "convex/values";
import type { Infer, ObjectType } from "convex/values";
import { internalMutation, internalQuery } from "./_generated/server";
import type { Doc } from "./_generated/dataModel";
import type { DatabaseReader, DatabaseWriter } from "./_generated/server";
import {
  appendMessage,
  assertCount,
  BULK_DELETE_BATCH,
  assertMonth,
  conversationById,
  conversationCursor,
  conversationListRow,
  conversationRow,
  conversationRowOf,
  conversationWithMessages,
  DELETE_BATCH,
  deleteConversationSome,
  deleteStep,
  fail,
  gramQuery,
  loadConversation,
  messageById,
  messageRowOf,
  messageStatus,
  messageText,
  monthlySpendOf,
  newMessage,
  nullable,
  rating,
  snippet,
  spendRow,
  turnConversation,
  type ConversationListRow,
} from "./model";

/** A tenant's conversation with its messages (by `seq`), or null (also when another tenant's). */
export const get = internalQuery({
  args: { tenantId: v.string(), conversationId: v.string() },
  returns: v.union(v.null(), conversationWithMessages),
  handler: async (ctx, { tenantId, conversationId }) =>
    loadConversation(ctx.db, tenantId, conversationId),
});

const turnArgs = {
  tenantId: v.string(),
  agentId: v.string(),
  conversationId: nullable(v.string()),
  resentMessageId: nullable(v.string()),
  month: v.string(),
  historyLimit: v.number(),
};

/**
 * What a chat turn reads, in one snapshot, with a bounded number of reads whatever the size of
 * the conversation or the tenant:
 *
 * - the conversation, when an id is given: `missing`; `foreign` when it is another tenant's or
 *   agent's (nothing of it is read further or returned); else `found` with the newest
 *   `historyLimit` messages up to the anchor (the resent message when it is a stored user
 *   message, else the last one), oldest first, the last seq, and the resent message's seq and
 *   role;
 * - this month's spend of the tenant and of the agent (two running totals).
 *
 * At most 1 + 1 + historyLimit + 1 + 2 documents.
 */
export const turnContext = internalQuery({
  args: turnArgs,
  returns: v.object({ conversation: turnConversation, spend: spendRow }),
  handler: async (ctx, args) => {
    assertMonth(args.month, "month");
    assertCount(args.historyLimit, "historyLimit", 0);
    return {
      conversation: await turnWindow(ctx.db, args),
      spend: await monthlySpendOf(ctx.db, args.tenantId, args.agentId, args.month),
    };
  },
});

async function turnWindow(
  db: DatabaseReader,
  args: {
    tenantId: string;
    agentId: string;
    conversationId: string | null;
    resentMessageId: string | null;
    historyLimit: number;
  },
): Promise<Infer<typeof turnConversation>> {
  const { tenantId, agentId, conversationId, resentMessageId, historyLimit } = args;
  if (conversationId === null) return { state: "missing" };
  const conversation = await conversationById(db, conversationId);
  if (conversation === null) return { state: "missing" };
  if (conversation.tenantId !== tenantId || conversation.agentId !== agentId) {
    return { state: "foreign" };
  }
  const resent =
    resentMessageId === null ? null : await messageById(db, conversationId, resentMessageId);
  const anchor = resent?.role === "user" ? resent.seq : null;
  const newest = await db
    .query("messages")
    .withIndex("by_conversation", (q) =>
      anchor === null
        ? q.eq("conversationId", conversationId)
        : q.eq("conversationId", conversationId).lte("seq", anchor),
    )
    .order("desc")
    .take(historyLimit);
  // The window already starts at the last message unless it is anchored earlier (or empty).
  const last =
    anchor === null && historyLimit > 0
      ? (newest[0] ?? null)
      : await db
          .query("messages")
          .withIndex("by_conversation", (q) => q.eq("conversationId", conversationId))
          .order("desc")
          .first();
  return {
    state: "found",
    conversation: conversationRowOf(conversation),
    messages: newest.reverse().map(messageRowOf),
    messageCount: last?.seq ?? 0,
    resent: resent === null ? null : { seq: resent.seq, role: resent.role },
  };
}

const startArgs = {
  conversation: conversationRow,
  create: v.boolean(),
  replaceAfter: nullable(v.number()),
  userMessage: nullable(newMessage),
  answerId: v.optional(nullable(v.string())),
};

/**
 * Starts a turn in one transaction: creates the conversation (when `create`), drops its
 * messages after `replaceAfter` (a regenerated answer replaces them), appends the user message
 * with the next `seq` and moves the conversation's `updatedAt` forward to that message's
 * `createdAt`.
 *
 * Safe to retry in any order, also when a retry arrives after the turn's answer was stored:
 * creating a conversation that exists exactly as given (same tenant, agent and visitor) is a
 * no-op; when `answerId` is given and the conversation holds it, the turn is over and nothing
 * is written (so a late `replaceAfter` cannot delete the answer); a user message whose id the
 * conversation holds is not appended again; and `updatedAt` never moves back.
 */
export const startTurn = internalMutation({
  args: startArgs,
  returns: v.null(),
  handler: (ctx, args) => start(ctx.db, args),
});

/**
 * `turnContext` and, in the same transaction, the turn's new user message (`eager`), stored
 * only when what was read allows it: spend under the given caps (a cap is null when spend
 * cannot refuse the turn), and either no conversation by that id (then it is created, when
 * `maxMessages` leaves room for the question and its answer) or the agent's conversation of the
 * same visitor, without the message, with room for both. The same rule as the worker's
 * `EagerStart::allowed`. Returns the context read before the write and whether it wrote.
 *
 * Safe to retry: `resentMessageId` is the eager message's id, so a retry that finds it stored
 * reads it as resent and writes nothing.
 */
export const beginTurn = internalMutation({
  args: {
    ...turnArgs,
    eager: v.object({
      conversation: conversationRow,
      message: newMessage,
      maxMessages: v.number(),
      tenantCap: nullable(v.number()),
      agentCap: nullable(v.number()),
    }),
  },
  returns: v.object({ conversation: turnConversation, spend: spendRow, stored: v.boolean() }),
  handler: async (ctx, { eager, ...args }) => {
    assertMonth(args.month, "month");
    assertCount(args.historyLimit, "historyLimit", 0);
    if (args.resentMessageId !== eager.message.id) {
      fail("Mismatch", "resentMessageId must be the eager message's id");
    }
    const conversation = await turnWindow(ctx.db, args);
    const spend = await monthlySpendOf(ctx.db, args.tenantId, args.agentId, args.month);
    const under = (cap: number | null, spent: number) => cap === null || spent < cap;
    const ours = eager.conversation;
    const allowed =
      under(eager.tenantCap, spend.tenant) &&
      under(eager.agentCap, spend.agent) &&
      ours.tenantId === args.tenantId &&
      ours.agentId === args.agentId &&
      (conversation.state === "missing"
        ? 2 <= eager.maxMessages
        : conversation.state === "found" &&
          conversation.conversation.id === ours.id &&
          ours.visitorId !== null &&
          conversation.conversation.visitorId === ours.visitorId &&
          conversation.resent === null &&
          conversation.messageCount + 2 <= eager.maxMessages);
    if (allowed) {
      await start(ctx.db, {
        conversation: ours,
        create: conversation.state === "missing",
        replaceAfter: null,
        userMessage: eager.message,
      });
    }
    return { conversation, spend, stored: allowed };
  },
});

async function start(
  db: DatabaseWriter,
  { conversation, create, replaceAfter, userMessage, answerId = null }: ObjectType<typeof startArgs>,
): Promise<null> {
  let stored = await conversationById(db, conversation.id);
  if (stored !== null) {
    const same =
      stored.tenantId === conversation.tenantId &&
      stored.agentId === conversation.agentId &&
      (!create || stored.visitorId === conversation.visitorId);
    if (!same) fail("Conflict", `Conversation ${conversation.id} belongs to someone else`);
  } else if (create) {
    const id = await db.insert("conversations", conversation);
    stored = await db.get("conversations", id);
  } else {
    fail("NotFound", `Conversation ${conversation.id} does not exist`);
  }
  if (stored === null) fail("NotFound", `Conversation ${conversation.id} does not exist`);
  if (answerId !== null && (await messageById(db, conversation.id, answerId)) !== null) {
    return null;
  }

  if (replaceAfter !== null) {
    const later = await db
      .query("messages")
      .withIndex("by_conversation", (q) =>
        q.eq("conversationId", conversation.id).gt("seq", replaceAfter),
      )
      .collect();
    for (const message of later) await db.delete("messages", message._id);
  }

  if (userMessage !== null) {
    if (userMessage.role !== "user") fail("Invalid", "The user message must have role user");
    if (
      userMessage.conversationId !== conversation.id ||
      userMessage.tenantId !== stored.tenantId
    ) {
      fail("Mismatch", `Message ${userMessage.id} is not of conversation ${conversation.id}`);
    }
    if (
      (await appendMessage(db, userMessage)) &&
      userMessage.createdAt > stored.updatedAt
    ) {
      await db.patch("conversations", stored._id, { updatedAt: userMessage.createdAt });
    }
  }
  return null;
}

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

/** The most messages one search reads from the search index (Convex scans at most 1,024). */
const SEARCH_SCAN = 1024;

type ListArgs = {
  tenantId: string;
  agentId: string | null;
  limit: number;
  before?: ConversationCursor | null;
  channel?: string | null;
  status?: ConversationListRow["lastStatus"] | null;
  rating?: ConversationListRow["rating"] | null;
  preview?: boolean | null;
};

/**
 * The listed row of `conversation` when it passes the list's filters, else null. `matchText` is
 * the search's match (null without a search).
 */
async function listed(
  db: DatabaseReader,
  args: ListArgs,
  conversation: Doc<"conversations">,
  matchText: string | null,
): Promise<ConversationListRow | null> {
  const row = conversationRowOf(conversation);
  if (args.channel != null && row.channel !== args.channel) return null;
  if (args.preview != null && row.preview !== args.preview) return null;
  const shown = { ...row, ...(await summary(db, conversation.id)), matchText };
  if (args.rating != null && shown.rating !== args.rating) return null;
  if (args.status != null && shown.lastStatus !== args.status) return null;
  return shown;
}

/** Whether `c` comes after the cursor in list order (updatedAt descending, then id descending). */
function isAfter(c: Doc<"conversations">, before: ConversationCursor | null) {
  if (before === null) return true;
  return c.updatedAt < before.updatedAt || (c.updatedAt === before.updatedAt && c.id < before.id);
}

/**
 * The conversations with a message containing `needle`, through the trigram search index: the
 * best-ranked messages holding the needle's trigrams are checked for the needle itself, their
 * conversations put in list order, then filtered like any list.
 */
async function searched(db: DatabaseReader, args: ListArgs, needle: string, query: string) {
  const hits = await db
    .query("messages")
    .withSearchIndex("search_grams", (q) => q.search("searchGrams", query).eq("tenantId", args.tenantId))
    .take(SEARCH_SCAN);
  const firstMatch = new Map<string, { seq: number; text: string }>();
  for (const message of hits) {
    const text = messageText(message.parts);
    if (!text.toLowerCase().includes(needle)) continue;
    const seen = firstMatch.get(message.conversationId);
    if (seen === undefined || message.seq < seen.seq) firstMatch.set(message.conversationId, { seq: message.seq, text });
  }
  const found: { conversation: Doc<"conversations">; text: string }[] = [];
  for (const [id, match] of firstMatch) {
    const conversation = await conversationById(db, id);
    if (conversation === null || conversation.tenantId !== args.tenantId) continue;
    if (args.agentId !== null && conversation.agentId !== args.agentId) continue;
    if (!isAfter(conversation, args.before ?? null)) continue;
    found.push({ conversation, text: match.text });
  }
  found.sort(
    (a, b) =>
      b.conversation.updatedAt - a.conversation.updatedAt ||
      (a.conversation.id < b.conversation.id ? 1 : a.conversation.id > b.conversation.id ? -1 : 0),
  );
  const rows: ConversationListRow[] = [];
  for (const { conversation, text } of found) {
    const row = await listed(db, args, conversation, text);
    if (row === null) continue;
    rows.push(row);
    if (rows.length === args.limit) break;
  }
  return rows;
}

/**
 * A tenant's conversations (optionally one agent's), most recently updated first, then by id
 * descending; up to `limit` of them.
 *
 * - `before`: the last row of the previous page; only conversations after it in that order.
 * - `search`: only conversations where some message's text (its "text" parts, concatenated)
 *   contains it, ignoring case (`matchText` is the first such message's text, uncut; else null);
 *   trimmed, and ignored when empty. A search of three or more characters goes through the
 *   messages' trigram search index (at most 1,024 candidate messages per page); a shorter one
 *   reads the conversations from `before` on, and their messages, until `limit` match.
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
    const query = gramQuery(needle);
    if (query !== null) return searched(ctx.db, args, needle, query);
    for (const range of ranges(ctx.db, tenantId, agentId, before)) {
      for await (const conversation of range) {
        const matchText = needle === "" ? null : await mentions(ctx.db, conversation.id, needle);
        if (needle !== "" && matchText === null) continue;
        const row = await listed(ctx.db, args, conversation, matchText);
        if (row === null) continue;
        rows.push(row);
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

/**
 * Deletes a tenant's conversation and its messages (usage stays), at most `DELETE_BATCH`
 * documents per call: "more" asks the caller to call again, "done" when it is gone, "missing"
 * unless that tenant owns it. The conversation row goes last, so a retry finishes.
 */
export const remove = internalMutation({
  args: { tenantId: v.string(), conversationId: v.string() },
  returns: deleteStep,
  handler: async (ctx, { tenantId, conversationId }) => {
    const conversation = await conversationById(ctx.db, conversationId);
    if (conversation === null || conversation.tenantId !== tenantId) return "missing";
    const { done } = await deleteConversationSome(ctx.db, conversation, DELETE_BATCH);
    return done ? "done" : "more";
  },
});

/**
 * One batch of a bulk delete of a tenant's conversations: those inactive since before
 * `inactiveBefore` (the retention sweep) or those of one visitor (an end user's erase; a
 * verified user's conversations have visitorId `u:<userId>`). Deletes at most
 * `BULK_DELETE_BATCH` documents (messages first, each conversation's own row last, with its call
 * record), so one mutation stays far inside Convex's limits; `done` is false while selected
 * conversations are left, and the caller calls again.
 */
export const removeSome = internalMutation({
  args: {
    tenantId: v.string(),
    inactiveBefore: nullable(v.number()),
    visitorId: nullable(v.string()),
  },
  returns: v.object({
    conversations: v.number(),
    messages: v.number(),
    feedback: v.number(),
    done: v.boolean(),
  }),
  handler: async (ctx, { tenantId, inactiveBefore, visitorId }) => {
    if ((inactiveBefore === null) === (visitorId === null)) {
      fail("Invalid", "Give exactly one of inactiveBefore and visitorId");
    }
    const next = () =>
      visitorId !== null
        ? ctx.db
            .query("conversations")
            .withIndex("by_visitor", (q) => q.eq("tenantId", tenantId).eq("visitorId", visitorId))
            .first()
        : ctx.db
            .query("conversations")
            .withIndex("by_tenant", (q) => q.eq("tenantId", tenantId).lt("updatedAt", inactiveBefore!))
            .first();
    let budget = BULK_DELETE_BATCH;
    const removed = { conversations: 0, messages: 0, feedback: 0 };
    while (budget > 0) {
      const conversation = await next();
      if (conversation === null) return { ...removed, done: true };
      const step = await deleteConversationSome(ctx.db, conversation, budget);
      budget -= step.deleted;
      removed.messages += step.messages;
      removed.feedback += step.feedback;
      if (!step.done) break;
      removed.conversations += 1;
    }
    return { ...removed, done: (await next()) === null };
  },
});

/**
 * Up to `limit` of one visitor's conversations of a tenant, each with its messages (by `seq`),
 * most recently active first, then by id descending; `before` is the last row of the previous
 * page (an end user's export).
 */
export const ofVisitor = internalQuery({
  args: {
    tenantId: v.string(),
    visitorId: v.string(),
    before: nullable(conversationCursor),
    limit: v.number(),
  },
  returns: v.array(conversationWithMessages),
  handler: async (ctx, { tenantId, visitorId, before, limit }) => {
    assertCount(limit, "limit", 0);
    const ranges =
      before === null
        ? [
            ctx.db
              .query("conversations")
              .withIndex("by_visitor", (q) => q.eq("tenantId", tenantId).eq("visitorId", visitorId))
              .order("desc"),
          ]
        : [
            ctx.db
              .query("conversations")
              .withIndex("by_visitor", (q) =>
                q
                  .eq("tenantId", tenantId)
                  .eq("visitorId", visitorId)
                  .eq("updatedAt", before.updatedAt)
                  .lt("id", before.id),
              )
              .order("desc"),
            ctx.db
              .query("conversations")
              .withIndex("by_visitor", (q) =>
                q.eq("tenantId", tenantId).eq("visitorId", visitorId).lt("updatedAt", before.updatedAt),
              )
              .order("desc"),
          ];
    const page: Doc<"conversations">[] = [];
    for (const range of ranges) {
      if (page.length >= limit) break;
      page.push(...(await range.take(limit - page.length)));
    }
    const out: Infer<typeof conversationWithMessages>[] = [];
    for (const conversation of page) {
      const loaded = await loadConversation(ctx.db, tenantId, conversation.id);
      if (loaded !== null) out.push(loaded);
    }
    return out;
  },
});
