// Data lifecycle: the retention setting, the sweep's work list, bulk deletes by inactivity or by
// visitor (in batches, with counts), and one visitor's export.
import { expect, test } from "vitest";
import { internal } from "./_generated/api";
import { BULK_DELETE_BATCH, DAY_MS } from "./model";
import {
  answerInput,
  conversationRow,
  errorData,
  messageInput,
  seedAgent,
  seedTenant,
  setup,
  T0,
  type T,
} from "./test.helpers";

/** A conversation of `visitorId` last active at `at`, with a question and a rated answer. */
async function chat(t: T, id: string, tenantId: string, agentId: string, visitorId: string, at: number) {
  await t.mutation(internal.conversations.startTurn, {
    conversation: { ...conversationRow(id, tenantId, agentId, at), visitorId },
    create: true,
    replaceAfter: null,
    userMessage: messageInput(`${id}-u1`, id, tenantId, { createdAt: at }),
  });
  await t.mutation(internal.messages.appendAnswer, {
    message: answerInput(`${id}-a1`, id, tenantId, { createdAt: at, feedback: "up" }),
    agentId,
    day: "2026-01-01",
  });
}

async function world(t: T) {
  await seedTenant(t, "t1");
  await seedTenant(t, "t2");
  await seedAgent(t, "a1", "t1");
  await seedAgent(t, "b1", "t2");
}

const ids = async (t: T, tenantId: string) =>
  (await t.run(async (ctx) => await ctx.db.query("conversations").collect()))
    .filter((c) => c.tenantId === tenantId)
    .map((c) => c.id)
    .sort();

test("the retention setting is saved when given, kept when absent, and checked", async () => {
  const t = setup();
  await world(t);
  expect((await t.query(internal.tenants.get, { tenantId: "t1" }))?.retentionDays).toBeNull();
  const update = (retentionDays?: number | null) =>
    t.mutation(internal.tenants.update, {
      tenant: { id: "t1", name: "Tenant t1", status: "active", monthlySpendCap: null, ...(retentionDays === undefined ? {} : { retentionDays }) },
    });
  await update(30);
  expect((await t.query(internal.tenants.get, { tenantId: "t1" }))?.retentionDays).toBe(30);
  await update();
  expect((await t.query(internal.tenants.get, { tenantId: "t1" }))?.retentionDays).toBe(30);
  for (const bad of [0, 3651, 1.5, -1]) {
    expect(await errorData(update(bad))).toMatchObject({ code: "Invalid" });
  }
  expect((await t.query(internal.tenants.get, { tenantId: "t1" }))?.retentionDays).toBe(30);
  await update(null);
  expect((await t.query(internal.tenants.get, { tenantId: "t1" }))?.retentionDays).toBeNull();
});

test("retentionDue lists only tenants with a setting and a conversation past it", async () => {
  const t = setup();
  await seedTenant(t, "t1", { retentionDays: 30 });
  await seedTenant(t, "t2", { retentionDays: 30, createdAt: T0 + 1 });
  await seedTenant(t, "t3", { createdAt: T0 + 2 });
  await seedTenant(t, "t4", { retentionDays: 1, createdAt: T0 + 3 });
  for (const [agent, tenant] of [["a1", "t1"], ["a2", "t2"], ["a3", "t3"], ["a4", "t4"]]) {
    await seedAgent(t, agent, tenant);
  }
  const now = T0 + 40 * DAY_MS;
  await chat(t, "old1", "t1", "a1", "v1", now - 31 * DAY_MS); // past 30 days
  await chat(t, "new2", "t2", "a2", "v1", now - 29 * DAY_MS); // within 30 days
  await chat(t, "old3", "t3", "a3", "v1", T0); // no setting: kept forever
  await chat(t, "old4", "t4", "a4", "v1", now - 2 * DAY_MS);
  const due = await t.query(internal.tenants.retentionDue, { now, limit: 10 });
  expect(due.map((d) => d.id)).toEqual(["t1", "t4"]);
  expect(due[0].retentionDays).toBe(30);
  expect((await t.query(internal.tenants.retentionDue, { now, limit: 1 })).map((d) => d.id)).toEqual(["t1"]);
});

test("removeSome by inactivity deletes old conversations with messages, feedback and calls, and keeps recent ones and other tenants'", async () => {
  const t = setup();
  await world(t);
  await chat(t, "old", "t1", "a1", "v1", T0);
  await chat(t, "new", "t1", "a1", "v1", T0 + 10 * DAY_MS);
  await chat(t, "other", "t2", "b1", "v1", T0);
  await t.run(async (ctx) => {
    await ctx.db.insert("calls", { conversationId: "old", tenantId: "t1", agentId: "a1", callSid: "CA1", caller: "+1", callee: "+2", startedAt: T0, endedAt: null, outcome: null, details: "{}" });
  });
  const result = await t.mutation(internal.conversations.removeSome, { tenantId: "t1", inactiveBefore: T0 + DAY_MS, visitorId: null });
  expect(result).toEqual({ conversations: 1, messages: 2, feedback: 1, done: true });
  expect(await ids(t, "t1")).toEqual(["new"]);
  expect(await ids(t, "t2")).toEqual(["other"]);
  const left = await t.run(async (ctx) => ({
    messages: (await ctx.db.query("messages").collect()).map((m) => m.conversationId),
    calls: await ctx.db.query("calls").collect(),
    usage: await ctx.db.query("usageDaily").collect(),
  }));
  expect(left.messages.sort()).toEqual(["new", "new", "other", "other"]);
  expect(left.calls).toEqual([]);
  // Usage totals carry no content: they stay.
  expect(left.usage.length).toBeGreaterThan(0);
  expect(await t.mutation(internal.conversations.removeSome, { tenantId: "t1", inactiveBefore: T0 + DAY_MS, visitorId: null })).toEqual({ conversations: 0, messages: 0, feedback: 0, done: true });
});

test("removeSome by visitor deletes that visitor's conversations of that tenant only", async () => {
  const t = setup();
  await world(t);
  await chat(t, "c1", "t1", "a1", "u:alice", T0);
  await chat(t, "c2", "t1", "a1", "u:alice", T0 + 1);
  await chat(t, "c3", "t1", "a1", "v_bob", T0);
  await chat(t, "c4", "t2", "b1", "u:alice", T0);
  const result = await t.mutation(internal.conversations.removeSome, { tenantId: "t1", inactiveBefore: null, visitorId: "u:alice" });
  expect(result).toEqual({ conversations: 2, messages: 4, feedback: 2, done: true });
  expect(await ids(t, "t1")).toEqual(["c3"]);
  expect(await ids(t, "t2")).toEqual(["c4"]);
  expect(await errorData(t.mutation(internal.conversations.removeSome, { tenantId: "t1", inactiveBefore: null, visitorId: null }))).toMatchObject({ code: "Invalid" });
  expect(await errorData(t.mutation(internal.conversations.removeSome, { tenantId: "t1", inactiveBefore: 1, visitorId: "v" }))).toMatchObject({ code: "Invalid" });
});

test("removeSome deletes at most one batch of documents a call, the conversation's row last", async () => {
  const t = setup();
  await world(t);
  await chat(t, "big", "t1", "a1", "v1", T0);
  await chat(t, "small", "t1", "a1", "v1", T0 + 1);
  await t.run(async (ctx) => {
    const base = { ...messageInput("x", "big", "t1"), searchGrams: "", feedbackAt: null, timing: null };
    for (let seq = 3; seq < BULK_DELETE_BATCH + 10; seq++) {
      await ctx.db.insert("messages", { ...base, id: `m${seq}`, seq });
    }
  });
  const call = () => t.mutation(internal.conversations.removeSome, { tenantId: "t1", inactiveBefore: T0 + 5, visitorId: null });
  const first = await call();
  expect(first).toMatchObject({ conversations: 0, messages: BULK_DELETE_BATCH, done: false });
  expect(await ids(t, "t1")).toEqual(["big", "small"]);
  const second = await call();
  expect(second.done).toBe(true);
  expect(second.conversations).toBe(2);
  // seq 1-2 and 3 to BULK_DELETE_BATCH + 9 of "big", two of "small".
  expect(first.messages + second.messages).toBe(BULK_DELETE_BATCH + 9 + 2);
  expect(first.feedback + second.feedback).toBe(2);
  expect(await ids(t, "t1")).toEqual([]);
});

test("ofVisitor pages one visitor's conversations with their messages, newest first, in one tenant", async () => {
  const t = setup();
  await world(t);
  await chat(t, "c1", "t1", "a1", "v_x", T0);
  await chat(t, "c2", "t1", "a1", "v_x", T0 + 1);
  await chat(t, "c3", "t1", "a1", "v_x", T0 + 1);
  await chat(t, "c4", "t1", "a1", "v_other", T0);
  await chat(t, "c5", "t2", "b1", "v_x", T0 + 5);
  const page = (before: { updatedAt: number; id: string } | null) =>
    t.query(internal.conversations.ofVisitor, { tenantId: "t1", visitorId: "v_x", before, limit: 2 });
  const first = await page(null);
  expect(first.map((c) => c.conversation.id)).toEqual(["c3", "c2"]);
  expect(first[0].messages.map((m) => [m.seq, m.id])).toEqual([[1, "c3-u1"], [2, "c3-a1"]]);
  const last = first[1].conversation;
  const second = await page({ updatedAt: last.updatedAt, id: last.id });
  expect(second.map((c) => c.conversation.id)).toEqual(["c1"]);
  expect(await t.query(internal.conversations.ofVisitor, { tenantId: "t2", visitorId: "v_other", before: null, limit: 5 })).toEqual([]);
});
