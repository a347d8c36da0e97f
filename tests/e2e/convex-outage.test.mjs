// When Convex cannot be reached: an agent whose config is cached keeps chatting, the writes are
// retried after the answer and land once Convex is back, and an agent that cannot be loaded gets
// a clear error. A switchable proxy sits between the worker and the Convex stand-in; it can also
// fail one call to a named function, or answer every call slowly (the store faults of the fault
// suite, tests/e2e/faults.test.mjs).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { after, before, test } from "node:test";
import { startStandIn } from "../support/standin.mjs";
import { startConvexStandIn } from "../support/convex-standin.mjs";
import OpenAI from "openai";
import { convexClient, putAgent, putApiKey, startWorker, testKey, TEST_ORIGIN } from "../support/worker.mjs";
import { chat, eventually, textOf } from "../support/chat.mjs";

const DEPLOY_KEY = `outage-test|${randomUUID()}`;
let standin;
let convex;
let proxy;
let worker;
let down = false;
/** Convex functions whose next call fails once (with a 500, as a deployment error would). */
const failOnce = new Set();
/** Delay added to every Convex call, in ms. */
let slowMs = 0;
/** Convex functions whose next call is held this long (ms), and when each was let through. */
const holdOnce = new Map();
const letThrough = new Map();

/** Forwards to the stand-in, or answers 503 like an unreachable deployment behind a gateway. */
function startProxy(target) {
  const server = createServer((req, res) => {
    const parts = [];
    req.on("data", (c) => parts.push(c));
    req.on("end", async () => {
      if (down) {
        res.writeHead(503, { "content-type": "application/json" }).end(JSON.stringify({ code: "ServiceUnavailable", message: "down" }));
        return;
      }
      const fn = (() => {
        try {
          return JSON.parse(Buffer.concat(parts).toString("utf8")).path;
        } catch {
          return null;
        }
      })();
      if (failOnce.delete(fn)) {
        res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ code: "InternalServerError", message: "one failed write" }));
        return;
      }
      if (slowMs) await new Promise((r) => setTimeout(r, slowMs));
      if (holdOnce.has(fn)) {
        const ms = holdOnce.get(fn);
        holdOnce.delete(fn);
        await new Promise((r) => setTimeout(r, ms));
        letThrough.set(fn, performance.now());
      }
      const upstream = await fetch(`${target}${req.url}`, { method: req.method, headers: { "content-type": req.headers["content-type"] ?? "", authorization: req.headers.authorization ?? "" }, body: Buffer.concat(parts) });
      res.writeHead(upstream.status, { "content-type": "application/json" }).end(await upstream.text());
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) })));
}

before(async () => {
  standin = await startStandIn();
  convex = await startConvexStandIn({ deployKey: DEPLOY_KEY });
  proxy = await startProxy(convex.url);
  worker = await startWorker({ OPENROUTER_BASE_URL: `${standin.url}/v1`, OPENROUTER_API_KEY: "k", CONVEX_URL: proxy.url, CONVEX_DEPLOY_KEY: DEPLOY_KEY }, { store: "d1" });
  const seed = { convex: convexClient(convex.url, DEPLOY_KEY) };
  await putAgent(seed, { id: "steady", config: { model: "scenario/plain" } });
  await putAgent(seed, { id: "cold", config: { model: "scenario/plain" } });
});

after(async () => {
  await worker?.stop();
  await proxy?.close();
  await convex?.close();
  await standin?.close();
});

test("a cached agent keeps answering while Convex is down, and its messages are stored once it is back", async () => {
  const headers = { "x-publishable-key": testKey("steady"), origin: TEST_ORIGIN };
  const warm = await chat(worker.url, "steady", { text: "hello", headers });
  assert.equal(textOf(warm.message), "Hello from the stand-in.");
  const c = convexClient(convex.url, DEPLOY_KEY);
  const before = (await c.query("conversations:listForTenant", { tenantId: "t_test", agentId: "steady", limit: 50 })).length;

  down = true;
  const during = await chat(worker.url, "steady", { text: "are you there?", headers: { ...headers, "x-visitor-token": warm.headers.get("x-visitor-token") } });
  assert.equal(textOf(during.message), "Hello from the stand-in.", "the visitor still gets the answer");
  assert.deepEqual(during.errors, []);

  const cold = await fetch(`${worker.url}/api/agents/cold/config`, { headers: { "x-publishable-key": testKey("cold"), origin: TEST_ORIGIN } });
  assert.equal(cold.status, 503, "an agent that cannot be loaded gets a clear error");
  assert.equal((await cold.json()).error.code, "store_unavailable");

  setTimeout(() => (down = false), 300);
  // The question and then the answer are written once Convex is back: wait for both.
  const latest = await eventually(async () => {
    const list = await c.query("conversations:listForTenant", { tenantId: "t_test", agentId: "steady", limit: 50 });
    if (list.length !== before + 1) return null;
    const conversation = await c.query("conversations:get", { tenantId: "t_test", conversationId: list[0].id });
    return conversation?.messages?.length === 2 && conversation;
  }, { timeoutMs: 15_000, intervalMs: 200 });
  assert.deepEqual(latest.messages.map((m) => [m.role, JSON.parse(m.parts).find((p) => p.type === "text")?.text]), [
    ["user", "are you there?"],
    ["assistant", "Hello from the stand-in."],
  ]);
});

/** The conversation `chatId` as stored in Convex, once it has `count` messages. */
async function storedMessages(chatId, count) {
  const c = convexClient(convex.url, DEPLOY_KEY);
  return eventually(async () => {
    const conv = await c.query("conversations:get", { tenantId: "t_test", conversationId: chatId });
    return conv?.messages?.length === count && conv.messages.map((m) => [m.role, m.status ?? null, JSON.parse(m.parts).find((p) => p.type === "text")?.text]);
  }, { timeoutMs: 10_000, intervalMs: 100 });
}

test("one failed write (the question, or the answer) is retried: the visitor gets the answer and both messages are stored", async () => {
  const headers = { "x-publishable-key": testKey("steady"), origin: TEST_ORIGIN };
  // The question goes with the turn's read (beginTurn, retried as a read is); the answer after it.
  for (const fn of ["conversations:beginTurn", "messages:appendAnswer"]) {
    const chatId = `chat_fail_${fn.replace(/\W/g, "_")}`;
    failOnce.add(fn);
    const result = await chat(worker.url, "steady", { chatId, text: `one write fails: ${fn}`, headers, abortSignal: AbortSignal.timeout(10_000) });
    assert.equal(textOf(result.message), "Hello from the stand-in.", fn);
    assert.deepEqual(result.errors, []);
    assert.ok(!failOnce.has(fn), `${fn} was called`);
    const stored = await storedMessages(chatId, 2);
    assert.deepEqual(stored.map(([role, , text]) => [role, text]), [["user", `one write fails: ${fn}`], ["assistant", "Hello from the stand-in."]], fn);
  }
});

test("a slow store slows the turn but nothing is lost, and the next turn works", async () => {
  const headers = { "x-publishable-key": testKey("steady"), origin: TEST_ORIGIN };
  const chatId = "chat_slow_store";
  slowMs = 700;
  let token;
  try {
    const started = performance.now();
    const result = await chat(worker.url, "steady", { chatId, text: "slow store", headers, abortSignal: AbortSignal.timeout(15_000) });
    assert.equal(textOf(result.message), "Hello from the stand-in.");
    assert.ok(performance.now() - started < 15_000);
    token = result.headers.get("x-visitor-token");
  } finally {
    slowMs = 0;
  }
  const next = await chat(worker.url, "steady", { chatId, text: "and again", headers: { ...headers, "x-visitor-token": token }, abortSignal: AbortSignal.timeout(10_000) });
  assert.equal(textOf(next.message), "Hello from the stand-in.");
  const stored = await storedMessages(chatId, 4);
  assert.deepEqual(stored.map(([role, , text]) => [role, text]), [["user", "slow store"], ["assistant", "Hello from the stand-in."], ["user", "and again"], ["assistant", "Hello from the stand-in."]]);
});

test("a conversation's first message reaches the model while Convex still answers the turn's read", async () => {
  const headers = { "x-publishable-key": testKey("steady"), origin: TEST_ORIGIN };
  const chatId = `chat_early_${randomUUID()}`;
  const callOf = (text) => {
    const index = standin.requests.findIndex((r) => r.body.messages.at(-1)?.content === text);
    return index < 0 ? null : { body: standin.requests[index].body, stream: standin.streams[index] };
  };
  // Warm: the agent's config is cached, as it is for every turn but an isolate's first.
  const warm = await chat(worker.url, "steady", { text: "warm up", headers });
  const withToken = { ...headers, "x-visitor-token": warm.headers.get("x-visitor-token") };

  holdOnce.set("conversations:beginTurn", 600);
  const first = `first ${randomUUID()}`;
  const answered = await chat(worker.url, "steady", { chatId, text: first, first: true, headers: withToken });
  assert.equal(textOf(answered.message), "Hello from the stand-in.");
  const early = callOf(first);
  assert.ok(early, "the model was asked");
  assert.ok(
    early.stream.startedAt < letThrough.get("conversations:beginTurn"),
    "the model was asked before Convex had the turn's read",
  );

  // A message that continues the conversation is planned from its history: it waits.
  holdOnce.set("conversations:beginTurn", 300);
  const next = `next ${randomUUID()}`;
  await chat(worker.url, "steady", { chatId, text: next, first: false, headers: withToken });
  const planned = callOf(next);
  assert.ok(planned.stream.startedAt > letThrough.get("conversations:beginTurn"));
  assert.deepEqual(planned.body.messages.map((m) => m.role), ["user", "assistant", "user"], "with the first exchange");

  assert.deepEqual(await storedMessages(chatId, 4), [
    ["user", "complete", first],
    ["assistant", "complete", "Hello from the stand-in."],
    ["user", "complete", next],
    ["assistant", "complete", "Hello from the stand-in."],
  ]);
});

test("/v1: the model is asked while Convex still reads the month's spend, and asked once", async () => {
  const seed = { convex: convexClient(convex.url, DEPLOY_KEY) };
  const key = await putApiKey(seed, { agents: ["steady"] });
  const openai = new OpenAI({ baseURL: `${worker.url}/v1`, apiKey: key, maxRetries: 0 });
  const ask = async (content) => {
    const stream = await openai.chat.completions.create({ model: "steady", stream: true, messages: [{ role: "user", content }] });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    return text;
  };
  await ask("warm up");
  holdOnce.set("conversations:turnContext", 600);
  const content = `api ${randomUUID()}`;
  assert.equal(await ask(content), "Hello from the stand-in.");
  const calls = standin.requests
    .map((r, i) => ({ body: r.body, stream: standin.streams[i] }))
    .filter((r) => r.body.messages.at(-1)?.content === content);
  assert.equal(calls.length, 1, "the early request is the one answered");
  assert.ok(calls[0].stream.startedAt < letThrough.get("conversations:turnContext"), "asked before the spend was read");
});
