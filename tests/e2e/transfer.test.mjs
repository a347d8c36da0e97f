// Moving between stores: data made through the worker on D1 is exported, imported into Convex
// (the local stand-in running the project's convex/ functions), exported again, imported into a
// fresh D1, and nothing changes on the way. A worker on the Convex copy serves the same history.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { exportConvex, exportD1, importConvex, importD1 } from "../../scripts/transfer.mjs";
import { startStandIn } from "../support/standin.mjs";
import { startConvexStandIn } from "../support/convex-standin.mjs";
import { startEmbeddings } from "../support/embeddings.mjs";
import { TEST_ORIGIN, convexClient, startWorker } from "../support/worker.mjs";
import { chat, eventually } from "../support/chat.mjs";

const ADMIN = `adm_${randomUUID()}`;
const DEPLOY_KEY = `transfer-test|${randomUUID()}`;
let standin;
let source;
let convex;
let copy;
let fresh;
let embeddings;

before(async () => {
  [standin, embeddings] = await Promise.all([startStandIn(), startEmbeddings()]);
  // Real embeddings, so knowledge chunks carry vectors across the move.
  const embedding = { EMBEDDINGS_BASE_URL: embeddings.url, EMBEDDINGS_MODEL: "multilingual-e5-small", EMBEDDINGS_INPUT_TYPE: "true" };
  source = await startWorker({ OPENROUTER_BASE_URL: `${standin.url}/v1`, OPENROUTER_API_KEY: "k", ADMIN_API_KEY: ADMIN, ...embedding }, { store: "d1" });
  convex = await startConvexStandIn({ deployKey: DEPLOY_KEY });
  copy = await startWorker({ OPENROUTER_BASE_URL: `${standin.url}/v1`, OPENROUTER_API_KEY: "k", CONVEX_URL: convex.url, CONVEX_DEPLOY_KEY: DEPLOY_KEY, ...embedding }, { store: "d1" });
  fresh = await startWorker({}, { store: "d1" });
});

after(async () => {
  for (const server of [source, copy, fresh]) await server?.stop();
  await convex?.close();
  await standin?.close();
  await embeddings?.close();
});

const sortRows = (data) =>
  Object.fromEntries(Object.entries(data.tables).map(([table, rows]) => [table, [...rows].map((r) => JSON.stringify(Object.fromEntries(Object.entries(r).sort()))).sort()]));

test("D1 → JSON → Convex → JSON → D1 keeps every row, and the Convex copy serves the same history", async () => {
  const post = (path, key, body) =>
    fetch(`${source.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(body) }).then((r) => r.json());
  const created = await post("/api/admin/tenants", ADMIN, { name: "Moving Co", monthlySpendCap: 12.5 });
  const agent = await post("/api/admin/agents", created.secretKey, { id: "mover", config: { model: "scenario/plain", allowedOrigins: [TEST_ORIGIN], welcomeMessage: "Hi" } });
  const twilio = await fetch(`${source.url}/api/admin/integrations/twilio`, {
    method: "PUT",
    headers: { authorization: `Bearer ${created.secretKey}`, "content-type": "application/json" },
    body: JSON.stringify({ accountSid: `AC${"0a".repeat(16)}`, authToken: "0123456789abcdef0123456789abcdef" }),
  });
  assert.equal(twilio.status, 200);
  const headers = { "x-publishable-key": agent.agent.publishableKeys[0], origin: TEST_ORIGIN };
  const first = await chat(source.url, "mover", { chatId: "chat_move", text: "first", headers });
  const token = first.headers.get("x-visitor-token");
  const mine = { ...headers, "x-visitor-token": token };
  await eventually(async () => (await (await fetch(`${source.url}/api/agents/mover/conversations/chat_move`, { headers: mine })).json()).messages?.length === 2);
  await chat(source.url, "mover", { chatId: "chat_move", text: "second", headers: mine });
  const history = await eventually(async () => {
    const body = await (await fetch(`${source.url}/api/agents/mover/conversations/chat_move`, { headers: mine })).json();
    return body.messages?.length === 4 && body;
  });
  const answerId = history.messages[1].id;
  await fetch(`${source.url}/api/agents/mover/conversations/chat_move/messages/${answerId}/feedback`, { method: "POST", headers: { ...mine, "content-type": "application/json" }, body: JSON.stringify({ rating: "up" }) });

  // A knowledge base with one ingested source: its chunk, text index and vector move too.
  const kb = await post("/api/admin/knowledge-bases", created.secretKey, { name: "Help" });
  const baseId = kb.knowledgeBase.id;
  const added = await post(`/api/admin/knowledge-bases/${baseId}/sources`, created.secretKey, { type: "text", title: "Returns", text: "Lamps can be returned within 30 days of delivery." });
  await eventually(async () => {
    const got = await (await fetch(`${source.url}/api/admin/knowledge-bases/${baseId}/sources/${added.source.id}`, { headers: { authorization: `Bearer ${created.secretKey}` } })).json();
    return got.source?.status === "ready";
  });
  const search = async (worker, query) =>
    (await fetch(`${worker.url}/api/admin/knowledge-bases/${baseId}/search`, { method: "POST", headers: { authorization: `Bearer ${created.secretKey}`, "content-type": "application/json" }, body: JSON.stringify({ query, topK: 3 }) }).then((r) => r.json())).hits ?? [];

  const fromD1 = await exportD1(source.d1);
  assert.equal(fromD1.tables.knowledgeBases.length, 1);
  assert.equal(fromD1.tables.knowledgeSources[0].status, "ready");
  assert.equal(fromD1.tables.knowledgeChunks.length, 1);
  assert.equal(fromD1.tables.knowledgeChunks[0].vector.length, 384, "the chunk's embedding, as numbers");
  assert.equal(fromD1.tables.messages.length, 4);
  assert.deepEqual(fromD1.tables.usageDaily.map((u) => u.agentId).sort(), ["knowledge:embeddings", "mover"], "the agent's usage and the ingestion's embeddings");
  assert.equal(fromD1.tables.apiKeys.length, 2, "the first secret key and the agent's publishable key");
  assert.equal(fromD1.tables.integrations.length, 1, "the tenant's Twilio credentials move too");

  const client = convexClient(convex.url, DEPLOY_KEY);
  assert.equal(await importConvex(client, fromD1), Object.values(fromD1.tables).reduce((n, rows) => n + rows.length, 0));
  const fromConvex = await exportConvex(client);
  assert.deepEqual(sortRows(fromConvex), sortRows(fromD1), "Convex holds exactly what D1 held");

  await importD1(fresh.d1, fromConvex);
  assert.deepEqual(sortRows(await exportD1(fresh.d1)), sortRows(fromD1), "and back to D1 unchanged");

  // The worker on the Convex copy knows the agent, the key and the visitor's conversation.
  const served = await (await fetch(`${copy.url}/api/agents/mover/conversations/chat_move`, { headers: mine })).json();
  assert.equal(served.id, "chat_move");
  assert.deepEqual(served.messages.map((m) => m.parts), history.messages.map((m) => m.parts));
  assert.deepEqual(served.messages.map((m) => [m.id, m.role, m.metadata.feedback ?? null]), history.messages.map((m, i) => [m.id, m.role, i === 1 ? "up" : null]));
  const health = await (await fetch(`${copy.url}/api/health`)).json();
  assert.equal(health.store, "convex");
  // Knowledge is searchable where it arrived: on Convex by meaning (its vector index), and on
  // the fresh D1 by its words (the FTS5 index rebuilt as the chunk was inserted).
  assert.match((await search(copy, "How long do I have to send a lamp back?"))[0]?.text ?? "", /30 days/);
  assert.match((await search(fresh, "lamps returned"))[0]?.text ?? "", /30 days/);
});
