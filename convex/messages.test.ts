import { expect, test } from "vitest";
import { internal } from "./_generated/api";
import {
  answerInput,
  errorData,
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
  const got = await t.query(internal.conversations.get, { conversationId: "c1" });
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
  expect((await t.query(internal.conversations.get, { conversationId: "c1" }))?.messages).toHaveLength(2);
  expect(await usage(t)).toMatchObject([{ messages: 1, cost: 0.5 }]);

  const refused = (over: Partial<typeof args>) => errorData(t.mutation(internal.messages.appendAnswer, { ...args, ...over }));
  expect(await refused({ message: answerInput("r2", "zz", "t1") })).toMatchObject({ code: "NotFound" });
  expect(await refused({ message: answerInput("r2", "d1", "t1") })).toMatchObject({ code: "Mismatch" });
  expect(await refused({ message: answerInput("r2", "c1", "t1"), agentId: "a2" })).toMatchObject({ code: "Mismatch" });
  expect(await refused({ message: { ...answerInput("r2", "c1", "t1"), role: "user" } })).toMatchObject({ code: "Invalid" });
  expect(await refused({ message: answerInput("r2", "c1", "t1"), day: "03/01/2026" })).toMatchObject({ code: "Invalid" });
  expect(await refused({ message: answerInput("c1-u1", "c1", "t1") })).toMatchObject({ code: "Conflict" });
  expect((await t.query(internal.conversations.get, { conversationId: "c1" }))?.messages).toHaveLength(2);
  expect(await usage(t)).toMatchObject([{ messages: 1, cost: 0.5 }]);
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
    t.mutation(internal.messages.setFeedback, { conversationId, messageId, rating, now });
  const stored = (id: string) =>
    t.run((ctx) =>
      ctx.db
        .query("messages")
        .withIndex("by_conversation_message", (q) => q.eq("conversationId", "c1").eq("id", id))
        .unique(),
    );

  expect(await rate("r1", "up", T0 + 1)).toBe(true);
  expect(await stored("r1")).toMatchObject({ feedback: "up", feedbackAt: T0 + 1 });
  expect((await t.query(internal.conversations.get, { conversationId: "c1" }))?.messages[1].feedback).toBe("up");
  expect(await rate("r1", "down", T0 + 2)).toBe(true);
  expect(await rate("r1", null, T0 + 3)).toBe(true);
  expect(await stored("r1")).toMatchObject({ feedback: null, feedbackAt: T0 + 3 });

  expect(await rate("c1-u1", "up", T0 + 4)).toBe(false);
  expect(await stored("c1-u1")).toMatchObject({ feedback: null, feedbackAt: null });
  expect(await rate("nope", "up", T0 + 4)).toBe(false);
  expect(await rate("r1", "up", T0 + 4, "d1")).toBe(false);
});
