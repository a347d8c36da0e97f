import { expect, test } from "vitest";
import { internal } from "./_generated/api";
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
  await seedConversation(t, "c1", "t1", "a1");
  await seedConversation(t, "d1", "t2", "b1");
}

const usage = (t: T) =>
  t.run((ctx) => ctx.db.query("usageDaily").collect()).then((rows) =>
    rows.map(({ _id, _creationTime, ...row }) => row),
  );

test("appendAnswer appends with the next seq, touches the conversation and adds usage", async () => {
  const t = setup();
  await world(t);
  await t.mutation(internal.messages.appendAnswer, {
    message: answerInput("r1", "c1", "t1", { createdAt: T0 + 10, inputTokens: 5, outputTokens: 7, cost: 0.25 }),
    agentId: "a1",
    day: "2026-03-01",
  });
  await t.mutation(internal.messages.appendAnswer, {
    message: answerInput("r2", "c1", "t1", { createdAt: T0 + 20, inputTokens: 1, outputTokens: 2, cost: 0.5, status: "aborted" }),
    agentId: "a1",
    day: "2026-03-01",
  });
  await t.mutation(internal.messages.appendAnswer, {
    message: answerInput("r3", "c1", "t1", { createdAt: T0 + 30, inputTokens: 3, outputTokens: 4, cost: 1, status: "error", error: "boom" }),
    agentId: "a1",
    day: "2026-03-02",
  });
  const got = await t.query(internal.conversations.get, { tenantId: "t1", conversationId: "c1" });
  expect(got?.messages.map((m) => [m.seq, m.id, m.status])).toEqual([
    [1, "c1-u1", "complete"],
    [2, "r1", "complete"],
    [3, "r2", "aborted"],
    [4, "r3", "error"],
  ]);
  expect(got?.messages[3]).toEqual({
    ...answerInput("r3", "c1", "t1", { createdAt: T0 + 30, inputTokens: 3, outputTokens: 4, cost: 1, status: "error", error: "boom" }),
    seq: 4,
  });
  expect(got?.conversation.updatedAt).toBe(T0 + 30);
  expect(await usage(t)).toEqual([
    { tenantId: "t1", agentId: "a1", day: "2026-03-01", messages: 2, inputTokens: 6, outputTokens: 9, cost: 0.75 },
    { tenantId: "t1", agentId: "a1", day: "2026-03-02", messages: 1, inputTokens: 3, outputTokens: 4, cost: 1 },
  ]);
});

test("appendAnswer is safe to retry (no second message, usage counted once) and checks its target", async () => {
  const t = setup();
  await world(t);
  const args = { message: answerInput("r1", "c1", "t1"), agentId: "a1", day: "2026-03-01" };
  await t.mutation(internal.messages.appendAnswer, args);
  await t.mutation(internal.messages.appendAnswer, args);
  expect((await t.query(internal.conversations.get, { tenantId: "t1", conversationId: "c1" }))?.messages).toHaveLength(2);
  expect(await usage(t)).toMatchObject([{ messages: 1, cost: 0.5 }]);

  const refused = (over: Partial<typeof args>) => errorData(t.mutation(internal.messages.appendAnswer, { ...args, ...over }));
  expect(await refused({ message: answerInput("r2", "zz", "t1") })).toMatchObject({ code: "NotFound" });
  expect(await refused({ message: answerInput("r2", "d1", "t1") })).toMatchObject({ code: "Mismatch" });
  expect(await refused({ message: answerInput("r2", "c1", "t1"), agentId: "a2" })).toMatchObject({ code: "Mismatch" });
  expect(await refused({ message: { ...answerInput("r2", "c1", "t1"), role: "user" } })).toMatchObject({ code: "Invalid" });
  expect(await refused({ message: answerInput("r2", "c1", "t1"), day: "03/01/2026" })).toMatchObject({ code: "Invalid" });
  expect(await refused({ message: answerInput("c1-u1", "c1", "t1") })).toMatchObject({ code: "Conflict" });
  expect((await t.query(internal.conversations.get, { tenantId: "t1", conversationId: "c1" }))?.messages).toHaveLength(2);
  expect(await usage(t)).toMatchObject([{ messages: 1, cost: 0.5 }]);
});

test("appendAnswer counts a turn's query embedding tokens on the knowledge line, once, without a message", async () => {
  const t = setup();
  await world(t);
  const args = { message: answerInput("r1", "c1", "t1", { inputTokens: 5 }), agentId: "a1", day: "2026-03-01", embeddingTokens: 8 };
  await t.mutation(internal.messages.appendAnswer, args);
  await t.mutation(internal.messages.appendAnswer, args);
  const rows = await usage(t);
  expect(rows.find((r) => r.agentId === "a1")).toMatchObject({ messages: 1, inputTokens: 5 });
  expect(rows.find((r) => r.agentId === "knowledge:embeddings")).toMatchObject({ messages: 0, inputTokens: 8, cost: 0 });
  const total = await t.run((ctx) =>
    ctx.db.query("usageMonthly").collect().then((all) => all.find((r) => r.agentId === "" && r.tenantId === "t1")),
  );
  expect(total).toMatchObject({ messages: 1, inputTokens: 13 });
});

test("setFeedback rates assistant messages only, and can clear a rating", async () => {
  const t = setup();
  await world(t);
  await t.mutation(internal.messages.appendAnswer, {
    message: answerInput("r1", "c1", "t1"),
    agentId: "a1",
    day: "2026-03-01",
  });
  const rate = (messageId: string, rating: "up" | "down" | null, now: number, conversationId = "c1") =>
    t.mutation(internal.messages.setFeedback, { tenantId: "t1", agentId: null, conversationId, messageId, rating, now });
  const stored = (id: string) =>
    t.run((ctx) =>
      ctx.db
        .query("messages")
        .withIndex("by_conversation_message", (q) => q.eq("conversationId", "c1").eq("id", id))
        .unique(),
    );

  expect(await rate("r1", "up", T0 + 1)).toBe(true);
  expect(await stored("r1")).toMatchObject({ feedback: "up", feedbackAt: T0 + 1 });
  expect((await t.query(internal.conversations.get, { tenantId: "t1", conversationId: "c1" }))?.messages[1].feedback).toBe("up");
  expect(await rate("r1", "down", T0 + 2)).toBe(true);
  expect(await rate("r1", null, T0 + 3)).toBe(true);
  expect(await stored("r1")).toMatchObject({ feedback: null, feedbackAt: T0 + 3 });

  expect(await rate("c1-u1", "up", T0 + 4)).toBe(false);
  expect(await stored("c1-u1")).toMatchObject({ feedback: null, feedbackAt: null });
  expect(await rate("nope", "up", T0 + 4)).toBe(false);
  expect(await rate("r1", "up", T0 + 4, "d1")).toBe(false);
});

test("feedbackForTenant: the tenant's rated answers with their questions, newest first, filtered and paged", async () => {
  const t = setup();
  await world(t);
  const text = (...texts: string[]) => JSON.stringify(texts.map((x) => ({ type: "text", text: x })));
  const answer = (id: string, conversationId: string, agentId: string, parts: string, tenantId = "t1") =>
    t.mutation(internal.messages.appendAnswer, {
      message: answerInput(id, conversationId, tenantId, { parts }),
      agentId,
      day: "2026-03-01",
    });
  const rate = (conversationId: string, messageId: string, rating: "up" | "down" | null, now: number) =>
    t.mutation(internal.messages.setFeedback, {
      tenantId: conversationId.startsWith("d") ? "t2" : "t1",
      agentId: null,
      conversationId,
      messageId,
      rating,
      now,
    });

  // c1 (a1): c1-u1, r1 (long), u2 (exactly 300 characters), r2 (several parts).
  await answer("r1", "c1", "a1", text("🙂".repeat(310)));
  await t.mutation(internal.conversations.startTurn, {
    conversation: conversationRow("c1", "t1", "a1"),
    create: false,
    replaceAfter: null,
    userMessage: messageInput("u2", "c1", "t1", { parts: text("y".repeat(300)) }),
  });
  await answer(
    "r2",
    "c1",
    "a1",
    JSON.stringify([
      { type: "text", text: "Part one. " },
      { type: "reasoning", text: "hidden" },
      { type: "text", text: "Part two." },
    ]),
  );
  // c2 (a2): an answer with no user message before it.
  await t.mutation(internal.conversations.startTurn, {
    conversation: conversationRow("c2", "t1", "a2"),
    create: true,
    replaceAfter: null,
    userMessage: null,
  });
  await answer("r3", "c2", "a2", text("Unprompted"));
  // c3 (a1): one rated answer, and one whose rating was cleared.
  await seedConversation(t, "c3", "t1", "a1");
  await answer("r4", "c3", "a1", text("Cleared"));
  await answer("r5", "c3", "a1", text("Five"));
  // d1 (t2): rated at the same time as t1's answers.
  await answer("s1", "d1", "b1", text("Other tenant"), "t2");

  await rate("c1", "r1", "up", T0 + 10);
  await rate("c1", "r2", "down", T0 + 20);
  await rate("c2", "r3", "up", T0 + 20);
  await rate("c3", "r5", "down", T0 + 20);
  await rate("c3", "r4", "up", T0 + 5);
  await rate("c3", "r4", null, T0 + 30);
  await rate("d1", "s1", "up", T0 + 20);

  type Args = {
    tenantId?: string;
    agentId?: string | null;
    rating?: "up" | "down" | null;
    limit?: number;
    before?: { feedbackAt: number; messageId: string } | null;
  };
  const feedback = (over: Args = {}) =>
    t.query(internal.messages.feedbackForTenant, {
      tenantId: "t1",
      agentId: null,
      rating: null,
      limit: 50,
      before: null,
      ...over,
    });
  const ids = (over: Args = {}) => feedback(over).then((rows) => rows.map((r) => r.messageId));

  expect(await feedback()).toEqual([
    {
      conversationId: "c3",
      messageId: "r5",
      agentId: "a1",
      rating: "down",
      feedbackAt: T0 + 20,
      answer: "Five",
      question: "text of c3-u1",
    },
    {
      conversationId: "c2",
      messageId: "r3",
      agentId: "a2",
      rating: "up",
      feedbackAt: T0 + 20,
      answer: "Unprompted",
      question: null,
    },
    {
      conversationId: "c1",
      messageId: "r2",
      agentId: "a1",
      rating: "down",
      feedbackAt: T0 + 20,
      answer: "Part one. Part two.",
      question: "y".repeat(300),
    },
    {
      conversationId: "c1",
      messageId: "r1",
      agentId: "a1",
      rating: "up",
      feedbackAt: T0 + 10,
      answer: `${"🙂".repeat(300)}…`,
      question: "text of c1-u1",
    },
  ]);
  // The index range holds the rated messages (and the cleared one) only, never the unrated.
  const inRange = await t.run((ctx) =>
    ctx.db
      .query("messages")
      .withIndex("by_tenant_feedback", (q) => q.eq("tenantId", "t1").gt("feedbackAt", null))
      .collect(),
  );
  expect(inRange.map((m) => m.id).sort()).toEqual(["r1", "r2", "r3", "r4", "r5"]);
  expect(await ids({ rating: "up" })).toEqual(["r3", "r1"]);
  expect(await ids({ rating: "down" })).toEqual(["r5", "r2"]);
  expect(await ids({ agentId: "a1" })).toEqual(["r5", "r2", "r1"]);
  expect(await ids({ agentId: "a2" })).toEqual(["r3"]);
  expect(await ids({ agentId: "a1", rating: "up" })).toEqual(["r1"]);
  // Another tenant's agent, rows or cursor never show through.
  expect(await ids({ agentId: "b1" })).toEqual([]);
  expect(await feedback({ tenantId: "t2" })).toEqual([
    {
      conversationId: "d1",
      messageId: "s1",
      agentId: "b1",
      rating: "up",
      feedbackAt: T0 + 20,
      answer: "Other tenant",
      question: "text of d1-u1",
    },
  ]);
  expect(await ids({ tenantId: "t2", agentId: "a1" })).toEqual([]);
  expect(await ids({ tenantId: "t3" })).toEqual([]);

  expect(await ids({ limit: 2 })).toEqual(["r5", "r3"]);
  expect(await ids({ before: { feedbackAt: T0 + 20, messageId: "r3" } })).toEqual(["r2", "r1"]);
  expect(await ids({ before: { feedbackAt: T0 + 20, messageId: "s1" } })).toEqual(["r5", "r3", "r2", "r1"]);
  expect(await ids({ before: { feedbackAt: T0 + 15, messageId: "" } })).toEqual(["r1"]);
  expect(await ids({ before: { feedbackAt: T0 + 10, messageId: "r1" } })).toEqual([]);
  expect(await ids({ limit: 0 })).toEqual([]);
  expect(await errorData(feedback({ limit: 2.5 }))).toMatchObject({ code: "Invalid" });

  // Walking page by page gives every row once, in order.
  for (const filter of [{}, { rating: "down" as const }, { agentId: "a1" }]) {
    for (const limit of [1, 2, 3]) {
      const seen: string[] = [];
      let before: Args["before"] = null;
      for (let page = 0; page < 20; page++) {
        const rows = await feedback({ ...filter, limit, before });
        if (rows.length === 0) break;
        expect(rows.length).toBeLessThanOrEqual(limit);
        seen.push(...rows.map((r) => r.messageId));
        const last = rows[rows.length - 1];
        before = { feedbackAt: last.feedbackAt, messageId: last.messageId };
      }
      expect(seen).toEqual(await ids(filter));
    }
  }

  // Removing a conversation removes its ratings from the list.
  expect(await t.mutation(internal.conversations.remove, { tenantId: "t1", conversationId: "c1" })).toBe("done");
  expect(await ids()).toEqual(["r5", "r3"]);
});

test("an answer keeps its per-turn timing summary; the conversation read returns it, older answers have none", async () => {
  const t = setup();
  await world(t);
  const timing = JSON.stringify({ totalMs: 840, firstTokenMs: 310, modelMs: 800, toolMs: 0, models: [{ model: "m", startMs: 5, ms: 800 }], tools: [] });
  await t.mutation(internal.messages.appendAnswer, { message: { ...answerInput("r1", "c1", "t1", { createdAt: T0 + 10 }), timing }, agentId: "a1", day: "2026-03-01" });
  await t.mutation(internal.messages.appendAnswer, { message: answerInput("r2", "c1", "t1", { createdAt: T0 + 20 }), agentId: "a1", day: "2026-03-01" });
  const got = await t.query(internal.conversations.get, { tenantId: "t1", conversationId: "c1" });
  const byId = Object.fromEntries((got?.messages ?? []).map((m) => [m.id, m]));
  expect(byId.r1.timing).toBe(timing);
  expect("timing" in byId.r2).toBe(false);
});
