// Faults on every surface: one worker (D1, or Convex with TEST_STORE=convex), the model
// stand-in's `scenario/faulty` (each fault queued for one request, so the next turn in the same
// conversation finds a healthy model), webhook and MCP tools that hang, reset or answer 10 MB,
// a tool loop that spends the turn's subrequest budget, clients that leave at random points, and
// knowledge pages whose server faults. For each: the answer ends with a readable error in the
// surface's own shape within its guard (every request carries AbortSignal.timeout, so a hung
// stream fails the test), the user's message is in the transcript with the right answer status,
// and the next turn works. Store outages are in convex-outage.test.mjs; the faults chat.test.mjs
// already covers (mid-stream error, silent model, fallbacks, webhook timeout) are not repeated
// for the widget.
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { after, before, describe, test } from "node:test";
import twilio from "twilio";
import WebSocket from "ws";
import { startStandIn } from "../support/standin.mjs";
import { startMcp } from "../support/mcp-server.mjs";
import { putAgent, startWorker } from "../support/worker.mjs";
import { chat, eventually, textOf } from "../support/chat.mjs";

const ADMIN = `adm_${randomUUID()}`;
const PUBLIC = "https://faults.example.test";
const ACCOUNT_SID = `AC${randomBytes(16).toString("hex")}`;
const AUTH_TOKEN = randomBytes(16).toString("hex");
/** The worker's model idle timeout: a stalled model fails after this. */
const IDLE_MS = 1000;
/** The turn's outbound-call budget the worker runs with. */
const BUDGET = 8;
/** Every request's guard: far above what any fault here may take, far below a hang. */
const GUARD_MS = 6000;

let standin;
let mcp;
let site;
let siteUrl;
let worker;
let tenant;
let mcpKey;
let apiKey;
const knowledge = { baseId: null, ids: {} };

async function api(method, path, { token = tenant.key, body } = {}) {
  const res = await fetch(`${worker.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(GUARD_MS),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : null, text };
}

/** Runs `run(signal)` under a timeout guard and fails unless it ended within `ms`. */
async function inTime(ms, run) {
  const started = performance.now();
  const value = await run(AbortSignal.timeout(ms));
  const took = performance.now() - started;
  assert.ok(took < ms, `ended after ${Math.round(took)} ms (guard ${ms} ms)`);
  return value;
}

/** The stored conversation, once `check` holds for it (read through the management API). */
async function transcript(conversationId, check = () => true) {
  return eventually(async () => {
    const res = await api("GET", `/api/admin/conversations/${conversationId}`);
    return res.status === 200 && check(res.json.conversation) && res.json.conversation;
  }, { timeoutMs: 5000 });
}

const textOfStored = (m) => (m?.parts ?? []).filter((p) => p.type === "text").map((p) => p.text).join("");
const roles = (c) => c.messages.map((m) => [m.role, m.role === "user" ? textOfStored(m) : m.metadata.status]);

const webhook = (name, path, extra = {}) => ({ name, description: name, parameters: { type: "object", properties: {} }, url: `${standin.url}${path}`, ...extra });

before(async () => {
  site = createServer((req, res) => {
    const path = req.url.split("?")[0];
    if (path === "/k/500") return res.writeHead(500, { "content-type": "text/plain" }).end("upstream broke");
    if (path === "/k/reset") return req.socket.destroy();
    if (path === "/k/huge") return res.writeHead(200, { "content-type": "text/html" }).end(`<html><body><p>${"z ".repeat(5.5 * 1024 * 1024)}</p></body></html>`);
    if (path === "/k/hang") return; // never answers
    if (path === "/k/ok") return res.writeHead(200, { "content-type": "text/html" }).end("<html><head><title>Fine</title></head><body><p>Parcels arrive in two days.</p></body></html>");
    res.writeHead(404).end();
  });
  await new Promise((r) => site.listen(0, "127.0.0.1", r));
  siteUrl = `http://127.0.0.1:${site.address().port}`;
  [standin, mcp] = await Promise.all([startStandIn(), startMcp({ stateful: false, huge: true })]);
  worker = await startWorker({
    OPENROUTER_BASE_URL: `${standin.url}/v1`,
    OPENROUTER_API_KEY: "k",
    ADMIN_API_KEY: ADMIN,
    PUBLIC_URL: PUBLIC,
    MODEL_IDLE_TIMEOUT_MS: String(IDLE_MS),
    SUBREQUEST_BUDGET: String(BUDGET),
    WEBHOOK_ALLOW_HOSTS: "127.0.0.1",
    KNOWLEDGE_RETRY_DELAY_SECONDS: "0",
    KNOWLEDGE_PAGE_TIMEOUT_MS: "1500",
  });
  const created = await api("POST", "/api/admin/tenants", { token: ADMIN, body: { name: "Faults Inc." } });
  assert.equal(created.status, 201, created.text);
  tenant = { id: created.json.tenant.id, key: created.json.secretKey };
  assert.equal((await api("PUT", "/api/admin/integrations/twilio", { body: { accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN } })).status, 200);
  // One agent for every surface: the faulty model, tools that fault, a phone line, stored API turns.
  await putAgent(worker.db, {
    id: "faulty",
    tenant: tenant.id,
    config: {
      name: "Faulty",
      systemPrompt: "You are tested.",
      model: "scenario/faulty",
      storeApiConversations: true,
      maxSteps: 10,
      tools: {
        builtin: [],
        webhooks: [webhook("hang", "/hooks/slow", { timeoutMs: 300 }), webhook("reset", "/hooks/reset"), webhook("huge", "/hooks/huge"), webhook("ping", "/hooks/echo")],
      },
      mcpServers: [{ name: "docs", url: mcp.url, allowedTools: ["slow", "crash", "huge"], timeoutMs: 300 }],
      phone: { enabled: true, greeting: "Hello.", language: "en-US" },
    },
  });
  const mk = await api("POST", "/api/admin/keys", { body: { kind: "mcp", agentId: "faulty", name: "faults" } });
  assert.equal(mk.status, 201, mk.text);
  mcpKey = mk.json.value;
  const ak = await api("POST", "/api/admin/keys", { body: { kind: "api", name: "faults" } });
  assert.equal(ak.status, 201, ak.text);
  apiKey = ak.json.value;
  // Knowledge sources on a faulting site, queued now: the hanging page takes its timeouts while
  // the other surfaces are tested, and the last test reads how each ended.
  const base = await api("POST", "/api/admin/knowledge-bases", { body: { name: "Faulty site" } });
  assert.equal(base.status, 201, base.text);
  knowledge.baseId = base.json.knowledgeBase.id;
  for (const path of ["/k/500", "/k/reset", "/k/huge", "/k/hang", "/k/ok"]) {
    const res = await api("POST", `/api/admin/knowledge-bases/${knowledge.baseId}/sources`, { body: { type: "url", url: `${siteUrl}${path}` } });
    assert.equal(res.status, 202, res.text);
    knowledge.ids[path] = res.json.source.id;
  }
});

after(async () => {
  await worker?.stop();
  await Promise.all([standin?.close(), mcp?.close(), new Promise((r) => (site ? site.close(r) : r()))]);
});

/** Model faults: what the visitor reads, and whether some text came before the error. */
const MODEL_FAULTS = [
  ["429", /busy right now/, false],
  ["500", /temporarily unavailable/, false],
  ["503", /temporarily unavailable/, false],
  ["midstream", /stopped answering/, true],
  ["reset", /temporarily unavailable|cut off|stopped/, true],
  ["stall", /took too long/, true],
  ["stall-first", /took too long/, false],
  ["garbage", /stopped answering|cut off/, false],
  ["html", /cut off|stopped answering/, false],
];

describe("widget stream (AI SDK UI message stream)", () => {
  for (const [fault, message, partial] of MODEL_FAULTS) {
    test(`model fault ${fault}: an in-band error, the question stored, the answer 'error', the next turn works`, async () => {
      const chatId = `chat_w_${fault}`;
      standin.fault(fault);
      // A stalled model is given up on after the idle timeout, not after the guard.
      const guard = fault.startsWith("stall") ? IDLE_MS + 1500 : GUARD_MS;
      const failed = await inTime(guard, (abortSignal) => chat(worker.url, "faulty", { chatId, text: `question ${fault}`, abortSignal }));
      assert.equal(failed.errors.length, 1, JSON.stringify(failed.chunks.map((c) => c.chunk)));
      assert.match(failed.errors[0], message);
      assert.deepEqual(failed.chunks.at(-1).chunk, { type: "finish", finishReason: "error" });
      assert.equal(textOf(failed.message) === "Partial answer", partial, textOf(failed.message));
      const next = await inTime(GUARD_MS, (abortSignal) => chat(worker.url, "faulty", { chatId, text: "again", abortSignal }));
      assert.deepEqual(next.errors, []);
      assert.equal(textOf(next.message), "Hello from the stand-in.");
      const stored = await transcript(chatId, (c) => c.messages.length === 4);
      assert.deepEqual(roles(stored), [["user", `question ${fault}`], ["assistant", "error"], ["user", "again"], ["assistant", "complete"]]);
      assert.match(stored.messages[1].metadata.error ?? "", message);
      if (partial) assert.equal(textOfStored(stored.messages[1]), "Partial answer");
    });
  }

  test("a model connection dropped before any answer is tried once more; dropped twice, an in-band error", async () => {
    const before = standin.requests.length;
    standin.fault("refuse");
    const retried = await inTime(GUARD_MS, (abortSignal) => chat(worker.url, "faulty", { chatId: "chat_refuse_once", text: "hello", abortSignal }));
    assert.deepEqual(retried.errors, []);
    assert.equal(textOf(retried.message), "Hello from the stand-in.");
    assert.equal(standin.requests.length - before, 2, "one more try of the same model");
    standin.fault("refuse", 2);
    const failed = await inTime(GUARD_MS, (abortSignal) => chat(worker.url, "faulty", { chatId: "chat_refuse_twice", text: "hello", abortSignal }));
    assert.equal(failed.errors.length, 1);
    assert.match(failed.errors[0], /temporarily unavailable/);
    const stored = await transcript("chat_refuse_twice", (c) => c.messages.length === 2);
    assert.deepEqual(roles(stored), [["user", "hello"], ["assistant", "error"]]);
  });

  for (const [tool, pattern] of [
    ["hang", /did not answer within 300 ms/],
    ["reset", /.+/],
    ["huge", /.+/],
    ["docs__slow", /300 ms|time/i],
    ["docs__crash", /.+/],
    ["docs__huge", /.+/],
  ]) {
    test(`a tool that faults (${tool}) is a tool error the model answers from`, async () => {
      const chatId = `chat_tool_${tool}`;
      standin.fault(`call:${tool}`);
      const result = await inTime(GUARD_MS, (abortSignal) => chat(worker.url, "faulty", { chatId, text: `use ${tool}`, abortSignal }));
      assert.deepEqual(result.errors, []);
      const part = result.message.parts.find((p) => p.type.startsWith("tool-"));
      assert.ok(part, JSON.stringify(result.message.parts));
      if (tool.endsWith("huge")) {
        // Ten megabytes never reach the model or the visitor: the result is cut to the cap.
        assert.ok(JSON.stringify(result.chunks).length < 200_000, "the stream stays small");
        assert.ok(JSON.stringify(standin.requests.at(-1).body).length < 100_000, "so does the model's context");
      } else {
        assert.equal(part.state, "output-error", JSON.stringify(part));
        assert.match(part.errorText, pattern);
      }
      assert.match(textOf(result.message), /^Tool result: /);
      const stored = await transcript(chatId, (c) => c.messages.length === 2);
      assert.deepEqual(roles(stored), [["user", `use ${tool}`], ["assistant", "complete"]]);
    });
  }

  test("a tool loop stops at the subrequest budget: refused calls, then a text answer, within budget", async () => {
    const chatId = "chat_loop";
    const hooksBefore = standin.hooks.filter((h) => h.path === "/hooks/echo").length;
    const modelBefore = standin.requests.length;
    standin.fault("loop:ping:3", 100);
    try {
      const result = await inTime(GUARD_MS, (abortSignal) => chat(worker.url, "faulty", { chatId, text: "loop forever", abortSignal }));
      assert.deepEqual(result.errors, []);
      const hooks = standin.hooks.filter((h) => h.path === "/hooks/echo").length - hooksBefore;
      const modelCalls = standin.requests.length - modelBefore;
      assert.ok(hooks + modelCalls <= BUDGET, `${hooks} tool and ${modelCalls} model calls within ${BUDGET}`);
      assert.equal(standin.requests.at(-1).body.tool_choice, "none", "the last step may only answer");
      const refused = result.message.parts.filter((p) => p.type === "tool-ping" && p.state === "output-error");
      assert.ok(refused.length > 0);
      assert.match(refused[0].errorText, /used up its outside calls/);
      // The model's last, text-only step explains from the refused call's result.
      assert.match(textOf(result.message), /^Tool result: .*used up its outside calls/);
    } finally {
      standin.clearFaults();
    }
    const stored = await transcript(chatId, (c) => c.messages.length === 2);
    assert.equal(stored.messages[1].metadata.status, "complete");
  });

  test("a visitor who leaves at any point: the question is kept, the answer 'aborted', the next turn works", async () => {
    // Leaves before the answer starts, at its first chunk, mid-text, and while a tool runs.
    for (const [point, fault] of [["start", "pace"], ["text-start", "pace"], ["text-delta", "pace"], ["tool-input-available", "call:hang"]]) {
      const chatId = `chat_leave_${point}`;
      standin.fault(fault);
      const controller = new AbortController();
      const guard = AbortSignal.timeout(GUARD_MS);
      await chat(worker.url, "faulty", {
        chatId,
        text: `leave at ${point}`,
        abortSignal: AbortSignal.any([controller.signal, guard]),
        onChunk: (chunk) => chunk.type === point && controller.abort(),
      }).catch(() => {});
      assert.ok(!guard.aborted, `${point}: the stream ended before its guard`);
      const stored = await transcript(chatId, (c) => c.messages.length === 2);
      assert.deepEqual(roles(stored), [["user", `leave at ${point}`], ["assistant", "aborted"]], point);
      const next = await inTime(GUARD_MS, (abortSignal) => chat(worker.url, "faulty", { chatId, text: "still there?", abortSignal }));
      assert.equal(textOf(next.message), "Hello from the stand-in.", point);
    }
  });
});

/** A /v1 request with the API key; `stream` reads the SSE body's data lines. */
async function completions(body, signal) {
  const res = await fetch(`${worker.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "faulty", ...body }),
    signal,
  });
  const text = await res.text();
  const events = body.stream ? text.split("\n\n").filter((e) => e.startsWith("data: ")).map((e) => e.slice(6)) : [];
  return { status: res.status, headers: res.headers, text, json: !body.stream && text ? JSON.parse(text) : null, events };
}

describe("/v1/chat/completions", () => {
  for (const [fault, message] of [["429", /busy right now/], ["503", /temporarily unavailable/], ["midstream", /stopped answering/], ["reset", /temporarily unavailable|cut off|stopped/], ["stall", /took too long/], ["garbage", /stopped answering|cut off/]]) {
    test(`streamed, model fault ${fault}: an OpenAI error event and no [DONE]; the question stored as 'error'`, async () => {
      const question = `v1 streamed ${fault}`;
      standin.fault(fault);
      const res = await inTime(GUARD_MS, (signal) => completions({ stream: true, messages: [{ role: "user", content: question }] }, signal));
      assert.equal(res.status, 200);
      const last = JSON.parse(res.events.at(-1));
      assert.match(last.error.message, message, res.text);
      assert.equal(last.error.code, "model_error");
      assert.ok(!res.events.includes("[DONE]"));
      const id = res.headers.get("x-conversation-id");
      const stored = await transcript(id, (c) => c.messages.length === 2);
      assert.deepEqual(roles(stored), [["user", question], ["assistant", "error"]]);
      const next = await inTime(GUARD_MS, (signal) => completions({ stream: true, messages: [{ role: "user", content: question }, { role: "user", content: "again" }] }, signal));
      assert.equal(next.events.at(-1), "[DONE]");
    });

    test(`whole, model fault ${fault}: 502 with OpenAI's error body; the question stored as 'error'`, async () => {
      const question = `v1 whole ${fault}`;
      standin.fault(fault);
      const res = await inTime(GUARD_MS, (signal) => completions({ messages: [{ role: "user", content: question }] }, signal));
      assert.equal(res.status, 502, res.text);
      assert.match(res.json.error.message, message);
      assert.equal(res.json.error.code, "model_error");
      const stored = await transcript(res.headers.get("x-conversation-id"), (c) => c.messages.length === 2);
      assert.deepEqual(roles(stored), [["user", question], ["assistant", "error"]]);
      const next = await inTime(GUARD_MS, (signal) => completions({ messages: [{ role: "user", content: question }, { role: "user", content: "again" }] }, signal));
      assert.equal(next.status, 200);
      assert.equal(next.json.choices[0].message.content, "Hello from the stand-in.");
    });
  }

  test("a client that leaves mid-stream: the answer is stored 'aborted'", async () => {
    const question = "v1 leave";
    standin.fault("pace");
    const controller = new AbortController();
    const res = await fetch(`${worker.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "faulty", stream: true, messages: [{ role: "user", content: question }] }),
      signal: AbortSignal.any([controller.signal, AbortSignal.timeout(GUARD_MS)]),
    });
    const reader = res.body.getReader();
    await reader.read();
    controller.abort();
    const stored = await transcript(res.headers.get("x-conversation-id"), (c) => c.messages.length === 2);
    assert.deepEqual(roles(stored), [["user", question], ["assistant", "aborted"]]);
  });
});

/** One JSON-RPC call to the MCP server (a fresh request each time, as the stateless server allows). */
async function mcpCall(method, params, signal) {
  const res = await fetch(`${worker.url}/mcp/faulty`, {
    method: "POST",
    headers: { authorization: `Bearer ${mcpKey}`, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    signal,
  });
  const text = await res.text();
  const data = res.headers.get("content-type")?.includes("text/event-stream") ? text.split("\n").find((l) => l.startsWith("data: ")).slice(6) : text;
  return { status: res.status, body: JSON.parse(data) };
}

const ask = (args, signal) => mcpCall("tools/call", { name: "ask", arguments: args }, signal);

describe("MCP server: the ask tool", () => {
  for (const [fault, message] of [["429", /busy right now/], ["midstream", /stopped answering/], ["reset", /temporarily unavailable|cut off|stopped/], ["stall-first", /took too long/], ["garbage", /stopped answering|cut off/]]) {
    test(`model fault ${fault}: an isError result naming the conversation; asking again in it works`, async () => {
      standin.fault(fault);
      const failed = await inTime(GUARD_MS, (signal) => ask({ message: `mcp ${fault}` }, signal));
      assert.equal(failed.status, 200);
      assert.equal(failed.body.result.isError, true, JSON.stringify(failed.body));
      assert.match(failed.body.result.content[0].text, message);
      const { conversationId } = failed.body.result.structuredContent;
      assert.match(conversationId, /^chat_/);
      const next = await inTime(GUARD_MS, (signal) => ask({ message: "again", conversationId }, signal));
      assert.equal(next.body.result.isError, false, JSON.stringify(next.body));
      assert.equal(next.body.result.structuredContent.answer, "Hello from the stand-in.");
      const stored = await transcript(conversationId, (c) => c.messages.length === 4);
      assert.deepEqual(roles(stored), [["user", `mcp ${fault}`], ["assistant", "error"], ["user", "again"], ["assistant", "complete"]]);
    });
  }

  test("a tool that hangs inside ask is a tool error the answer explains", async () => {
    standin.fault("call:docs__slow");
    const res = await inTime(GUARD_MS, (signal) => ask({ message: "mcp tool hang" }, signal));
    assert.equal(res.body.result.isError, false);
    assert.match(res.body.result.structuredContent.answer, /^Tool result: \{"error"/);
  });

  test("a caller that leaves mid-ask: the turn still finishes and is stored", async () => {
    standin.fault("pace");
    await ask({ message: "mcp leave" }, AbortSignal.timeout(100)).catch(() => {});
    const stored = await eventually(async () => {
      const list = await api("GET", "/api/admin/conversations?channel=mcp&agentId=faulty");
      for (const row of list.json.conversations ?? []) {
        const c = (await api("GET", `/api/admin/conversations/${row.id}`)).json?.conversation;
        if (c && textOfStored(c.messages[0]) === "mcp leave" && c.messages.length === 2) return c;
      }
      return null;
    }, { timeoutMs: 5000, intervalMs: 100 });
    assert.deepEqual(roles(stored), [["user", "mcp leave"], ["assistant", "complete"]]);
  });
});

describe("voice relay (ConversationRelay)", () => {
  const local = (u) => u.replace("wss://faults.example.test", worker.url.replace("http://", "ws://"));

  /** Places a call: the signed webhook, then the relay socket with `setup`. */
  async function call() {
    const callSid = `CA${randomBytes(16).toString("hex")}`;
    const params = { CallSid: callSid, AccountSid: ACCOUNT_SID, From: "+18005550100", To: "+18005550101", Direction: "inbound", CallStatus: "ringing", ApiVersion: "2010-04-01" };
    const path = "/voice/twilio/faulty";
    const hook = await fetch(`${worker.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": twilio.getExpectedTwilioSignature(AUTH_TOKEN, `${PUBLIC}${path}`, params) },
      body: new URLSearchParams(params).toString(),
      signal: AbortSignal.timeout(GUARD_MS),
    });
    const twiml = await hook.text();
    assert.equal(hook.status, 200, twiml);
    const relayUrl = twiml.match(/url="([^"]+)"/)[1];
    const token = twiml.match(/name="token" value="([^"]+)"/)[1];
    const ws = new WebSocket(local(relayUrl), { headers: { "x-twilio-signature": twilio.getExpectedTwilioSignature(AUTH_TOKEN, relayUrl, {}) } });
    const frames = [];
    const waiters = new Set();
    ws.on("message", (data) => {
      frames.push(JSON.parse(String(data)));
      for (const w of [...waiters]) w();
    });
    await inTime(GUARD_MS, (signal) =>
      new Promise((resolve, reject) => {
        ws.once("open", resolve);
        ws.once("error", reject);
        signal.addEventListener("abort", () => reject(new Error("the relay handshake hung")));
      }),
    );
    const send = (frame) => ws.send(JSON.stringify(frame));
    send({ type: "setup", sessionId: `VX${randomBytes(16).toString("hex")}`, accountSid: ACCOUNT_SID, callSid, from: params.From, to: params.To, direction: "inbound", customParameters: { token } });
    /** Says `text`; resolves with the answer's text, once a `last: true` frame ends it, or rejects at the guard. */
    const say = (text) =>
      inTime(GUARD_MS, (signal) => {
        const start = frames.length;
        send({ type: "prompt", voicePrompt: text, lang: "en-US", last: true });
        return new Promise((resolve, reject) => {
          const check = () => {
            const mine = frames.slice(start).filter((f) => f.type === "text");
            if (mine.some((f) => f.last)) {
              waiters.delete(check);
              resolve(mine.map((f) => f.token).join(""));
            }
          };
          signal.addEventListener("abort", () => reject(new Error(`no last:true frame; frames ${JSON.stringify(frames.slice(start))}`)));
          waiters.add(check);
          check();
        });
      });
    const hangUp = () =>
      inTime(GUARD_MS, (signal) =>
        new Promise((resolve, reject) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve();
          ws.once("close", resolve);
          signal.addEventListener("abort", () => reject(new Error("the relay did not close")));
          ws.close(1000);
        }),
      );
    return { say, send, hangUp, frames, conversationId: `call_${callSid}` };
  }

  test("model faults are spoken apologies ending last:true, each stored 'error', and the call goes on", async () => {
    const c = await call();
    const faults = ["429", "503", "midstream", "reset", "stall", "garbage"];
    for (const fault of faults) {
      standin.fault(fault);
      assert.match(await c.say(`phone ${fault}`), /Sorry, I had trouble answering that/, fault);
    }
    assert.equal(await c.say("and now?"), "Hello from the stand-in.");
    await c.hangUp();
    const stored = await transcript(c.conversationId, (conv) => conv.messages.length === 2 * faults.length + 2);
    assert.deepEqual(roles(stored), [...faults.flatMap((f) => [["user", `phone ${f}`], ["assistant", "error"]]), ["user", "and now?"], ["assistant", "complete"]]);
  });

  test("a webhook that resets inside a call is heard as the model's explanation", async () => {
    const c = await call();
    standin.fault("call:reset");
    assert.match(await c.say("use the tool"), /Tool result/);
    await c.hangUp();
  });
});

describe("knowledge ingestion (queue)", () => {
  test("a page whose server answers 500, resets, answers 11 MB or hangs fails with a reason; a good page still ingests", async () => {
    const { baseId, ids } = knowledge;
    const read = async (id) => (await api("GET", `/api/admin/knowledge-bases/${baseId}/sources/${id}`)).json.source;
    const settled = (id, timeoutMs) =>
      eventually(async () => {
        const s = await read(id);
        return (s.status === "ready" || s.status === "failed") && s;
      }, { timeoutMs, intervalMs: 100 }).catch(async () => assert.fail(`not settled: ${JSON.stringify(await read(id))}`));
    for (const [path, reason] of [["/k/500", /500/], ["/k/reset", /reach|network|connection/i], ["/k/huge", /MB|large|big/i]]) {
      const s = await settled(ids[path], 15_000);
      assert.doesNotMatch(s.error, /retrying/, "the last attempt's reason");
      assert.equal(s.status, "failed", path);
      assert.match(s.error, reason, `${path}: ${s.error}`);
    }
    assert.equal((await settled(ids["/k/ok"], 15_000)).status, "ready");
    // Each attempt at the hanging page gives up after KNOWLEDGE_PAGE_TIMEOUT_MS (three attempts).
    const hung = await settled(ids["/k/hang"], 15_000);
    assert.equal(hung.status, "failed");
    assert.match(hung.error, /did not answer within 1500 ms/, hung.error);
  });
});
