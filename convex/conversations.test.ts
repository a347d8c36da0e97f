import { expect, test } from "vitest";
import { internal } from "./_generated/api";
import { DELETE_BATCH } from "./model";
import type { ConversationRow } from "./model";
import {
  answerInput,
  conversationRow,
  errorData,
  messageInput,
  seedAgent,
  seedConversation,
  seedTenant,
  setup,
  T0,
  type T,
} from "./test.helpers";

async function world(t: T) {
  await seedTenant(t, "t1");
  await seedTenant(t, "t2");
  await seedAgent(t, "a1", "t1");
  await seedAgent(t, "a2", "t1");
  await seedAgent(t, "b1", "t2");
}

async function seqs(t: T, conversationId: string) {
  const got = await t.query(internal.conversations.get, { tenantId: "t1", conversationId });
  return got?.messages.map((m) => [m.seq, m.id]);
}

test("startTurn creates the conversation and appends the first message at seq 1", async () => {
  const t = setup();
  await world(t);
  await t.mutation(internal.conversations.startTurn, {
    conversation: conversationRow("c1", "t1", "a1", T0),
    create: true,
    replaceAfter: null,
    userMessage: messageInput("u1", "c1", "t1", { createdAt: T0 + 7 }),
  });
  const got = await t.query(internal.conversations.get, { tenantId: "t1", conversationId: "c1" });
  expect(got).toEqual({
    conversation: { ...conversationRow("c1", "t1", "a1", T0), updatedAt: T0 + 7 },
    messages: [{ ...messageInput("u1", "c1", "t1", { createdAt: T0 + 7 }), seq: 1 }],
  });
  expect(await t.query(internal.conversations.get, { tenantId: "t1", conversationId: "none" })).toBeNull();
});

test("seq follows the largest seq; replaceAfter drops the later messages first", async () => {
  const t = setup();
  await world(t);
  await seedConversation(t, "c1", "t1", "a1");
  const turn = (id: string, replaceAfter: number | null, at: number) =>
    t.mutation(internal.conversations.startTurn, {
      conversation: conversationRow("c1", "t1", "a1"),
      create: false,
      replaceAfter,
      userMessage: id ? messageInput(id, "c1", "t1", { createdAt: at }) : null,
    });
  await t.mutation(internal.messages.appendAnswer, {
    message: answerInput("a-1", "c1", "t1"),
    agentId: "a1",
    day: "2026-01-01",
  });
  await turn("u2", null, T0 + 2);
  await t.mutation(internal.messages.appendAnswer, {
    message: answerInput("a-2", "c1", "t1"),
    agentId: "a1",
    day: "2026-01-01",
  });
  expect(await seqs(t, "c1")).toEqual([[1, "c1-u1"], [2, "a-1"], [3, "u2"], [4, "a-2"]]);

  // Regenerate the answer to u2: drop what follows it, append nothing.
  await t.mutation(internal.conversations.startTurn, {
    conversation: conversationRow("c1", "t1", "a1"),
    create: false,
    replaceAfter: 3,
    userMessage: null,
  });
  expect(await seqs(t, "c1")).toEqual([[1, "c1-u1"], [2, "a-1"], [3, "u2"]]);

  // Edit from the first answer on: drop 2.., append the new message at 2.
  await turn("u3", 1, T0 + 3);
  expect(await seqs(t, "c1")).toEqual([[1, "c1-u1"], [2, "u3"]]);
  const got = await t.query(internal.conversations.get, { tenantId: "t1", conversationId: "c1" });
  expect(got?.conversation.updatedAt).toBe(T0 + 3);

  // After a deletion the next seq still follows the largest one left.
  await turn("u4", null, T0 + 4);
  expect(await seqs(t, "c1")).toEqual([[1, "c1-u1"], [2, "u3"], [3, "u4"]]);
});

test("startTurn is safe to retry and refuses another owner's conversation", async () => {
  const t = setup();
  await world(t);
  const args = {
    conversation: conversationRow("c1", "t1", "a1"),
    create: true,
    replaceAfter: null,
    userMessage: messageInput("u1", "c1", "t1"),
  };
  await t.mutation(internal.conversations.startTurn, args);
  await t.mutation(internal.conversations.startTurn, args);
  expect(await seqs(t, "c1")).toEqual([[1, "u1"]]);

  const hijack = (over: object) =>
    errorData(
      t.mutation(internal.conversations.startTurn, {
        ...args,
        conversation: { ...args.conversation, ...over },
        userMessage: messageInput("x", "c1", "t2"),
      }),
    );
  expect(await hijack({ tenantId: "t2", agentId: "b1" })).toMatchObject({ code: "Conflict" });
  expect(await hijack({ agentId: "a2" })).toMatchObject({ code: "Conflict" });
  expect(await hijack({ visitorId: "someone-else" })).toMatchObject({ code: "Conflict" });
  expect(await seqs(t, "c1")).toEqual([[1, "u1"]]);

  expect(
    await errorData(
      t.mutation(internal.conversations.startTurn, { ...args, conversation: conversationRow("c9", "t1", "a1"), create: false, userMessage: null }),
    ),
  ).toMatchObject({ code: "NotFound" });
  expect(
    await errorData(
      t.mutation(internal.conversations.startTurn, { ...args, create: false, userMessage: messageInput("u2", "c2", "t1") }),
    ),
  ).toMatchObject({ code: "Mismatch" });
  expect(
    await errorData(
      t.mutation(internal.conversations.startTurn, { ...args, create: false, userMessage: answerInput("u3", "c1", "t1") }),
    ),
  ).toMatchObject({ code: "Invalid" });
  expect(
    await errorData(
      t.mutation(internal.conversations.startTurn, {
        ...args,
        create: false,
        userMessage: messageInput("u4", "c1", "t1", { parts: "not json" }),
      }),
    ),
  ).toMatchObject({ code: "Invalid" });
  expect(await seqs(t, "c1")).toEqual([[1, "u1"]]);
});

test("a failed startTurn writes nothing (one transaction)", async () => {
  const t = setup();
  await world(t);
  await expect(
    t.mutation(internal.conversations.startTurn, {
      conversation: conversationRow("c1", "t1", "a1"),
      create: true,
      replaceAfter: null,
      userMessage: messageInput("u1", "c1", "t1", { parts: "{broken" }),
    }),
  ).rejects.toThrow();
  expect(await t.query(internal.conversations.get, { tenantId: "t1", conversationId: "c1" })).toBeNull();
});

test("turnContext reads the conversation and the month's spend in one call", async () => {
  const t = setup();
  await world(t);
  await seedConversation(t, "c1", "t1", "a1");
  await seedConversation(t, "c2", "t1", "a2");
  const answer = (id: string, conversationId: string, agentId: string, day: string, cost: number) =>
    t.mutation(internal.messages.appendAnswer, {
      message: answerInput(id, conversationId, "t1", { cost }),
      agentId,
      day,
    });
  await answer("x1", "c1", "a1", "2026-01-31", 100);
  await answer("x2", "c1", "a1", "2026-02-01", 1.5);
  await answer("x3", "c1", "a1", "2026-02-03", 2);
  await answer("x4", "c2", "a2", "2026-02-02", 4);
  const turn = (over: object) =>
    t.query(internal.conversations.turnContext, {
      conversationId: "c1",
      resentMessageId: null,
      tenantId: "t1",
      agentId: "a1",
      month: "2026-02",
      historyLimit: 60,
      ...over,
    });

  const context = await turn({});
  expect(context.spend).toEqual({ tenant: 7.5, agent: 3.5 });
  expect(context.conversation).toMatchObject({ state: "found", messageCount: 4, resent: null });
  if (context.conversation.state !== "found") throw new Error("found");
  expect(context.conversation.messages.map((m) => m.id)).toEqual(["c1-u1", "x1", "x2", "x3"]);

  const fresh = await turn({ conversationId: null, tenantId: "t2", agentId: "b1" });
  expect(fresh).toEqual({ conversation: { state: "missing" }, spend: { tenant: 0, agent: 0 } });
  expect((await turn({ conversationId: "missing" })).conversation).toEqual({ state: "missing" });
  expect(await errorData(turn({ conversationId: null, month: "Feb" }))).toMatchObject({ code: "Invalid" });
  expect(await errorData(turn({ month: "2026-02-01" }))).toMatchObject({ code: "Invalid" });
  expect(await errorData(turn({ historyLimit: 1.5 }))).toMatchObject({ code: "Invalid" });
});

test("turnContext: another tenant's or agent's conversation is foreign, and nothing of it comes back", async () => {
  const t = setup();
  await world(t);
  await seedConversation(t, "c1", "t1", "a1");
  await seedConversation(t, "d1", "t2", "b1");
  const turn = (conversationId: string, tenantId: string, agentId: string) =>
    t.query(internal.conversations.turnContext, {
      conversationId,
      resentMessageId: `${conversationId}-u1`,
      tenantId,
      agentId,
      month: "2026-02",
      historyLimit: 60,
    });
  expect((await turn("c1", "t2", "b1")).conversation).toEqual({ state: "foreign" });
  expect((await turn("c1", "t1", "a2")).conversation).toEqual({ state: "foreign" });
  expect((await turn("d1", "t1", "a1")).conversation).toEqual({ state: "foreign" });
  expect((await turn("c1", "t1", "a1")).conversation).toMatchObject({
    state: "found",
    resent: { seq: 1, role: "user" },
  });
});

test("turnContext: the newest messages up to a resent user message, with the count and the resent seq", async () => {
  const t = setup();
  await world(t);
  await seedConversation(t, "c1", "t1", "a1");
  // c1: c1-u1 (1), a-1 (2), u-2 (3), a-2 (4), … u-10 (19), a-10 (20).
  await t.mutation(internal.messages.appendAnswer, { message: answerInput("a-1", "c1", "t1"), agentId: "a1", day: "2026-02-01" });
  for (let i = 2; i <= 10; i++) {
    await t.mutation(internal.conversations.startTurn, {
      conversation: conversationRow("c1", "t1", "a1"),
      create: false,
      replaceAfter: null,
      userMessage: messageInput(`u-${i}`, "c1", "t1"),
    });
    await t.mutation(internal.messages.appendAnswer, { message: answerInput(`a-${i}`, "c1", "t1"), agentId: "a1", day: "2026-02-01" });
  }
  const window = async (resentMessageId: string | null, historyLimit: number) => {
    const { conversation } = await t.query(internal.conversations.turnContext, {
      conversationId: "c1",
      resentMessageId,
      tenantId: "t1",
      agentId: "a1",
      month: "2026-02",
      historyLimit,
    });
    if (conversation.state !== "found") throw new Error(conversation.state);
    return { seqs: conversation.messages.map((m) => m.seq), count: conversation.messageCount, resent: conversation.resent };
  };
  expect(await window(null, 3)).toEqual({ seqs: [18, 19, 20], count: 20, resent: null });
  expect(await window("u-5", 3)).toEqual({ seqs: [7, 8, 9], count: 20, resent: { seq: 9, role: "user" } });
  expect(await window("c1-u1", 3)).toEqual({ seqs: [1], count: 20, resent: { seq: 1, role: "user" } });
  // An answer's id anchors nothing (the worker refuses it), but its seq and role are reported.
  expect(await window("a-5", 2)).toEqual({ seqs: [19, 20], count: 20, resent: { seq: 10, role: "assistant" } });
  // An id the conversation does not hold: a new message, the window ends at the last one.
  expect(await window("u-new", 2)).toEqual({ seqs: [19, 20], count: 20, resent: null });
  expect(await window(null, 0)).toEqual({ seqs: [], count: 20, resent: null });
  expect(await window(null, 100)).toMatchObject({ count: 20 });
  expect((await window(null, 100)).seqs).toHaveLength(20);
});

/** beginTurn's arguments for visitor v1's question `id` in conversation `conversationId` of agent a1. */
function begin(
  conversationId: string,
  id: string,
  {
    maxMessages = 10,
    tenantCap = null,
    agentCap = null,
    visitorId = "v1",
    agentId = "a1",
  }: { maxMessages?: number; tenantCap?: number | null; agentCap?: number | null; visitorId?: string | null; agentId?: string } = {},
) {
  return {
    tenantId: "t1",
    agentId,
    conversationId,
    resentMessageId: id,
    month: "2026-02",
    historyLimit: 60,
    eager: {
      conversation: { ...conversationRow(conversationId, "t1", agentId, T0 + 50), visitorId },
      message: messageInput(id, conversationId, "t1", { createdAt: T0 + 50 }),
      maxMessages,
      tenantCap,
      agentCap,
    },
  };
}

test("beginTurn reads the turn and stores a new question in the same transaction", async () => {
  const t = setup();
  await world(t);
  // No conversation yet: it is created with the question, and the context is the one read before.
  const first = await t.mutation(internal.conversations.beginTurn, begin("c1", "u1"));
  expect(first).toEqual({ conversation: { state: "missing" }, spend: { tenant: 0, agent: 0 }, stored: true });
  expect(await seqs(t, "c1")).toEqual([[1, "u1"]]);
  // The visitor's own conversation: appended at the next seq, updatedAt moved to the question.
  await t.mutation(internal.messages.appendAnswer, {
    message: answerInput("a1-1", "c1", "t1", { createdAt: T0 + 60 }),
    agentId: "a1",
    day: "2026-02-01",
  });
  const next = await t.mutation(internal.conversations.beginTurn, {
    ...begin("c1", "u2"),
    eager: { ...begin("c1", "u2").eager, message: messageInput("u2", "c1", "t1", { createdAt: T0 + 70 }) },
  });
  expect(next.stored).toBe(true);
  expect(next.conversation).toMatchObject({ state: "found", messageCount: 2, resent: null });
  expect(await seqs(t, "c1")).toEqual([[1, "u1"], [2, "a1-1"], [3, "u2"]]);
  const got = await t.query(internal.conversations.get, { tenantId: "t1", conversationId: "c1" });
  expect(got?.conversation.updatedAt).toBe(T0 + 70);
  // A retry after the question was stored reads it as resent and writes nothing more.
  const again = await t.mutation(internal.conversations.beginTurn, begin("c1", "u2"));
  expect(again.stored).toBe(false);
  expect(again.conversation).toMatchObject({ state: "found", messageCount: 3, resent: { seq: 3, role: "user" } });
  expect(await seqs(t, "c1")).toEqual([[1, "u1"], [2, "a1-1"], [3, "u2"]]);
});

test("beginTurn stores nothing the turn's rules refuse", async () => {
  const t = setup();
  await world(t);
  await t.mutation(internal.conversations.beginTurn, begin("c1", "u1"));
  await t.mutation(internal.usage.record, {
    tenantId: "t1",
    agentId: "a1",
    day: "2026-02-03",
    usage: { inputTokens: 1, outputTokens: 1, cost: 2 },
  });
  const refused: [string, ReturnType<typeof begin>][] = [
    ["another visitor's conversation", begin("c1", "x", { visitorId: "v2" })],
    ["another agent's conversation", begin("c1", "x", { agentId: "a2" })],
    ["no room for the question and its answer", begin("c1", "x", { maxMessages: 2 })],
    ["a new conversation without room for two", begin("c2", "x", { maxMessages: 1 })],
    ["the agent's cap reached", begin("c1", "x", { agentCap: 2 })],
    ["the tenant's cap reached", begin("c2", "x", { tenantCap: 1.5 })],
  ];
  for (const [why, args] of refused) {
    const result = await t.mutation(internal.conversations.beginTurn, args);
    expect(result.stored, why).toBe(false);
  }
  expect(await seqs(t, "c1")).toEqual([[1, "u1"]]);
  expect(await seqs(t, "c2")).toBeUndefined();
  // Just under both caps, with room for exactly two more: stored.
  const edge = await t.mutation(
    internal.conversations.beginTurn,
    begin("c1", "u2", { maxMessages: 3, agentCap: 2.01, tenantCap: 2.01 }),
  );
  expect(edge).toMatchObject({ stored: true, spend: { tenant: 2, agent: 2 } });
  // The read must name the question as resent, so that a retry is safe.
  expect(
    await errorData(
      t.mutation(internal.conversations.beginTurn, { ...begin("c1", "u3"), resentMessageId: null }),
    ),
  ).toMatchObject({ code: "Mismatch" });
});

test("listForTenant: that tenant's (or agent's) conversations, most recently updated first, limited", async () => {
  const t = setup();
  await world(t);
  await seedConversation(t, "c1", "t1", "a1", T0 + 1);
  await seedConversation(t, "c2", "t1", "a2", T0 + 3);
  await seedConversation(t, "c3", "t1", "a1", T0 + 2);
  await seedConversation(t, "d1", "t2", "b1", T0 + 9);
  // A new message moves c1 to the top.
  await t.mutation(internal.messages.appendAnswer, {
    message: answerInput("late", "c1", "t1", { createdAt: T0 + 5 }),
    agentId: "a1",
    day: "2026-01-01",
  });
  const list = (agentId: string | null, limit: number, tenantId = "t1") =>
    t.query(internal.conversations.listForTenant, { tenantId, agentId, limit }).then((l) => l.map((c) => c.id));
  expect(await list(null, 10)).toEqual(["c1", "c2", "c3"]);
  expect(await list(null, 2)).toEqual(["c1", "c2"]);
  expect(await list("a1", 10)).toEqual(["c1", "c3"]);
  expect(await list("b1", 10)).toEqual([]);
  expect(await list(null, 0)).toEqual([]);
  expect(await list(null, 10, "t2")).toEqual(["d1"]);
  const rows = await t.query(internal.conversations.listForTenant, { tenantId: "t1", agentId: "a1", limit: 1 });
  expect(rows).toEqual([
    {
      ...conversationRow("c1", "t1", "a1", T0 + 1),
      updatedAt: T0 + 5,
      firstMessage: "text of c1-u1",
      messageCount: 2,
      rating: null,
      lastStatus: "complete",
      matchText: null,
    },
  ]);
  expect(await errorData(list(null, 1.5))).toMatchObject({ code: "Invalid" });
});

test("listForTenant summarises each conversation and filters by rating, channel, status and preview", async () => {
  const t = setup();
  await world(t);
  const start = (id: string, over: Partial<ReturnType<typeof conversationRow>>, at: number) =>
    t.mutation(internal.conversations.startTurn, {
      conversation: { ...conversationRow(id, "t1", "a1", at), ...over },
      create: true,
      replaceAfter: null,
      userMessage: messageInput(`${id}-u1`, id, "t1", { createdAt: at }),
    });
  await start("web", { channel: "widget", pageUrl: "https://shop.example/p" }, T0 + 1);
  await start("prev", { channel: "inline", preview: true }, T0 + 2);
  await start("old", {}, T0 + 3);
  // A conversation stored before the summary fields existed.
  await t.run(async (ctx) => {
    await ctx.db.insert("conversations", { id: "bare", tenantId: "t1", agentId: "a1", visitorId: "v1", createdAt: T0, updatedAt: T0 });
  });
  const answer = (id: string, conversationId: string, over: object, at: number) =>
    t.mutation(internal.messages.appendAnswer, {
      message: answerInput(id, conversationId, "t1", { createdAt: at, ...over }),
      agentId: "a1",
      day: "2026-01-01",
    });
  await answer("w1", "web", { feedback: "up" }, T0 + 10);
  await answer("w2", "web", { feedback: "down", status: "error", error: "model failed" }, T0 + 11);
  await answer("p1", "prev", { feedback: "up" }, T0 + 12);
  const list = (filters: object = {}) =>
    t.query(internal.conversations.listForTenant, { tenantId: "t1", agentId: null, limit: 10, ...filters });
  const all = await list();
  expect(all.map((c) => c.id)).toEqual(["prev", "web", "old", "bare"]);
  expect(all[1]).toMatchObject({
    firstMessage: "text of web-u1",
    messageCount: 3,
    rating: "down",
    lastStatus: "error",
    channel: "widget",
    pageUrl: "https://shop.example/p",
    preview: false,
  });
  expect(all[0]).toMatchObject({ rating: "up", lastStatus: "complete", preview: true, channel: "inline" });
  expect(all[2]).toMatchObject({ messageCount: 1, rating: null, lastStatus: null });
  expect(all[3]).toMatchObject({ firstMessage: null, messageCount: 0, pageUrl: null, channel: null, preview: false });
  const ids = async (filters: object) => (await list(filters)).map((c) => c.id);
  expect(await ids({ rating: "up" })).toEqual(["prev"]);
  expect(await ids({ rating: "down" })).toEqual(["web"]);
  expect(await ids({ channel: "widget" })).toEqual(["web"]);
  expect(await ids({ status: "error" })).toEqual(["web"]);
  expect(await ids({ status: "complete" })).toEqual(["prev"]);
  expect(await ids({ preview: true })).toEqual(["prev"]);
  expect(await ids({ preview: false })).toEqual(["web", "old", "bare"]);
  expect(await ids({ preview: false, rating: "up" })).toEqual([]);
  const found = await list({ search: "OF PREV" });
  expect(found.map((c) => [c.id, c.matchText])).toEqual([["prev", "text of prev-u1"]]);
});

type Cursor = { updatedAt: number; id: string } | null;

/** Every page of a listing, walked with `before` = the last row of the page before. */
async function walk(
  t: T,
  tenantId: string,
  agentId: string | null,
  limit: number,
  search: string | null = null,
) {
  const pages: string[][] = [];
  let before: Cursor = null;
  for (;;) {
    const page: ConversationRow[] = await t.query(internal.conversations.listForTenant, {
      tenantId,
      agentId,
      limit,
      before,
      search,
    });
    expect(page.length).toBeLessThanOrEqual(limit);
    if (page.length === 0) break;
    pages.push(page.map((c) => c.id));
    const last = page[page.length - 1];
    before = { updatedAt: last.updatedAt, id: last.id };
    if (pages.length > 100) throw new Error("the walk does not end");
  }
  return pages;
}

test("listForTenant orders ties on updatedAt by id descending, and before pages through all of them", async () => {
  const t = setup();
  await world(t);
  // [id, agent, updatedAt]: ties on updatedAt, ids created out of order.
  const t1: Array<[string, string, number]> = [
    ["c4", "a1", T0 + 2],
    ["c1", "a2", T0 + 2],
    ["c9", "a1", T0 + 2],
    ["c2", "a1", T0 + 5],
    ["c7", "a2", T0 + 1],
    ["c3", "a1", T0 + 1],
    ["c8", "a2", T0 + 5],
    ["c5", "a1", T0 + 9],
    ["c6", "a1", T0 + 2],
  ];
  for (const [id, agentId, at] of t1) await seedConversation(t, id, "t1", agentId, at);
  // Another tenant's conversations at the same times, with ids between t1's.
  for (const [id, at] of [["c45", T0 + 2], ["c55", T0 + 9], ["c0", T0 + 1]] as const) {
    await seedConversation(t, id, "t2", "b1", at);
  }
  const expected = (agentId: string | null) =>
    t1
      .filter(([, a]) => agentId === null || a === agentId)
      .sort(([x, , ux], [y, , uy]) => uy - ux || (x < y ? 1 : -1))
      .map(([id]) => id);
  expect(expected(null)).toEqual(["c5", "c8", "c2", "c9", "c6", "c4", "c1", "c7", "c3"]);

  const all = await t.query(internal.conversations.listForTenant, { tenantId: "t1", agentId: null, limit: 50 });
  expect(all.map((c) => c.id)).toEqual(expected(null));
  for (const agentId of [null, "a1", "a2"]) {
    for (const limit of [1, 2, 3, 4, 50]) {
      const pages = await walk(t, "t1", agentId, limit);
      expect(pages.flat()).toEqual(expected(agentId));
      expect(pages.slice(0, -1).every((p) => p.length === limit)).toBe(true);
    }
  }
  expect((await walk(t, "t2", null, 2)).flat()).toEqual(["c55", "c45", "c0"]);
  expect((await walk(t, "t2", "a1", 2)).flat()).toEqual([]);

  // A cursor in the middle of a tie, and one that is not a row of the list.
  const after = (before: Cursor, agentId: string | null = null) =>
    t
      .query(internal.conversations.listForTenant, { tenantId: "t1", agentId, limit: 3, before })
      .then((l) => l.map((c) => c.id));
  expect(await after({ updatedAt: T0 + 2, id: "c6" })).toEqual(["c4", "c1", "c7"]);
  expect(await after({ updatedAt: T0 + 2, id: "c5" })).toEqual(["c4", "c1", "c7"]);
  expect(await after({ updatedAt: T0 + 3, id: "" })).toEqual(["c9", "c6", "c4"]);
  expect(await after({ updatedAt: T0 + 2, id: "c6" }, "a1")).toEqual(["c4", "c3"]);
  expect(await after({ updatedAt: T0 + 1, id: "c3" })).toEqual([]);
  // No cursor given at all (the worker's older calls) is the first page.
  expect(await after(null)).toEqual(["c5", "c8", "c2"]);
});

test("listForTenant search: some message's text contains it, ignoring case, trimmed", async () => {
  const t = setup();
  await world(t);
  const text = (...texts: string[]) => JSON.stringify(texts.map((x) => ({ type: "text", text: x })));
  const conversation = async (id: string, tenantId: string, agentId: string, at: number, parts: string) => {
    await t.mutation(internal.conversations.startTurn, {
      conversation: conversationRow(id, tenantId, agentId, at),
      create: true,
      replaceAfter: null,
      userMessage: messageInput(`${id}-u1`, id, tenantId, { createdAt: at, parts }),
    });
  };
  await conversation("c1", "t1", "a1", T0 + 1, text("Where is my PARCEL?"));
  // Text parts are concatenated: "par" + "cel".
  await conversation("c2", "t1", "a2", T0 + 2, text("a par", "cel tracker"));
  // Other part types do not count.
  await conversation(
    "c3",
    "t1",
    "a1",
    T0 + 3,
    JSON.stringify([{ type: "file", text: "parcel.pdf" }, { type: "reasoning", text: "parcel" }, { type: "text", text: "hi" }]),
  );
  // The answer has it, not the question.
  await conversation("c4", "t1", "a1", T0 + 4, text("hello"));
  await t.mutation(internal.messages.appendAnswer, {
    message: answerInput("c4-r1", "c4", "t1", { createdAt: T0 + 4, parts: text("Your Parcel ships today") }),
    agentId: "a1",
    day: "2026-01-01",
  });
  await conversation("c5", "t1", "a1", T0 + 5, text("nothing here"));
  await conversation("c6", "t1", "a2", T0 + 6, text("parcels, parcels"));
  await conversation("d1", "t2", "b1", T0 + 7, text("my parcel"));

  const search = (search: string | null, over: { agentId?: string | null; limit?: number; before?: Cursor; tenantId?: string } = {}) =>
    t
      .query(internal.conversations.listForTenant, {
        tenantId: "t1",
        agentId: null,
        limit: 10,
        search,
        ...over,
      })
      .then((l) => l.map((c) => c.id));
  expect(await search("parcel")).toEqual(["c6", "c4", "c2", "c1"]);
  expect(await search("  pArCeL ")).toEqual(["c6", "c4", "c2", "c1"]);
  expect(await search("arcel tr")).toEqual(["c2"]);
  expect(await search("parcel", { agentId: "a1" })).toEqual(["c4", "c1"]);
  expect(await search("parcel", { limit: 2 })).toEqual(["c6", "c4"]);
  expect(await search("parcel", { limit: 2, before: { updatedAt: T0 + 4, id: "c4" } })).toEqual(["c2", "c1"]);
  expect(await search("parcel", { tenantId: "t2" })).toEqual(["d1"]);
  expect(await search("pdf")).toEqual([]);
  expect(await search("")).toEqual(["c6", "c5", "c4", "c3", "c2", "c1"]);
  expect(await search("   ")).toEqual(["c6", "c5", "c4", "c3", "c2", "c1"]);
  expect(await search(null)).toEqual(["c6", "c5", "c4", "c3", "c2", "c1"]);
  expect((await walk(t, "t1", null, 1, "PARCEL")).flat()).toEqual(["c6", "c4", "c2", "c1"]);
});

test("listForTenant search goes through the trigram index: any script, long needles, short ones", async () => {
  const t = setup();
  await world(t);
  const text = (x: string) => JSON.stringify([{ type: "text", text: x }]);
  const start = (id: string, at: number, said: string) =>
    t.mutation(internal.conversations.startTurn, {
      conversation: conversationRow(id, "t1", "a1", at),
      create: true,
      replaceAfter: null,
      userMessage: messageInput(`${id}-u1`, id, "t1", { createdAt: at, parts: text(said) }),
    });
  await start("c1", T0 + 1, "Ваша посылка №42 — в пути! (ETA: 3 days)");
  await start("c2", T0 + 2, "The quick brown fox jumps over the lazy dog near the riverbank at dawn.");
  await start("c3", T0 + 3, "brown dog, quick fox");
  const search = (search: string) =>
    t
      .query(internal.conversations.listForTenant, { tenantId: "t1", agentId: null, limit: 10, search })
      .then((l) => l.map((c) => [c.id, c.matchText]));
  expect(await search("ПОСЫЛКА №42 —")).toEqual([["c1", "Ваша посылка №42 — в пути! (ETA: 3 days)"]]);
  expect(await search("(eta: 3")).toEqual([["c1", "Ваша посылка №42 — в пути! (ETA: 3 days)"]]);
  // More trigrams than one Convex search takes (16): the needle itself still decides.
  expect((await search("quick brown fox jumps over the lazy dog")).map(([id]) => id)).toEqual(["c2"]);
  expect((await search("quick brown fox jumps over the lazy cat")).map(([id]) => id)).toEqual([]);
  // Every trigram of "brown fox" is in c3 too, but not the needle.
  expect((await search("brown fox")).map(([id]) => id)).toEqual(["c2"]);
  // Under three characters: no trigram, the conversations are read instead.
  expect((await search("№4")).map(([id]) => id)).toEqual(["c1"]);
});

test("messages stored before search existed are found once indexForSearch ran", async () => {
  const t = setup();
  await world(t);
  await seedConversation(t, "c1", "t1", "a1", T0 + 1);
  await seedConversation(t, "c2", "t1", "a1", T0 + 2);
  // As a deployment from before search: messages without searchGrams.
  await t.run(async (ctx) => {
    for (const [id, conversationId, said] of [
      ["m1", "c1", "refund please"],
      ["m2", "c2", "where is my refund"],
    ]) {
      await ctx.db.insert("messages", {
        ...messageInput(id, conversationId, "t1", { parts: JSON.stringify([{ type: "text", text: said }]) }),
        seq: 1,
        feedbackAt: null,
      });
    }
  });
  const found = () =>
    t
      .query(internal.conversations.listForTenant, { tenantId: "t1", agentId: null, limit: 10, search: "refund" })
      .then((l) => l.map((c) => c.id));
  // (convex-test's search fake cannot read documents without the field; Convex leaves them out.)
  const grams = () => t.run((ctx) => ctx.db.query("messages").collect()).then((m) => m.filter((x) => x.id.startsWith("m")).map((x) => x.searchGrams));
  expect(await grams()).toEqual([undefined, undefined]);
  expect(await t.mutation(internal.messages.indexForSearch, { limit: 10 })).toEqual({ indexed: 2, cursor: null });
  expect(await found()).toEqual(["c2", "c1"]);
  expect((await grams()).every((g) => typeof g === "string" && g.length > 0)).toBe(true);
  // Again: nothing left to do.
  expect(await t.mutation(internal.messages.indexForSearch, {})).toEqual({ indexed: 0, cursor: null });
});

test("remove deletes the tenant's conversation and its messages only, and keeps usage", async () => {
  const t = setup();
  await world(t);
  await seedConversation(t, "c1", "t1", "a1", T0 + 1);
  await seedConversation(t, "c2", "t1", "a1", T0 + 2);
  await seedConversation(t, "d1", "t2", "b1", T0 + 3);
  for (const [id, conversationId, tenantId, agentId] of [
    ["r1", "c1", "t1", "a1"],
    ["r2", "c2", "t1", "a1"],
    ["s1", "d1", "t2", "b1"],
  ]) {
    await t.mutation(internal.messages.appendAnswer, {
      message: answerInput(id, conversationId, tenantId, { createdAt: T0 + 4 }),
      agentId,
      day: "2026-01-01",
    });
  }
  const remove = (tenantId: string, conversationId: string) =>
    t.mutation(internal.conversations.remove, { tenantId, conversationId });
  const messageIds = () =>
    t.run((ctx) => ctx.db.query("messages").collect()).then((all) => all.map((m) => m.id).sort());

  // Another tenant's id, or a missing one: nothing happens.
  expect(await remove("t2", "c1")).toBe("missing");
  expect(await remove("t1", "d1")).toBe("missing");
  expect(await remove("t1", "missing")).toBe("missing");
  expect(await messageIds()).toEqual(["c1-u1", "c2-u1", "d1-u1", "r1", "r2", "s1"]);

  expect(await remove("t1", "c1")).toBe("done");
  expect(await t.query(internal.conversations.get, { tenantId: "t1", conversationId: "c1" })).toBeNull();
  expect(await messageIds()).toEqual(["c2-u1", "d1-u1", "r2", "s1"]);
  expect(
    (await t.query(internal.conversations.listForTenant, { tenantId: "t1", agentId: null, limit: 10 })).map((c) => c.id),
  ).toEqual(["c2"]);
  expect(await t.query(internal.conversations.get, { tenantId: "t2", conversationId: "d1" })).not.toBeNull();
  expect(await t.query(internal.usage.list, { tenantId: "t1", sinceDay: "2026-01-01" })).toMatchObject([
    { agentId: "a1", day: "2026-01-01", messages: 2 },
  ]);
  expect(await remove("t1", "c1")).toBe("missing");
});

test("remove deletes a long conversation in batches, its row last", async () => {
  const t = setup();
  await world(t);
  await seedConversation(t, "c1", "t1", "a1", T0 + 1);
  await t.run(async (ctx) => {
    const first = await ctx.db.query("messages").first();
    if (first === null) throw new Error("no seeded message");
    const { _id, _creationTime, ...base } = first;
    for (let seq = 2; seq < DELETE_BATCH + 10; seq++) {
      await ctx.db.insert("messages", { ...base, id: `m${seq}`, seq });
    }
  });
  const remove = () => t.mutation(internal.conversations.remove, { tenantId: "t1", conversationId: "c1" });
  expect(await remove()).toBe("more");
  expect(await t.query(internal.conversations.get, { tenantId: "t1", conversationId: "c1" })).not.toBeNull();
  expect(await remove()).toBe("done");
  const left = await t.run(async (ctx) => await ctx.db.query("messages").collect());
  expect(left.filter((m) => m.conversationId === "c1")).toEqual([]);
  expect(await remove()).toBe("missing");
});
