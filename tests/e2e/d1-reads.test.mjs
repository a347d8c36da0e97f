// Per-turn reads on D1 stay constant as a conversation and a tenant grow: the statements the
// worker runs for a turn's context and writes (src/store/sql/, included by src/store/rows.rs)
// run here against a real D1 (Miniflare's, migrated from migrations/), and D1's own
// `meta.rows_read` is compared for a small and a large conversation and tenant.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startD1 } from "../support/worker.mjs";

const root = new URL("../..", import.meta.url).pathname;
const sql = (name) => readFileSync(join(root, "src/store/sql", `${name}.sql`), "utf8");
const HISTORY = 60; // agent::context::MAX_HISTORY_MESSAGES, what the worker asks for.

let d1;
before(async () => {
  d1 = await startD1("00000000-0000-4000-8000-0000000000d1");
});
after(async () => {
  await d1?.stop();
});

/** A fresh tenant `tenant` with `agents` agents (usage on `days` days) and a conversation of `messages`. */
async function grow(db, tenant, { agents, days, messages }) {
  const numbers = "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?2)";
  const dayNumbers = "WITH RECURSIVE d(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM d WHERE j < ?3)";
  await db.batch([
    db.prepare("INSERT INTO tenants (id, name, created_at) VALUES (?1, ?1, 0)").bind(tenant),
    db.prepare(`${numbers} INSERT INTO agents (id, tenant_id, config, created_at, updated_at) SELECT ?1 || '-a' || i, ?1, '{}', 0, 0 FROM n`).bind(tenant, agents),
    db
      .prepare(
        `${numbers}, ${dayNumbers.slice("WITH RECURSIVE ".length)} INSERT INTO usage_daily (tenant_id, agent_id, day, messages, cost) ` +
          "SELECT ?1, ?1 || '-a' || i, printf('2026-02-%02d', j), 1, 0.25 FROM n, d",
      )
      .bind(tenant, agents, days),
    db
      .prepare(`${numbers} INSERT INTO usage_monthly (tenant_id, agent_id, month, messages, cost) SELECT ?1, ?1 || '-a' || i, '2026-02', ?3, ?3 * 0.25 FROM n`)
      .bind(tenant, agents, days),
    db.prepare("INSERT INTO usage_monthly (tenant_id, agent_id, month, messages, cost) VALUES (?1, '', '2026-02', ?2, ?2 * 0.25)").bind(tenant, agents * days),
    db.prepare("INSERT INTO conversations (id, tenant_id, agent_id, visitor_id, created_at, updated_at) VALUES (?1 || '-c', ?1, ?1 || '-a0', 'v', 0, 0)").bind(tenant),
    db
      .prepare(
        `${numbers} INSERT INTO messages (id, conversation_id, tenant_id, seq, role, parts, created_at) ` +
          "SELECT 'm' || (i + 1), ?1 || '-c', ?1, i + 1, CASE WHEN i % 2 = 0 THEN 'user' ELSE 'assistant' END, '[]', 0 FROM n",
      )
      .bind(tenant, messages),
  ]);
}

/** The turn's one batch, as `D1Store::turn_context` binds it; rows read per statement. */
async function turn(db, tenant, { agent = `${tenant}-a0`, resent = null } = {}) {
  const conversation = `${tenant}-c`;
  const scope = [conversation, tenant, agent, resent];
  const results = await db.batch([
    db.prepare(sql("turn_spend")).bind(tenant, agent, "2026-02"),
    db.prepare(sql("turn_conversation")).bind(...scope.slice(0, 3)),
    db.prepare(sql("turn_resent")).bind(...scope),
    db.prepare(sql("turn_window")).bind(...scope, HISTORY),
  ]);
  return {
    reads: results.map((r) => r.meta.rows_read),
    total: results.reduce((n, r) => n + r.meta.rows_read, 0),
    spend: results[0].results[0],
    conversation: results[1].results[0],
    resent: results[2].results[0] ?? null,
    window: results[3].results.map((m) => m.seq),
  };
}

test("a turn's context reads the same rows for 61 or 500 messages and 2 or 200 agents", async () => {
  const { db } = d1;
  await grow(db, "small", { agents: 2, days: 2, messages: 5 });
  await grow(db, "full", { agents: 2, days: 2, messages: HISTORY + 1 });
  await grow(db, "large", { agents: 200, days: 28, messages: 500 });

  const small = await turn(db, "small");
  const full = await turn(db, "full");
  const large = await turn(db, "large");
  assert.deepEqual(small.window, [1, 2, 3, 4, 5]);
  assert.deepEqual(large.window, Array.from({ length: HISTORY }, (_, i) => 500 - HISTORY + 1 + i));
  assert.equal(large.conversation.message_count, 500);
  assert.deepEqual(large.spend, { tenant: 200 * 28 * 0.25, agent: 28 * 0.25 });
  assert.deepEqual(small.spend, { tenant: 1, agent: 0.5 });
  assert.deepEqual(large.reads, full.reads, `rows read per statement: ${large.reads} vs ${full.reads}`);
  assert.ok(small.total <= full.total, `${small.total} <= ${full.total}`);
  // The spend and the conversation row cost the same whatever the size; only the window
  // (bounded by the history limit) differs between 5 and 61 messages.
  assert.deepEqual(small.reads.slice(0, 3), large.reads.slice(0, 3));
  assert.ok(large.total <= 2 * HISTORY + 10, `a turn reads ${large.total} rows (${large.reads})`);
  console.log(`# D1 rows_read per turn: small ${small.total} (${small.reads}), large ${large.total} (${large.reads})`);

  // Regenerating an early answer: the window ends at the resent user message, same cost.
  const early = await turn(db, "large", { resent: "m101" });
  assert.deepEqual(early.resent, { seq: 101, role: "user" });
  assert.deepEqual(early.window.at(-1), 101);
  assert.equal(early.window.length, HISTORY);
  const earlyFull = await turn(db, "full", { resent: "m61" });
  assert.deepEqual(early.reads, earlyFull.reads);

  // Another tenant's or agent's conversation: its row comes back for the glue to call it
  // foreign, but nothing of its messages is read or returned.
  const foreign = await turn(db, "large", { agent: "large-a1", resent: "m101" });
  assert.equal(foreign.conversation.message_count, null);
  assert.equal(foreign.resent, null);
  assert.deepEqual(foreign.window, []);
});

/** The writes `D1Store::begin_turn` adds to the turn's batch for visitor `v`'s question `id`
 * (bound in `rows::eager_params` order), with both caps set so the spend checks run. */
function eagerWrites(db, tenant, id) {
  const conversation = `${tenant}-c`;
  const agent = `${tenant}-a0`;
  const [max, tenantCap, agentCap, month, now] = [10_000, 1e9, 1e9, "2026-02", 1_000];
  return [
    db.prepare(sql("eager_conversation")).bind(conversation, tenant, agent, "v", now, null, "widget", 0, max, tenantCap, agentCap, month),
    db
      .prepare(sql("eager_message"))
      .bind(id, conversation, tenant, "user", '[{"type":"text","text":"Hi"}]', "complete", null, null, 0, 0, 0, null, now, null, agent, "v", max, tenantCap, agentCap, month),
    db.prepare(sql("eager_touch")).bind(conversation, now, tenant, agent, "v", id),
  ];
}

test("a turn's question, stored in the same batch as its reads, reads the same rows for 61 or 500 messages", async () => {
  const { db } = d1;
  await grow(db, "eager-full", { agents: 2, days: 2, messages: HISTORY + 1 });
  await grow(db, "eager-large", { agents: 200, days: 28, messages: 500 });
  const run = async (tenant) => {
    const results = await db.batch(eagerWrites(db, tenant, "q1"));
    // D1 counts the search index's rows (written by triggers) in a message's changes.
    return { reads: results.map((r) => r.meta.rows_read), changes: results.map((r) => Math.sign(r.meta.changes)) };
  };
  const full = await run("eager-full");
  const large = await run("eager-large");
  // Conversation exists (not created), question appended, conversation touched.
  assert.deepEqual(full.changes, [0, 1, 1]);
  assert.deepEqual(large.changes, [0, 1, 1]);
  assert.deepEqual(large.reads, full.reads, `rows read per statement: ${large.reads} vs ${full.reads}`);
  const total = large.reads.reduce((a, b) => a + b, 0);
  assert.ok(total <= 20, `the eager writes read ${total} rows (${large.reads})`);
  console.log(`# D1 rows_read of the eager writes: ${total} (${large.reads})`);
  // Run again (a retried batch): the question is already there, nothing changes.
  assert.deepEqual((await run("eager-large")).changes, [0, 0, 1]);
  const seqs = await db.prepare("SELECT seq FROM messages WHERE conversation_id = 'eager-large-c' AND id = 'q1'").all();
  assert.deepEqual(seqs.results, [{ seq: 501 }]);

  // The answer after it (append_message.sql, as D1Store::append_answer binds it) reads as little.
  const answer = async (tenant) =>
    (
      await db
        .prepare(sql("append_message"))
        .bind("r1", `${tenant}-c`, tenant, "assistant", "[]", "complete", "m/x", "stop", 1, 1, 0, null, 1_001, null)
        .run()
    ).meta.rows_read;
  const [answerFull, answerLarge] = [await answer("eager-full"), await answer("eager-large")];
  assert.equal(answerLarge, answerFull, `an answer reads ${answerLarge} rows after 500 messages, ${answerFull} after 61`);
  assert.ok(answerLarge <= 5, `an answer reads ${answerLarge} rows`);
});
