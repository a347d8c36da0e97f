import { expect, test } from "vitest";
import { internal } from "./_generated/api";
import {
  answerInput,
  errorData,
  keyRow,
  seedAgent,
  seedConversation,
  seedTenant,
  setup,
  T0,
  type T,
} from "./test.helpers";
import type { TableName } from "./model";

const TABLES: TableName[] = ["tenants", "agents", "apiKeys", "conversations", "messages", "usageDaily", "usageMonthly"];

async function exportAll(t: T, limit: number) {
  const out: Record<string, Record<string, unknown>[]> = {};
  for (const table of TABLES) {
    out[table] = [];
    let cursor: string | null = null;
    for (let pages = 0; ; pages++) {
      const page: { rows: Record<string, unknown>[]; cursor: string | null } = await t.query(
        internal.transfer.exportTable,
        { table, cursor, limit },
      );
      out[table].push(...page.rows);
      cursor = page.cursor;
      if (cursor === null) break;
      if (pages > 100) throw new Error("no end of pages");
    }
  }
  return out;
}

async function world(t: T) {
  await seedTenant(t, "t1", { monthlySpendCap: 5 });
  await seedTenant(t, "t2");
  await seedAgent(t, "a1", "t1");
  await seedAgent(t, "b1", "t2");
  await t.mutation(internal.keys.create, {
    key: keyRow("pk1", "t1", { agentId: "a1", kind: "publishable", lookup: "pk_1" }),
  });
  await t.mutation(internal.keys.revoke, { tenantId: "t1", keyId: "k-t1", now: T0 + 1 });
  await seedConversation(t, "c1", "t1", "a1");
  await seedConversation(t, "d1", "t2", "b1");
  await t.mutation(internal.messages.appendAnswer, {
    message: answerInput("r1", "c1", "t1"),
    agentId: "a1",
    day: "2026-01-02",
  });
  await t.mutation(internal.messages.setFeedback, { tenantId: "t1", agentId: "a1", conversationId: "c1", messageId: "r1", rating: "down", now: T0 + 9 });
}

test("exportTable pages through every row in the stored shape", async () => {
  const t = setup();
  await world(t);
  const all = await exportAll(t, 2);
  expect(Object.fromEntries(TABLES.map((x) => [x, all[x].length]))).toEqual({
    tenants: 2,
    agents: 2,
    apiKeys: 3,
    conversations: 2,
    messages: 3,
    usageDaily: 1,
    usageMonthly: 2,
  });
  expect(all.tenants[0]).toEqual({
    id: "t1",
    name: "Tenant t1",
    status: "active",
    monthlySpendCap: 5,
    identitySecret: "idsec-t1",
    signingSecret: "whsec-t1",
    createdAt: T0,
    retentionDays: null,
  });
  expect(all.messages.find((m) => m.id === "r1")).toMatchObject({ feedback: "down", feedbackAt: T0 + 9, seq: 2 });
  expect(all.usageDaily[0]).toEqual({
    tenantId: "t1",
    agentId: "a1",
    day: "2026-01-02",
    messages: 1,
    inputTokens: 10,
    outputTokens: 20,
    cost: 0.5,
  });
  expect(all.usageMonthly).toEqual([
    { tenantId: "t1", agentId: "a1", month: "2026-01", messages: 1, inputTokens: 10, outputTokens: 20, cost: 0.5 },
    { tenantId: "t1", agentId: "", month: "2026-01", messages: 1, inputTokens: 10, outputTokens: 20, cost: 0.5 },
  ]);
  for (const rows of Object.values(all)) {
    for (const row of rows) expect(Object.keys(row).some((k) => k.startsWith("_"))).toBe(false);
  }
  expect(await errorData(t.query(internal.transfer.exportTable, { table: "agents", cursor: null, limit: 0 }))).toMatchObject({
    code: "Invalid",
  });
});

test("importRows round-trips an export into an empty deployment, and a rerun inserts nothing", async () => {
  const source = setup();
  await world(source);
  const exported = await exportAll(source, 100);

  const target = setup();
  for (const table of TABLES) {
    const inserted = await target.mutation(internal.transfer.importRows, { table, rows: exported[table] as never });
    expect(inserted).toBe(exported[table].length);
  }
  expect(await exportAll(target, 100)).toEqual(exported);
  for (const table of TABLES) {
    expect(await target.mutation(internal.transfer.importRows, { table, rows: exported[table] as never })).toBe(0);
  }

  // The functions see the imported data as their own.
  expect(await target.query(internal.agents.get, { agentId: "a1" })).toEqual(
    await source.query(internal.agents.get, { agentId: "a1" }),
  );
  expect(await target.query(internal.conversations.get, { tenantId: "t1", conversationId: "c1" })).toEqual(
    await source.query(internal.conversations.get, { tenantId: "t1", conversationId: "c1" }),
  );
  expect(await target.query(internal.usage.spend, { tenantId: "t1", agentId: "a1", sinceDay: "2026-01-01" })).toEqual({
    tenant: 0.5,
    agent: 0.5,
  });
  const turn = { tenantId: "t1", agentId: "a1", conversationId: null, resentMessageId: null, month: "2026-01", historyLimit: 0 };
  expect((await target.query(internal.conversations.turnContext, turn)).spend).toEqual({ tenant: 0.5, agent: 0.5 });
});

test("importRows refuses rows of another table's shape and a taken seq", async () => {
  const t = setup();
  await world(t);
  const exported = await exportAll(t, 100);
  expect(
    await errorData(t.mutation(internal.transfer.importRows, { table: "agents", rows: exported.tenants as never })),
  ).toMatchObject({ code: "Invalid" });
  const clash = { ...(exported.messages[0] as object), id: "other" };
  expect(
    await errorData(t.mutation(internal.transfer.importRows, { table: "messages", rows: [clash] as never })),
  ).toMatchObject({ code: "Conflict" });
  await expect(
    t.mutation(internal.transfer.importRows, { table: "agents", rows: [{ id: "x" }] as never }),
  ).rejects.toThrow(/Validator error/);
});
