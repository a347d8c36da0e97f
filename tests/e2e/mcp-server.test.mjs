// Every agent as an MCP server: the built worker in workerd, driven by the official MCP SDK
// client (`Client` + `StreamableHTTPClientTransport`, the key in `requestInit.headers`), with
// the model stand-in behind it; the 2.x client (`@modelcontextprotocol/client`) drives the
// 2026-07-28 path. D1 by default, Convex with TEST_STORE=convex.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Client as Client2, StreamableHTTPClientTransport as Transport2 } from "@modelcontextprotocol/client";
import { startStandIn } from "../support/standin.mjs";
import { startWorker } from "../support/worker.mjs";

const ADMIN = `adm_${randomUUID()}`;
let standin;
let worker;
let tenantKey;
let otherTenantKey;
let support;
let sales;
let holder;
let clock;
let foreign;
let supportKey;
let tenantWideKey;

async function api(method, path, body, token = tenantKey) {
  const res = await fetch(`${worker.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

async function connect(path, key) {
  const client = new Client({ name: "mcp-server-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${worker.url}${path}`), {
    requestInit: { headers: { authorization: `Bearer ${key}` } },
  });
  await client.connect(transport);
  return client;
}

async function eventually(check, { timeoutMs = 5000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 25));
  }
}

const mcpPost = (path, body, headers = {}) =>
  fetch(`${worker.url}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      authorization: `Bearer ${supportKey}`,
      ...headers,
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

before(async () => {
  standin = await startStandIn();
  worker = await startWorker({
    OPENROUTER_BASE_URL: `${standin.url}/v1`,
    OPENROUTER_API_KEY: "test-key",
    ADMIN_API_KEY: ADMIN,
  });
  const tenant = async (name) => {
    const res = await api("POST", "/api/admin/tenants", { name }, ADMIN);
    assert.equal(res.status, 201);
    return res.json.secretKey;
  };
  tenantKey = await tenant("MCP Co");
  otherTenantKey = await tenant("Other Co");
  const agent = async (name, model, token = tenantKey) => {
    const res = await api("POST", "/api/admin/agents", { config: { name, model, systemPrompt: `You are ${name}.` } }, token);
    assert.equal(res.status, 201, JSON.stringify(res.json));
    return res.json.agent.id;
  };
  support = await agent("Support", "scenario/plain");
  sales = await agent("Sales", "scenario/unauthorized");
  holder = await agent("Storyteller", "scenario/slow-stream");
  foreign = await agent("Foreign", "scenario/plain", otherTenantKey);
  const made = await api("POST", "/api/admin/agents", { config: { name: "Clock", model: "scenario/call/get_current_time", tools: { builtin: ["get_current_time"], webhooks: [] } } }, otherTenantKey);
  assert.equal(made.status, 201, JSON.stringify(made.json));
  clock = made.json.agent.id;
  const key = async (body) => {
    const res = await api("POST", "/api/admin/keys", { kind: "mcp", ...body });
    assert.equal(res.status, 201, JSON.stringify(res.json));
    assert.match(res.json.value, /^mk_live_/);
    return res.json.value;
  };
  supportKey = await key({ agentId: support, name: "support only" });
  tenantWideKey = await key({ name: "whole tenant" });
});

after(async () => {
  await worker?.stop();
  await standin?.close();
});

describe("one agent as an MCP server", () => {
  test("initialize and tools/list through the official client", async () => {
    const client = await connect(`/mcp/${support}`, supportKey);
    try {
      assert.equal(client.getServerVersion().name, "edge-agent-chat");
      assert.ok(client.getServerCapabilities().tools);
      assert.match(client.getInstructions(), /Support/);
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name), ["ask"]);
      const [ask] = tools;
      assert.deepEqual(ask.inputSchema.required, ["message"]);
      assert.ok(ask.outputSchema.properties.conversationId);
      assert.equal(ask.annotations.readOnlyHint, false);
    } finally {
      await client.close();
    }
  });

  test("ask twice in one conversation: the second call carries the first exchange", async () => {
    const client = await connect(`/mcp/${support}`, supportKey);
    try {
      const first = await client.callTool({ name: "ask", arguments: { message: "Where is my order?" } });
      assert.equal(first.isError, false);
      assert.equal(first.structuredContent.answer, "Hello from the stand-in.");
      assert.equal(first.content[0].text, "Hello from the stand-in.");
      const { conversationId } = first.structuredContent;
      assert.match(conversationId, /^chat_/);
      const second = await client.callTool({ name: "ask", arguments: { message: "And when?", conversationId } });
      assert.equal(second.structuredContent.conversationId, conversationId);
      const upstream = standin.requests.at(-1).body.messages;
      assert.deepEqual(upstream.map((m) => m.role), ["system", "user", "assistant", "user"]);
      assert.equal(upstream[0].content, "You are Support.");
      assert.equal(upstream.at(-1).content, "And when?");

      const listed = await api("GET", "/api/admin/conversations?channel=mcp");
      const row = listed.json.conversations.find((c) => c.id === conversationId);
      assert.ok(row, "the conversation is in the inbox with channel mcp");
      assert.equal(row.messageCount, 4);
      const usage = await api("GET", "/api/admin/usage");
      assert.ok(JSON.stringify(usage.json).includes(support), "usage is recorded for the agent");
    } finally {
      await client.close();
    }
  });

  test("a failing answer is a tool error the calling model can read; bad arguments are protocol errors", async () => {
    const client = await connect("/mcp", tenantWideKey);
    try {
      const failed = await client.callTool({ name: "ask", arguments: { agent: sales, message: "Hi" } });
      assert.equal(failed.isError, true);
      assert.ok(failed.content[0].text.length > 0);
      await assert.rejects(client.callTool({ name: "ask", arguments: { agent: sales } }), /message/);
      await assert.rejects(client.callTool({ name: "no_such_tool", arguments: {} }), /no tool named/);
    } finally {
      await client.close();
    }
  });
});

describe("progress", () => {
  test("ask with a progress token streams the answer's text as notifications/progress, then the same result", async () => {
    const client = await connect(`/mcp/${support}`, supportKey);
    try {
      const notes = [];
      const streamed = await client.callTool({ name: "ask", arguments: { message: "Stream it" } }, undefined, {
        onprogress: (note) => notes.push(note),
      });
      const whole = await client.callTool({ name: "ask", arguments: { message: "Stream it" } });
      assert.equal(streamed.isError, false);
      assert.match(streamed.structuredContent.conversationId, /^chat_/);
      const { conversationId: _a, ...streamedRest } = streamed.structuredContent;
      const { conversationId: _b, ...wholeRest } = whole.structuredContent;
      assert.deepEqual(streamedRest, wholeRest, "the same answer with and without progress");
      assert.deepEqual(streamed.content, whole.content);
      assert.ok(notes.length >= 2, `${notes.length} notifications`);
      assert.equal(notes.map((n) => n.message).join(""), streamed.structuredContent.answer);
      const values = notes.map((n) => n.progress);
      assert.ok(values.every((v, i) => i === 0 || v > values[i - 1]), `progress rises: ${values}`);
      assert.equal(values.at(-1), streamed.structuredContent.answer.length);
    } finally {
      await client.close();
    }
  });

  test("a tool call is a status step: progress rises by one, and the text deltas still join to the answer", async () => {
    const client = await connect(`/mcp/${clock}`, otherTenantKey);
    try {
      const notes = [];
      const result = await client.callTool({ name: "ask", arguments: { message: "What time is it?" } }, undefined, { onprogress: (n) => notes.push(n) });
      assert.equal(result.isError, false, JSON.stringify(result));
      const steps = notes.filter((n, i) => n.progress - (i ? notes[i - 1].progress : 0) !== n.message.length);
      assert.deepEqual(steps.map((n) => n.message), ["Calling tool get_current_time"]);
      const text = notes.filter((n) => !steps.includes(n)).map((n) => n.message).join("");
      assert.equal(text, result.structuredContent.answer);
    } finally {
      await client.close();
    }
  });

  test("the wire: text/event-stream with the notifications, the response last; JSON without a token", async () => {
    const call = (meta) => ({ jsonrpc: "2.0", id: "c1", method: "tools/call", params: { name: "ask", arguments: { message: "Hi" }, ...meta } });
    const streamed = await mcpPost(`/mcp/${support}`, call({ _meta: { progressToken: "tok" } }));
    assert.equal(streamed.status, 200);
    assert.match(streamed.headers.get("content-type"), /^text\/event-stream/);
    const events = (await streamed.text()).split("\n\n").filter(Boolean).map((e) => JSON.parse(e.replace(/^event: message\ndata: /, "")));
    const last = events.pop();
    assert.equal(last.id, "c1");
    assert.equal(last.result.structuredContent.answer, "Hello from the stand-in.");
    assert.ok(events.length > 0 && events.every((e) => e.method === "notifications/progress" && e.params.progressToken === "tok"));
    const plain = await mcpPost(`/mcp/${support}`, call({}));
    assert.match(plain.headers.get("content-type"), /^application\/json/);
    assert.equal((await plain.json()).result.structuredContent.answer, "Hello from the stand-in.");
  });

  test("a client that leaves mid-answer leaves the answer stored as aborted", async () => {
    const client = await connect("/mcp", tenantWideKey);
    let heard;
    const third = new Promise((resolve) => (heard = resolve));
    const notes = [];
    const pending = client
      .callTool({ name: "ask", arguments: { agent: holder, message: "Tell me a long story" } }, undefined, {
        onprogress: (note) => notes.push(note) === 3 && heard(),
      })
      .catch((error) => error);
    await third;
    await client.close();
    assert.ok((await pending) instanceof Error, "the call ends with the connection");
    const answer = await eventually(async () => {
      const listed = await api("GET", `/api/admin/conversations?agentId=${holder}`);
      const [row] = listed.json.conversations;
      if (!row) return false;
      const { json } = await api("GET", `/api/admin/conversations/${row.id}`);
      return json.conversation.messages.length === 2 && json.conversation.messages[1];
    });
    assert.equal(answer.metadata.status, "aborted");
    const text = answer.parts.map((p) => p.text ?? "").join("");
    assert.match(text, /^w0 w1 w2 /);
    assert.ok(!text.includes("w59"), "the answer was cut short, not run to the end");
    await eventually(() => standin.streams.filter((s) => s.scenario === "slow-stream").at(-1)?.closedEarly);
  });
});

describe("a tenant-wide key on /mcp", () => {
  test("lists and asks the tenant's agents and reads their conversations", async () => {
    const client = await connect("/mcp", tenantWideKey);
    try {
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name), ["ask", "list_agents", "list_conversations", "get_conversation"]);
      assert.deepEqual(tools[0].inputSchema.properties.agent.enum.sort(), [holder, sales, support].sort());
      const agents = await client.callTool({ name: "list_agents", arguments: {} });
      assert.deepEqual(agents.structuredContent.agents.map((a) => a.id).sort(), [holder, sales, support].sort());
      const asked = await client.callTool({ name: "ask", arguments: { agent: support, message: "Tenant-wide hello" } });
      const { conversationId } = asked.structuredContent;
      const found = await client.callTool({ name: "list_conversations", arguments: { query: "Tenant-wide", limit: 5 } });
      assert.deepEqual(found.structuredContent.conversations.map((c) => c.id), [conversationId]);
      const read = await client.callTool({ name: "get_conversation", arguments: { conversationId } });
      assert.deepEqual(read.structuredContent.messages.map((m) => [m.role, m.text]), [
        ["user", "Tenant-wide hello"],
        ["assistant", "Hello from the stand-in."],
      ]);
    } finally {
      await client.close();
    }
  });

  test("a key scoped to one agent cannot continue another key's conversation or read the tenant's", async () => {
    const wide = await connect("/mcp", tenantWideKey);
    const { structuredContent } = await wide.callTool({ name: "ask", arguments: { agent: support, message: "Mine" } });
    await wide.close();
    const narrow = await connect(`/mcp/${support}`, supportKey);
    try {
      const stolen = await narrow.callTool({ name: "ask", arguments: { message: "Yours?", conversationId: structuredContent.conversationId } });
      assert.equal(stolen.isError, true, "another key's conversation is not continued");
      await assert.rejects(narrow.callTool({ name: "list_conversations", arguments: {} }), /no tool named/);
    } finally {
      await narrow.close();
    }
  });
});

describe("revision 2026-07-28: no initialize, the revision in _meta, headers mirroring the body", () => {
  const META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": { name: "modern-test", version: "1.0.0" },
    "io.modelcontextprotocol/clientCapabilities": {},
  };
  let nextId = 0;
  /** A 2026-07-28 request: `_meta` in the body, MCP-Protocol-Version, Mcp-Method and Mcp-Name. */
  const modern = async (method, params = {}, { headers = {}, meta = META } = {}) => {
    const mirrored = { "mcp-protocol-version": "2026-07-28", "mcp-method": method };
    if (params.name) mirrored["mcp-name"] = params.name;
    const res = await mcpPost(`/mcp/${support}`, { jsonrpc: "2.0", id: ++nextId, method, params: { ...params, _meta: meta } }, { ...mirrored, ...headers });
    const type = res.headers.get("content-type") ?? "";
    const text = await res.text();
    const messages = type.startsWith("text/event-stream")
      ? text.split("\n\n").filter(Boolean).map((e) => JSON.parse(e.replace(/^event: message\ndata: /, "")))
      : [JSON.parse(text)];
    return { status: res.status, type, messages, body: messages.at(-1) };
  };

  test("server/discover, tools/list and ask, each request on its own", async () => {
    const found = await modern("server/discover");
    assert.equal(found.status, 200);
    assert.equal(found.body.result.resultType, "complete");
    assert.deepEqual(found.body.result.supportedVersions, ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"]);
    assert.deepEqual(found.body.result.capabilities, { tools: {} });
    assert.equal(found.body.result._meta["io.modelcontextprotocol/serverInfo"].name, "edge-agent-chat");
    assert.match(found.body.result.instructions, /Support/);

    const listed = await modern("tools/list");
    assert.deepEqual(listed.body.result.tools.map((t) => t.name), ["ask"]);
    assert.equal(listed.body.result.resultType, "complete");
    assert.equal(listed.body.result.cacheScope, "private");
    assert.ok(listed.body.result.ttlMs > 0);

    const asked = await modern("tools/call", { name: "ask", arguments: { message: "Hi" } });
    assert.equal(asked.body.result.resultType, "complete");
    assert.equal(asked.body.result.structuredContent.answer, "Hello from the stand-in.");
    // A name outside plain ASCII header values comes Base64-encoded.
    const encoded = await modern("tools/call", { name: "ask", arguments: { message: "Hi" } }, { headers: { "mcp-name": `=?base64?${Buffer.from("ask").toString("base64")}?=` } });
    assert.equal(encoded.status, 200, JSON.stringify(encoded.body));

    const streamed = await modern("tools/call", { name: "ask", arguments: { message: "Hi" } }, { meta: { ...META, progressToken: 9 } });
    assert.match(streamed.type, /^text\/event-stream/);
    assert.equal(streamed.messages.slice(0, -1).map((m) => m.params.message).join(""), "Hello from the stand-in.");
    assert.equal(streamed.body.result.resultType, "complete");
  });

  test("headers that do not match the body, missing metadata, unknown revisions and legacy methods are refused", async () => {
    const refused = async (expected, status, ...request) => {
      const res = await modern(...request);
      assert.equal(res.status, status, JSON.stringify(res.body));
      assert.equal(res.body.error.code, expected, JSON.stringify(res.body));
      return res.body;
    };
    const call = ["tools/call", { name: "ask", arguments: { message: "Hi" } }];
    const mismatch = await refused(-32020, 400, ...call, { headers: { "mcp-name": "search_knowledge" } });
    assert.match(mismatch.error.message, /Mcp-Name header value 'search_knowledge' does not match body value 'ask'/);
    assert.equal(mismatch.id, nextId);
    await refused(-32020, 400, ...call, { headers: { "mcp-method": "tools/list" } });
    await refused(-32020, 400, ...call, { headers: { "mcp-protocol-version": "2025-11-25" } });
    const { "io.modelcontextprotocol/clientCapabilities": _, ...noCapabilities } = META;
    await refused(-32602, 400, ...call, { meta: noCapabilities });
    const future = await refused(-32022, 400, ...call, {
      headers: { "mcp-protocol-version": "2099-01-01" },
      meta: { ...META, "io.modelcontextprotocol/protocolVersion": "2099-01-01" },
    });
    assert.deepEqual(future.error.data, { supported: ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"], requested: "2099-01-01" });
    await refused(-32601, 404, "initialize", { protocolVersion: "2026-07-28", capabilities: {}, clientInfo: { name: "x", version: "1" } });
    await refused(-32601, 404, "ping");
    // Without the revision's metadata, server/discover is not a method of the earlier revisions.
    const legacy = await (await mcpPost(`/mcp/${support}`, { jsonrpc: "2.0", id: 1, method: "server/discover" }, { "mcp-protocol-version": "2025-11-25" })).json();
    assert.equal(legacy.error.code, -32601);
  });
});

describe("refusals", () => {
  test("no key or a revoked key: 401 pointing at the protected-resource metadata", async () => {
    const bare = await fetch(`${worker.url}/mcp/${support}`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    assert.equal(bare.status, 401);
    const challenge = bare.headers.get("www-authenticate");
    assert.match(challenge, /^Bearer resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp\//);
    const metadataUrl = challenge.match(/resource_metadata="([^"]+)"/)[1];
    const metadata = await (await fetch(metadataUrl)).json();
    assert.equal(metadata.resource, `${worker.url}/mcp/${support}`);

    const created = await api("POST", "/api/admin/keys", { kind: "mcp", agentId: support });
    const revoked = created.json.value;
    assert.equal((await api("DELETE", `/api/admin/keys/${created.json.key.id}`)).status, 204);
    await assert.rejects(connect(`/mcp/${support}`, revoked), /invalid_key/);
    // A publishable or API key is not an MCP key.
    await assert.rejects(connect(`/mcp/${support}`, `pk_live_${"x".repeat(20)}`), /invalid_key/);
  });

  test("another tenant's agent, or an agent outside the key's scope, is not found", async () => {
    await assert.rejects(connect(`/mcp/${foreign}`, tenantWideKey), /no agent/);
    await assert.rejects(connect(`/mcp/${sales}`, supportKey), /no agent/);
  });

  test("a wrong Origin is 403, an unsupported protocol version 400, junk a JSON-RPC error", async () => {
    const init = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "x", version: "1" } } };
    assert.equal((await mcpPost(`/mcp/${support}`, init, { origin: "https://evil.example" })).status, 403);
    const old = await mcpPost(`/mcp/${support}`, { jsonrpc: "2.0", id: 2, method: "tools/list" }, { "mcp-protocol-version": "2024-01-01" });
    assert.equal(old.status, 400);
    const junk = await mcpPost(`/mcp/${support}`, "{nope");
    assert.equal(junk.status, 400);
    assert.equal((await junk.json()).error.code, -32700);
    const unknown = await (await mcpPost(`/mcp/${support}`, { jsonrpc: "2.0", id: 3, method: "resources/list" })).json();
    assert.equal(unknown.error.code, -32601);
    const negotiated = await (await mcpPost(`/mcp/${support}`, init)).json();
    assert.equal(negotiated.result.protocolVersion, "2025-06-18");
    const notification = await mcpPost(`/mcp/${support}`, { jsonrpc: "2.0", method: "notifications/initialized" });
    assert.equal(notification.status, 202);
    assert.equal((await fetch(`${worker.url}/mcp/${support}`, { headers: { authorization: `Bearer ${supportKey}` } })).status, 405);
  });
});

describe("the 2.x client (@modelcontextprotocol/client) on revision 2026-07-28", () => {
  /**
   * Connects the 2.x client; `mode` is its `versionNegotiation.mode` (it initializes with
   * 2025-11-25 unless asked to negotiate). `sent` collects each POST's method and headers.
   */
  const connect2 = async (path, key, { mode = "auto", sent = [] } = {}) => {
    const client = new Client2({ name: "mcp-server-test-2", version: "2.0.0" }, { versionNegotiation: { mode } });
    const transport = new Transport2(new URL(`${worker.url}${path}`), {
      requestInit: { headers: { authorization: `Bearer ${key}` } },
      fetch: (url, init) => {
        if (init.method === "POST") sent.push({ method: JSON.parse(init.body).method, headers: Object.fromEntries(new Headers(init.headers)) });
        return fetch(url, init);
      },
    });
    await client.connect(transport);
    return client;
  };

  test("by default it initializes with 2025-11-25; negotiating, it discovers 2026-07-28 and never initializes", async () => {
    const legacy = await connect2(`/mcp/${support}`, supportKey, { mode: "legacy" });
    assert.equal(legacy.getNegotiatedProtocolVersion(), "2025-11-25");
    await legacy.close();
    for (const mode of ["auto", { pin: "2026-07-28" }]) {
      const sent = [];
      const client = await connect2(`/mcp/${support}`, supportKey, { mode, sent });
      try {
        assert.equal(client.getNegotiatedProtocolVersion(), "2026-07-28");
        assert.equal(client.getProtocolEra(), "modern");
        assert.equal(client.getServerVersion().name, "edge-agent-chat");
        assert.ok(client.getServerCapabilities().tools);
        assert.match(client.getInstructions(), /Support/);
        const { tools } = await client.listTools();
        assert.deepEqual(tools.map((t) => t.name), ["ask"]);
        // The list's ttlMs lets the client answer the second listing from its cache.
        assert.deepEqual((await client.listTools()).tools, tools);
        assert.deepEqual(sent.map((s) => s.method), ["server/discover", "tools/list"]);
        for (const { method, headers } of sent) {
          assert.equal(headers["mcp-protocol-version"], "2026-07-28");
          assert.equal(headers["mcp-method"], method);
        }
      } finally {
        await client.close();
      }
    }
  });

  test("ask twice in one conversation, with progress, through the 2.x client", async () => {
    const sent = [];
    const client = await connect2(`/mcp/${support}`, supportKey, { sent });
    try {
      const notes = [];
      const first = await client.callTool({ name: "ask", arguments: { message: "Where is my order, 2026?" } }, { onprogress: (n) => notes.push(n) });
      assert.equal(first.isError, false);
      assert.equal(first.structuredContent.answer, "Hello from the stand-in.");
      assert.ok(notes.length >= 2, `${notes.length} notifications`);
      assert.equal(notes.map((n) => n.message).join(""), first.structuredContent.answer);
      assert.equal(notes.at(-1).progress, first.structuredContent.answer.length);
      const { conversationId } = first.structuredContent;
      const second = await client.callTool({ name: "ask", arguments: { message: "And when?", conversationId } });
      assert.equal(second.structuredContent.conversationId, conversationId);
      assert.deepEqual(standin.requests.at(-1).body.messages.map((m) => m.role), ["system", "user", "assistant", "user"]);
      const calls = sent.filter((s) => s.method === "tools/call");
      assert.equal(calls.length, 2);
      assert.ok(calls.every((c) => c.headers["mcp-name"] === "ask" && c.headers["mcp-protocol-version"] === "2026-07-28"));
      const listed = await api("GET", "/api/admin/conversations?channel=mcp");
      assert.equal(listed.json.conversations.find((c) => c.id === conversationId)?.messageCount, 4);
    } finally {
      await client.close();
    }
  });

  test("tenant-wide: the tools, a failed answer as isError, bad arguments and unknown tools as errors", async () => {
    const client = await connect2("/mcp", tenantWideKey);
    try {
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name), ["ask", "list_agents", "list_conversations", "get_conversation"]);
      const failed = await client.callTool({ name: "ask", arguments: { agent: sales, message: "Hi" } });
      assert.equal(failed.isError, true);
      await assert.rejects(client.callTool({ name: "ask", arguments: { agent: sales } }), /message/);
      await assert.rejects(client.callTool({ name: "no_such_tool", arguments: {} }), /no tool named/);
    } finally {
      await client.close();
    }
  });

  test("aborting a call closes its stream, which cancels the turn: the answer is stored as aborted", async () => {
    const before = new Set((await api("GET", `/api/admin/conversations?agentId=${holder}`)).json.conversations.map((c) => c.id));
    const client = await connect2("/mcp", tenantWideKey);
    const stop = new AbortController();
    const notes = [];
    const pending = client
      .callTool({ name: "ask", arguments: { agent: holder, message: "Tell me a long story" } }, {
        signal: stop.signal,
        onprogress: (note) => notes.push(note) === 3 && stop.abort("enough"),
      })
      .catch((error) => error);
    assert.ok((await pending) instanceof Error, "the call ends with its stream");
    await client.close();
    const answer = await eventually(async () => {
      const listed = await api("GET", `/api/admin/conversations?agentId=${holder}`);
      const row = listed.json.conversations.find((c) => !before.has(c.id));
      if (!row) return false;
      const { json } = await api("GET", `/api/admin/conversations/${row.id}`);
      return json.conversation.messages.length === 2 && json.conversation.messages[1];
    });
    assert.equal(answer.metadata.status, "aborted");
    assert.ok(!answer.parts.map((p) => p.text ?? "").join("").includes("w59"), "cut short");
    await eventually(() => standin.streams.filter((s) => s.scenario === "slow-stream").at(-1)?.closedEarly);
  });

  test("a revoked or publishable key is refused with 401; an agent outside the key is not found", async () => {
    const created = await api("POST", "/api/admin/keys", { kind: "mcp", agentId: support });
    assert.equal((await api("DELETE", `/api/admin/keys/${created.json.key.id}`)).status, 204);
    for (const mode of ["auto", { pin: "2026-07-28" }]) {
      for (const key of [created.json.value, `pk_live_${"x".repeat(20)}`]) {
        await assert.rejects(connect2(`/mcp/${support}`, key, { mode }), (error) => {
          assert.equal(error.data?.status, 401, String(error));
          assert.match(error.data.text, /invalid_key/);
          return true;
        });
      }
    }
    // server/discover's error is no 2026-07-28 evidence to the client: it falls back to
    // initialize, which reports the same error.
    await assert.rejects(connect2(`/mcp/${sales}`, supportKey), /no agent/);
  });
});
