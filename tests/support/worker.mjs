// Runs the built worker in workerd through Miniflare, with a real (in-memory) D1 database
// migrated from migrations/, on a free loopback port.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Miniflare } from "miniflare";

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

/** Origin the test pages pretend to be served from; test agents allow it. */
export const TEST_ORIGIN = "http://tests.example";
/** Secret the test workers sign visitor tokens with. */
export const TEST_TOKEN_SECRET = "test-visitor-token-secret";

/** The publishable key `putAgent` gives an agent. */
export const testKey = (agentId) => `pk_live_test_${agentId}`;

/** Limits high enough that functional tests never meet them (the security suite sets its own). */
const TEST_LIMITS = { visitorPerMinute: 6000, ipPerMinute: 6000, tenantPerMinute: 100000 };

/**
 * Starts the worker with `bindings` as vars; returns its URL, the D1 handle and `stop`.
 * `ratelimits` declares Workers Rate Limiting bindings (Miniflare simulates them).
 */
export async function startWorker(bindings, { migrate = true, ratelimits, assets = false } = {}) {
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    modules: true,
    scriptPath: join(root, "build/index.js"),
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
    compatibilityDate: "2026-04-20",
    compatibilityFlags: ["enable_request_signal"],
    d1Databases: { DB: "00000000-0000-4000-8000-000000000000" },
    bindings: { VISITOR_TOKEN_SECRET: TEST_TOKEN_SECRET, ...bindings },
    ...(ratelimits ? { ratelimits } : {}),
    // The built static assets (widget, demo site), served before the worker as in production.
    ...(assets ? { assets: { directory: join(root, "public"), routerConfig: { has_user_worker: true } } } : {}),
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  const db = await mf.getD1Database("DB");
  for (const file of !migrate ? [] : readdirSync(join(root, "migrations")).filter((f) => f.endsWith(".sql")).sort()) {
    for (const sql of statements(readFileSync(join(root, "migrations", file), "utf8"))) {
      await db.prepare(sql).run();
    }
  }
  return { url, db, stop: () => mf.dispose() };
}

/**
 * Creates or replaces a tenant and one agent with the publishable key `testKey(id)`. Unless the
 * config says otherwise the agent allows TEST_ORIGIN and has limits tests never reach.
 */
export async function putAgent(db, { id, tenant = "t_test", tenantStatus = "active", enabled = true, config, identitySecret = null, signingSecret = null }) {
  const now = Date.now();
  config = { allowedOrigins: [TEST_ORIGIN], ...config, limits: { ...TEST_LIMITS, ...config.limits } };
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
      "INSERT INTO api_keys (id, tenant_id, agent_id, kind, name, lookup, hash, masked, created_at) VALUES (?1, ?2, ?3, 'publishable', 'test', ?4, '', ?4, ?5) " +
        "ON CONFLICT (id) DO NOTHING",
    )
    .bind(`key_test_${id}`, tenant, id, testKey(id), now)
    .run();
}
