import { expect, test } from "vitest";
import { internal } from "./_generated/api";
import { answerInput, errorData, seedAgent, seedConversation, seedTenant, setup, type T } from "./test.helpers";

async function world(t: T) {
  await seedTenant(t, "t1");
  await seedTenant(t, "t2");
  await seedAgent(t, "a1", "t1");
  await seedAgent(t, "a2", "t1");
  await seedAgent(t, "b1", "t2");
  await seedConversation(t, "c1", "t1", "a1");
  await seedConversation(t, "c2", "t1", "a2");
  await seedConversation(t, "d1", "t2", "b1");
  let n = 0;
  const answer = (conversationId: string, tenantId: string, agentId: string, day: string, cost: number) =>
    t.mutation(internal.messages.appendAnswer, {
      message: answerInput(`r${++n}`, conversationId, tenantId, { cost, inputTokens: 1, outputTokens: 2 }),
      agentId,
      day,
    });
  await answer("c1", "t1", "a1", "2026-04-30", 50);
  await answer("c2", "t1", "a2", "2026-05-02", 4);
  await answer("c1", "t1", "a1", "2026-05-01", 1);
  await answer("c1", "t1", "a1", "2026-05-02", 2);
  await answer("c1", "t1", "a1", "2026-05-02", 0.25);
  await answer("d1", "t2", "b1", "2026-05-02", 1000);
}

test("spend sums the tenant's costs since a day, and one agent's", async () => {
  const t = setup();
  await world(t);
  const spend = (tenantId: string, agentId: string | null, sinceDay: string) =>
    t.query(internal.usage.spend, { tenantId, agentId, sinceDay });
  expect(await spend("t1", "a1", "2026-05-01")).toEqual({ tenant: 7.25, agent: 3.25 });
  expect(await spend("t1", null, "2026-05-01")).toEqual({ tenant: 7.25, agent: 0 });
  expect(await spend("t1", "a2", "2026-01-01")).toEqual({ tenant: 57.25, agent: 4 });
  expect(await spend("t1", "b1", "2026-01-01")).toEqual({ tenant: 57.25, agent: 0 });
  expect(await spend("t2", null, "2026-06-01")).toEqual({ tenant: 0, agent: 0 });
  expect(await errorData(spend("t1", null, "May"))).toMatchObject({ code: "Invalid" });
});

test("list returns the tenant's rows since a day, by day then agent", async () => {
  const t = setup();
  await world(t);
  expect(await t.query(internal.usage.list, { tenantId: "t1", sinceDay: "2026-05-01" })).toEqual([
    { agentId: "a1", day: "2026-05-01", messages: 1, inputTokens: 1, outputTokens: 2, cost: 1 },
    { agentId: "a1", day: "2026-05-02", messages: 2, inputTokens: 2, outputTokens: 4, cost: 2.25 },
    { agentId: "a2", day: "2026-05-02", messages: 1, inputTokens: 1, outputTokens: 2, cost: 4 },
  ]);
  expect(await t.query(internal.usage.list, { tenantId: "t2", sinceDay: "2026-01-01" })).toHaveLength(1);
  expect(await t.query(internal.usage.list, { tenantId: "t3", sinceDay: "2026-01-01" })).toEqual([]);
});
