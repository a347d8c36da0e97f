// A turn's D1 writes are safe to repeat: the statements the worker batches for an answer and
// for a user message (src/store/sql/{add_daily_usage,add_monthly_usage,append_message}.sql,
// included by src/store/rows.rs) run twice against Miniflare's D1 (migrated from
// migrations/), as a retry after a write whose answer was lost would, and change things once.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startD1 } from "../support/worker.mjs";

const root = new URL("../..", import.meta.url).pathname;
const sql = (name) => readFileSync(join(root, "src/store/sql", `${name}.sql`), "utf8");

let d1;
let db;
before(async () => {
  d1 = await startD1("00000000-0000-4000-8000-0000000000d3");
  db = d1.db;
  await db.batch([
    db.prepare("INSERT INTO tenants (id, name, created_at) VALUES ('t1', 't1', 0)"),
    db.prepare("INSERT INTO agents (id, tenant_id, config, created_at, updated_at) VALUES ('a1', 't1', '{}', 0, 0)"),
    db.prepare("INSERT INTO conversations (id, tenant_id, agent_id, visitor_id, created_at, updated_at) VALUES ('c1', 't1', 'a1', 'v', 0, 0)"),
  ]);
});
after(async () => {
  await d1?.stop();
});

/** `rows::message_params` order. */
const message = (id, role, cost = 0) => [id, "c1", "t1", role, '[{"type":"text","text":"x"}]', "complete", null, null, 3, 4, cost, null, 1, role === "assistant" ? `{"totalMs":${id.length}}` : null];
/** `rows::usage_params` order. */
const usage = (answer, cost) => ["t1", "a1", "2026-02-03", 3, 4, cost, ...(answer ? ["c1", answer] : [null, null])];

/** `D1Store::append_answer`'s batch: usage first (guarded by the answer's absence), then the answer. */
const appendAnswer = (id, cost) =>
  db.batch([db.prepare(sql("add_daily_usage")).bind(...usage(id, cost)), db.prepare(sql("add_monthly_usage")).bind(...usage(id, cost)), db.prepare(sql("append_message")).bind(...message(id, "assistant", cost))]);

const state = async () => ({
  messages: (await db.prepare("SELECT seq, id FROM messages WHERE conversation_id = 'c1' ORDER BY seq").all()).results.map((m) => [m.seq, m.id]),
  daily: (await db.prepare("SELECT messages, cost FROM usage_daily").all()).results,
  monthly: (await db.prepare("SELECT agent_id, month, messages, cost FROM usage_monthly ORDER BY agent_id").all()).results,
});

test("a user message and an answer written twice are stored and counted once", async () => {
  for (let i = 0; i < 2; i++) await db.prepare(sql("append_message")).bind(...message("u1", "user")).run();
  for (let i = 0; i < 2; i++) await appendAnswer("r1", 0.5);
  await db.prepare(sql("append_message")).bind(...message("u2", "user")).run();
  await appendAnswer("r2", 0.25);
  await appendAnswer("r1", 0.5); // a very late retry of the first answer
  assert.deepEqual(await state(), {
    messages: [[1, "u1"], [2, "r1"], [3, "u2"], [4, "r2"]],
    daily: [{ messages: 2, cost: 0.75 }],
    monthly: [
      { agent_id: "", month: "2026-02", messages: 2, cost: 0.75 },
      { agent_id: "a1", month: "2026-02", messages: 2, cost: 0.75 },
    ],
  });
  // The answer's per-turn summary (migration 0012) is written with it.
  const timings = (await db.prepare("SELECT id, timing FROM messages ORDER BY seq").all()).results;
  assert.deepEqual(timings, [{ id: "u1", timing: null }, { id: "r1", timing: '{"totalMs":2}' }, { id: "u2", timing: null }, { id: "r2", timing: '{"totalMs":2}' }]);

  // Usage without an answer (`record_usage`) is not deduplicated: each call counts.
  for (let i = 0; i < 2; i++) {
    await db.batch([db.prepare(sql("add_daily_usage")).bind(...usage(null, 1)), db.prepare(sql("add_monthly_usage")).bind(...usage(null, 1))]);
  }
  const { daily, monthly } = await state();
  assert.deepEqual(daily, [{ messages: 4, cost: 2.75 }]);
  assert.deepEqual(monthly.map((m) => m.messages), [4, 4]);
});
