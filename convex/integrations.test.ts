import { expect, test } from "vitest";
import { internal } from "./_generated/api";
import { seedAgent, seedConversation, seedTenant, setup, T0 } from "./test.helpers";

const twilio = (tenantId: string, over = {}) => ({
  tenantId,
  name: "twilio",
  settings: JSON.stringify({ accountSid: "AC" + "1".repeat(32) }),
  secrets: JSON.stringify({ authToken: "f".repeat(32) }),
  updatedAt: T0,
  ...over,
});

test("integrations are kept per tenant and name, replaced by put and removed once", async () => {
  const t = setup();
  await seedTenant(t, "t1");
  await seedTenant(t, "t2");
  await t.mutation(internal.integrations.put, { integration: twilio("t1") });
  expect(await t.query(internal.integrations.get, { tenantId: "t1", name: "twilio" })).toEqual(twilio("t1"));
  expect(await t.query(internal.integrations.get, { tenantId: "t2", name: "twilio" })).toBeNull();
  expect(await t.query(internal.integrations.get, { tenantId: "t1", name: "langfuse" })).toBeNull();
  const replaced = twilio("t1", { secrets: JSON.stringify({ authToken: "e".repeat(32) }), updatedAt: T0 + 1 });
  await t.mutation(internal.integrations.put, { integration: replaced });
  expect(await t.query(internal.integrations.get, { tenantId: "t1", name: "twilio" })).toEqual(replaced);
  expect(await t.mutation(internal.integrations.remove, { tenantId: "t2", name: "twilio" })).toBe(false);
  expect(await t.mutation(internal.integrations.remove, { tenantId: "t1", name: "twilio" })).toBe(true);
  expect(await t.mutation(internal.integrations.remove, { tenantId: "t1", name: "twilio" })).toBe(false);
  await expect(t.mutation(internal.integrations.put, { integration: twilio("t1", { secrets: "{" }) })).rejects.toThrow();
});

test("a call needs its tenant's conversation, keeps its start and goes with the conversation", async () => {
  const t = setup();
  await seedTenant(t, "t1");
  await seedTenant(t, "t2");
  await seedAgent(t, "a1", "t1");
  await seedConversation(t, "call_CA1", "t1", "a1");
  const call = {
    conversationId: "call_CA1", tenantId: "t1", agentId: "a1", callSid: "CA1", caller: "+15550100",
    callee: "+15550101", startedAt: T0, endedAt: null, outcome: null, details: "{}",
  };
  expect(await t.mutation(internal.calls.save, { call: { ...call, tenantId: "t2" } })).toBe(false);
  expect(await t.mutation(internal.calls.save, { call: { ...call, conversationId: "none" } })).toBe(false);
  expect(await t.mutation(internal.calls.save, { call })).toBe(true);
  const ended = { ...call, caller: "+1999", endedAt: T0 + 60_000, outcome: "handoff", details: '{"handoff":{}}' };
  expect(await t.mutation(internal.calls.save, { call: ended })).toBe(true);
  expect(await t.query(internal.calls.get, { tenantId: "t1", conversationId: "call_CA1" })).toEqual({ ...ended, caller: "+15550100" });
  expect(await t.query(internal.calls.get, { tenantId: "t2", conversationId: "call_CA1" })).toBeNull();
  expect(await t.mutation(internal.conversations.remove, { tenantId: "t1", conversationId: "call_CA1" })).toBe("done");
  expect(await t.query(internal.calls.get, { tenantId: "t1", conversationId: "call_CA1" })).toBeNull();
});
