// Agents using tools from remote MCP servers: the built worker in workerd against MCP servers
// built in the test with the official SDK's server side (`McpServer` + Streamable HTTP), on
// loopback. Covers SSE and JSON answers, sessions (and their expiry), slow and dying servers,
// allowed tools, header secrets, and the dashboard's "Test connection". D1 by default, Convex
// with TEST_STORE=convex.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { startMcp } from "../support/mcp-server.mjs";
import { startStandIn } from "../support/standin.mjs";
import { putAgent, startWorker } from "../support/worker.mjs";
import { chat } from "../support/chat.mjs";

const ADMIN = `adm_${randomUUID()}`;
const MCP_SECRET = `mcp-secret-${randomUUID()}`;

let standin;
let worker;
let sse;
let json;
let key;

const agent = (model, servers) => ({
  name: "MCP agent",
  systemPrompt: "You use remote tools.",
  model,
  tools: { builtin: [], webhooks: [] },
  mcpServers: servers,
});
const docs = (url, extra = {}) => ({
  name: "docs",
  url,
  headers: { authorization: `Bearer ${MCP_SECRET}` },
  allowedTools: ["lookup", "slow", "crash", "fails"],
  ...extra,
});

async function api(method, path, body, headers = {}) {
  const res = await fetch(`${worker.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, json: await res.json() };
}

/** Edits an agent as the dashboard does: at the version it loaded (If-Match). */
async function patchAgent(id, body) {
  const loaded = await api("GET", `/api/admin/agents/${id}`);
  return api("PATCH", `/api/admin/agents/${id}`, body, { "if-match": loaded.headers.get("etag") });
}

before(async () => {
  standin = await startStandIn();
  sse = await startMcp({ stateful: true });
  json = await startMcp({ stateful: false });
  worker = await startWorker({
    OPENROUTER_BASE_URL: `${standin.url}/v1`,
    OPENROUTER_API_KEY: "test-key",
    ADMIN_API_KEY: ADMIN,
    MODEL_IDLE_TIMEOUT_MS: "5000",
    WEBHOOK_ALLOW_HOSTS: "127.0.0.1",
  });
  for (const tool of ["lookup", "crash", "fails", "hidden"]) {
    await putAgent(worker.db, { id: `sse-${tool}`, config: agent(`scenario/call/docs__${tool}`, [docs(sse.url)]) });
  }
  await putAgent(worker.db, { id: "sse-slow", config: agent("scenario/call/docs__slow", [docs(sse.url, { timeoutMs: 300 })]) });
  await putAgent(worker.db, { id: "json-lookup", config: agent("scenario/call/docs__lookup", [docs(json.url)]) });
  await putAgent(worker.db, {
    id: "down",
    config: agent("scenario/plain", [docs("http://127.0.0.1:9/mcp")]),
  });
  // Saved before the rules (written straight to the store): the call-time check still refuses it.
  await putAgent(worker.db, {
    id: "metadata",
    config: agent("scenario/plain", [docs("https://169.254.169.254/latest/meta-data/")]),
  });
  const tenant = await fetch(`${worker.url}/api/admin/tenants`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "MCP Inc." }),
  });
  key = (await tenant.json()).secretKey;
});

after(async () => {
  await worker?.stop();
  await standin?.close();
  await sse?.close();
  await json?.close();
});

const toolPart = (message) => message.parts.find((p) => p.type.startsWith("tool-"));
const offered = (model) => standin.requests.filter((r) => r.body.model === model).at(-1).body.tools ?? [];

describe("remote MCP tools in a chat turn", () => {
  test("are listed, offered under prefixed names, called, and their secret header stays server-side", async () => {
    const result = await chat(worker.url, "sse-lookup", { text: "How long do returns take?" });
    assert.deepEqual(result.errors, []);
    const part = toolPart(result.message);
    assert.equal(part.type, "tool-docs__lookup");
    assert.equal(part.state, "output-available");
    assert.match(JSON.stringify(part.output), /returns take 30 days/);
    const names = offered("scenario/call/docs__lookup").map((t) => t.function.name).sort();
    assert.deepEqual(names, ["docs__crash", "docs__fails", "docs__lookup", "docs__slow"], "allowedTools leaves `hidden` out");
    const lookup = offered("scenario/call/docs__lookup").find((t) => t.function.name === "docs__lookup");
    assert.equal(lookup.function.description, "Looks a topic up in the docs");
    assert.equal(lookup.function.parameters.properties.topic.type, "string");

    const posts = sse.log.requests.filter((r) => r.method === "POST");
    assert.ok(posts.every((r) => r.headers.authorization === `Bearer ${MCP_SECRET}`));
    assert.ok(posts.every((r) => r.headers.accept.includes("application/json") && r.headers.accept.includes("text/event-stream")));
    assert.equal(posts[0].body.method, "initialize");
    const later = posts.filter((r) => r.body.method !== "initialize");
    assert.ok(later.every((r) => r.headers["mcp-session-id"] && r.headers["mcp-protocol-version"] === "2025-11-25"));
    assert.ok(!JSON.stringify(result.chunks).includes(MCP_SECRET), "the header secret never reaches the visitor");
    assert.ok(sse.log.calls.some((c) => c.tool === "lookup"));
  });

  test("a server answering plain JSON without sessions works too", async () => {
    const result = await chat(worker.url, "json-lookup", { text: "Returns?" });
    assert.deepEqual(result.errors, []);
    assert.equal(toolPart(result.message).state, "output-available");
    assert.ok(json.log.requests.every((r) => r.headers["mcp-session-id"] === undefined));
  });

  test("an expired session is initialised again and the call goes through", async () => {
    await chat(worker.url, "sse-lookup", { text: "warm the session" });
    sse.forget();
    const before = sse.log.requests.length;
    const result = await chat(worker.url, "sse-lookup", { text: "Returns, again?" });
    assert.deepEqual(result.errors, []);
    assert.equal(toolPart(result.message).state, "output-available");
    const seen = sse.log.requests.slice(before).map((r) => r.body?.method);
    assert.ok(seen.includes("initialize"), `re-initialised after the 404: ${seen}`);
  });

  test("a tool the server reports as failed is an error the model can read", async () => {
    const result = await chat(worker.url, "sse-fails", { text: "Try it" });
    const part = toolPart(result.message);
    assert.equal(part.state, "output-error");
    assert.match(part.errorText, /rebuilding/);
  });

  test("a slow tool times out and a dying server becomes a tool error; the turn still ends", async () => {
    const slow = await chat(worker.url, "sse-slow", { text: "Go slow" });
    assert.equal(toolPart(slow.message).state, "output-error");
    assert.match(toolPart(slow.message).errorText, /within 300 ms/);
    const crash = await chat(worker.url, "sse-crash", { text: "Crash" });
    assert.equal(toolPart(crash.message).state, "output-error");
    assert.match(toolPart(crash.message).errorText, /could not be called/);
    // And the next turn is fine.
    const next = await chat(worker.url, "sse-lookup", { text: "Still there?" });
    assert.equal(toolPart(next.message).state, "output-available");
  });

  test("a tool allowedTools leaves out cannot be called", async () => {
    const result = await chat(worker.url, "sse-hidden", { text: "Use the hidden one" });
    assert.equal(toolPart(result.message).state, "output-error");
    assert.ok(!sse.log.calls.some((c) => c.tool === "hidden"));
  });

  test("an unreachable server leaves its tools out and the agent still answers", async () => {
    const result = await chat(worker.url, "down", { text: "Hi" });
    assert.deepEqual(result.errors, []);
    assert.equal(result.message.parts.filter((p) => p.type === "text").map((p) => p.text).join(""), "Hello from the stand-in.");
    assert.equal(offered("scenario/plain").length, 0);
  });
});

test("a server URL the outbound rules forbid is never contacted, even when stored unchecked", async () => {
  const result = await chat(worker.url, "metadata", { text: "Hi" });
  assert.deepEqual(result.errors, []);
  assert.equal(offered("scenario/plain").length, 0);
});

describe("managing an agent's MCP servers", () => {
  let agentId;

  test("saved with the agent, header values redacted in answers and kept on edit", async () => {
    const created = await api("POST", "/api/admin/agents", {
      config: agent("scenario/plain", [docs(sse.url, { allowedTools: ["lookup"] })]),
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    agentId = created.json.agent.id;
    const [server] = created.json.agent.config.mcpServers;
    assert.equal(server.headers.authorization, "********");
    assert.ok(!JSON.stringify(created.json).includes(MCP_SECRET));
    const edited = await patchAgent(agentId, {
      config: { mcpServers: [{ ...server, allowedTools: ["lookup", "fails"] }] },
    });
    assert.equal(edited.status, 200, JSON.stringify(edited.json));
    assert.deepEqual(edited.json.agent.config.mcpServers[0].allowedTools, ["lookup", "fails"]);
  });

  test("Test connection lists the server's tools and which ones the agent may use", async () => {
    const before = sse.log.requests.length;
    const res = await api("POST", `/api/admin/agents/${agentId}/mcp-servers/test`, { name: "docs" });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.ok, true);
    const byName = Object.fromEntries(res.json.tools.map((t) => [t.name, t]));
    assert.deepEqual(Object.keys(byName).sort(), ["crash", "fails", "hidden", "lookup", "slow"]);
    assert.equal(byName.lookup.allowed, true);
    assert.equal(byName.hidden.allowed, false);
    assert.equal(byName.lookup.exposedName, "docs__lookup");
    // The saved secret was used (the dashboard only ever sees it redacted).
    const init = sse.log.requests.slice(before).find((r) => r.body?.method === "initialize");
    assert.equal(init.headers.authorization, `Bearer ${MCP_SECRET}`);
  });

  test("an unsaved server can be tried; redacted headers keep the saved values", async () => {
    const before = sse.log.requests.length;
    const res = await api("POST", `/api/admin/agents/${agentId}/mcp-servers/test`, {
      server: { name: "docs", url: sse.url, headers: { authorization: "********" }, allowedTools: null },
    });
    assert.equal(res.json.ok, true, JSON.stringify(res.json));
    assert.ok(res.json.tools.every((t) => t.allowed));
    const init = sse.log.requests.slice(before).find((r) => r.body?.method === "initialize");
    assert.equal(init.headers.authorization, `Bearer ${MCP_SECRET}`);
  });

  test("failures are reported, bad input is a 400 naming the field, unknown names a 404", async () => {
    const down = await api("POST", `/api/admin/agents/${agentId}/mcp-servers/test`, {
      server: { name: "gone", url: "http://127.0.0.1:9/mcp" },
    });
    assert.equal(down.status, 200);
    assert.equal(down.json.ok, false);
    assert.match(down.json.error, /reach/i);
    const forbidden = await api("POST", `/api/admin/agents/${agentId}/mcp-servers/test`, {
      server: { name: "meta", url: "https://169.254.169.254/mcp" },
    });
    assert.equal(forbidden.status, 400);
    assert.equal(forbidden.json.error.field, "server.url");
    const missing = await api("POST", `/api/admin/agents/${agentId}/mcp-servers/test`, { name: "nope" });
    assert.equal(missing.status, 404);
    const badName = await patchAgent(agentId, {
      config: { mcpServers: [{ name: "has space", url: sse.url }] },
    });
    assert.equal(badName.status, 400);
    assert.equal(badName.json.error.field, "config.mcpServers[0].name");
  });
});
