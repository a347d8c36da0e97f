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
import { convexClient, putAgent, startWorker, testKey, TEST_ORIGIN } from "../support/worker.mjs";
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
