// Runs the built workers (chat and admin) in workerd through Miniflare, with a real (in-memory) D1 database
// migrated from migrations/, on a free loopback port.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { convexClient } from "../../scripts/transfer.mjs";
import { gateDatabase, gateScheduled, gateWorker } from "./d1-gate.mjs";

const root = new URL("../..", import.meta.url).pathname;

/** Splits a migration file into statements (our migrations end statements with `;` + newline). */
function statements(sql) {
  return sql
    .split("\n")
    .filter((line) => !line.trim().startsWith("--"))
    .join("\n")
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Applies migrations/ in order to a D1 database (a `gateDatabase`), statement by statement. */
export async function migrateD1(db) {
  const files = readdirSync(join(root, "migrations")).filter((f) => f.endsWith(".sql")).sort();
  await db.each(files.flatMap((file) => statements(readFileSync(join(root, "migrations", file), "utf8"))));
}

/**
 * Starts a Miniflare with nothing but D1 database `databaseId` (migrated unless `migrate` is
 * false), for tests of the worker's SQL on its own; returns `{db, stop}`.
 */
export async function startD1(databaseId, { migrate = true } = {}) {
  const mf = new Miniflare({ host: "127.0.0.1", port: 0, workers: [gateWorker(databaseId)] });
  const db = gateDatabase((await mf.ready).toString().replace(/\/$/, ""));
  if (migrate) await migrateD1(db);
  return { db, stop: () => mf.dispose() };
}

/** The D1 database every test worker binds as DB. */
const D1_ID = "00000000-0000-4000-8000-000000000000";

/** Origin the test pages pretend to be served from; test agents allow it. */
export const TEST_ORIGIN = "http://tests.example";
/** Secret the test workers sign visitor tokens with. */
export const TEST_TOKEN_SECRET = "test-visitor-token-secret";

/** The publishable key `putAgent` gives an agent. */
export const testKey = (agentId) => `pk_live_test_${agentId}`;

/** Limits high enough that functional tests never meet them (the security suite sets its own). */
const TEST_LIMITS = { visitorPerMinute: 6000, ipPerMinute: 6000, tenantPerMinute: 100000 };

/** The store end-to-end tests run against: `TEST_STORE=convex` selects the Convex stand-in. */
export const TEST_STORE = process.env.TEST_STORE === "convex" ? "convex" : "d1";

/** Calls the Convex HTTP API as the worker does (deploy key), returning the value or throwing. */
export { convexClient };

/**
 * Starts the worker with `bindings` as vars; returns its URL, a store handle for `putAgent`
 * (`db`: the D1 database, or `{convex}` for the Convex stand-in), `scheduled` (runs the
 * scheduled event once) and `stop`.
 * `ratelimits` declares Workers Rate Limiting bindings (Miniflare simulates them); `store`
 * ("d1" or "convex", default TEST_STORE) picks the store the worker uses. `onLog` receives
 * each line the worker writes to its console (and then it is not printed). `buildDir` runs
 * another build of the worker (benchmarks compare one against the current `build/`); `admin:
 * false` starts the chat worker alone; `inspectorPort` opens workerd's DevTools inspector there
 * (bench/profile.mjs takes CPU profiles through it); `d1Dir` keeps D1's SQLite files in that
 * directory rather than in workerd's memory (the soak, so that workerd's memory is the
 * worker's and not the data it stored).
 */
export async function startWorker(bindings, { migrate = true, ratelimits, assets = false, store = TEST_STORE, onLog, buildDir = join(root, "build"), admin: withAdmin = true, inspectorPort, d1Dir } = {}) {
  let convex = null;
  if (store === "convex") {
    const { startConvexStandIn } = await import("./convex-standin.mjs");
    const deployKey = `test-deployment|${Math.random().toString(16).slice(2)}${Date.now().toString(16)}`;
    const standin = await startConvexStandIn({ deployKey });
    convex = { standin, client: convexClient(standin.url, deployKey) };
    bindings = { ...bindings, CONVEX_URL: standin.url, CONVEX_DEPLOY_KEY: deployKey };
  }
  // Two workers as deployed (wrangler.toml, wrangler.admin.toml): the chat worker answers on the
  // port and hands the management API to the admin worker through its ADMIN service binding; the
  // admin worker consumes the ingestion queue and runs the scheduled jobs. A build without an
  // admin half (an older single-worker build a benchmark compares against) runs alone.
  const adminDir = `${buildDir}-admin`;
  const split = existsSync(join(adminDir, "index.js"));
  // `admin: false` runs the chat worker without its admin worker (and so without the binding).
  const pair = split && withAdmin;
  const common = {
    modules: true,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
    compatibilityDate: "2026-04-20",
    compatibilityFlags: ["enable_request_signal"],
    d1Databases: { DB: D1_ID },
    bindings: { VISITOR_TOKEN_SECRET: TEST_TOKEN_SECRET, ...bindings },
  };
  // The knowledge ingestion queue, consumed by the worker that produces it (as wrangler.admin.toml declares).
  const ingestion = {
    queueProducers: { KNOWLEDGE_QUEUE: { queueName: "knowledge-ingest" } },
    queueConsumers: { "knowledge-ingest": { maxBatchSize: 5, maxBatchTimeout: 0.05, maxRetries: 0 } },
  };
  const chat = {
    ...common,
    name: "chat",
    scriptPath: join(buildDir, "index.js"),
    ...(pair ? { serviceBindings: { ADMIN: "admin" } } : split ? {} : ingestion),
    ...(ratelimits ? { ratelimits } : {}),
    // The built static assets (widget, demo site), served before the worker as in production.
    ...(assets ? { assets: { directory: join(root, "public"), binding: "ASSETS", routerConfig: { has_user_worker: true } } } : {}),
  };
  const admin = { ...common, ...ingestion, name: "admin", scriptPath: join(adminDir, "index.js") };
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    ...(inspectorPort ? { inspectorPort } : {}),
    ...(d1Dir ? { d1Persist: d1Dir } : {}),
    // The gate gives tests the same D1 (and the scheduled event) over HTTP (tests/support/d1-gate.mjs).
    workers: [...(pair ? [chat, admin] : [chat]), gateWorker(D1_ID, { scheduledTarget: pair ? "admin" : "chat" })],
    ...(onLog
      ? {
          handleRuntimeStdio(stdout, stderr) {
            for (const stream of [stdout, stderr]) {
              let rest = "";
              stream.on("data", (chunk) => {
                const lines = (rest + chunk.toString()).split("\n");
                rest = lines.pop();
                for (const line of lines) if (line.trim()) onLog(line);
              });
            }
          },
        }
      : {}),
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  const db = gateDatabase(url);
  if (migrate) await migrateD1(db);
  const stop = async () => {
    await mf.dispose();
    await convex?.standin.close();
  };
  // Runs the worker's scheduled event (the cron trigger's jobs) once and waits for it to end.
  const scheduled = (cron = "17 */6 * * *") => gateScheduled(url, cron);
  return { url, db: convex ? { convex: convex.client } : db, d1: db, store, stop, scheduled };
}

/**
 * Creates or replaces a tenant and one agent with the publishable key `testKey(id)`. Unless the
 * config says otherwise the agent allows TEST_ORIGIN and has limits tests never reach.
 */
export async function putAgent(db, { id, tenant = "t_test", tenantStatus = "active", enabled = true, config, identitySecret = null, signingSecret = null }) {
  const now = Date.now();
  config = { allowedOrigins: [TEST_ORIGIN], ...config, limits: { ...TEST_LIMITS, ...config.limits } };
  if (db.convex) return putAgentConvex(db.convex, { id, tenant, tenantStatus, enabled, config, identitySecret, signingSecret, now });
  await db
    .prepare(
      "INSERT INTO tenants (id, name, status, created_at, identity_secret, signing_secret) VALUES (?1, ?1, ?2, ?3, ?4, ?5) " +
        "ON CONFLICT (id) DO UPDATE SET status = excluded.status, identity_secret = COALESCE(excluded.identity_secret, identity_secret), " +
        "signing_secret = COALESCE(excluded.signing_secret, signing_secret)",
    )
    .bind(tenant, tenantStatus, now, identitySecret, signingSecret)
    .run();
  await db
    .prepare(
      "INSERT INTO agents (id, tenant_id, config, enabled, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5) " +
        "ON CONFLICT (id) DO UPDATE SET config = excluded.config, enabled = excluded.enabled, tenant_id = excluded.tenant_id",
    )
    .bind(id, tenant, JSON.stringify(config), enabled ? 1 : 0, now)
    .run();
  await db
    .prepare(
      "INSERT INTO api_keys (id, tenant_id, agent_id, kind, name, lookup, hash, masked, created_at) VALUES (?1, ?2, ?3, 'publishable', 'test', ?4, ?6, ?4, ?5) " +
        "ON CONFLICT (id) DO NOTHING",
    )
    .bind(`key_test_${id}`, tenant, id, testKey(id), now, sha256(testKey(id)))
    .run();
}

const sha256 = (text) => createHash("sha256").update(text).digest("hex");

/**
 * Stores an API key (`ak_live_…`, for /v1) of `tenant` straight into the store, as
 * `POST /api/admin/keys` would (the tenant must exist: `putAgent` makes it). `agents` null: every
 * agent. Returns the key's value.
 */
export async function putApiKey(db, { tenant = "t_test", id = `key_api_${Math.random().toString(36).slice(2)}`, agents = null, perMinute = null, browser = false } = {}) {
  const value = `ak_live_${createHash("sha256").update(id).digest("hex").slice(0, 32)}`;
  const key = { id, tenantId: tenant, agentId: null, kind: "api", name: "test", lookup: value.slice(0, 16), hash: sha256(value), masked: `${value.slice(0, 16)}…`, createdAt: Date.now(), revokedAt: null, scopeAgents: agents, browser, perMinute };
  if (db.convex) {
    await db.convex.mutation("keys:create", { key });
  } else {
    await db
      .prepare("INSERT INTO api_keys (id, tenant_id, kind, name, lookup, hash, masked, created_at, scope_agents, browser, per_minute) VALUES (?1, ?2, 'api', 'test', ?3, ?4, ?5, ?6, ?7, ?8, ?9)")
      .bind(id, tenant, key.lookup, key.hash, key.masked, key.createdAt, agents ? JSON.stringify(agents) : null, browser ? 1 : 0, perMinute)
      .run();
  }
  return value;
}

/** `putAgent` through the Convex functions, as an operator's tools would. */
async function putAgentConvex(c, { id, tenant, tenantStatus, enabled, config, identitySecret, signingSecret, now }) {
  const existing = await c.query("tenants:get", { tenantId: tenant });
  if (!existing) {
    await c.mutation("tenants:create", {
      tenant: { id: tenant, name: tenant, status: tenantStatus, monthlySpendCap: null, createdAt: now },
      identitySecret: identitySecret ?? `idsec_unused_${tenant}`,
      signingSecret: signingSecret ?? `whsec_unused_${tenant}`,
      key: { id: `key_sk_${tenant}`, tenantId: tenant, agentId: null, kind: "secret", name: "test", lookup: `sk_live_unused_${tenant}`, hash: sha256(`sk_live_unused_${tenant}`), masked: "-", createdAt: now, revokedAt: null },
    });
  } else {
    await c.mutation("tenants:update", { tenant: { id: tenant, name: existing.name, status: tenantStatus, monthlySpendCap: existing.monthlySpendCap } });
    if (identitySecret) await c.mutation("tenants:setSecret", { tenantId: tenant, which: "identity", value: identitySecret });
    if (signingSecret) await c.mutation("tenants:setSecret", { tenantId: tenant, which: "signing", value: signingSecret });
  }
  const agent = { id, tenantId: tenant, config: JSON.stringify(config), enabled, createdAt: now, updatedAt: now };
  if (!(await c.mutation("agents:create", { agent }))) {
    const { createdAt, ...update } = agent;
    await c.mutation("agents:update", { agent: update });
  }
  const pk = testKey(id);
  if ((await c.query("keys:byLookup", { lookup: pk })).length === 0) {
    await c.mutation("keys:create", { key: { id: `key_test_${id}`, tenantId: tenant, agentId: id, kind: "publishable", name: "test", lookup: pk, hash: sha256(pk), masked: pk, createdAt: now, revokedAt: null } });
  }
}
