// Moves a deployment's data between its stores: D1 (SQLite) and Convex, through one JSON file.
//
//   npm run store:export -- --from d1 [--local | --remote] [--persist-to DIR] --out data.json
//   npm run store:export -- --from convex --out data.json          (CONVEX_URL, CONVEX_DEPLOY_KEY)
//   npm run store:import -- --to convex --in data.json             (CONVEX_URL, CONVEX_DEPLOY_KEY)
//   npm run store:import -- --to d1 [--local | --remote] [--persist-to DIR] --in data.json
//
// The file holds every table in the row shapes the Convex functions use (camelCase, times in
// ms, JSON blobs as text). Imports insert rows; run them into an empty store.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { npmBin, root } from "./lib.mjs";

/** Tables in dependency order, each with its D1 columns and the matching JSON field names. */
export const TABLES = [
  ["tenants", "tenants", ["id", "name", "status", "monthly_spend_cap", "identity_secret", "signing_secret", "created_at", "retention_days"]],
  ["agents", "agents", ["id", "tenant_id", "config", "enabled", "created_at", "updated_at", "version"]],
  ["apiKeys", "api_keys", ["id", "tenant_id", "agent_id", "kind", "name", "lookup", "hash", "masked", "created_at", "revoked_at", "scope_agents", "browser", "per_minute"]],
  ["conversations", "conversations", ["id", "tenant_id", "agent_id", "visitor_id", "created_at", "updated_at", "page_url", "channel", "preview"]],
  ["messages", "messages", ["id", "conversation_id", "tenant_id", "seq", "role", "parts", "status", "model", "finish_reason", "input_tokens", "output_tokens", "cost", "error", "feedback", "feedback_at", "created_at", "timing"]],
  ["usageDaily", "usage_daily", ["tenant_id", "agent_id", "day", "messages", "input_tokens", "output_tokens", "cost"]],
  // Running monthly totals (agent_id '' is the tenant's); copied, not rebuilt, so spend checks
  // on the target see the same numbers at once.
  ["usageMonthly", "usage_monthly", ["tenant_id", "agent_id", "month", "messages", "input_tokens", "output_tokens", "cost"]],
  // Integrations carry the tenants' secrets (a Twilio Auth Token) like the tenants' rows do.
  ["integrations", "integrations", ["tenant_id", "name", "settings", "secrets", "updated_at"]],
  ["calls", "calls", ["conversation_id", "tenant_id", "agent_id", "call_sid", "caller", "callee", "started_at", "ended_at", "outcome", "details"]],
  // Knowledge: the bases, their sources and the chunks searches see, each chunk's embedding as
  // plain numbers (D1 keeps little-endian f32 as base64, Convex an array per vector size). The
  // indexes (D1's FTS5 table, Convex's text and vector indexes) are rebuilt by the target, so
  // an export works where `wrangler d1 export` refuses a database with FTS5 tables.
  ["knowledgeBases", "knowledge_bases", ["id", "tenant_id", "name", "created_at", "updated_at"]],
  ["knowledgeSources", "knowledge_sources", ["id", "tenant_id", "base_id", "kind", "title", "url", "content", "max_pages", "status", "progress", "chunk_count", "error", "content_hash", "created_at", "updated_at", "max_depth"]],
  ["knowledgeChunks", "knowledge_chunks", ["id", "tenant_id", "base_id", "source_id", "kind", "title", "url", "heading", "text", "vector"]],
];
const ORDER_BY = {
  messages: "conversation_id, seq", usage_daily: "tenant_id, agent_id, day", usage_monthly: "tenant_id, month, agent_id",
  integrations: "tenant_id, name", calls: "started_at, conversation_id", knowledge_chunks: "rowid",
};

/** D1's text form of an embedding (base64 of little-endian f32) as numbers, and back. */
const vectorOf = (text) => {
  const bytes = Buffer.from(text, "base64");
  return Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4));
};
const vectorText = (numbers) => Buffer.from(new Float32Array(numbers).buffer).toString("base64");
const camel = (column) => column.replace(/_([a-z])/g, (_, c) => c.toUpperCase());

/** D1 row → JSON row. */
function fromD1(table, row) {
  const out = {};
  for (const column of TABLES.find((t) => t[0] === table)[2]) {
    let value = row[column] ?? null;
    if (column === "enabled" || column === "preview" || column === "browser") value = value === true || value === 1;
    // D1 keeps a key's agent list as JSON text; Convex as an array.
    if (column === "scope_agents" && typeof value === "string") value = JSON.parse(value);
    if (table === "knowledgeChunks" && column === "vector" && typeof value === "string") value = vectorOf(value);
    out[camel(column)] = value;
  }
  return out;
}

/** Reads every table from a D1-like database (`prepare(sql).all()`). */
export async function exportD1(db) {
  const tables = {};
  for (const [name, sqlName, columns] of TABLES) {
    const { results } = await db.prepare(`SELECT ${columns.join(", ")} FROM ${sqlName} ORDER BY ${ORDER_BY[sqlName] ?? "created_at, id"}`).all();
    tables[name] = results.map((row) => fromD1(name, row));
  }
  return { version: 1, exportedAt: Date.now(), tables };
}

/** Rows of `table` from a file, with fields older exports lack filled in as the stores default them. */
function rowsOf(data, table) {
  const rows = data.tables[table] ?? [];
  if (table === "tenants") return rows.map((row) => ({ retentionDays: null, ...row }));
  if (table === "agents") return rows.map((row) => ({ version: 1, ...row }));
  if (table === "apiKeys") return rows.map((row) => ({ scopeAgents: null, browser: false, perMinute: null, ...row }));
  if (table === "knowledgeSources") return rows.map((row) => ({ maxDepth: null, ...row }));
  return rows;
}

/** SQL that inserts `data` into an empty D1 database. */
export function insertStatements(data) {
  const literal = (v) => (v === null || v === undefined ? "NULL" : typeof v === "boolean" ? (v ? "1" : "0") : typeof v === "number" ? String(v) : `'${String(v).replaceAll("'", "''")}'`);
  const statements = [];
  for (const [name, sqlName, columns] of TABLES) {
    for (const row of rowsOf(data, name)) {
      statements.push(`INSERT INTO ${sqlName} (${columns.join(", ")}) VALUES (${columns.map((c) => literal(c === "preview" ? row.preview === true : c === "scope_agents" && Array.isArray(row.scopeAgents) ? JSON.stringify(row.scopeAgents) : c === "vector" && Array.isArray(row.vector) ? vectorText(row.vector) : row[camel(c)])).join(", ")});`);
    }
  }
  return statements;
}

/** Inserts `data` into a D1-like database. */
export async function importD1(db, data) {
  const statements = insertStatements(data);
  for (let i = 0; i < statements.length; i += 50) {
    await db.batch(statements.slice(i, i + 50).map((sql) => db.prepare(sql)));
  }
  return statements.length;
}

/** Reads every table through the `transfer:exportTable` function. */
export async function exportConvex(client) {
  const tables = {};
  for (const [name] of TABLES) {
    tables[name] = [];
    let cursor = null;
    do {
      const page = await client.query("transfer:exportTable", { table: name, cursor, limit: 200 });
      tables[name].push(...page.rows);
      cursor = page.cursor;
    } while (cursor);
  }
  return { version: 1, exportedAt: Date.now(), tables };
}

/** Inserts `data` through the `transfer:importRows` function, in batches. */
export async function importConvex(client, data) {
  let count = 0;
  for (const [name] of TABLES) {
    const rows = rowsOf(data, name);
    for (let i = 0; i < rows.length; i += 100) count += await client.mutation("transfer:importRows", { table: name, rows: rows.slice(i, i + 100) });
  }
  return count;
}

/** A Convex HTTP API client that calls functions with the deploy key, as the worker does. */
export function convexClient(url, key) {
  const call = (endpoint) => async (path, args) => {
    const res = await fetch(`${url.replace(/\/$/, "")}/api/${endpoint}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Convex ${key}` },
      body: JSON.stringify({ path, args, format: "json" }),
    });
    const body = await res.json().catch(() => ({}));
    if (res.status !== 200 || body.status !== "success") throw new Error(`Convex ${path} failed: ${res.status} ${body.errorMessage ?? body.message ?? ""}`);
    return body.value;
  };
  return { query: call("query"), mutation: call("mutation") };
}

/** The client for `CONVEX_URL` and `CONVEX_DEPLOY_KEY`. */
export function convexFromEnv() {
  const url = process.env.CONVEX_URL;
  const key = process.env.CONVEX_DEPLOY_KEY;
  if (!url || !key) throw new Error("Set CONVEX_URL and CONVEX_DEPLOY_KEY to reach the Convex deployment.");
  return convexClient(url, key);
}

/** A D1-like database backed by `wrangler d1 execute` (local or remote). */
export function d1FromWrangler(flags) {
  const wrangler = (args) =>
    new Promise((resolve, reject) =>
      execFile(npmBin("wrangler"), ["d1", "execute", "DB", ...flags, ...args], { cwd: root, maxBuffer: 1 << 30, env: { ...process.env, CI: "true" } }, (error, stdout, stderr) =>
        error ? reject(new Error(`wrangler d1 execute failed: ${stderr || error.message}`)) : resolve(stdout),
      ),
    );
  return {
    prepare: (sql) => ({
      all: async () => ({ results: JSON.parse(await wrangler(["--json", "--command", sql]))[0].results }),
      sql,
    }),
    batch: async (statements) => {
      const dir = mkdtempSync(join(tmpdir(), "d1-import-"));
      try {
        const file = join(dir, "import.sql");
        writeFileSync(file, statements.map((s) => s.sql).join("\n"));
        await wrangler(["--file", file]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) throw new Error(`Unexpected argument ${arg}`);
    const name = arg.slice(2);
    args[name] = argv[i + 1] && !argv[i + 1].startsWith("--") ? argv[++i] : true;
  }
  return args;
}

async function main() {
  const [command, ...rest] = process.argv.slice(2);
  const args = parseArgs(rest);
  const d1Flags = [args.remote ? "--remote" : "--local", ...(args["persist-to"] ? ["--persist-to", args["persist-to"]] : [])];
  if (command === "export") {
    if (!args.out) throw new Error("Name the file: --out data.json");
    const data = args.from === "convex" ? await exportConvex(convexFromEnv()) : args.from === "d1" ? await exportD1(d1FromWrangler(d1Flags)) : null;
    if (!data) throw new Error("--from must be d1 or convex");
    writeFileSync(args.out, JSON.stringify(data, null, 1), { mode: 0o600 });
    console.log(`Exported ${Object.entries(data.tables).map(([t, rows]) => `${rows.length} ${t}`).join(", ")} to ${args.out}.`);
  } else if (command === "import") {
    if (!args.in) throw new Error("Name the file: --in data.json");
    const data = JSON.parse(readFileSync(args.in, "utf8"));
    if (data.version !== 1) throw new Error(`${args.in} is not an export of this version`);
    const count = args.to === "convex" ? await importConvex(convexFromEnv(), data) : args.to === "d1" ? await importD1(d1FromWrangler(d1Flags), data) : null;
    if (count === null) throw new Error("--to must be d1 or convex");
    console.log(`Imported ${count} rows into ${args.to}.`);
  } else {
    throw new Error("Usage: transfer.mjs export --from d1|convex --out FILE | import --to d1|convex --in FILE");
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error) => {
    console.error(error.message);
    process.exit(1);
  });
}
