// Tests reach D1 through a small worker ("d1-gate") that runs in the same Miniflare with the same
// database, over plain HTTP. Miniflare's own Node-side binding proxy (`getD1Database`) makes every
// `prepare` and `bind` a synchronous round trip through a worker thread, and that handshake can
// desynchronise when the thread is preempted (workers-sdk#15552, fixed after the Miniflare we
// pin): a test then fails on `assert(message?.id === id)` inside Miniflare. Here `prepare` and
// `bind` are local, and each `first`/`all`/`run`/`raw`/`batch` is one awaited request.

/** Name of the gate worker; requests reach it with Miniflare's route override header. */
export const GATE = "d1-gate";

// Blobs cross JSON as {$bytes: base64}, both ways.
const GATE_SCRIPT = /* javascript */ `
const toBytes = (v) => (v && typeof v === "object" && typeof v.$bytes === "string" ? Uint8Array.from(atob(v.$bytes), (c) => c.charCodeAt(0)) : v);
const fromBytes = (v) => {
  if (!(v instanceof ArrayBuffer) && !ArrayBuffer.isView(v)) return v;
  const bytes = v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return { $bytes: btoa(s) };
};
const plain = (value) => JSON.parse(JSON.stringify(value, (_, v) => fromBytes(v)));
const prepare = (db, { sql, params }) => db.prepare(sql).bind(...params.map(toBytes));
async function one(db, s) {
  const statement = prepare(db, s);
  if (s.mode === "first") return s.column == null ? statement.first() : statement.first(s.column);
  if (s.mode === "raw") return statement.raw({ columnNames: !!s.columnNames });
  if (s.mode === "run") return statement.run();
  return statement.all();
}
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    try {
      if (url.pathname === "/scheduled") {
        const { cron } = await request.json();
        const result = await env.SCHEDULED.scheduled({ cron, scheduledTime: new Date() });
        return Response.json({ value: { outcome: result.outcome, noRetry: result.noRetry } });
      }
      const body = await request.json();
      if (url.pathname === "/one") return Response.json({ value: plain(await one(env.DB, body)) });
      if (url.pathname === "/batch") return Response.json({ value: plain(await env.DB.batch(body.statements.map((s) => prepare(env.DB, s)))) });
      if (url.pathname === "/each") {
        for (const s of body.statements) await prepare(env.DB, s).run();
        return Response.json({ value: body.statements.length });
      }
      if (url.pathname === "/exec") return Response.json({ value: plain(await env.DB.exec(body.sql)) });
      return Response.json({ error: "unknown gate path " + url.pathname }, { status: 404 });
    } catch (error) {
      return Response.json({ error: String(error?.message ?? error) }, { status: 500 });
    }
  },
};
`;

/** The gate worker's Miniflare options, bound to D1 database `databaseId` (and `scheduledTarget`'s scheduled event, if given). */
export function gateWorker(databaseId, { scheduledTarget } = {}) {
  return {
    name: GATE,
    modules: true,
    script: GATE_SCRIPT,
    compatibilityDate: "2026-04-20",
    // Without it a service binding's scheduled() resolves to undefined rather than its outcome.
    compatibilityFlags: ["service_binding_extra_handlers"],
    d1Databases: { DB: databaseId },
    ...(scheduledTarget ? { serviceBindings: { SCHEDULED: scheduledTarget } } : {}),
  };
}

const toBytes = (v) => (v instanceof ArrayBuffer || ArrayBuffer.isView(v) ? { $bytes: Buffer.from(v instanceof ArrayBuffer ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength)).toString("base64") } : v);
const revive = (value) => JSON.parse(JSON.stringify(value), (_, v) => (v && typeof v === "object" && typeof v.$bytes === "string" ? Uint8Array.from(Buffer.from(v.$bytes, "base64")).buffer : v));

/** Calls the gate at `url` (a Miniflare's URL): POST `path` with `body`, returning its value or throwing D1's error. */
async function call(url, path, body) {
  const response = await fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json", "MF-Route-Override": GATE }, body: JSON.stringify(body) });
  const text = await response.text();
  let answer;
  try {
    answer = JSON.parse(text);
  } catch {
    throw new Error(`d1 gate answered ${response.status}: ${text.slice(0, 300)}`);
  }
  if (!response.ok || "error" in answer) throw new Error(answer.error ?? `d1 gate answered ${response.status}`);
  return revive(answer.value);
}

/** A prepared statement with D1's shape; `bind` returns a new one, as D1's does. */
class Statement {
  constructor(url, sql, params = []) {
    this.url = url;
    this.sql = sql;
    this.params = params;
  }
  bind(...params) {
    return new Statement(this.url, this.sql, params);
  }
  wire(mode, extra = {}) {
    return { sql: this.sql, params: this.params.map(toBytes), mode, ...extra };
  }
  first(column) {
    return call(this.url, "/one", this.wire("first", { column: column ?? null }));
  }
  all() {
    return call(this.url, "/one", this.wire("all"));
  }
  run() {
    return call(this.url, "/one", this.wire("run"));
  }
  raw({ columnNames = false } = {}) {
    return call(this.url, "/one", this.wire("raw", { columnNames }));
  }
}

/** A D1Database-shaped handle (`prepare`, `batch`, `exec`) on the gate of the Miniflare at `url`. */
export function gateDatabase(url) {
  return {
    prepare: (sql) => new Statement(url, sql),
    batch: (statements) => call(url, "/batch", { statements: statements.map((s) => s.wire("all")) }),
    exec: (sql) => call(url, "/exec", { sql }),
    /** Runs `statements` (SQL text) one after another, outside a transaction, in one request. */
    each: (statements) => call(url, "/each", { statements: statements.map((sql) => ({ sql, params: [] })) }),
  };
}

/** Runs the scheduled event of the gate's `scheduledTarget` (cron `cron`); resolves to `{outcome, noRetry}`. */
export const gateScheduled = (url, cron) => call(url, "/scheduled", { cron });
