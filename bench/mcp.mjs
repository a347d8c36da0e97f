// `npm run bench:mcp`: what a chat turn spends in a remote MCP tool call beyond the MCP server's
// own time. The same turn shape (one tool call, then the answer) runs with a built-in tool
// (`get_current_time`, no network) and with an MCP tool on a local server built with the
// official SDK; the difference in turn time, minus the time the server itself took to answer
// the `tools/call`, is the worker's cost of the call (policy checks, fetch, JSON-RPC and SSE
// parsing) plus loopback. Warm turns reuse the session and tool list; cold ones list first.
import { randomUUID } from "node:crypto";
import { build } from "../scripts/build.mjs";
import { chat } from "../tests/support/chat.mjs";
import { startMcp } from "../tests/support/mcp-server.mjs";
import { startStandIn } from "../tests/support/standin.mjs";
import { putAgent, startWorker } from "../tests/support/worker.mjs";

const TURNS = process.argv.includes("--quick") ? 10 : 60;
const p50 = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

await build();
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
