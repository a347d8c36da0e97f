import { expect, test } from "vitest";
import { internal } from "./_generated/api";
import { DELETE_BATCH } from "./model";
import {
  agentInput,
  answerInput,
  errorData,
  keyRow,
  seedAgent,
  seedConversation,
  seedTenant,
  setup,
  T0,
  walkPages,
} from "./test.helpers";

test("get returns the agent with its tenant's standing, secrets, cap and live publishable keys", async () => {
  const t = setup();
  await seedTenant(t, "t1", { monthlySpendCap: 12 });
  expect(await seedAgent(t, "a1", "t1")).toBe(true);
  await t.mutation(internal.keys.create, {
    key: keyRow("pk1", "t1", { agentId: "a1", kind: "publishable", lookup: "pk_live_1" }),
  });
  await t.mutation(internal.keys.create, {
    key: keyRow("pk2", "t1", { agentId: "a1", kind: "publishable", lookup: "pk_live_2" }),
  });
  await t.mutation(internal.keys.create, {
    key: keyRow("sk1", "t1", { agentId: "a1", kind: "secret", lookup: "sk_live_1" }),
  });
  await t.mutation(internal.keys.revoke, { tenantId: "t1", keyId: "pk2", now: T0 + 5 });

  expect(await t.query(internal.agents.get, { agentId: "a1" })).toEqual({
    ...agentInput("a1", "t1"),
    version: 1,
    tenantStatus: "active",
    identitySecret: "idsec-t1",
    signingSecret: "whsec-t1",
    monthlySpendCap: 12,
    publishableKeys: ["pk_live_1"],
  });
  expect(await t.query(internal.agents.get, { agentId: "missing" })).toBeNull();

  await t.mutation(internal.tenants.update, {
    tenant: { id: "t1", name: "x", status: "suspended", monthlySpendCap: null },
  });
  expect(await t.query(internal.agents.get, { agentId: "a1" })).toMatchObject({
    tenantStatus: "suspended",
    monthlySpendCap: null,
  });
});

test("listForTenant returns only that tenant's agents, oldest first", async () => {
  const t = setup();
  await seedTenant(t, "t1");
  await seedTenant(t, "t2");
  await seedAgent(t, "a3", "t1", T0 + 3);
  await seedAgent(t, "a1", "t1", T0 + 1);
  await seedAgent(t, "b1", "t2", T0);
  await seedAgent(t, "a2", "t1", T0 + 1);
  const list = await t.query(internal.agents.listForTenant, { tenantId: "t1", limit: 100 });
  expect(list.map((a) => a.id)).toEqual(["a1", "a2", "a3"]);
  expect(list.every((a) => a.tenantId === "t1" && a.identitySecret === "idsec-t1")).toBe(true);
  expect(await t.query(internal.agents.listForTenant, { tenantId: "nobody", limit: 100 })).toEqual([]);
});

test("listForTenant pages oldest first, then by id, across agents that share a time", async () => {
  const t = setup();
  await seedTenant(t, "t1");
  await seedTenant(t, "t2");
  for (const [id, at] of [["d", 1], ["b", 1], ["e", 2], ["a", 0], ["c", 1]] as const) {
    await seedAgent(t, id, "t1", T0 + at);
  }
  await seedAgent(t, "x", "t2", T0 + 1);
  for (const limit of [1, 2, 3, 5, 6]) {
    const ids = await walkPages(
      (after, n) => t.query(internal.agents.listForTenant, { tenantId: "t1", after, limit: n }),
      limit,
    );
    expect(ids, `limit ${limit}`).toEqual(["a", "b", "c", "d", "e"]);
  }
  expect(await t.query(internal.agents.listForTenant, { tenantId: "t1", limit: 0 })).toEqual([]);
  expect(await errorData(t.query(internal.agents.listForTenant, { tenantId: "t1", limit: 1.5 }))).toMatchObject({
    code: "Invalid",
  });
});

test("create is false for a taken id in any tenant, and refuses an unknown tenant or bad JSON", async () => {
  const t = setup();
  await seedTenant(t, "t1");
  await seedTenant(t, "t2");
  expect(await seedAgent(t, "a1", "t1")).toBe(true);
  expect(await seedAgent(t, "a1", "t1")).toBe(false);
  expect(await seedAgent(t, "a1", "t2")).toBe(false);
  expect(await errorData(seedAgent(t, "a2", "ghost"))).toMatchObject({ code: "NotFound" });
  expect(
    await errorData(
      t.mutation(internal.agents.create, { agent: { ...agentInput("a3", "t1"), config: "{oops" } }),
    ),
  ).toMatchObject({ code: "Invalid" });
  expect((await t.query(internal.agents.get, { agentId: "a1" }))?.tenantId).toBe("t1");
});

test("update saves config, enabled and updatedAt only for the owning tenant", async () => {
  const t = setup();
  await seedTenant(t, "t1");
  await seedTenant(t, "t2");
  await seedAgent(t, "a1", "t1");
  const change = { id: "a1", config: '{"name":"New"}', enabled: false, updatedAt: T0 + 9 };
  expect(await t.mutation(internal.agents.update, { agent: { ...change, tenantId: "t2" } })).toBe(false);
  expect(await t.query(internal.agents.get, { agentId: "a1" })).toMatchObject(agentInput("a1", "t1"));
  expect(await t.mutation(internal.agents.update, { agent: { ...change, tenantId: "t1" } })).toBe(true);
  expect(await t.query(internal.agents.get, { agentId: "a1" })).toMatchObject({
    ...change,
    tenantId: "t1",
    createdAt: T0,
  });
  expect(
    await t.mutation(internal.agents.update, { agent: { ...change, id: "none", tenantId: "t1" } }),
  ).toBe(false);
});

test("remove deletes the agent, its conversations and messages and keys, keeps usage, and only for its tenant", async () => {
  const t = setup();
  await seedTenant(t, "t1");
  await seedTenant(t, "t2");
  await seedAgent(t, "a1", "t1");
  await seedAgent(t, "a2", "t1");
  await seedAgent(t, "b1", "t2");
  await t.mutation(internal.keys.create, {
    key: keyRow("pk1", "t1", { agentId: "a1", kind: "publishable", lookup: "pk_1" }),
  });
  await t.mutation(internal.keys.create, {
    key: keyRow("pk2", "t1", { agentId: "a2", kind: "publishable", lookup: "pk_2" }),
  });
  await seedConversation(t, "c1", "t1", "a1");
  await seedConversation(t, "c2", "t1", "a1");
  await seedConversation(t, "c3", "t1", "a2");
  await seedConversation(t, "d1", "t2", "b1");
  await t.mutation(internal.messages.appendAnswer, {
    message: answerInput("c1-a1", "c1", "t1"),
    agentId: "a1",
    day: "2026-01-01",
  });

  expect(await t.mutation(internal.agents.remove, { tenantId: "t2", agentId: "a1" })).toBe("missing");
  expect(await t.query(internal.agents.get, { agentId: "a1" })).not.toBeNull();

  expect(await t.mutation(internal.agents.remove, { tenantId: "t1", agentId: "a1" })).toBe("done");
  expect(await t.query(internal.agents.get, { agentId: "a1" })).toBeNull();
  expect(await t.query(internal.conversations.get, { tenantId: "t1", conversationId: "c1" })).toBeNull();
  expect(await t.query(internal.conversations.get, { tenantId: "t1", conversationId: "c2" })).toBeNull();
  const left = await t.run(async (ctx) => ({
    messages: (await ctx.db.query("messages").collect()).map((m) => m.conversationId).sort(),
    keys: (await ctx.db.query("apiKeys").collect()).map((k) => k.id).sort(),
    usage: (await ctx.db.query("usageDaily").collect()).map((u) => u.agentId),
  }));
  expect(left).toEqual({ messages: ["c3", "d1"], keys: ["k-t1", "k-t2", "pk2"], usage: ["a1"] });
  expect(await t.query(internal.agents.get, { agentId: "a2" })).not.toBeNull();
  expect(await t.query(internal.agents.get, { agentId: "b1" })).not.toBeNull();
  expect(await t.mutation(internal.agents.remove, { tenantId: "t1", agentId: "a1" })).toBe("missing");
});

test("remove deletes a large agent in batches: switched off at once, its row last", async () => {
  const t = setup();
  await seedTenant(t, "t1");
  await seedAgent(t, "a1", "t1");
  await seedAgent(t, "a2", "t1");
  await t.mutation(internal.keys.create, {
    key: keyRow("pk1", "t1", { agentId: "a1", kind: "publishable", lookup: "pk_1" }),
  });
  await seedConversation(t, "c1", "t1", "a1");
  await seedConversation(t, "c2", "t1", "a1");
  await seedConversation(t, "c3", "t1", "a2");
  // More messages than one batch deletes, in one conversation and across two.
  await t.run(async (ctx) => {
    const first = await ctx.db.query("messages").first();
    if (first === null) throw new Error("no seeded message");
    const { _id, _creationTime, ...base } = first;
    for (const [conversationId, count] of [["c1", 1500], ["c2", 700]] as const) {
      for (let seq = 2; seq < count + 2; seq++) {
        await ctx.db.insert("messages", { ...base, conversationId, id: `${conversationId}-m${seq}`, seq });
      }
    }
  });
  const count = (table: "messages" | "conversations" | "apiKeys") =>
    t.run(async (ctx) => (await ctx.db.query(table).collect()).length);
  const before = await count("messages");

  expect(await t.mutation(internal.agents.remove, { tenantId: "t1", agentId: "a1" })).toBe("more");
  expect(before - (await count("messages"))).toBe(DELETE_BATCH);
  const half = await t.query(internal.agents.get, { agentId: "a1" });
  expect(half?.enabled).toBe(false);

  let calls = 1;
  while ((await t.mutation(internal.agents.remove, { tenantId: "t1", agentId: "a1" })) === "more") calls++;
  expect(calls).toBeGreaterThanOrEqual(2);
  expect(calls).toBeLessThan(10);
  expect(await t.query(internal.agents.get, { agentId: "a1" })).toBeNull();
  const left = await t.run(async (ctx) => ({
    conversations: (await ctx.db.query("conversations").collect()).map((c) => c.id),
    messages: [...new Set((await ctx.db.query("messages").collect()).map((m) => m.conversationId))],
    keys: (await ctx.db.query("apiKeys").collect()).map((k) => k.id).sort(),
  }));
  expect(left).toEqual({ conversations: ["c3"], messages: ["c3"], keys: ["k-t1"] });
  expect((await t.query(internal.agents.get, { agentId: "a2" }))?.enabled).toBe(true);
});

test("update with expectedVersion: Stale (and nothing written) when the agent changed since; every save counts", async () => {
  const t = setup();
  await seedTenant(t, "t1");
  await seedTenant(t, "t2");
  await seedAgent(t, "a1", "t1");
  const update = (over: object, expectedVersion?: number | null) =>
    t.mutation(internal.agents.update, {
      agent: { id: "a1", tenantId: "t1", config: '{"name":"New"}', enabled: true, updatedAt: T0 + 5, ...over },
      ...(expectedVersion === undefined ? {} : { expectedVersion }),
    });
  const stored = () => t.query(internal.agents.get, { agentId: "a1" });
  expect(await stored()).toMatchObject({ version: 1 });

  // The version the caller loaded: saved, and the version moves on.
  expect(await update({}, 1)).toBe(true);
  expect(await stored()).toMatchObject({ config: '{"name":"New"}', updatedAt: T0 + 5, version: 2 });

  // Loaded before that save: Stale, and nothing changes, even with the same clock reading.
  expect(await errorData(update({ config: '{"name":"Old tab"}', updatedAt: T0 + 5 }, 1))).toEqual({
    code: "Stale",
    message: "The agent was changed since you loaded it.",
  });
  expect(await stored()).toMatchObject({ config: '{"name":"New"}', updatedAt: T0 + 5, version: 2 });

  // Without it (or null), the last write wins as before; the version still counts each save.
  expect(await update({ config: '{"name":"Any"}', updatedAt: T0 + 7 }, null)).toBe(true);
  expect(await update({ config: '{"name":"Last"}', updatedAt: T0 + 7 })).toBe(true);
  expect(await stored()).toMatchObject({ config: '{"name":"Last"}', updatedAt: T0 + 7, version: 4 });

  // Another tenant's or a missing agent is still false, whatever expectedVersion says.
  expect(await update({ tenantId: "t2" }, 4)).toBe(false);
  expect(await update({ tenantId: "t2" }, 1)).toBe(false);
  expect(await update({ id: "none" }, 4)).toBe(false);
  expect(await stored()).toMatchObject({ config: '{"name":"Last"}', version: 4 });
});
