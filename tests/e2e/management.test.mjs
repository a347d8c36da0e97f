// The tenant management API beyond the basics: cursor pagination, optimistic concurrency on
// agent edits, duplicating agents, trying a webhook tool, searching and deleting conversations,
// and listing feedback. Runs on D1, and on Convex with TEST_STORE=convex.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { startStandIn } from "../support/standin.mjs";
import { TEST_ORIGIN, putAgent, startWorker } from "../support/worker.mjs";
import { chat, eventually, textOf } from "../support/chat.mjs";

const ADMIN = `adm_${randomUUID()}`;
const HOOK_SECRET = `hook-${randomUUID()}`;
let standin;
let worker;
let key;
let otherKey;

async function api(method, path, { token = key, body, headers = {} } = {}) {
  const res = await fetch(`${worker.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : null };
}

async function newTenant(name) {
  const res = await api("POST", "/api/admin/tenants", { token: ADMIN, body: { name } });
  assert.equal(res.status, 201);
  return res.json.secretKey;
}

before(async () => {
  standin = await startStandIn();
  worker = await startWorker({ OPENROUTER_BASE_URL: `${standin.url}/v1`, OPENROUTER_API_KEY: "k", ADMIN_API_KEY: ADMIN, WEBHOOK_ALLOW_HOSTS: "127.0.0.1" });
  key = await newTenant("Pager Inc.");
  otherKey = await newTenant("Other Inc.");
});

after(async () => {
  await worker?.stop();
  await standin?.close();
});

/** Follows `nextCursor` through a whole listing. */
async function walk(path, field, limit, token = key) {
  const seen = [];
  let cursor = null;
  for (let pages = 0; pages < 50; pages++) {
    const sep = path.includes("?") ? "&" : "?";
    const res = await api("GET", `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { token });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.ok(res.json[field].length <= limit);
    seen.push(...res.json[field]);
    cursor = res.json.nextCursor;
    if (!cursor) return seen;
  }
  throw new Error("too many pages");
}

describe("management API", () => {
  test("lists page with cursors, without gaps or repeats, and refuse bad cursors", async () => {
    for (let i = 0; i < 5; i++) {
      assert.equal((await api("POST", "/api/admin/agents", { body: { id: `pager-${i}`, config: { model: "scenario/plain" } } })).status, 201);
    }
    const agents = await walk("/api/admin/agents", "agents", 2);
    assert.deepEqual(agents.map((a) => a.id), ["pager-0", "pager-1", "pager-2", "pager-3", "pager-4"]);
    const keys = await walk("/api/admin/keys", "keys", 2);
    assert.equal(new Set(keys.map((k) => k.id)).size, keys.length);
    assert.equal(keys.length, 6, "the first secret key and five publishable keys");
    for (const [query, field] of [["cursor=nonsense", "cursor"], ["limit=0", "limit"], ["limit=5000", "limit"]]) {
      const res = await api("GET", `/api/admin/agents?${query}`);
      assert.equal(res.status, 400);
      assert.equal(res.json.error.field, field);
    }
  });

  test("the operator's tenants list pages oldest first", async () => {
    await newTenant("Third Inc.");
    const tenants = await walk("/api/admin/tenants", "tenants", 1, ADMIN);
    const all = (await api("GET", "/api/admin/tenants?limit=200", { token: ADMIN })).json;
    assert.equal(all.nextCursor, null);
    assert.deepEqual(tenants.map((t) => t.id), all.tenants.map((t) => t.id));
    assert.deepEqual(
      tenants.map((t) => t.name).filter((n) => n.endsWith(" Inc.")),
      ["Pager Inc.", "Other Inc.", "Third Inc."],
    );
    const bad = await api("GET", "/api/admin/tenants?cursor=nonsense", { token: ADMIN });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.field, "cursor");
  });

  test("a stale agent edit is refused, never silently lost", async () => {
    await api("POST", "/api/admin/agents", { body: { id: "edited", config: { model: "scenario/plain", systemPrompt: "v1" } } });
    const loaded = await api("GET", "/api/admin/agents/edited");
    const etag = loaded.headers.get("etag");
    assert.match(etag, /^"\d+"$/);

    const unconditional = await api("PATCH", "/api/admin/agents/edited", { body: { config: { systemPrompt: "blind" } } });
    assert.equal(unconditional.status, 428);
    assert.equal(unconditional.json.error.code, "precondition_required");

    const first = await api("PATCH", "/api/admin/agents/edited", { body: { config: { systemPrompt: "v2 from tab A" } }, headers: { "if-match": etag } });
    assert.equal(first.status, 200);
    assert.notEqual(first.headers.get("etag"), etag);
    const second = await api("PATCH", "/api/admin/agents/edited", { body: { config: { systemPrompt: "v2 from tab B" } }, headers: { "if-match": etag } });
    assert.equal(second.status, 412);
    assert.equal(second.json.error.code, "stale");
    assert.equal((await api("GET", "/api/admin/agents/edited")).json.agent.config.systemPrompt, "v2 from tab A");

    const byBody = await api("PATCH", "/api/admin/agents/edited", { body: { enabled: false, expectedUpdatedAt: first.json.agent.updatedAt } });
    assert.equal(byBody.status, 200);
    assert.equal(byBody.json.agent.enabled, false);
    assert.equal((await api("PATCH", "/api/admin/agents/edited", { token: otherKey, body: { enabled: true }, headers: { "if-match": etag } })).status, 404);
  });

  test("duplicates an agent with its own key, and tries a webhook tool with its stored secret", async () => {
    const hook = { name: "lookup_order", url: `${standin.url}/hooks/order`, headers: { "x-api-key": HOOK_SECRET }, parameters: { type: "object", properties: { orderId: { type: "string" } } } };
    await api("POST", "/api/admin/agents", { body: { id: "original", config: { name: "Sales", model: "scenario/plain", tools: { webhooks: [hook] } } } });
    const copy = await api("POST", "/api/admin/agents/original/duplicate", { body: {} });
    assert.equal(copy.status, 201);
    assert.notEqual(copy.json.agent.id, "original");
    assert.equal(copy.json.agent.config.name, "Sales (copy)");
    assert.equal(copy.json.agent.publishableKeys.length, 1);
    assert.equal(copy.json.agent.config.tools.webhooks[0].headers["x-api-key"], "********");
    assert.equal((await api("POST", "/api/admin/agents/original/duplicate", { token: otherKey, body: {} })).status, 404);

    const before = standin.hooks.length;
    const tried = await api("POST", "/api/admin/agents/original/tools/lookup_order/test", { body: { input: { orderId: "A-17" } } });
    assert.equal(tried.status, 200, JSON.stringify(tried.json));
    assert.equal(tried.json.ok, true);
    assert.equal(typeof tried.json.ms, "number");
    const call = standin.hooks.slice(before).find((h) => h.path === "/hooks/order");
    assert.equal(call.headers["x-api-key"], HOOK_SECRET, "the stored secret is used");
    assert.match(call.headers["x-webhook-signature"], /^t=\d+,v1=[0-9a-f]{64}$/);

    const edited = { ...hook, headers: { "x-api-key": "********" }, url: `${standin.url}/hooks/order?edited=1` };
    const unsaved = await api("POST", "/api/admin/agents/original/tools/lookup_order/test", { body: { input: { orderId: "B-2" }, tool: edited } });
    assert.equal(unsaved.json.ok, true);
    assert.equal(standin.hooks.at(-1).headers["x-api-key"], HOOK_SECRET, "a redacted header keeps the stored value");
    const ssrf = await api("POST", "/api/admin/agents/original/tools/lookup_order/test", { body: { input: {}, tool: { ...hook, url: "https://169.254.169.254/latest" } } });
    assert.equal(ssrf.status, 400);
    assert.equal(ssrf.json.error.field, "tool.url");
    assert.equal((await api("POST", "/api/admin/agents/original/tools/nope/test", { body: { input: {} } })).status, 404);
  });

  test("searches, reads and deletes conversations; lists feedback with the question", async () => {
    const created = await api("POST", "/api/admin/agents", { body: { id: "inbox", config: { model: "scenario/plain", allowedOrigins: [TEST_ORIGIN] } } });
    const headers = { "x-publishable-key": created.json.agent.publishableKeys[0], origin: TEST_ORIGIN };
    let token;
    const ask = async (chatId, text) => {
      const result = await chat(worker.url, "inbox", { chatId, text, headers: token ? { ...headers, "x-visitor-token": token } : headers });
      token ??= result.headers.get("x-visitor-token");
      return result;
    };
    await ask("conv_boots", "Do the trail boots run small?");
    await ask("conv_tent", "How heavy is the Ridge tent?");
    await ask("conv_return", "How do I return my boots?");
    const visitor = { ...headers, "x-visitor-token": token };
    const stored = await eventually(async () => {
      const res = await api("GET", "/api/admin/conversations?agentId=inbox");
      return res.json.conversations.length === 3 && res.json;
    });
    assert.equal(stored.nextCursor, null);

    const found = await api("GET", "/api/admin/conversations?q=BOOTS");
    assert.deepEqual(found.json.conversations.map((c) => c.id).sort(), ["conv_boots", "conv_return"]);
    assert.deepEqual((await api("GET", "/api/admin/conversations?q=boots", { token: otherKey })).json.conversations, []);
    const paged = await walk("/api/admin/conversations?agentId=inbox", "conversations", 1);
    assert.deepEqual(paged.map((c) => c.id), stored.conversations.map((c) => c.id));

    for (const [chatId, rating] of [["conv_boots", "up"], ["conv_tent", "down"]]) {
      const conversation = (await api("GET", `/api/admin/conversations/${chatId}`)).json.conversation;
      const answer = conversation.messages.find((m) => m.role === "assistant");
      const res = await fetch(`${worker.url}/api/agents/inbox/conversations/${chatId}/messages/${answer.id}/feedback`, { method: "POST", headers: { ...visitor, "content-type": "application/json" }, body: JSON.stringify({ rating }) });
      assert.equal(res.status, 200);
    }
    const feedback = await api("GET", "/api/admin/feedback");
    assert.equal(feedback.json.feedback.length, 2);
    const down = await api("GET", "/api/admin/feedback?rating=down&agentId=inbox");
    assert.deepEqual(down.json.feedback.map((f) => [f.conversationId, f.rating, f.question, f.answer]), [["conv_tent", "down", "How heavy is the Ridge tent?", "Hello from the stand-in."]]);
    assert.equal((await walk("/api/admin/feedback", "feedback", 1)).length, 2);
    assert.deepEqual((await api("GET", "/api/admin/feedback", { token: otherKey })).json.feedback, []);
    assert.equal((await api("GET", "/api/admin/feedback?rating=meh")).json.error.field, "rating");

    assert.equal((await api("DELETE", "/api/admin/conversations/conv_tent", { token: otherKey })).status, 404, "another tenant cannot delete it");
    assert.equal((await api("DELETE", "/api/admin/conversations/conv_tent")).status, 204);
    assert.equal((await api("GET", "/api/admin/conversations/conv_tent")).status, 404);
    const visitorView = await fetch(`${worker.url}/api/agents/inbox/conversations/conv_tent`, { headers: visitor });
    assert.equal(visitorView.status, 404, "the visitor no longer sees it either");
    assert.equal((await api("DELETE", "/api/admin/conversations/conv_tent")).status, 404);
  });

  test("lists each conversation with its inbox summary, filters it, and marks previews only for secret-key holders", async () => {
    const created = await api("POST", "/api/admin/agents", { body: { id: "summary", config: { model: "scenario/plain", allowedOrigins: [TEST_ORIGIN] } } });
    const pk = created.json.agent.publishableKeys[0];
    let token;
    /** One raw turn (the widget's body shape), read to the end. */
    const turn = async (id, text, extra = {}, headers = {}) => {
      const res = await fetch(`${worker.url}/api/agents/summary/chat`, {
        method: "POST",
        headers: { "x-publishable-key": pk, origin: TEST_ORIGIN, "content-type": "application/json", ...(token ? { "x-visitor-token": token } : {}), ...headers },
        body: JSON.stringify({ id, messages: [{ id: `u_${randomUUID()}`, role: "user", parts: [{ type: "text", text }] }], ...extra }),
      });
      assert.equal(res.status, 200);
      token ??= res.headers.get("x-visitor-token");
      await res.text();
    };
    await turn("sum_web", "Where is my **order**?", { channel: "widget", context: { url: "https://shop.example/orders", title: "Orders" } });
    await turn("sum_web", "And the invoice?", { channel: "widget", context: { url: "https://shop.example/other" } });
    await turn("sum_preview", "Testing the preview", { channel: "inline", preview: true }, { authorization: `Bearer ${key}` });
    await turn("sum_forged", "I am not the tenant", { preview: true });
    await turn("sum_other_key", "Another tenant's key", { preview: true }, { authorization: `Bearer ${otherKey}` });
    const list = async (query = "") => (await api("GET", `/api/admin/conversations?agentId=summary${query}`)).json.conversations;
    const all = await eventually(async () => {
      const rows = await list();
      return rows.length === 4 && rows.every((r) => r.messageCount >= 2) && rows;
    });
    const byId = Object.fromEntries(all.map((c) => [c.id, c]));
    assert.deepEqual(
      { ...byId.sum_web, createdAt: 0, updatedAt: 0, visitorId: null },
      { id: "sum_web", agentId: "summary", visitorId: null, createdAt: 0, updatedAt: 0, match: null, firstMessage: "Where is my **order**?", messageCount: 4, rating: null, status: "complete", pageUrl: "https://shop.example/orders", channel: "widget", preview: false },
    );
    assert.equal(byId.sum_preview.preview, true, "the dashboard's preview, with the tenant's secret key");
    assert.equal(byId.sum_preview.channel, "inline");
    assert.equal(byId.sum_forged.preview, false, "a visitor cannot mark a preview");
    assert.equal(byId.sum_forged.channel, null);
    assert.equal(byId.sum_other_key.preview, false, "nor can another tenant's key");

    const conversation = (await api("GET", "/api/admin/conversations/sum_web")).json.conversation;
    const answer = conversation.messages.find((m) => m.role === "assistant");
    const rated = await fetch(`${worker.url}/api/agents/summary/conversations/sum_web/messages/${answer.id}/feedback`, {
      method: "POST",
      headers: { "x-publishable-key": pk, origin: TEST_ORIGIN, "x-visitor-token": token, "content-type": "application/json" },
      body: JSON.stringify({ rating: "down" }),
    });
    assert.equal(rated.status, 200);
    const ids = async (query) => (await list(query)).map((c) => c.id).sort();
    assert.deepEqual(await ids("&rating=down"), ["sum_web"]);
    assert.deepEqual(await ids("&rating=up"), []);
    assert.deepEqual(await ids("&channel=widget"), ["sum_web"]);
    assert.deepEqual(await ids("&preview=true"), ["sum_preview"]);
    assert.deepEqual(await ids("&preview=false"), ["sum_forged", "sum_other_key", "sum_web"]);
    assert.deepEqual(await ids("&status=complete&preview=false&q=invoice"), ["sum_web"]);
    assert.equal((await list("&q=INVOICE"))[0].match, "And the invoice?", "the matched text, from the message that has it");
    assert.equal(byId.sum_web.match, null, "no search, no match");
    assert.deepEqual(await ids("&status=error"), []);
    for (const [name, value] of [["rating", "meh"], ["status", "done"], ["preview", "maybe"], ["channel", "Not OK"]]) {
      const res = await api("GET", `/api/admin/conversations?${name}=${encodeURIComponent(value)}`);
      assert.equal(res.status, 400);
      assert.equal(res.json.error.field, name);
    }
  });
});

describe("the chat and admin workers", () => {
  test("the chat worker alone says the admin worker is missing, and still chats", async () => {
    const alone = await startWorker({ OPENROUTER_BASE_URL: `${standin.url}/v1`, OPENROUTER_API_KEY: "k", ADMIN_API_KEY: ADMIN }, { admin: false });
    try {
      for (const [method, path] of [["GET", "/api/admin/tenant"], ["POST", "/api/admin/tenants"], ["GET", "/api/admin/knowledge-bases"]]) {
        const res = await fetch(`${alone.url}${path}`, { method, headers: { authorization: `Bearer ${ADMIN}` }, body: method === "POST" ? "{}" : undefined });
        assert.equal(res.status, 503, path);
        const { error } = await res.json();
        assert.equal(error.code, "not_configured");
        assert.match(error.message, /admin worker.*`ADMIN` service binding/);
      }
      assert.equal((await fetch(`${alone.url}/api/health`)).status, 200);
      await putAgent(alone.db, { id: "alone", config: { model: "scenario/plain" } });
      const turn = await chat(alone.url, "alone", { text: "Hello" });
      assert.deepEqual(turn.errors, []);
      assert.ok(textOf(turn.message).length > 0, "the chat path needs no admin worker");
    } finally {
      await alone.stop();
    }
  });

  test("a body over the admin worker's largest is refused by the chat worker with 413, and the connection stays usable", async () => {
    const big = "x".repeat(10 * 1024 * 1024 + 100 * 1024);
    const res = await api("POST", "/api/admin/knowledge-bases", { body: { name: big } });
    assert.equal(res.status, 413);
    assert.equal(res.json.error.code, "payload_too_large");
    assert.equal((await api("GET", "/api/admin/tenant")).status, 200);
  });
});
