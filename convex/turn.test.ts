// A chat turn's store work stays bounded as a conversation and a tenant grow, and its writes are
// safe to retry in any order.
import { expect, test } from "vitest";
import { internal } from "./_generated/api";
import { turnContext } from "./conversations";
import {
  agentInput,
  answerInput,
  conversationRow,
  countingDb,
  errorData,
  fakeHash,
  keyRow,
  messageInput,
  seedAgent,
  seedTenant,
  setup,
  T0,
  type T,
} from "./test.helpers";

const HISTORY = 60;

/** A tenant with `agents` agents, each with usage on `days` days of February and one conversation of
 * `messages` messages for agent a0 (written directly: the functions under test only read them). */
async function grow(t: T, { agents, days, messages, chars = 20 }: { agents: number; days: number; messages: number; chars?: number }) {
  await seedTenant(t, "t1");
  await t.run(async (ctx) => {
    for (let a = 0; a < agents; a++) {
      await ctx.db.insert("agents", { ...agentInput(`a${a}`, "t1"), version: 1 });
      for (let d = 1; d <= days; d++) {
        await ctx.db.insert("usageDaily", {
          tenantId: "t1",
          agentId: `a${a}`,
          day: `2026-02-${String(d).padStart(2, "0")}`,
          messages: 1,
          inputTokens: 1,
          outputTokens: 1,
          cost: 0.25,
        });
      }
      await ctx.db.insert("usageMonthly", { tenantId: "t1", agentId: `a${a}`, month: "2026-02", messages: days, inputTokens: days, outputTokens: days, cost: days * 0.25 });
    }
    await ctx.db.insert("usageMonthly", { tenantId: "t1", agentId: "", month: "2026-02", messages: agents * days, inputTokens: agents * days, outputTokens: agents * days, cost: agents * days * 0.25 });
    await ctx.db.insert("conversations", conversationRow("c1", "t1", "a0"));
    const text = "x".repeat(chars);
    for (let seq = 1; seq <= messages; seq++) {
      const make = seq % 2 === 1 ? messageInput : answerInput;
      await ctx.db.insert("messages", {
        ...make(`m${seq}`, "c1", "t1", { parts: JSON.stringify([{ type: "text", text }]) }),
        seq,
        feedbackAt: null,
      });
    }
  });
}

/** Runs turnContext's handler on a db that counts what it reads. */
async function countedTurn(t: T, resentMessageId: string | null) {
  return t.run(async (ctx) => {
    const counted = countingDb(ctx.db);
    const handler = (turnContext as unknown as { _handler: (ctx: unknown, args: unknown) => Promise<any> })._handler;
    const result = await handler(
      { ...ctx, db: counted.db },
      { tenantId: "t1", agentId: "a0", conversationId: "c1", resentMessageId, month: "2026-02", historyLimit: HISTORY },
    );
    return { reads: counted.reads(), bytes: counted.bytes(), result };
  });
}

test("turnContext reads the same number of documents for a small and a large conversation and tenant", async () => {
  const small = setup();
  await grow(small, { agents: 2, days: 2, messages: 5 });
  const large = setup();
  await grow(large, { agents: 200, days: 28, messages: 500 });

  for (const resent of [null, "m3", "m401"]) {
    const s = await countedTurn(small, resent === "m401" ? "m5" : resent);
    const l = await countedTurn(large, resent);
    expect(l.result.conversation.state).toBe("found");
    expect(l.result.conversation.messages).toHaveLength(resent === "m3" ? 3 : HISTORY);
    // conversation + (resent) + window + (last message, when anchored) + two monthly totals.
    expect(l.reads).toBeLessThanOrEqual(1 + 1 + HISTORY + 1 + 2);
    if (resent === "m3") expect(l.reads).toBe(s.reads);
    else expect(l.reads - l.result.conversation.messages.length).toBe(s.reads - s.result.conversation.messages.length);
  }
  const s = await countedTurn(small, null);
  const l = await countedTurn(large, null);
  expect(s.result.spend).toEqual({ tenant: 1, agent: 0.5 });
  expect(l.result.spend).toEqual({ tenant: 200 * 28 * 0.25, agent: 28 * 0.25 });
  // With the window full on both sides the counts are equal outright.
  const full = setup();
  await grow(full, { agents: 2, days: 2, messages: HISTORY + 1 });
  expect((await countedTurn(full, null)).reads).toBe(l.reads);
  expect(l.reads).toBe(1 + HISTORY + 2);
});

test("a 2,000-message conversation of 9.5 KB messages still answers turnContext, with the newest 60", async () => {
  const t = setup();
  await grow(t, { agents: 1, days: 1, messages: 2000, chars: 9500 });
  // Convex allows 16 MiB read per transaction; the whole conversation is about 19 MB.
  const all = await t.run(async (ctx) => (await ctx.db.query("messages").collect()).reduce((n, m) => n + JSON.stringify(m).length, 0));
  expect(all).toBeGreaterThan(16 * 1024 * 1024);
  const counted = await countedTurn(t, null);
  expect(counted.reads).toBe(1 + HISTORY + 2);
  expect(counted.bytes).toBeLessThan(1024 * 1024);
  const { conversation } = await t.query(internal.conversations.turnContext, {
    tenantId: "t1",
    agentId: "a0",
    conversationId: "c1",
    resentMessageId: null,
    month: "2026-02",
    historyLimit: HISTORY,
  });
  if (conversation.state !== "found") throw new Error(conversation.state);
  expect(conversation.messageCount).toBe(2000);
  expect(conversation.messages.map((m) => m.seq)).toEqual(Array.from({ length: HISTORY }, (_, i) => 2000 - HISTORY + 1 + i));
}, 120_000);

test("answers and record keep the monthly totals of the agent and the tenant next to the daily rows", async () => {
  const t = setup();
  await seedTenant(t, "t1");
  await seedAgent(t, "a1", "t1");
  await seedAgent(t, "a2", "t1");
  await t.mutation(internal.conversations.startTurn, {
    conversation: conversationRow("c1", "t1", "a1"),
    create: true,
    replaceAfter: null,
    userMessage: messageInput("u1", "c1", "t1"),
  });
  const answer = { message: answerInput("r1", "c1", "t1", { cost: 0.5 }), agentId: "a1", day: "2026-02-27" };
  await t.mutation(internal.messages.appendAnswer, answer);
  await t.mutation(internal.messages.appendAnswer, answer); // a retry counts nothing
  await t.mutation(internal.usage.record, { tenantId: "t1", agentId: "a2", day: "2026-02-28", usage: { inputTokens: 3, outputTokens: 4, cost: 0.25 } });
  await t.mutation(internal.usage.record, { tenantId: "t1", agentId: "a2", day: "2026-03-01", usage: { inputTokens: 1, outputTokens: 1, cost: 2 } });
  const monthly = await t.run(async (ctx) =>
    (await ctx.db.query("usageMonthly").collect()).map(({ _id, _creationTime, tenantId, ...row }) => row),
  );
  expect(monthly).toEqual([
    { agentId: "a1", month: "2026-02", messages: 1, inputTokens: 10, outputTokens: 20, cost: 0.5 },
    { agentId: "", month: "2026-02", messages: 2, inputTokens: 13, outputTokens: 24, cost: 0.75 },
    { agentId: "a2", month: "2026-02", messages: 1, inputTokens: 3, outputTokens: 4, cost: 0.25 },
    { agentId: "a2", month: "2026-03", messages: 1, inputTokens: 1, outputTokens: 1, cost: 2 },
    { agentId: "", month: "2026-03", messages: 1, inputTokens: 1, outputTokens: 1, cost: 2 },
  ]);
  expect(await t.query(internal.usage.list, { tenantId: "t1", sinceDay: "2026-02-01" })).toMatchObject([
    { agentId: "a1", day: "2026-02-27", messages: 1, cost: 0.5 },
    { agentId: "a2", day: "2026-02-28", messages: 1, cost: 0.25 },
    { agentId: "a2", day: "2026-03-01", messages: 1, cost: 2 },
  ]);
  const spend = (month: string, agentId: string) =>
    t.query(internal.conversations.turnContext, { tenantId: "t1", agentId, conversationId: null, resentMessageId: null, month, historyLimit: 60 });
  expect((await spend("2026-02", "a2")).spend).toEqual({ tenant: 0.75, agent: 0.25 });
  expect((await spend("2026-03", "a1")).spend).toEqual({ tenant: 2, agent: 0 });
  expect(await errorData(t.mutation(internal.usage.record, { tenantId: "nobody", agentId: "a1", day: "2026-02-01", usage: { inputTokens: 0, outputTokens: 0, cost: 0 } }))).toMatchObject({ code: "NotFound" });
  expect(await errorData(t.mutation(internal.usage.record, { tenantId: "t1", agentId: "", day: "2026-02-01", usage: { inputTokens: 0, outputTokens: 0, cost: 0 } }))).toMatchObject({ code: "Invalid" });
  expect(await errorData(t.mutation(internal.usage.record, { tenantId: "t1", agentId: "a1", day: "2026-02", usage: { inputTokens: 0, outputTokens: 0, cost: 0 } }))).toMatchObject({ code: "Invalid" });
});

test("a startTurn retried after its answer moves nothing back and deletes nothing", async () => {
  const t = setup();
  await seedTenant(t, "t1");
  await seedAgent(t, "a1", "t1");
  const conversation = conversationRow("c1", "t1", "a1", T0);
  const first = { conversation, create: true, replaceAfter: null, userMessage: messageInput("u1", "c1", "t1", { createdAt: T0 + 10 }), answerId: "r1" };
  await t.mutation(internal.conversations.startTurn, first);
  await t.mutation(internal.messages.appendAnswer, { message: answerInput("r1", "c1", "t1", { createdAt: T0 + 20 }), agentId: "a1", day: "2026-02-01" });
  // The same call again, late: the conversation keeps the answer's time.
  await t.mutation(internal.conversations.startTurn, first);
  // Without the answer id too (an older caller): the user message exists, so nothing moves.
  await t.mutation(internal.conversations.startTurn, { ...first, answerId: undefined });
  const got = await t.query(internal.conversations.get, { tenantId: "t1", conversationId: "c1" });
  expect(got?.conversation.updatedAt).toBe(T0 + 20);
  expect(got?.messages.map((m) => m.id)).toEqual(["u1", "r1"]);

  // A regenerate (no new user message, replaceAfter 1) whose answer r2 is stored, then retried late.
  const regenerate = { conversation, create: false, replaceAfter: 1, userMessage: null, answerId: "r2" };
  await t.mutation(internal.conversations.startTurn, regenerate);
  await t.mutation(internal.messages.appendAnswer, { message: answerInput("r2", "c1", "t1", { createdAt: T0 + 30 }), agentId: "a1", day: "2026-02-01" });
  await t.mutation(internal.conversations.startTurn, regenerate);
  const after = await t.query(internal.conversations.get, { tenantId: "t1", conversationId: "c1" });
  expect(after?.messages.map((m) => [m.seq, m.id])).toEqual([[1, "u1"], [2, "r2"]]);
  expect(after?.conversation.updatedAt).toBe(T0 + 30);
  // An answer stored with an older clock does not move updatedAt back either.
  await t.mutation(internal.conversations.startTurn, { conversation, create: false, replaceAfter: null, userMessage: messageInput("u3", "c1", "t1", { createdAt: T0 + 5 }), answerId: "r3" });
  await t.mutation(internal.messages.appendAnswer, { message: answerInput("r3", "c1", "t1", { createdAt: T0 + 6 }), agentId: "a1", day: "2026-02-01" });
  expect((await t.query(internal.conversations.get, { tenantId: "t1", conversationId: "c1" }))?.conversation.updatedAt).toBe(T0 + 30);
});

test("store isolation: get and setFeedback need the owning tenant (and agent)", async () => {
  const t = setup();
  await seedTenant(t, "t1");
  await seedTenant(t, "t2");
  await seedAgent(t, "a1", "t1");
  await seedAgent(t, "a2", "t1");
  await t.mutation(internal.conversations.startTurn, { conversation: conversationRow("c1", "t1", "a1"), create: true, replaceAfter: null, userMessage: messageInput("u1", "c1", "t1") });
  await t.mutation(internal.messages.appendAnswer, { message: answerInput("r1", "c1", "t1"), agentId: "a1", day: "2026-02-01" });
  expect(await t.query(internal.conversations.get, { tenantId: "t2", conversationId: "c1" })).toBeNull();
  const rate = (tenantId: string, agentId: string | null) =>
    t.mutation(internal.messages.setFeedback, { tenantId, agentId, conversationId: "c1", messageId: "r1", rating: "up", now: T0 });
  expect(await rate("t2", null)).toBe(false);
  expect(await rate("t2", "a1")).toBe(false);
  expect(await rate("t1", "a2")).toBe(false);
  expect((await t.query(internal.conversations.get, { tenantId: "t1", conversationId: "c1" }))?.messages[1].feedback).toBeNull();
  expect(await rate("t1", "a1")).toBe(true);
  expect(await rate("t1", null)).toBe(true);
});

test("keys refuse a hash that is not a SHA-256 hex digest, also on import", async () => {
  const t = setup();
  await seedTenant(t, "t1");
  for (const hash of ["-", "", "h", fakeHash("key").toUpperCase(), `${fakeHash("key")}0`, "sk_live_the_key_itself"]) {
    expect(await errorData(t.mutation(internal.keys.create, { key: keyRow("k2", "t1", { hash }) }))).toMatchObject({ code: "Invalid" });
    const { createdAt, ...rest } = keyRow("k3", "t1", { hash });
    expect(await errorData(t.mutation(internal.transfer.importRows, { table: "apiKeys", rows: [{ createdAt, ...rest }] }))).toMatchObject({ code: "Invalid" });
  }
  await t.mutation(internal.keys.create, { key: keyRow("k2", "t1") });
  expect((await t.query(internal.keys.listForTenant, { tenantId: "t1", limit: 100 })).map((k) => k.id).sort()).toEqual(["k-t1", "k2"]);
});

test("rebuildMonthly recomputes a tenant's month from its daily rows and can be rerun", async () => {
  const t = setup();
  await seedTenant(t, "t1");
  await seedTenant(t, "t2");
  await t.run(async (ctx) => {
    const day = (tenantId: string, agentId: string, day: string, cost: number) =>
      ctx.db.insert("usageDaily", { tenantId, agentId, day, messages: 1, inputTokens: 2, outputTokens: 3, cost });
    await day("t1", "a1", "2026-02-01", 1);
    await day("t1", "a1", "2026-02-28", 2);
    await day("t1", "a2", "2026-02-10", 4);
    await day("t1", "a1", "2026-03-01", 8);
    await day("t2", "b1", "2026-02-05", 16);
    // A wrong total from before: replaced, not added to.
    await ctx.db.insert("usageMonthly", { tenantId: "t1", agentId: "", month: "2026-02", messages: 9, inputTokens: 9, outputTokens: 9, cost: 99 });
  });
  for (let run = 0; run < 2; run++) {
    expect(await t.mutation(internal.usage.rebuildMonthly, { tenantId: "t1", month: "2026-02" })).toBe(2);
  }
  const spend = async (agentId: string) =>
    (await t.query(internal.conversations.turnContext, { tenantId: "t1", agentId, conversationId: null, resentMessageId: null, month: "2026-02", historyLimit: 0 })).spend;
  expect(await spend("a1")).toEqual({ tenant: 7, agent: 3 });
  expect(await spend("a2")).toEqual({ tenant: 7, agent: 4 });
  const rows = await t.run((ctx) => ctx.db.query("usageMonthly").collect());
  expect(rows.map((r) => [r.tenantId, r.agentId, r.month, r.messages]).sort()).toEqual([
    ["t1", "", "2026-02", 3],
    ["t1", "a1", "2026-02", 2],
    ["t1", "a2", "2026-02", 1],
  ]);
  expect(await errorData(t.mutation(internal.usage.rebuildMonthly, { tenantId: "t1", month: "2026-2" }))).toMatchObject({ code: "Invalid" });
});

test("agents stored before versions were counted read, update and export at version 1", async () => {
  const t = setup();
  await seedTenant(t, "t1");
  await t.run(async (ctx) => {
    await ctx.db.insert("agents", agentInput("old", "t1"));
  });
  expect(await t.query(internal.agents.get, { agentId: "old" })).toMatchObject({ version: 1 });
  const page = await t.query(internal.transfer.exportTable, { table: "agents", cursor: null, limit: 10 });
  expect(page.rows).toEqual([{ ...agentInput("old", "t1"), version: 1 }]);
  const { createdAt, ...update } = agentInput("old", "t1");
  expect(await t.mutation(internal.agents.update, { agent: update, expectedVersion: 1 })).toBe(true);
  expect(await t.query(internal.agents.get, { agentId: "old" })).toMatchObject({ version: 2 });
});

test("monthSpend reads the month's totals of the tenant (and one agent)", async () => {
  const t = setup();
  await seedTenant(t, "t1");
  await t.mutation(internal.usage.record, { tenantId: "t1", agentId: "a1", day: "2026-02-03", usage: { inputTokens: 1, outputTokens: 1, cost: 1.5 } });
  await t.mutation(internal.usage.record, { tenantId: "t1", agentId: "a2", day: "2026-02-04", usage: { inputTokens: 1, outputTokens: 1, cost: 2 } });
  await t.mutation(internal.usage.record, { tenantId: "t1", agentId: "a2", day: "2026-01-31", usage: { inputTokens: 1, outputTokens: 1, cost: 8 } });
  expect(await t.query(internal.usage.monthSpend, { tenantId: "t1", agentId: null, month: "2026-02" })).toEqual({ tenant: 3.5, agent: 0 });
  expect(await t.query(internal.usage.monthSpend, { tenantId: "t1", agentId: "a2", month: "2026-02" })).toEqual({ tenant: 3.5, agent: 2 });
  expect(await t.query(internal.usage.monthSpend, { tenantId: "t2", agentId: null, month: "2026-02" })).toEqual({ tenant: 0, agent: 0 });
  expect(await errorData(t.query(internal.usage.monthSpend, { tenantId: "t1", agentId: null, month: "2026-02-01" }))).toMatchObject({ code: "Invalid" });
});
