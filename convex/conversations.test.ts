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
}

async function seqs(t: T, conversationId: string) {
  const got = await t.query(internal.conversations.get, { conversationId });
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
  const got = await t.query(internal.conversations.get, { conversationId: "c1" });
  expect(got).toEqual({
    conversation: { ...conversationRow("c1", "t1", "a1", T0), updatedAt: T0 + 7 },
    messages: [{ ...messageInput("u1", "c1", "t1", { createdAt: T0 + 7 }), seq: 1 }],
  });
  expect(await t.query(internal.conversations.get, { conversationId: "none" })).toBeNull();
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
  const got = await t.query(internal.conversations.get, { conversationId: "c1" });
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
  expect(await t.query(internal.conversations.get, { conversationId: "c1" })).toBeNull();
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

  const context = await t.query(internal.conversations.turnContext, {
    conversationId: "c1",
    tenantId: "t1",
    agentId: "a1",
    sinceDay: "2026-02-01",
  });
  expect(context.spend).toEqual({ tenant: 7.5, agent: 3.5 });
  expect(context.conversation?.messages.map((m) => m.id)).toEqual(["c1-u1", "x1", "x2", "x3"]);

  const fresh = await t.query(internal.conversations.turnContext, {
    conversationId: null,
    tenantId: "t2",
    agentId: "b1",
    sinceDay: "2026-02-01",
  });
  expect(fresh).toEqual({ conversation: null, spend: { tenant: 0, agent: 0 } });
  expect(
    (
      await t.query(internal.conversations.turnContext, {
        conversationId: "missing",
        tenantId: "t1",
        agentId: "a1",
        sinceDay: "2026-02-01",
      })
    ).conversation,
  ).toBeNull();
  expect(
    await errorData(
      t.query(internal.conversations.turnContext, { conversationId: null, tenantId: "t1", agentId: "a1", sinceDay: "Feb" }),
    ),
  ).toMatchObject({ code: "Invalid" });
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
  expect(rows).toEqual([{ ...conversationRow("c1", "t1", "a1", T0 + 1), updatedAt: T0 + 5 }]);
  expect(await errorData(list(null, 1.5))).toMatchObject({ code: "Invalid" });
});
