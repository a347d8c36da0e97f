// End-to-end: every agent as an OpenAI-compatible model. The built worker in workerd (D1, or the
// Convex stand-in with TEST_STORE=convex), the OpenRouter stand-in behind it, and two official
// clients in front: the `openai` SDK and the AI SDK's OpenAI-compatible provider. Tenants,
// agents and keys are made through the management API, as a tenant would.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import OpenAI from "openai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { generateText, jsonSchema, stepCountIs, streamText, tool } from "ai";
import { startStandIn } from "../support/standin.mjs";
import { startWorker } from "../support/worker.mjs";
import { eventually } from "../support/chat.mjs";

const ADMIN = `adm_${randomUUID()}`;
let standin;
let worker;
/** Tenant A: its secret key, an API key for every agent, and one scoped to `support` only. */
const a = {};
/** Tenant B: an API key of another tenant. */
const b = {};

async function api(method, path, token, body) {
  const res = await fetch(`${worker.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : null };
}

async function tenant(name) {
  const res = await api("POST", "/api/admin/tenants", ADMIN, { name });
  assert.equal(res.status, 201, JSON.stringify(res.json));
  return { id: res.json.tenant.id, secret: res.json.secretKey };
}

async function agent(t, id, config) {
  const res = await api("POST", "/api/admin/agents", t.secret, { id, config: { systemPrompt: `You are ${id}.`, ...config } });
  assert.equal(res.status, 201, JSON.stringify(res.json));
}

async function apiKey(t, body = {}) {
  const res = await api("POST", "/api/admin/keys", t.secret, { kind: "api", ...body });
  assert.equal(res.status, 201, JSON.stringify(res.json));
  return res.json;
}

/** The official client, pointed at the worker; no retries, so a test sees the first answer. */
const client = (apiKey, options = {}) => new OpenAI({ baseURL: `${worker.url}/v1`, apiKey, maxRetries: 0, ...options });

/** The request the stand-in last received for `model`. */
const upstream = (model) => [...standin.requests].reverse().find((r) => r.body.model === model)?.body;

const limits = { ipPerMinute: 6000, tenantPerMinute: 6000, visitorPerMinute: 6000 };

before(async () => {
  standin = await startStandIn();
  worker = await startWorker({
    OPENROUTER_BASE_URL: `${standin.url}/v1`,
    OPENROUTER_API_KEY: "test-key",
    ADMIN_API_KEY: ADMIN,
    MODEL_IDLE_TIMEOUT_MS: "3000",
  });
  Object.assign(a, await tenant("Acme"));
  Object.assign(b, await tenant("Beta"));
  await agent(a, "support", { name: "Support", model: "scenario/plain", maxTokens: 300, temperature: 0.7, limits });
  await agent(a, "sales", { name: "Sales", model: "scenario/plain", limits });
  await agent(a, "clock", { model: "scenario/tool", tools: { builtin: ["get_current_time"] }, limits });
  await agent(a, "ticket", { model: "scenario/call/open_ticket", limits });
  await agent(a, "mixed", { model: "scenario/mixed/get_current_time/open_ticket", tools: { builtin: ["get_current_time"] }, limits });
  await agent(a, "broken", { model: "scenario/midstream-error", limits });
  await agent(a, "capped", { model: "scenario/plain", limits: { ...limits, monthlySpendCap: 0.0001 } });
  await agent(a, "narrow", { model: "scenario/plain", limits: { ...limits, ipPerMinute: 1 } });
  await agent(a, "keeper", { model: "scenario/plain", storeApiConversations: true, limits });
  await agent(b, "theirs", { model: "scenario/plain", limits });
  a.all = (await apiKey(a, { name: "backend" })).value;
  a.scoped = (await apiKey(a, { name: "support only", agentIds: ["support"] })).value;
  b.all = (await apiKey(b, { name: "beta" })).value;
});

after(async () => {
  await worker?.stop();
  await standin?.close();
});

describe("the openai SDK", () => {
  test("a non-streamed completion is one chat.completion with usage and cost", async () => {
    const completion = await client(a.all).chat.completions.create({
      model: "support",
      messages: [{ role: "system", content: "Answer in French." }, { role: "user", content: "Hello?" }],
      temperature: 0.2,
      top_p: 0.9,
      seed: 7,
      stop: ["END"],
      max_tokens: 1000,
      user: "customer-42",
    });
    assert.equal(completion.object, "chat.completion");
    assert.match(completion.id, /^chatcmpl-/);
    assert.equal(completion.model, "support");
    assert.equal(completion.choices.length, 1);
    assert.equal(completion.choices[0].message.role, "assistant");
    assert.equal(completion.choices[0].message.content, "Hello from the stand-in.");
    assert.equal(completion.choices[0].finish_reason, "stop");
    assert.deepEqual(
      { ...completion.usage },
      { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17, cost: 0.00042 },
    );
    // What the server added: the agent's own prompt first, the caller's system message after
    // it, the caller's sampling settings, and max_tokens held to the agent's cap.
    const sent = upstream("scenario/plain");
    assert.deepEqual(sent.messages.slice(0, 3), [
      { role: "system", content: "You are support." },
      { role: "system", content: "Answer in French." },
      { role: "user", content: "Hello?" },
    ]);
    assert.equal(sent.temperature, 0.2);
    assert.equal(sent.top_p, 0.9);
    assert.equal(sent.seed, 7);
    assert.deepEqual(sent.stop, ["END"]);
    assert.equal(sent.max_tokens, 300);
  });

  test("a stream is chat.completion.chunk events: role first, finish_reason last, then usage", async () => {
    const stream = await client(a.all).chat.completions.create({
      model: "agent:support",
      messages: [{ role: "user", content: "Hi" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.ok(chunks.every((c) => c.object === "chat.completion.chunk" && c.model === "agent:support"));
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1, "one id for the whole stream");
    assert.deepEqual(chunks[0].choices[0].delta, { role: "assistant", content: "" });
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
    assert.equal(text, "Hello from the stand-in.");
    const withChoices = chunks.filter((c) => c.choices.length > 0);
    assert.equal(withChoices.at(-1).choices[0].finish_reason, "stop");
    assert.ok(withChoices.slice(0, -1).every((c) => c.choices[0].finish_reason === null));
    const last = chunks.at(-1);
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage.total_tokens, 17);
    assert.ok(withChoices.every((c) => c.usage === null), "usage: null on the other chunks");
  });

  test("the stream helper assembles the final completion", async () => {
    const runner = client(a.all).chat.completions.stream({ model: "support", messages: [{ role: "user", content: "Hi" }] });
    const final = await runner.finalChatCompletion();
    assert.equal(final.choices[0].message.content, "Hello from the stand-in.");
  });

  test("a server tool runs inside the request and stays unseen", async () => {
    const completion = await client(a.all).chat.completions.create({ model: "clock", messages: [{ role: "user", content: "Time in Paris?" }] });
    const message = completion.choices[0].message;
    assert.match(message.content, /^The tool said: /);
    assert.equal(message.tool_calls, undefined);
    assert.equal(completion.choices[0].finish_reason, "stop");
    // Both model steps count.
    assert.equal(completion.usage.prompt_tokens, 70);
  });

  test("a client tool call is returned, and the next request with its result continues", async () => {
    const openai = client(a.all);
    const tools = [{ type: "function", function: { name: "open_ticket", description: "Opens a ticket", parameters: { type: "object", properties: {} } } }];
    const messages = [{ role: "user", content: "Open a ticket" }];
    const first = await openai.chat.completions.create({ model: "ticket", messages, tools });
    assert.equal(first.choices[0].finish_reason, "tool_calls");
    const [call] = first.choices[0].message.tool_calls;
    assert.equal(call.type, "function");
    assert.equal(call.function.name, "open_ticket");
    assert.deepEqual(JSON.parse(call.function.arguments), {});
    messages.push(first.choices[0].message, { role: "tool", tool_call_id: call.id, content: '{"ticket":7}' });
    const second = await openai.chat.completions.create({ model: "ticket", messages, tools });
    assert.equal(second.choices[0].message.content, 'Tool result: {"ticket":7}');
    assert.equal(second.choices[0].finish_reason, "stop");
  });

  test("streamed: server tools run first, then the client's call is returned as tool_calls deltas", async () => {
    const openai = client(a.all);
    const tools = [{ type: "function", function: { name: "open_ticket", parameters: { type: "object", properties: { topic: { type: "string" } } } } }];
    const messages = [{ role: "user", content: "Refund please" }];
    const stream = await openai.chat.completions.create({ model: "mixed", messages, tools, stream: true });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const deltas = chunks.flatMap((c) => c.choices[0]?.delta?.tool_calls ?? []);
    assert.ok(!JSON.stringify(chunks).includes("get_current_time"), "the server tool stays unseen");
    assert.equal(deltas[0].function.name, "open_ticket");
    assert.equal(deltas.map((d) => d.function.arguments).join(""), '{"topic":"refund"}');
    assert.ok(deltas.every((d) => d.index === 0));
    assert.equal(chunks.at(-1).choices[0].finish_reason, "tool_calls");
    const sent = upstream("scenario/mixed/get_current_time/open_ticket");
    assert.ok(sent.tools.some((t) => t.function.name === "get_current_time") && sent.tools.some((t) => t.function.name === "open_ticket"));
    messages.push({ role: "assistant", content: null, tool_calls: [{ id: deltas[0].id, type: "function", function: { name: "open_ticket", arguments: '{"topic":"refund"}' } }] });
    messages.push({ role: "tool", tool_call_id: deltas[0].id, content: "ticket 9" });
    const done = await openai.chat.completions.create({ model: "mixed", messages, tools });
    assert.equal(done.choices[0].message.content, "Done: ticket 9");
  });

  test("GET /v1/models lists the agents a key may call, in OpenAI's list shape", async () => {
    const all = [];
    for await (const model of client(a.all).models.list()) all.push(model);
    const ids = all.map((m) => m.id).sort();
    assert.deepEqual(ids, ["broken", "capped", "clock", "keeper", "mixed", "narrow", "sales", "support", "ticket"]);
    assert.ok(all.every((m) => m.object === "model" && m.owned_by === a.id && Number.isInteger(m.created)));
    const scoped = [];
    for await (const model of client(a.scoped).models.list()) scoped.push(model.id);
    assert.deepEqual(scoped, ["support"]);
    const one = await client(a.all).models.retrieve("agent:sales");
    assert.equal(one.id, "sales");
    await assert.rejects(client(a.scoped).models.retrieve("sales"), (e) => e instanceof OpenAI.NotFoundError);
  });

  test("an unknown model, one outside the key's scope and another tenant's are 404 model_not_found", async () => {
    for (const [key, model] of [[a.all, "nobody"], [a.scoped, "sales"], [b.all, "support"], [a.all, "theirs"]]) {
      await assert.rejects(
        client(key).chat.completions.create({ model, messages: [{ role: "user", content: "Hi" }] }),
        (e) => {
          assert.ok(e instanceof OpenAI.NotFoundError, `${model}: ${e}`);
          assert.equal(e.status, 404);
          assert.equal(e.code, "model_not_found");
          assert.equal(e.param, "model");
          assert.equal(e.type, "invalid_request_error");
          return true;
        },
      );
    }
  });

  test("a revoked key, an unknown key and a publishable key are refused with 401", async () => {
    const made = await apiKey(a, { name: "short-lived" });
    const openai = client(made.value);
    assert.equal((await openai.chat.completions.create({ model: "support", messages: [{ role: "user", content: "Hi" }] })).object, "chat.completion");
    const revoked = await api("DELETE", `/api/admin/keys/${made.key.id}`, a.secret);
    assert.equal(revoked.status, 204);
    for (const key of [made.value, "ak_live_0000000000000000000000000000000000", "pk_live_demo", "sk-not-ours"]) {
      await assert.rejects(client(key).chat.completions.create({ model: "support", messages: [{ role: "user", content: "Hi" }] }), (e) => {
        assert.ok(e instanceof OpenAI.AuthenticationError, String(e));
        assert.equal(e.status, 401);
        return true;
      });
    }
  });

  test("the tenant's secret key works too", async () => {
    const completion = await client(a.secret).chat.completions.create({ model: "sales", messages: [{ role: "user", content: "Hi" }] });
    assert.equal(completion.choices[0].message.content, "Hello from the stand-in.");
  });

  test("bad requests are 400s in OpenAI's shape, naming the parameter", async () => {
    const cases = [
      [{ model: "support", messages: [] }, "messages"],
      [{ model: "support", messages: [{ role: "user", content: "Hi" }], temperature: 3 }, "temperature"],
      [{ model: "support", messages: [{ role: "user", content: "Hi" }], n: 2 }, "n"],
      [{ model: "support", messages: [{ role: "wizard", content: "Hi" }] }, "messages[0].role"],
      [{ model: "clock", messages: [{ role: "user", content: "Hi" }], tools: [{ type: "function", function: { name: "get_current_time" } }] }, "tools[0].function.name"],
    ];
    for (const [body, param] of cases) {
      await assert.rejects(client(a.all).chat.completions.create(body), (e) => {
        assert.ok(e instanceof OpenAI.BadRequestError, `${param}: ${e}`);
        assert.equal(e.param, param);
        assert.equal(e.type, "invalid_request_error");
        return true;
      });
    }
    const res = await fetch(`${worker.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${a.all}` }, body: "{not json" });
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.deepEqual(Object.keys(body.error).sort(), ["code", "message", "param", "type"]);
  });

  test("a failure mid-stream surfaces as an APIError from the stream; non-streamed it is a 502", async () => {
    const stream = await client(a.all).chat.completions.create({ model: "broken", messages: [{ role: "user", content: "Hi" }], stream: true });
    let text = "";
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
      })(),
      (e) => e instanceof OpenAI.APIError && /stopped answering/.test(e.message),
    );
    assert.equal(text, "Partial answer");
    await assert.rejects(client(a.all).chat.completions.create({ model: "broken", messages: [{ role: "user", content: "Hi" }] }), (e) => {
      assert.equal(e.status, 502);
      assert.equal(e.type, "server_error");
      return true;
    });
  });

  test("a reached spend cap is 429 insufficient_quota, not retried, and in band on a stream", async () => {
    const openai = client(a.all, { maxRetries: 2 });
    // The first answer costs more than the cap; once its usage is recorded the next is refused.
    await openai.chat.completions.create({ model: "capped", messages: [{ role: "user", content: "Hi" }] });
    const before = standin.requests.length;
    await assert.rejects(openai.chat.completions.create({ model: "capped", messages: [{ role: "user", content: "Hi" }] }), (e) => {
      assert.ok(e instanceof OpenAI.RateLimitError, String(e));
      assert.equal(e.code, "insufficient_quota");
      assert.equal(e.headers.get("x-should-retry"), "false");
      assert.match(e.message, /monthly usage limit/);
      return true;
    });
    const stream = await openai.chat.completions.create({ model: "capped", messages: [{ role: "user", content: "Hi" }], stream: true });
    await assert.rejects(
      (async () => {
        for await (const _ of stream);
      })(),
      (e) => e instanceof OpenAI.APIError && e.code === "insufficient_quota",
    );
    assert.equal(standin.requests.length, before, "no model call past the cap");
  });

  test("rate limits: the agent's per-IP limit and the key's own limit answer 429 with retry-after", async () => {
    const openai = client(a.all);
    await openai.chat.completions.create({ model: "narrow", messages: [{ role: "user", content: "Hi" }] });
    await assert.rejects(openai.chat.completions.create({ model: "narrow", messages: [{ role: "user", content: "Hi" }] }), (e) => {
      assert.ok(e instanceof OpenAI.RateLimitError, String(e));
      assert.equal(e.code, "rate_limit_exceeded");
      assert.ok(Number(e.headers.get("retry-after")) >= 1);
      return true;
    });
    const slow = client((await apiKey(a, { name: "one a minute", perMinute: 1 })).value);
    await slow.models.list();
    await assert.rejects(slow.models.list(), (e) => e instanceof OpenAI.RateLimitError && Number(e.headers.get("retry-after")) >= 1);
  });

  test("store: true (or the agent's setting) keeps the exchange as an api conversation in the inbox", async () => {
    const openai = client(a.all);
    const { data, response } = await openai.chat.completions
      .create({ model: "support", store: true, user: "crm-user-7", messages: [{ role: "user", content: "Where is my order?" }] })
      .withResponse();
    assert.equal(data.choices[0].message.content, "Hello from the stand-in.");
    const conversationId = response.headers.get("x-conversation-id");
    assert.ok(conversationId);
    const stored = await eventually(async () => {
      const res = await api("GET", `/api/admin/conversations/${conversationId}`, a.secret);
      return res.status === 200 && res.json.conversation.messages.length === 2 ? res.json.conversation : null;
    });
    assert.equal(stored.visitorId, "crm-user-7");
    assert.deepEqual(stored.messages.map((m) => m.role), ["user", "assistant"]);
    assert.equal(stored.messages[0].parts[0].text, "Where is my order?");
    const inbox = await api("GET", "/api/admin/conversations?channel=api", a.secret);
    const listed = inbox.json.conversations.find((c) => c.id === conversationId);
    assert.equal(listed?.channel, "api");
    assert.equal(listed.firstMessage, "Where is my order?");
    // Without store nothing is kept; the agent's setting keeps every call.
    const plain = await openai.chat.completions.create({ model: "sales", messages: [{ role: "user", content: "Hi" }] }).withResponse();
    assert.equal(plain.response.headers.get("x-conversation-id"), null);
    const kept = await openai.chat.completions.create({ model: "keeper", messages: [{ role: "user", content: "Hi" }], stream: true }).withResponse();
    for await (const _ of kept.data);
    assert.ok(kept.response.headers.get("x-conversation-id"));
  });

  test("usage of API calls is recorded against the agent", async () => {
    await client(a.all).chat.completions.create({ model: "sales", messages: [{ role: "user", content: "Count me" }] });
    const usage = await eventually(async () => {
      const res = await api("GET", "/api/admin/usage", a.secret);
      const sales = res.json.usage.filter((u) => u.agentId === "sales");
      return sales.length && sales.reduce((n, u) => n + u.messages, 0) >= 2 ? sales : null;
    });
    assert.ok(usage.reduce((n, u) => n + u.cost, 0) > 0);
  });

  test("CORS only for a key marked for browser use", async () => {
    const origin = "https://app.example";
    const preflight = await fetch(`${worker.url}/v1/chat/completions`, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type, x-stainless-os" },
    });
    assert.equal(preflight.status, 204);
    assert.match(preflight.headers.get("access-control-allow-headers"), /x-stainless-os/);
    const call = (key) =>
      fetch(`${worker.url}/v1/models`, { headers: { origin, authorization: `Bearer ${key}` } });
    const server = await call(a.all);
    assert.equal(server.status, 200);
    assert.equal(server.headers.get("access-control-allow-origin"), null, "no CORS for a server key");
    const browserKey = (await apiKey(a, { name: "web app", browser: true, agentIds: ["support"] })).value;
    const browser = await call(browserKey);
    assert.equal(browser.headers.get("access-control-allow-origin"), origin);
    const listed = await api("GET", "/api/admin/keys", a.secret);
    const shown = listed.json.keys.find((k) => k.name === "web app");
    assert.equal(shown.kind, "api");
    assert.equal(shown.browser, true);
    assert.deepEqual(shown.agentIds, ["support"]);
    assert.ok(shown.key.startsWith("ak_live_") && shown.key.includes("…"), "listed masked");
    assert.ok(!JSON.stringify(listed.json).includes(browserKey), "shown once only");
  });
});

describe("the AI SDK's OpenAI-compatible provider", () => {
  const provider = () => createOpenAICompatible({ name: "agents", baseURL: `${worker.url}/v1`, apiKey: a.all, includeUsage: true });

  test("generateText", async () => {
    const result = await generateText({ model: provider().chatModel("support"), prompt: "Hello?", maxRetries: 0 });
    assert.equal(result.text, "Hello from the stand-in.");
    assert.equal(result.finishReason, "stop");
    assert.equal(result.usage.inputTokens, 12);
    assert.equal(result.usage.outputTokens, 5);
  });

  test("streamText", async () => {
    const result = streamText({ model: provider().chatModel("support"), prompt: "Hello?", maxRetries: 0 });
    let text = "";
    for await (const delta of result.textStream) text += delta;
    assert.equal(text, "Hello from the stand-in.");
    assert.equal((await result.usage).totalTokens, 17);
    assert.equal(await result.finishReason, "stop");
  });

  test("a client tool runs in the SDK and the conversation continues", async () => {
    const calls = [];
    const result = await generateText({
      model: provider().chatModel("ticket"),
      prompt: "Open a ticket",
      maxRetries: 0,
      stopWhen: stepCountIs(3),
      tools: {
        open_ticket: tool({
          description: "Opens a ticket",
          inputSchema: jsonSchema({ type: "object", properties: {} }),
          execute: async (input) => {
            calls.push(input);
            return { ticket: 11 };
          },
        }),
      },
    });
    assert.deepEqual(calls, [{}]);
    assert.equal(result.text, 'Tool result: {"ticket":11}');
  });
});
