// Data lifecycle (#19): a tenant's retention setting through the management API, the scheduled
// retention sweep (the worker's real scheduled event), and erasing and exporting one end user.
// Runs on D1, and on Convex with TEST_STORE=convex.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { startStandIn } from "../support/standin.mjs";
import { startWorker } from "../support/worker.mjs";

const ADMIN = `adm_${randomUUID()}`;
const DAY = 86_400_000;
let standin;
let worker;
/** Two tenants: `{id, key, pk}` (pk: their agent's publishable key). */
const a = {};
const b = {};

async function api(method, path, { token = a.key, body } = {}) {
  const res = await fetch(`${worker.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

async function newTenant(into, name, agentId) {
  const created = await api("POST", "/api/admin/tenants", { token: ADMIN, body: { name } });
  assert.equal(created.status, 201);
  into.id = created.json.tenant.id;
  into.key = created.json.secretKey;
  into.agent = agentId;
  const agent = await api("POST", "/api/admin/agents", { token: into.key, body: { id: agentId, config: { model: "scenario/plain" } } });
  assert.equal(agent.status, 201);
  into.pk = agent.json.agent.publishableKeys[0];
}

/**
 * Stores a conversation of `visitor` last active at `at` (a question and an answer rated up,
 * with a timing summary) straight into the store, as chat turns would have written it.
 */
async function putConversation(tenant, id, visitor, at, { call = false } = {}) {
  const parts = (text) => JSON.stringify([{ type: "text", text }]);
  const timing = JSON.stringify({ totalMs: 12 });
  if (worker.db.convex) {
    const c = worker.db.convex;
    const message = { conversationId: id, tenantId: tenant.id, parts: parts(`question ${id}`), status: "complete", model: null, finishReason: null, inputTokens: 0, outputTokens: 0, cost: 0, error: null, feedback: null, createdAt: at };
    await c.mutation("conversations:startTurn", {
      conversation: { id, tenantId: tenant.id, agentId: tenant.agent, visitorId: visitor, createdAt: at, updatedAt: at, pageUrl: null, channel: call ? "phone" : "widget", preview: false },
      create: true,
      replaceAfter: null,
      userMessage: { ...message, id: `${id}-q`, role: "user" },
    });
    await c.mutation("messages:appendAnswer", {
      message: { ...message, id: `${id}-a`, role: "assistant", parts: parts(`answer ${id}`), model: "scenario/plain", finishReason: "stop", feedback: "up", timing },
      agentId: tenant.agent,
      day: "2026-01-01",
    });
    if (call) {
      await c.mutation("calls:save", { call: { conversationId: id, tenantId: tenant.id, agentId: tenant.agent, callSid: `CA${id}`, caller: visitor, callee: "+15550100", startedAt: at, endedAt: at + 1000, outcome: "completed", details: "{}" } });
    }
    return;
  }
  const db = worker.d1;
  await db
    .prepare("INSERT INTO conversations (id, tenant_id, agent_id, visitor_id, created_at, updated_at, channel) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)")
    .bind(id, tenant.id, tenant.agent, visitor, at, call ? "phone" : "widget")
    .run();
  await db
    .prepare("INSERT INTO messages (id, conversation_id, tenant_id, seq, role, parts, created_at) VALUES (?1, ?2, ?3, 1, 'user', ?4, ?5)")
    .bind(`${id}-q`, id, tenant.id, parts(`question ${id}`), at)
    .run();
  await db
    .prepare("INSERT INTO messages (id, conversation_id, tenant_id, seq, role, parts, model, finish_reason, created_at, feedback, feedback_at, timing) VALUES (?1, ?2, ?3, 2, 'assistant', ?4, 'scenario/plain', 'stop', ?5, 'up', ?5, ?6)")
    .bind(`${id}-a`, id, tenant.id, parts(`answer ${id}`), at, timing)
    .run();
  if (call) {
    await db
      .prepare("INSERT INTO calls (conversation_id, tenant_id, agent_id, call_sid, caller, callee, started_at, ended_at, outcome) VALUES (?1, ?2, ?3, ?4, ?5, '+15550100', ?6, ?7, 'completed')")
      .bind(id, tenant.id, tenant.agent, `CA${id}`, visitor, at, at + 1000)
      .run();
  }
}

/** How many messages and call records of conversation `id` the store still holds. */
async function leftovers(id) {
  if (worker.db.convex) {
    const got = await worker.db.convex.query("conversations:get", { tenantId: a.id, conversationId: id });
    const call = await worker.db.convex.query("calls:get", { tenantId: a.id, conversationId: id });
    return { messages: got?.messages.length ?? 0, calls: call ? 1 : 0 };
  }
  const count = async (sql) => (await worker.d1.prepare(sql).bind(id).first()).n;
  return { messages: await count("SELECT count(*) AS n FROM messages WHERE conversation_id = ?1"), calls: await count("SELECT count(*) AS n FROM calls WHERE conversation_id = ?1") };
}

const conversationStatus = async (tenant, id) => (await api("GET", `/api/admin/conversations/${id}`, { token: tenant.key })).status;

before(async () => {
  standin = await startStandIn();
  worker = await startWorker({ OPENROUTER_BASE_URL: `${standin.url}/v1`, OPENROUTER_API_KEY: "k", ADMIN_API_KEY: ADMIN });
  await newTenant(a, "Keeps 30 days", "priv-a");
  await newTenant(b, "Keeps everything", "priv-b");
});

after(async () => {
  await worker?.stop();
  await standin?.close();
});

describe("data lifecycle", () => {
  test("a tenant reads and sets its retention; bad values and other fields are refused", async () => {
    const me = await api("GET", "/api/admin/tenant");
    assert.equal(me.status, 200);
    assert.equal(me.json.tenant.retentionDays, null);
    for (const [body, field] of [[{ retentionDays: 0 }, "retentionDays"], [{ retentionDays: 3651 }, "retentionDays"], [{ retentionDays: 7.5 }, "retentionDays"], [{ retentionDays: "30" }, "retentionDays"], [{}, "retentionDays"], [{ retentionDays: 30, status: "active" }, "status"]]) {
      const res = await api("PATCH", "/api/admin/tenant", { body });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.json.error.field, field, JSON.stringify(body));
    }
    const set = await api("PATCH", "/api/admin/tenant", { body: { retentionDays: 30 } });
    assert.equal(set.status, 200);
    assert.equal(set.json.tenant.retentionDays, 30);
    assert.equal(typeof set.json.tenant.spendThisMonth, "number");
    assert.equal((await api("GET", "/api/admin/tenant")).json.tenant.retentionDays, 30);
    // The operator sees it too; tenant B's stays unset.
    assert.equal((await api("GET", `/api/admin/tenants/${a.id}`, { token: ADMIN })).json.tenant.retentionDays, 30);
    assert.equal((await api("GET", "/api/admin/tenant", { token: b.key })).json.tenant.retentionDays, null);
    assert.equal((await api("PATCH", "/api/admin/tenant", { token: a.pk, body: { retentionDays: 1 } })).status, 401, "publishable keys are refused");
  });

  test("the scheduled sweep deletes conversations past the retention and keeps recent ones and other tenants'", async () => {
    const now = Date.now();
    await putConversation(a, "a-old", "v_old", now - 31 * DAY, { call: true });
    await putConversation(a, "a-older", "v_old", now - 400 * DAY);
    await putConversation(a, "a-recent", "v_old", now - 29 * DAY);
    await putConversation(b, "b-old", "v_old", now - 400 * DAY);
    assert.deepEqual(await leftovers("a-old"), { messages: 2, calls: 1 });
    await worker.scheduled();
    assert.equal(await conversationStatus(a, "a-old"), 404);
    assert.equal(await conversationStatus(a, "a-older"), 404);
    assert.deepEqual(await leftovers("a-old"), { messages: 0, calls: 0 }, "messages and the call record go too");
    assert.equal(await conversationStatus(a, "a-recent"), 200);
    assert.equal(await conversationStatus(b, "b-old"), 200, "a tenant without retention keeps everything");
    // Once B sets a retention, the next run applies it.
    assert.equal((await api("PATCH", "/api/admin/tenant", { token: b.key, body: { retentionDays: 365 } })).status, 200);
    await worker.scheduled();
    assert.equal(await conversationStatus(b, "b-old"), 404);
    assert.equal(await conversationStatus(a, "a-recent"), 200);
    // Cleanup for the next test: keep forever again.
    assert.equal((await api("PATCH", "/api/admin/tenant", { token: b.key, body: { retentionDays: null } })).json.tenant.retentionDays, null);
  });

  test("an end user's data is exported a page at a time, and erased with counts, in one tenant only", async () => {
    const now = Date.now();
    for (let i = 0; i < 3; i++) await putConversation(a, `ann-${i}`, "u:ann", now - 1000 + i);
    await putConversation(a, "ann-phone", "u:ann", now - 2000, { call: true });
    await putConversation(a, "bob-1", "v_bob", now);
    await putConversation(b, "ann-at-b", "u:ann", now);

    const seen = [];
    let cursor = null;
    for (let pages = 0; pages < 10; pages++) {
      const res = await api("GET", `/api/admin/end-users/export?userId=ann&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.equal(res.json.visitorId, "u:ann");
      assert.equal(typeof res.json.exportedAt, "number");
      assert.ok(res.json.conversations.length <= 2);
      for (const c of res.json.conversations) {
        assert.equal(c.visitorId, "u:ann");
        assert.deepEqual(c.messages.map((m) => m.role), ["user", "assistant"]);
        assert.equal(c.messages[1].metadata.feedback, "up");
        assert.equal(c.messages[1].metadata.timing.totalMs, 12);
        if (c.id === "ann-phone") assert.equal(c.call.callSid, "CAann-phone");
        seen.push(c.id);
      }
      cursor = res.json.nextCursor;
      if (!cursor) break;
    }
    assert.deepEqual(seen, ["ann-2", "ann-1", "ann-0", "ann-phone"], "newest first, no repeats, none of tenant B's");
    const byVisitorId = await api("GET", `/api/admin/end-users/export?visitorId=${encodeURIComponent("u:ann")}&limit=20`);
    assert.equal(byVisitorId.json.conversations.length, 4);
    for (const [query, field] of [["", "visitorId"], ["?visitorId=v&userId=u", "userId"], ["?userId=ann&limit=21", "limit"], ["?userId=ann&cursor=nonsense", "cursor"]]) {
      const res = await api("GET", `/api/admin/end-users/export${query}`);
      assert.equal(res.status, 400, query);
      assert.equal(res.json.error.field, field, query);
    }

    for (const [body, field] of [[{}, "visitorId"], [{ userId: "ann", visitorId: "u:ann" }, "userId"], [{ userId: 5 }, "userId"], [{ everyone: true }, "everyone"]]) {
      const res = await api("POST", "/api/admin/end-users/erase", { body });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.json.error.field, field, JSON.stringify(body));
    }
    const erased = await api("POST", "/api/admin/end-users/erase", { body: { userId: "ann" } });
    assert.equal(erased.status, 200, JSON.stringify(erased.json));
    assert.deepEqual(erased.json, { visitorId: "u:ann", deleted: { conversations: 4, messages: 8, feedback: 4 }, complete: true });
    assert.deepEqual(await leftovers("ann-phone"), { messages: 0, calls: 0 });
    assert.deepEqual((await api("GET", "/api/admin/end-users/export?userId=ann")).json.conversations, []);
    assert.equal(await conversationStatus(a, "bob-1"), 200, "other end users stay");
    assert.equal(await conversationStatus(b, "ann-at-b"), 200, "the same user at another tenant stays");
    const again = await api("POST", "/api/admin/end-users/erase", { body: { visitorId: "u:ann" } });
    assert.deepEqual(again.json.deleted, { conversations: 0, messages: 0, feedback: 0 });
    // Rated answers of the erased user are gone from the feedback list too.
    const feedback = await api("GET", "/api/admin/feedback");
    assert.ok(feedback.json.feedback.every((f) => !f.conversationId.startsWith("ann-")));
  });
});
