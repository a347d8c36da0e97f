// Management on D1 past what the API alone makes easy. Listing pages: keys and agents that share
// a creation time, put straight into Miniflare's D1, are paged in the list order (the SQL's
// cursor conditions against the index order). Deleting a big agent or a long conversation: the worker deletes in batches of 1,000 rows
// (src/store/rows.rs DELETE_BATCH), so these hold more rows than one batch, put straight into
// Miniflare's D1, and every row of theirs (and none of another agent's) must be gone after one
// DELETE through the API.
import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { startWorker } from "../support/worker.mjs";

const ADMIN = `adm_${randomUUID()}`;
let worker;

before(async () => {
  worker = await startWorker({ ADMIN_API_KEY: ADMIN }, { store: "d1" });
});
after(async () => {
  await worker?.stop();
});

async function api(method, path, token, body) {
  const res = await fetch(`${worker.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

/** A conversation of `agentId` holding `count` messages, in two statements. */
function conversation(db, tenantId, agentId, id, count) {
  return [
    db
      .prepare("INSERT INTO conversations (id, tenant_id, agent_id, visitor_id, created_at, updated_at) VALUES (?1, ?2, ?3, 'v', 0, 0)")
      .bind(id, tenantId, agentId),
    db
      .prepare(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?3) " +
          "INSERT INTO messages (id, conversation_id, tenant_id, seq, role, parts, created_at) " +
          "SELECT 'm' || i, ?1, ?2, i, 'user', '[]', i FROM n",
      )
      .bind(id, tenantId, count),
  ];
}

const count = async (sql, ...params) => (await worker.d1.prepare(sql).bind(...params).first("n"));

test("a big agent and a long conversation are deleted in full, batch by batch, and nothing else is", async () => {
  const created = await api("POST", "/api/admin/tenants", ADMIN, { name: "Bulk Co" });
  assert.equal(created.status, 201);
  const { secretKey } = created.json;
  const tenantId = created.json.tenant.id;
  for (const id of ["big", "keep"]) {
    assert.equal((await api("POST", "/api/admin/agents", secretKey, { id, config: {} })).status, 201);
  }
  const db = worker.d1;
  await db.batch([
    ...conversation(db, tenantId, "big", "c_big_1", 2300),
    ...conversation(db, tenantId, "big", "c_big_2", 5),
    ...conversation(db, tenantId, "keep", "c_keep", 3),
    ...conversation(db, tenantId, "keep", "c_long", 1500),
  ]);
  // Conversations without messages: more than one batch of conversations too.
  for (let start = 0; start < 1200; start += 400) {
    await db.batch(Array.from({ length: 400 }, (_, j) => conversation(db, tenantId, "big", `c_empty_${start + j}`, 0)[0]));
  }
  assert.equal(await count("SELECT count(*) AS n FROM messages"), 2300 + 5 + 3 + 1500);

  assert.equal((await api("DELETE", "/api/admin/conversations/c_long", secretKey)).status, 204);
  assert.equal(await count("SELECT count(*) AS n FROM messages WHERE conversation_id = 'c_long'"), 0);
  assert.equal(await count("SELECT count(*) AS n FROM conversations WHERE id = 'c_long'"), 0);
  assert.equal((await api("DELETE", "/api/admin/conversations/c_long", secretKey)).status, 404);

  assert.equal((await api("DELETE", "/api/admin/agents/big", secretKey)).status, 204);
  assert.equal(await count("SELECT count(*) AS n FROM agents WHERE id = 'big'"), 0);
  assert.equal(await count("SELECT count(*) AS n FROM conversations WHERE agent_id = 'big'"), 0);
  assert.equal(await count("SELECT count(*) AS n FROM api_keys WHERE agent_id = 'big'"), 0);
  assert.equal(await count("SELECT count(*) AS n FROM messages"), 3, "only the kept agent's messages stay");
  assert.equal(await count("SELECT count(*) AS n FROM api_keys WHERE agent_id = 'keep'"), 1);
  const listed = await api("GET", "/api/admin/agents", secretKey);
  assert.deepEqual(listed.json.agents.map((a) => a.id), ["keep"]);
  assert.equal(listed.json.agents[0].enabled, true);
  assert.equal((await api("DELETE", "/api/admin/agents/big", secretKey)).status, 404);
});

/** Every page of a list, `limit` at a time, as ids. */
async function walk(path, field, limit, token) {
  const ids = [];
  let cursor = null;
  for (let pages = 0; pages < 50; pages++) {
    const res = await api("GET", `${path}?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, token);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    ids.push(...res.json[field].map((row) => row.id));
    cursor = res.json.nextCursor;
    if (!cursor) return ids;
  }
  throw new Error("too many pages");
}

test("keys and agents that share a time are paged in the list order", async () => {
  const created = await api("POST", "/api/admin/tenants", ADMIN, { name: "Ties Co" });
  const { secretKey } = created.json;
  const tenantId = created.json.tenant.id;
  const db = worker.d1;
  const agent = (id, at) =>
    db.prepare("INSERT INTO agents (id, tenant_id, config, created_at, updated_at) VALUES (?1, ?2, '{}', ?3, ?3)").bind(id, tenantId, at);
  const key = (id, at) =>
    db
      .prepare("INSERT INTO api_keys (id, tenant_id, kind, name, lookup, hash, masked, created_at) VALUES (?1, ?2, 'secret', ?1, ?1, ?4, ?1, ?3)")
      .bind(`key_${id}`, tenantId, at, createHash("sha256").update(`key_${id}`).digest("hex"));
  await db.batch([
    ...[["d", 1], ["b", 1], ["e", 2], ["a", 0], ["c", 1]].map(([id, at]) => agent(`ag_${id}`, at)),
    ...[["e", 3], ["a", 3], ["c", 3], ["f", 1], ["b", 7], ["g", 3], ["d", 1], ["h", 0]].map(([id, at]) => key(id, at)),
  ]);
  for (const limit of [1, 2, 3, 50]) {
    assert.deepEqual(await walk("/api/admin/agents", "agents", limit, secretKey), ["ag_a", "ag_b", "ag_c", "ag_d", "ag_e"], `limit ${limit}`);
    const keys = await walk("/api/admin/keys", "keys", limit, secretKey);
    // The tenant's first key was made now, so it is the newest.
    assert.deepEqual(keys.slice(1), ["b", "a", "c", "e", "g", "d", "f", "h"].map((id) => `key_${id}`), `limit ${limit}`);
  }
});
