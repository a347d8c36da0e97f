// Phone agents end to end: a tenant sets its Twilio credentials and an agent's phone settings
// through the management API, then calls are driven the way Twilio drives them. Every request
// is signed with the official `twilio` package (getExpectedTwilioSignature, the function
// Twilio's own validateRequest checks against), TwiML is parsed as XML (and cross-checked with
// the SDK's twiml.VoiceResponse), and the ConversationRelay WebSocket is spoken with `ws`
// in the JSON frames of protocols.md §4.2. Runs on D1, and on Convex with TEST_STORE=convex.
//
// The worker runs with PUBLIC_URL set, as behind a tunnel: Twilio signs the public https://
// and wss:// addresses, the test sends to the loopback ones.
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import twilio from "twilio";
import WebSocket from "ws";
import { startStandIn } from "../support/standin.mjs";
import { startWorker } from "../support/worker.mjs";
import { eventually } from "../support/chat.mjs";

const ADMIN = `adm_${randomUUID()}`;
const PUBLIC = "https://voice.example.test";
const ACCOUNT_SID = `AC${randomBytes(16).toString("hex")}`;
const AUTH_TOKEN = randomBytes(16).toString("hex");
const CALLER = "+18005550100";
const CALLEE = "+18005550101";
const HANDOFF = "+15551234567";
const CALLER_ID = "+15550000000";

let standin;
let worker;
let key;
let otherKey;

const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", parseTagValue: false, isArray: (name) => name === "Parameter" });

async function api(method, path, { token = key, body } = {}) {
  const res = await fetch(`${worker.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null, text };
}

const newSid = () => `CA${randomBytes(16).toString("hex")}`;
const local = (publicUrl) => publicUrl.replace(PUBLIC, worker.url).replace("wss://voice.example.test", worker.url.replace("http://", "ws://"));

/** Posts a form the way Twilio does, signed over the public URL (or as `sign` says). */
async function twilioPost(path, params, { token = AUTH_TOKEN, signUrl = `${PUBLIC}${path}`, signParams = params, signature } = {}) {
  const sig = signature ?? twilio.getExpectedTwilioSignature(token, signUrl, signParams);
  const res = await fetch(`${worker.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": sig },
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, type: res.headers.get("content-type"), text: await res.text() };
}

const callParams = (callSid, over = {}) => ({
  CallSid: callSid, AccountSid: ACCOUNT_SID, From: CALLER, To: CALLEE, Direction: "inbound", CallStatus: "ringing", ApiVersion: "2010-04-01", ...over,
});

/** The incoming-call webhook; returns the parsed TwiML. */
async function incoming(agentId, callSid = newSid()) {
  const res = await twilioPost(`/voice/twilio/${agentId}`, callParams(callSid));
  assert.equal(res.status, 200, res.text);
  assert.match(res.type, /^text\/xml/);
  assert.equal(XMLValidator.validate(res.text), true);
  return { callSid, raw: res.text, doc: xml.parse(res.text) };
}

/** A ConversationRelay session as Twilio runs it: the signed handshake, then `setup`. */
async function relay(relayUrl, { callSid, token, parameters, signWith = AUTH_TOKEN } = {}) {
  const headers = { "x-twilio-signature": twilio.getExpectedTwilioSignature(signWith, relayUrl, {}) };
  const ws = new WebSocket(local(relayUrl), { headers });
  const frames = [];
  const waiters = [];
  let closed = null;
  ws.on("message", (data) => {
    frames.push({ at: performance.now(), frame: JSON.parse(String(data)) });
    for (const w of [...waiters]) w();
  });
  ws.on("close", (code, reason) => {
    closed = { code, reason: String(reason) };
    for (const w of [...waiters]) w();
  });
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("unexpected-response", (_, res) => reject(new Error(`handshake answered ${res.statusCode}`)));
    ws.once("error", reject);
  });
  const send = (frame) => ws.send(JSON.stringify(frame));
  send({
    type: "setup", sessionId: `VX${randomBytes(16).toString("hex")}`, accountSid: ACCOUNT_SID, parentCallSid: "", callSid,
    from: CALLER, to: CALLEE, forwardedFrom: "", callType: "PSTN", callerName: "", direction: "inbound", callStatus: "RINGING",
    customParameters: parameters ?? { token },
  });
  /** Waits until `check(frames)` holds (or the socket closed, when `orClose`). */
  const until = (check, { timeoutMs = 8000 } = {}) =>
    new Promise((resolve, reject) => {
      const done = () => {
        const value = check(frames.map((f) => f.frame));
        if (value) {
          waiters.splice(waiters.indexOf(done), 1);
          clearTimeout(timer);
          resolve(value);
        }
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(done), 1);
        reject(new Error(`timed out; frames: ${JSON.stringify(frames.map((f) => f.frame))}`));
      }, timeoutMs);
      waiters.push(done);
      done();
    });
  const since = () => frames.length;
  /** Sends a whole utterance and resolves with the answer's frames (up to `last: true`). */
  const say = async (text) => {
    const start = since();
    send({ type: "prompt", voicePrompt: text, lang: "en-US", last: true });
    return until((all) => {
      const mine = all.slice(start).filter((f) => f.type === "text");
      return mine.some((f) => f.last) && mine;
    });
  };
  const hangUp = () =>
    new Promise((resolve) => {
      if (closed) return resolve(closed);
      ws.once("close", (code) => resolve({ code }));
      ws.close(1000);
    });
  return { ws, frames, send, say, until, since, hangUp, closed: () => closed };
}

/** Places a call to `agentId`: webhook, then relay with the token the TwiML carries. */
async function call(agentId) {
  const { callSid, doc } = await incoming(agentId);
  const cr = doc.Response.Connect.ConversationRelay;
  const token = cr.Parameter.find((p) => p.name === "token").value;
  const session = await relay(cr.url, { callSid, token });
  return { ...session, callSid, action: doc.Response.Connect.action, conversationId: `call_${callSid}` };
}

const spoken = (frames) => frames.filter((f) => f.type === "text").map((f) => f.token).join("");
const textOfMessage = (m) => (m?.parts ?? []).filter((p) => p.type === "text").map((p) => p.text).join("");

async function storedCall(conversationId, check = () => true) {
  return eventually(async () => {
    const res = await api("GET", `/api/admin/conversations/${conversationId}`);
    return res.status === 200 && check(res.json.conversation) && res.json.conversation;
  }, { timeoutMs: 8000 });
}

async function phoneAgent(id, model, phone = {}, extra = {}) {
  const res = await api("POST", "/api/admin/agents", {
    body: {
      id,
      config: {
        name: `Phone ${id}`, systemPrompt: "You answer the phone for Acme.", model,
        tools: { builtin: ["get_current_time"], webhooks: [] },
        phone: { enabled: true, greeting: "Hi, this is Acme & \"Sons\". How can I help?", language: "en-US", ttsProvider: "Google", voice: "en-US-Journey-O", ...phone },
        ...extra,
      },
    },
  });
  assert.equal(res.status, 201, res.text);
}

before(async () => {
  standin = await startStandIn();
  worker = await startWorker({
    OPENROUTER_BASE_URL: `${standin.url}/v1`, OPENROUTER_API_KEY: "k", ADMIN_API_KEY: ADMIN, PUBLIC_URL: PUBLIC, MODEL_IDLE_TIMEOUT_MS: "5000",
  });
  const tenant = async (name) => {
    const res = await api("POST", "/api/admin/tenants", { token: ADMIN, body: { name } });
    assert.equal(res.status, 201);
    return res.json;
  };
  ({ secretKey: key } = await tenant("Acme"));
  ({ secretKey: otherKey } = await tenant("Other"));
  assert.equal((await api("PUT", "/api/admin/integrations/twilio", { body: { accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN } })).status, 200);
  await phoneAgent("plain", "scenario/plain", { handoffNumber: HANDOFF, handoffCallerId: CALLER_ID, humanDigit: "0" });
  await phoneAgent("markdown", "scenario/markdown");
  await phoneAgent("tool", "scenario/tool");
  await phoneAgent("hold", "scenario/hold");
  await phoneAgent("handoff", "scenario/handoff", { handoffNumber: HANDOFF, handoffCallerId: CALLER_ID });
  await phoneAgent("message", "scenario/message");
  await phoneAgent("broken", "scenario/server-error");
  await phoneAgent("short", "scenario/plain", { maxCallSeconds: 5 });
  await phoneAgent("silent-line", "scenario/plain", { enabled: false, language: "fr-FR" });
  await phoneAgent("capped", "scenario/plain", {}, { limits: { monthlySpendCap: 0 } });
});

after(async () => {
  standin?.release("hold");
  await worker?.stop();
  await standin?.close();
});

describe("Twilio credentials (integrations)", () => {
  test("are masked when shown, kept per tenant, validated, and removed by DELETE", async () => {
    const shown = await api("GET", "/api/admin/integrations/twilio");
    assert.equal(shown.status, 200);
    assert.ok(!shown.text.includes(AUTH_TOKEN) && !shown.text.includes(ACCOUNT_SID), shown.text);
    assert.equal(shown.json.integration.secrets.authToken, `••••${AUTH_TOKEN.slice(-4)}`);
    assert.equal(shown.json.integration.settings.accountSid, `AC••••${ACCOUNT_SID.slice(-4)}`);
    assert.equal((await api("GET", "/api/admin/integrations/twilio", { token: otherKey })).status, 404);
    const bad = await api("PUT", "/api/admin/integrations/twilio", { token: otherKey, body: { accountSid: "AC123", authToken: AUTH_TOKEN } });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.field, "accountSid");
    assert.equal((await api("PUT", "/api/admin/integrations/twilio", { token: otherKey, body: { accountSid: ACCOUNT_SID } })).json.error.field, "authToken");
    assert.equal((await api("PUT", "/api/admin/integrations/nothing", { token: otherKey, body: {} })).status, 404);
    const other = await api("PUT", "/api/admin/integrations/twilio", { token: otherKey, body: { accountSid: ACCOUNT_SID, authToken: "f".repeat(32) } });
    assert.equal(other.status, 200);
    // Leaving the token out keeps it.
    const changed = await api("PUT", "/api/admin/integrations/twilio", { token: otherKey, body: { accountSid: `AC${"e".repeat(32)}` } });
    assert.equal(changed.json.integration.secrets.authToken, "••••ffff");
    assert.equal((await api("DELETE", "/api/admin/integrations/twilio", { token: otherKey })).status, 204);
    assert.equal((await api("DELETE", "/api/admin/integrations/twilio", { token: otherKey })).status, 404);
    assert.equal((await api("GET", "/api/admin/integrations/twilio", { token: otherKey })).status, 404);
    // Acme's are untouched.
    assert.equal((await api("GET", "/api/admin/integrations/twilio")).status, 200);
  });
});

describe("incoming-call webhook", () => {
  test("answers ConversationRelay TwiML with the agent's settings, as Twilio's SDK would write it", async () => {
    const { raw, doc, callSid } = await incoming("plain");
    const connect = doc.Response.Connect;
    assert.equal(connect.action, `${PUBLIC}/voice/twilio/plain/ended`);
    const cr = connect.ConversationRelay;
    assert.equal(cr.url, "wss://voice.example.test/voice/twilio/plain/relay");
    assert.equal(cr.welcomeGreeting, 'Hi, this is Acme & "Sons". How can I help?');
    assert.ok(raw.includes("Acme &amp; &quot;Sons&quot;"), "attributes are escaped");
    assert.equal(cr.language, "en-US");
    assert.equal(cr.ttsProvider, "Google");
    assert.equal(cr.voice, "en-US-Journey-O");
    assert.equal(cr.interruptible, "any");
    assert.equal(cr.dtmfDetection, "true");
    const token = cr.Parameter.find((p) => p.name === "token").value;
    assert.match(token, /^ct1\./);
    // The same document built with the official SDK parses to the same tree.
    const expected = new twilio.twiml.VoiceResponse();
    const relayTwiml = expected.connect({ action: connect.action }).conversationRelay({
      url: cr.url, welcomeGreeting: 'Hi, this is Acme & "Sons". How can I help?', welcomeGreetingInterruptible: "any",
      language: "en-US", ttsProvider: "Google", voice: "en-US-Journey-O", interruptible: "any", dtmfDetection: "true",
    });
    relayTwiml.parameter({ name: "token", value: token });
    assert.deepEqual(doc, xml.parse(expected.toString()));
    assert.ok(callSid);
  });

  test("a valid call to an agent whose phone is off hears a polite refusal, then a hang-up", async () => {
    const { doc } = await incoming("silent-line");
    assert.match(doc.Response.Say["#text"], /not taking calls/);
    assert.equal(doc.Response.Say.language, "fr-FR");
    assert.ok("Hangup" in doc.Response);
    assert.ok(!("Connect" in doc.Response));
  });

  test("a suspended tenant's number is refused", async () => {
    const created = await api("POST", "/api/admin/tenants", { token: ADMIN, body: { name: "Suspended Co" } });
    const other = created.json.secretKey;
    assert.equal((await api("PUT", "/api/admin/integrations/twilio", { token: other, body: { accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN } })).status, 200);
    assert.equal((await api("POST", "/api/admin/agents", { token: other, body: { id: "suspended-line", config: { model: "scenario/plain", phone: { enabled: true } } } })).status, 201);
    assert.equal((await twilioPost("/voice/twilio/suspended-line", callParams(newSid()))).status, 200);
    assert.equal((await api("PATCH", `/api/admin/tenants/${created.json.tenant.id}`, { token: ADMIN, body: { status: "suspended" } })).status, 200);
    const refused = await twilioPost("/voice/twilio/suspended-line", callParams(newSid()));
    assert.equal(refused.status, 503, refused.text);
    assert.equal(JSON.parse(refused.text).error.code, "unavailable");
  });

  test("signatures: both port forms pass; tampering, a wrong token, none, or another URL are refused", async () => {
    const path = "/voice/twilio/plain";
    const params = callParams(newSid());
    assert.equal((await twilioPost(path, params, { signUrl: `${PUBLIC}:443${path}` })).status, 200, "explicit :443");
    assert.equal((await twilioPost(path, params)).status, 200, "no port");
    // What twilio's validateRequest accepts for this request, the worker accepts too.
    const sig = twilio.getExpectedTwilioSignature(AUTH_TOKEN, `${PUBLIC}${path}`, params);
    assert.ok(twilio.validateRequest(AUTH_TOKEN, sig, `${PUBLIC}:443${path}`, params));
    const refused = [
      await twilioPost(path, { ...params, From: "+19995550000" }, { signParams: params }),
      await twilioPost(path, params, { token: "0".repeat(32) }),
      await twilioPost(path, params, { signature: "" }),
      await twilioPost(path, params, { signUrl: `${PUBLIC}/voice/twilio/other` }),
      await twilioPost(path, { ...params, AccountSid: `AC${"0".repeat(32)}` }),
    ];
    for (const res of refused) {
      assert.equal(res.status, 403, res.text);
      assert.equal(JSON.parse(res.text).error.code, "forbidden");
    }
    assert.equal((await twilioPost("/voice/twilio/nobody", params)).status, 404);
    assert.equal((await twilioPost(path, { ...params, CallSid: "CA-not-a-sid" })).status, 400);
  });

  test("the relay refuses a plain GET, an unsigned handshake and a token replayed for another agent", async () => {
    const relayUrl = "wss://voice.example.test/voice/twilio/plain/relay";
    const plain = await fetch(local(relayUrl).replace("ws://", "http://"));
    assert.equal(plain.status, 426);
    await assert.rejects(relay(relayUrl, { callSid: newSid(), token: "x", signWith: "0".repeat(32) }), /403/);
    // A genuine token of a call to `plain`, presented on `markdown`'s relay.
    const { callSid, doc } = await incoming("plain");
    const token = doc.Response.Connect.ConversationRelay.Parameter[0].value;
    const replay = await relay("wss://voice.example.test/voice/twilio/markdown/relay", { callSid, token });
    await replay.until(() => replay.closed());
    assert.equal(replay.closed().code, 1008);
    // The right agent but another call.
    const other = await relay(doc.Response.Connect.ConversationRelay.url, { callSid: newSid(), token });
    await other.until(() => other.closed());
    assert.equal(other.closed().code, 1008);
    assert.equal((await api("GET", `/api/admin/conversations/call_${callSid}`)).status, 404);
  });
});

describe("a call on the relay", () => {
  test("a question is answered as streamed text tokens ending with last:true, and the call is a phone conversation", async () => {
    const c = await call("plain");
    const frames = await c.say("What are your opening hours?");
    assert.ok(frames.length >= 2, JSON.stringify(frames));
    assert.ok(frames.slice(0, -1).every((f) => f.last === false));
    assert.equal(frames.at(-1).last, true);
    assert.equal(spoken(frames), "Hello from the stand-in.");
    const second = await c.say("Thanks");
    assert.equal(spoken(second), "Hello from the stand-in.");
    // The agent is told it is on the phone, with the history of the call.
    const request = standin.requests.at(-1).body;
    assert.match(request.messages[0].content, /phone call/);
    assert.deepEqual(request.messages.filter((m) => m.role === "user").map((m) => m.content), ["What are your opening hours?", "Thanks"]);
    // The first answer is in the second turn's history, though it is stored while that turn reads.
    assert.deepEqual(
      request.messages.slice(-3).map((m) => [m.role, m.content]),
      [["user", "What are your opening hours?"], ["assistant", "Hello from the stand-in."], ["user", "Thanks"]],
    );
    assert.ok(request.tools.some((t) => t.function.name === "transfer_to_human"), "handoff offered with a number");
    await c.hangUp();
    const stored = await storedCall(c.conversationId, (conv) => conv.call?.endedAt && conv.messages.length === 4);
    assert.deepEqual(stored.messages.map((m) => [m.role, textOfMessage(m)]), [
      ["user", "What are your opening hours?"], ["assistant", "Hello from the stand-in."], ["user", "Thanks"], ["assistant", "Hello from the stand-in."],
    ]);
    assert.equal(stored.messages[1].metadata.usage.inputTokens, 12);
    assert.equal(stored.call.caller, CALLER);
    assert.equal(stored.call.callSid, c.callSid);
    assert.equal(stored.call.outcome, "completed");
    // In the inbox: channel phone, the caller's number masked.
    const inbox = await api("GET", "/api/admin/conversations?channel=phone&agentId=plain");
    const row = inbox.json.conversations.find((x) => x.id === c.conversationId);
    assert.equal(row.channel, "phone");
    assert.equal(row.visitorId, "+•••0100");
    assert.ok(!inbox.text.includes(CALLER));
    const usage = await api("GET", "/api/admin/usage");
    assert.ok(usage.json.usage.some((u) => u.agentId === "plain" && u.messages >= 2));
  });

  test("markdown and URLs in the model's answer never reach a text frame", async () => {
    const c = await call("markdown");
    const frames = await c.say("When are you open?");
    for (const f of frames) {
      for (const banned of ["*", "#", "[", "](", "http", "`", "shop.example"]) assert.ok(!f.token.includes(banned), `${banned} in ${JSON.stringify(f)}`);
    }
    assert.match(spoken(frames), /Opening hours We are open 9 to 5\. See our page or/);
    await c.hangUp();
  });

  test("a tool call gets a short spoken filler before its answer", async () => {
    const c = await call("tool");
    const frames = await c.say("What time is it in Paris?");
    const text = spoken(frames);
    const filler = text.indexOf("One moment while I check that.");
    assert.ok(filler >= 0, text);
    assert.ok(text.indexOf("The tool said") > filler, text);
    await c.hangUp();
  });

  test("a phone agent in knowledge tool mode searches with search_knowledge; the stored call keeps the source", async () => {
    const base = await api("POST", "/api/admin/knowledge-bases", { body: { name: "Phone help" } });
    assert.equal(base.status, 201, base.text);
    const baseId = base.json.knowledgeBase.id;
    const added = await api("POST", `/api/admin/knowledge-bases/${baseId}/sources`, {
      body: { type: "text", title: "Warranty", text: "Every Acme lamp has a warranty of two years." },
    });
    assert.equal(added.status, 202, added.text);
    await eventually(async () => {
      const got = await api("GET", `/api/admin/knowledge-bases/${baseId}/sources/${added.json.source.id}`);
      return got.json.source.status === "ready";
    }, { timeoutMs: 30_000, intervalMs: 100 });
    // Saved through the management API: tool mode is accepted.
    await phoneAgent("kb-phone", "scenario/search", {}, { knowledge: { bases: [baseId], mode: "tool" } });
    const c = await call("kb-phone");
    const before = standin.requests.length;
    const frames = await c.say("What warranty does an Acme lamp have?");
    assert.match(spoken(frames), /two years/, "the answer is made from the search's result");
    const [first] = standin.requests.slice(before).map((r) => r.body);
    assert.ok(first.tools.some((t) => t.function.name === "search_knowledge"), JSON.stringify(first.tools));
    assert.doesNotMatch(first.messages[0].content, /two years/, "nothing retrieved before the model asks");
    await c.hangUp();
    const stored = await storedCall(c.conversationId, (conv) => conv.messages.length === 2);
    const source = stored.messages[1].parts.find((p) => p.type === "source-document");
    assert.equal(source?.title, "Warranty", JSON.stringify(stored.messages[1].parts));
    assert.equal(source.providerMetadata.knowledge.sourceId, added.json.source.id);
  });

  test("an interrupt cancels the model request at once and stores what the caller heard", async () => {
    const c = await call("hold");
    const start = c.since();
    c.send({ type: "prompt", voicePrompt: "Tell me everything", lang: "en-US", last: true });
    await c.until((all) => spoken(all.slice(start)).includes("First words"));
    await eventually(() => standin.holding("hold"));
    const stream = standin.streams.at(-1);
    c.send({ type: "interrupt", utteranceUntilInterrupt: "First", durationUntilInterruptMs: 640 });
    await eventually(() => stream.closedEarly, { timeoutMs: 3000 });
    standin.release("hold");
    // The call goes on after the interruption.
    c.send({ type: "info", note: "an unknown frame type is ignored" });
    await c.hangUp();
    const stored = await storedCall(c.conversationId, (conv) => conv.call?.endedAt && conv.messages.length === 2);
    const answer = stored.messages[1];
    assert.equal(textOfMessage(answer), "First");
    assert.equal(answer.metadata.status, "aborted");
    assert.equal(answer.metadata.finishReason, "interrupted");
    assert.equal(stored.call.details.interruptions, 1);
  });

  test("the caller hanging up mid-answer stores the partial answer as aborted, and nothing hangs", async () => {
    const c = await call("hold");
    const start = c.since();
    c.send({ type: "prompt", voicePrompt: "Long answer please", lang: "en-US", last: true });
    await c.until((all) => spoken(all.slice(start)).includes("First words"));
    await eventually(() => standin.holding("hold"));
    const stream = standin.streams.at(-1);
    await c.hangUp();
    await eventually(() => stream.closedEarly, { timeoutMs: 3000 });
    standin.release("hold");
    const stored = await storedCall(c.conversationId, (conv) => conv.call?.endedAt && conv.messages.length === 2);
    assert.equal(textOfMessage(stored.messages[1]), "First words");
    assert.equal(stored.messages[1].metadata.status, "aborted");
    assert.equal(stored.call.outcome, "hangup");
  });

  test("a model error is an apology and the call goes on", async () => {
    const c = await call("broken");
    const first = await c.say("Hello?");
    assert.match(spoken(first), /^Sorry, I had trouble answering that/);
    const second = await c.say("Are you there?");
    assert.equal(second.at(-1).last, true);
    c.send({ type: "error", description: "Invalid message received: test" });
    await c.hangUp();
    const stored = await storedCall(c.conversationId, (conv) => conv.call?.endedAt && conv.messages.length === 4);
    assert.equal(stored.messages[1].metadata.status, "error");
    assert.deepEqual(stored.call.details.errors, ["Invalid message received: test"]);
  });

  test("key presses reach the agent, and the human digit hands off: end with handoffData, then <Dial>", async () => {
    const c = await call("plain");
    await c.send({ type: "dtmf", digit: "5" });
    await c.until((all) => all.some((f) => f.type === "text" && f.last));
    assert.match(standin.requests.at(-1).body.messages.at(-1).content, /pressed 5/);
    c.send({ type: "dtmf", digit: "0" });
    const end = await c.until((all) => all.find((f) => f.type === "end"));
    const data = JSON.parse(end.handoffData);
    assert.match(data.reason, /pressed 0/);
    assert.ok(spoken(c.frames.map((f) => f.frame)).includes("Connecting you to a person now."));
    await c.until(() => c.closed());
    const after = await twilioPost("/voice/twilio/plain/ended", { ...callParams(c.callSid), SessionId: "VX1", SessionStatus: "completed", SessionDuration: "42", HandoffData: end.handoffData });
    assert.equal(after.status, 200);
    const doc = xml.parse(after.text);
    assert.equal(doc.Response.Dial["#text"], HANDOFF);
    assert.equal(doc.Response.Dial.callerId, CALLER_ID);
    const stored = await storedCall(c.conversationId, (conv) => conv.call?.details?.durationSecs === 42);
    assert.equal(stored.call.outcome, "handoff");
  });

  test("transfer_to_human ends the relay with handoffData; the signed action callback dials the number", async () => {
    const c = await call("handoff");
    const start = c.since();
    c.send({ type: "prompt", voicePrompt: "I want to talk to someone about my bill", lang: "en-US", last: true });
    const end = await c.until((all) => all.slice(start).find((f) => f.type === "end"));
    assert.deepEqual(JSON.parse(end.handoffData), { reason: "billing dispute", summary: "Caller disputes invoice 42" });
    assert.match(spoken(c.frames.slice(start).map((f) => f.frame)), /transferring you/);
    await c.until(() => c.closed());
    const path = "/voice/twilio/handoff/ended";
    const fields = { ...callParams(c.callSid), SessionId: "VX2", SessionStatus: "ended", SessionDuration: "17", HandoffData: end.handoffData };
    assert.equal((await twilioPost(path, fields, { signParams: { ...fields, HandoffData: "{}" } })).status, 403, "tampered callback");
    const dialled = xml.parse((await twilioPost(path, fields)).text);
    assert.equal(dialled.Response.Dial["#text"], HANDOFF);
    const stored = await storedCall(c.conversationId, (conv) => conv.call?.outcome === "handoff" && conv.call.endedAt);
    assert.equal(stored.call.details.handoff.summary, "Caller disputes invoice 42");
    // Without a handoff, the callback just hangs up.
    const plain = xml.parse((await twilioPost(path, { ...callParams(newSid()), SessionStatus: "completed" })).text);
    assert.ok("Hangup" in plain.Response);
  });

  test("with no handoff number the agent takes a message, stored with the call", async () => {
    const c = await call("message");
    const frames = await c.say("Can I talk to a person?");
    assert.match(spoken(frames), /passed your message on/);
    const offered = standin.requests.at(-1).body.tools.map((t) => t.function.name);
    assert.ok(offered.includes("take_message") && !offered.includes("transfer_to_human"), offered.join());
    await c.hangUp();
    const stored = await storedCall(c.conversationId, (conv) => conv.call?.outcome === "message");
    assert.deepEqual(stored.call.details.message, { message: "Please call me back about my order", name: "Ann", callbackNumber: "+15550109999" });
  });

  test("an agent over its spend cap says so and ends the call", async () => {
    const c = await call("capped");
    const start = c.since();
    c.send({ type: "prompt", voicePrompt: "Hello?", lang: "en-US", last: true });
    const end = await c.until((all) => all.slice(start).find((f) => f.type === "end"));
    assert.ok(end);
    assert.match(spoken(c.frames.slice(start).map((f) => f.frame)), /monthly usage limit/);
    const requestsBefore = standin.requests.length;
    const stored = await storedCall(c.conversationId, (conv) => conv.call?.outcome === "refused");
    assert.equal(stored.messages.length, 0, "no turn was stored");
    assert.equal(standin.requests.length, requestsBefore);
  });

  test("the max call length ends the call with a spoken goodbye, then end", async () => {
    const c = await call("short");
    const end = await c.until((all) => all.find((f) => f.type === "end"), { timeoutMs: 9000 });
    assert.ok(end);
    assert.match(spoken(c.frames.map((f) => f.frame)), /time limit/);
    const stored = await storedCall(c.conversationId, (conv) => conv.call?.outcome === "time-limit");
    assert.ok(stored.call.endedAt);
  });
});
