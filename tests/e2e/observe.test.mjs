// End-to-end: every chat turn is exported as one OTLP trace, after the answer, to the
// operator's OTLP endpoint and to Langfuse's OpenTelemetry endpoint (both played by a loopback
// receiver that decodes each export with the official OpenTelemetry protobuf definitions).
// An exporter that is down, slow or refusing changes nothing the visitor sees, and no export
// ever carries a secret.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startStandIn } from "../support/standin.mjs";
import { startOtlpReceiver, spansOf } from "../support/otlp-receiver.mjs";
import { putAgent, startWorker, TEST_ORIGIN, TEST_TOKEN_SECRET } from "../support/worker.mjs";
import { chat, eventually, storedConversation, textOf, widgetHeaders } from "../support/chat.mjs";

const SECRETS = {
  provider: "sk-or-test-provider-key-0123456789",
  otlpToken: "otlp-bearer-token-5f0c2a9d",
  langfuseSecret: "sk-lf-test-secret-7e1b4c",
  webhook: "webhook-header-secret-93ab61",
  signing: "whsec_signing_secret_4d2e8f",
  tokenSecret: TEST_TOKEN_SECRET,
  admin: "adm_observe_operator_key_61c2",
  tenantLangfuse: "sk-lf-tenant-secret-0c9d2b",
  tenantOtlp: "tenant-otlp-header-value-77aa",
};
const LANGFUSE_PUBLIC = "pk-lf-test-public-1a2b";

let standin;
let receiver;
/** A second receiver, for tenants' own integrations (allowed by WEBHOOK_ALLOW_HOSTS). */
let tenantReceiver;
let worker;
/** Every JSON line the worker logged. */
const logs = [];

const agentConfig = (model, extra = {}) => ({
  name: "Traced agent",
  systemPrompt: "You are a traced test agent.",
  model,
  tools: { builtin: ["get_current_time"], webhooks: [] },
  ...extra,
});

before(async () => {
  standin = await startStandIn();
  receiver = await startOtlpReceiver();
  tenantReceiver = await startOtlpReceiver();
  worker = await startWorker({
    OPENROUTER_BASE_URL: `${standin.url}/v1`,
    OPENROUTER_API_KEY: SECRETS.provider,
    MODEL_IDLE_TIMEOUT_MS: "3000",
    // Webhook tools may reach the stand-in; the receiver is trusted as the operator's endpoint.
    WEBHOOK_ALLOW_HOSTS: `127.0.0.1:${new URL(standin.url).port},${tenantReceiver.host}`,
    OTEL_EXPORTER_OTLP_ENDPOINT: `${receiver.url}/otlp`,
    OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${SECRETS.otlpToken},x-scope=ops`,
    OTEL_EXPORTER_OTLP_TIMEOUT: "800",
    LANGFUSE_HOST: `${receiver.url}/langfuse`,
    LANGFUSE_PUBLIC_KEY: LANGFUSE_PUBLIC,
    LANGFUSE_SECRET_KEY: SECRETS.langfuseSecret,
    ADMIN_API_KEY: SECRETS.admin,
  }, {
    onLog(line) {
      const json = line.slice(line.indexOf("{"));
      try {
        logs.push(JSON.parse(json));
      } catch {
        // Not one of ours (workerd's own output).
      }
    },
  });
  await putAgent(worker.db, { id: "plain", config: agentConfig("scenario/plain") });
  await putAgent(worker.db, { id: "tool", config: agentConfig("scenario/tool") });
  await putAgent(worker.db, { id: "fallback", config: agentConfig("scenario/rate-limited", { models: ["scenario/plain"] }) });
  await putAgent(worker.db, { id: "midstream", config: agentConfig("scenario/midstream-error") });
  await putAgent(worker.db, { id: "slow-stream", config: agentConfig("scenario/slow-stream") });
  await putAgent(worker.db, {
    id: "echo",
    tenant: "t_secret",
    signingSecret: SECRETS.signing,
    config: agentConfig("scenario/call/echo_headers", {
      tools: { builtin: [], webhooks: [{ name: "echo_headers", description: "Echo", url: `${standin.url}/hooks/echo`, headers: { "x-api-key": SECRETS.webhook } }] },
    }),
  });
});

after(async () => {
  await worker?.stop();
  await receiver?.close();
  await tenantReceiver?.close();
  await standin?.close();
});

/** The decoded exports of the turn in conversation `chatId`, one per target. */
async function exportsOf(chatId, count = 2) {
  return eventually(
    () => {
      const found = receiver.exports.filter((e) => e.request && spansOf(e.request).some((s) => s.attributes["session.id"] === chatId));
      return found.length >= count && found;
    },
    { timeoutMs: 8000 },
  );
}

function traceOf(entry) {
  const spans = spansOf(entry.request);
  const root = spans.find((s) => !s.parentSpanId);
  return { spans, root, children: spans.filter((s) => s !== root) };
}

function assertWellFormed({ spans, root }) {
  assert.ok(root, "one root span");
  assert.equal(spans.filter((s) => !s.parentSpanId).length, 1);
  assert.equal(new Set(spans.map((s) => s.traceId)).size, 1, "one trace id");
  assert.equal(new Set(spans.map((s) => s.spanId)).size, spans.length, "distinct span ids");
  const now = BigInt(Date.now()) * 1_000_000n;
  for (const span of spans) {
    if (span !== root) assert.equal(span.parentSpanId, root.spanId, `${span.name} hangs under the root`);
    assert.ok(span.start <= span.end, `${span.name} ends after it starts`);
    assert.ok(span.start >= root.start && span.end <= root.end, `${span.name} lies inside the turn`);
    assert.ok(now - span.start < 60_000_000_000n && span.start <= now, `${span.name} starts within the last minute`);
  }
}

describe("one trace per turn", () => {
  test("a plain answer: root and generation, to the OTLP endpoint and to Langfuse, with their auth", async () => {
    const chatId = "chat_trace_plain";
    const result = await chat(worker.url, "plain", { chatId, text: "Hello there" });
    const exports = await exportsOf(chatId);
    const otlp = exports.find((e) => e.path === "/otlp/v1/traces");
    const langfuse = exports.find((e) => e.path === "/langfuse/api/public/otel/v1/traces");
    assert.ok(otlp && langfuse, `paths: ${exports.map((e) => e.path)}`);
    assert.equal(otlp.headers.authorization, `Bearer ${SECRETS.otlpToken}`);
    assert.equal(otlp.headers["x-scope"], "ops");
    assert.equal(langfuse.headers.authorization, `Basic ${Buffer.from(`${LANGFUSE_PUBLIC}:${SECRETS.langfuseSecret}`).toString("base64")}`);
    assert.equal(langfuse.headers["x-langfuse-ingestion-version"], "4");
    assert.match(langfuse.headers["content-type"], /^application\/json/);
    assert.equal(otlp.raw.toString(), langfuse.raw.toString(), "one body for every target");

    const trace = traceOf(langfuse);
    assertWellFormed(trace);
    const { root, children } = trace;
    assert.equal(root.traceId.length, 32);
    assert.deepEqual(children.map((s) => s.attributes["langfuse.observation.type"]), ["generation"]);
    assert.equal(root.attributes["langfuse.observation.type"], "agent");
    assert.equal(root.attributes["langfuse.trace.name"], "widget turn");
    assert.equal(root.attributes["session.id"], chatId);
    assert.match(root.attributes["user.id"], /^v_/);
    assert.equal(root.attributes["langfuse.trace.metadata.tenantId"], "t_test");
    assert.equal(root.attributes["langfuse.trace.metadata.agentId"], "plain");
    assert.equal(root.attributes["langfuse.trace.metadata.messageId"], result.message.id);
    assert.equal(root.attributes["langfuse.trace.input"], "Hello there");
    assert.equal(root.attributes["langfuse.trace.output"], textOf(result.message));
    const [generation] = children;
    assert.equal(generation.kind, 3, "a client span");
    assert.equal(generation.attributes["langfuse.observation.model.name"], "scenario/plain@served");
    assert.equal(generation.attributes["gen_ai.request.model"], "scenario/plain");
    assert.equal(generation.attributes["langfuse.observation.output"], textOf(result.message));
    const input = JSON.parse(generation.attributes["langfuse.observation.input"]);
    assert.deepEqual(input.map((m) => m.role), ["system", "user"]);
    assert.equal(input[1].content, "Hello there");
    const usage = JSON.parse(generation.attributes["langfuse.observation.usage_details"]);
    assert.ok(usage.input >= 0 && usage.total === usage.input + usage.output);
    const firstToken = BigInt(Date.parse(generation.attributes["langfuse.observation.completion_start_time"])) * 1_000_000n;
    assert.ok(firstToken >= generation.start && firstToken <= generation.end, "time to first token inside the call");
    assert.deepEqual(root.status, { code: 1 });
    for (const name of ["x-log-trace", "x-log-tenant", "x-log-agent"]) assert.equal(result.headers.get(name), null, `${name} stays inside`);
  });

  test("a tool loop: generation, tool, generation, each under the root, in order", async () => {
    const chatId = "chat_trace_tool";
    await chat(worker.url, "tool", { chatId, text: "What time is it in Paris?" });
    const [entry] = await exportsOf(chatId);
    const trace = traceOf(entry);
    assertWellFormed(trace);
    assert.deepEqual(trace.children.map((s) => s.attributes["langfuse.observation.type"]), ["generation", "tool", "generation"]);
    const [first, tool, second] = trace.children;
    assert.equal(tool.attributes["gen_ai.tool.name"], "get_current_time");
    assert.deepEqual(JSON.parse(tool.attributes["langfuse.observation.input"]), { timezone: "Europe/Paris" });
    assert.ok(JSON.parse(tool.attributes["langfuse.observation.output"]));
    assert.ok(first.end <= tool.start && tool.end <= second.start, "the tool runs between the two model calls");
    assert.equal(first.attributes["gen_ai.response.finish_reasons"], "tool-calls");
  });

  test("a fallback: the failed attempt is an event on the generation of the model that answered", async () => {
    const chatId = "chat_trace_fallback";
    const result = await chat(worker.url, "fallback", { chatId, text: "hi" });
    assert.ok(textOf(result.message).length > 0);
    const [entry] = await exportsOf(chatId);
    const trace = traceOf(entry);
    assertWellFormed(trace);
    assert.equal(trace.children.length, 1);
    const [generation] = trace.children;
    assert.equal(generation.attributes["langfuse.observation.model.name"], "scenario/plain@served");
    assert.equal(generation.attributes["langfuse.observation.level"], "WARNING");
    assert.equal(generation.events.length, 1);
    const [fallback] = generation.events;
    assert.equal(fallback.name, "model.fallback");
    assert.equal(fallback.attributes["gen_ai.request.model"], "scenario/rate-limited");
    assert.match(fallback.attributes["error.message"], /429/);
    const at = BigInt(fallback.timeUnixNano);
    assert.ok(at >= generation.start && at <= generation.end);
  });

  test("a mid-stream error: the generation and the turn are marked as errors", async () => {
    const chatId = "chat_trace_midstream";
    await chat(worker.url, "midstream", { chatId, text: "hi" });
    const [entry] = await exportsOf(chatId);
    const trace = traceOf(entry);
    assertWellFormed(trace);
    const [generation] = trace.children;
    assert.equal(generation.attributes["langfuse.observation.level"], "ERROR");
    assert.equal(generation.status.code, 2);
    assert.equal(generation.attributes["langfuse.observation.output"], "Partial answer");
    assert.equal(trace.root.attributes["langfuse.observation.level"], "ERROR");
    assert.equal(trace.root.attributes["langfuse.trace.metadata.outcome"], "error");
  });

  test("an aborted turn is traced once the visitor has gone", async () => {
    const chatId = "chat_trace_abort";
    const controller = new AbortController();
    let deltas = 0;
    await chat(worker.url, "slow-stream", {
      chatId,
      text: "a long story please",
      abortSignal: controller.signal,
      onChunk(chunk) {
        if (chunk.type === "text-delta" && ++deltas === 3) controller.abort();
      },
    }).catch(() => {});
    const [entry] = await exportsOf(chatId);
    const trace = traceOf(entry);
    assertWellFormed(trace);
    assert.equal(trace.root.attributes["langfuse.trace.metadata.outcome"], "aborted");
    assert.equal(trace.root.attributes["langfuse.observation.level"], "WARNING");
    const [generation] = trace.children;
    assert.match(generation.attributes["langfuse.observation.output"], /^w0 w1 w2 /);
  });
});

/** Calls the management API with `token`. */
async function api(method, path, token, body) {
  const res = await fetch(`${worker.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

describe("visitor feedback", () => {
  test("a rating becomes a Langfuse score on the answer's trace; a cleared rating deletes it", async () => {
    const chatId = "chat_trace_feedback";
    const result = await chat(worker.url, "plain", { chatId, text: "Rate me" });
    const [entry] = await exportsOf(chatId);
    const traceId = traceOf(entry).root.traceId;
    const rate = (rating) =>
      fetch(`${worker.url}/api/agents/plain/conversations/${chatId}/messages/${result.message.id}/feedback`, {
        method: "POST",
        headers: { ...widgetHeaders(worker.url, "plain"), "content-type": "application/json" },
        body: JSON.stringify({ rating }),
      });
    assert.equal((await rate("down")).status, 200);
    const score = await eventually(() => receiver.scores.find((s) => s.method === "POST" && s.body?.traceId === traceId));
    assert.equal(score.error, undefined);
    assert.equal(score.path, "/langfuse/api/public/scores");
    assert.equal(score.headers.authorization, `Basic ${Buffer.from(`${LANGFUSE_PUBLIC}:${SECRETS.langfuseSecret}`).toString("base64")}`);
    assert.deepEqual([score.body.name, score.body.value, score.body.dataType, score.body.id], ["user-feedback", 0, "BOOLEAN", `feedback-${result.message.id}`]);
    assert.equal((await rate("up")).status, 200);
    await eventually(() => receiver.scores.find((s) => s.body?.traceId === traceId && s.body.value === 1));
    assert.equal((await rate(null)).status, 200);
    const removed = await eventually(() => receiver.scores.find((s) => s.method === "DELETE"));
    assert.equal(removed.path, `/langfuse/api/public/scores/feedback-${result.message.id}`);
    // Only Langfuse takes scores: nothing went to the plain OTLP endpoint.
    assert.ok(receiver.scores.every((s) => s.path.startsWith("/langfuse/")));
  });
});

describe("the per-turn summary in the transcript", () => {
  test("each answer keeps its timings, tokens, cost and models tried; the tenant sees them, the visitor does not", async () => {
    const tenant = await api("POST", "/api/admin/tenants", SECRETS.admin, { name: "Timing Inc." });
    assert.equal(tenant.status, 201);
    const secretKey = tenant.json.secretKey;
    const created = await api("POST", "/api/admin/agents", secretKey, {
      id: "timed",
      config: { model: "scenario/rate-limited", models: ["scenario/tool"], allowedOrigins: [TEST_ORIGIN], tools: { builtin: ["get_current_time"] } },
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const key = created.json.agent.publishableKeys[0];
    const chatId = "chat_timed";
    const result = await chat(worker.url, "timed", { chatId, text: "time in Paris?", headers: widgetHeaders(worker.url, "timed", { key, token: null }) });
    assert.match(textOf(result.message), /The tool said/);
    const [entry] = await exportsOf(chatId);
    const traceId = traceOf(entry).root.traceId;

    const transcript = await eventually(async () => {
      const r = await api("GET", `/api/admin/conversations/${chatId}`, secretKey);
      return r.json?.conversation?.messages?.length === 2 && r.json.conversation;
    });
    const timing = transcript.messages[1].metadata.timing;
    assert.ok(timing, "the answer carries its timing");
    assert.equal(timing.traceId, traceId, "the summary names the exported trace");
    assert.deepEqual(timing.models.map((m) => [m.model, !!m.error]), [["scenario/rate-limited", true], ["scenario/tool", false], ["scenario/tool", false]]);
    assert.deepEqual(timing.tools.map((t) => t.name), ["get_current_time"]);
    assert.ok(timing.totalMs >= timing.modelMs && timing.modelMs >= 0);
    assert.ok(timing.firstTokenMs >= 0 && timing.firstTokenMs <= timing.totalMs);
    assert.equal(timing.inputTokens, 70);
    assert.equal(timing.outputTokens, 21);
    assert.ok(Math.abs(timing.cost - 0.0003) < 1e-9);
    for (const tool of timing.tools) assert.ok(tool.startMs >= 0 && tool.ms >= 0);
    assert.equal(transcript.messages[0].metadata.timing, undefined, "user messages have none");

    const visitor = await storedConversation(worker.url, "timed", chatId, widgetHeaders(worker.url, "timed", { key }));
    assert.equal(visitor.status, 200);
    assert.equal(visitor.body.messages[1].metadata.timing, undefined, "visitors are not shown the timing");
  });
});

describe("a tenant's own integrations", () => {
  test("langfuse and otlp integrations: masked, tested, exported to on every turn, removed", async () => {
    const tenant = await api("POST", "/api/admin/tenants", SECRETS.admin, { name: "Traced Inc." });
    const secretKey = tenant.json.secretKey;
    const created = await api("POST", "/api/admin/agents", secretKey, { id: "own-traces", config: { model: "scenario/plain", allowedOrigins: [TEST_ORIGIN] } });
    const key = created.json.agent.publishableKeys[0];
    const headers = () => widgetHeaders(worker.url, "own-traces", { key });

    const lf = await api("PUT", "/api/admin/integrations/langfuse", secretKey, {
      host: `${tenantReceiver.url}/lf`,
      publicKey: "pk-lf-tenant-public",
      secretKey: SECRETS.tenantLangfuse,
      sampleRate: 1,
      captureContent: false,
    });
    assert.equal(lf.status, 200, JSON.stringify(lf.json));
    const otlp = await api("PUT", "/api/admin/integrations/otlp", secretKey, { endpoint: `${tenantReceiver.url}/v1/traces`, headers: { "X-Api-Key": SECRETS.tenantOtlp } });
    assert.equal(otlp.status, 200, JSON.stringify(otlp.json));
    const shown = await api("GET", "/api/admin/integrations/otlp", secretKey);
    assert.equal(shown.json.integration.settings.endpoint, `${tenantReceiver.url}/v1/traces`);
    assert.deepEqual(Object.keys(shown.json.integration.secrets.headers), ["x-api-key"]);
    const shownLf = await api("GET", "/api/admin/integrations/langfuse", secretKey);
    assert.equal(shownLf.json.integration.settings.captureContent, false);
    for (const r of [lf, otlp, shown, shownLf]) {
      assert.ok(!JSON.stringify(r.json).includes(SECRETS.tenantLangfuse) && !JSON.stringify(r.json).includes(SECRETS.tenantOtlp), "secrets never shown back");
    }
    assert.equal((await api("PUT", "/api/admin/integrations/langfuse", secretKey, { sampleRate: 3 })).status, 400);
    assert.equal((await api("PUT", "/api/admin/integrations/otlp", secretKey, { headers: { "bad name": "x" } })).status, 400);

    // "Send test trace": a one-span trace, with the tenant's credentials.
    const tested = await api("POST", "/api/admin/integrations/langfuse/test", secretKey);
    assert.equal(tested.status, 200);
    assert.equal(tested.json.ok, true, JSON.stringify(tested.json));
    const testExport = await eventually(() => tenantReceiver.forTrace(tested.json.traceId)[0]);
    assert.equal(testExport.path, "/lf/api/public/otel/v1/traces");
    assert.equal(testExport.headers.authorization, `Basic ${Buffer.from(`pk-lf-tenant-public:${SECRETS.tenantLangfuse}`).toString("base64")}`);
    assert.equal(spansOf(testExport.request)[0].attributes["langfuse.trace.name"], "test trace");
    assert.equal((await api("POST", "/api/admin/integrations/twilio/test", secretKey)).status, 404);

    // A tenant's endpoint meets the outbound policy: the operator's receiver is not allowed.
    await api("PUT", "/api/admin/integrations/otlp", secretKey, { endpoint: `${receiver.url}/v1/traces` });
    const refused = await api("POST", "/api/admin/integrations/otlp/test", secretKey);
    assert.equal(refused.json.ok, false);
    assert.equal(refused.json.status, null);
    assert.match(refused.json.error, /127\.0\.0\.1|private|allow/i);
    await api("PUT", "/api/admin/integrations/otlp", secretKey, { endpoint: `${tenantReceiver.url}/v1/traces` });
    const retested = await api("POST", "/api/admin/integrations/otlp/test", secretKey);
    assert.equal(retested.json.ok, true, JSON.stringify(retested.json));
    const otlpTest = await eventually(() => tenantReceiver.forTrace(retested.json.traceId)[0]);
    assert.equal(otlpTest.headers["x-api-key"], SECRETS.tenantOtlp, "stored headers kept across a PUT that left them out");

    // Every turn of the tenant goes to both, and to the operator's targets; the most private
    // capture setting (the tenant's Langfuse: off) holds for all of them.
    const chatId = "chat_own_traces";
    await chat(worker.url, "own-traces", { chatId, text: "Private words", headers: headers() });
    const own = await eventually(() => {
      const found = tenantReceiver.exports.filter((e) => e.request && spansOf(e.request).some((s) => s.attributes["session.id"] === chatId));
      return found.length >= 2 && found;
    });
    assert.deepEqual(own.map((e) => e.path).sort(), ["/lf/api/public/otel/v1/traces", "/v1/traces"]);
    assert.equal(own.find((e) => e.path === "/v1/traces").headers["x-api-key"], SECRETS.tenantOtlp);
    const operator = await exportsOf(chatId);
    for (const e of [...own, ...operator]) {
      assert.ok(!e.raw.toString().includes("Private words"), "content capture is off for this tenant");
      assert.equal(traceOf(e).root.attributes["langfuse.trace.metadata.tenantId"], tenant.json.tenant.id);
    }
    // Another tenant's turns never reach this tenant's backends.
    await chat(worker.url, "plain", { chatId: "chat_not_theirs", text: "hi" });
    await exportsOf("chat_not_theirs");
    assert.ok(!tenantReceiver.exports.some((e) => e.request && spansOf(e.request).some((s) => s.attributes["session.id"] === "chat_not_theirs")));

    // Sampling per integration, then removal: nothing more goes there.
    await api("PUT", "/api/admin/integrations/otlp", secretKey, { sampleRate: 0 });
    assert.equal((await api("DELETE", "/api/admin/integrations/langfuse", secretKey)).status, 204);
    assert.equal((await api("GET", "/api/admin/integrations/langfuse", secretKey)).status, 404);
    const before = tenantReceiver.exports.length;
    await chat(worker.url, "own-traces", { chatId: "chat_own_after", text: "again", headers: headers() });
    await exportsOf("chat_own_after");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(tenantReceiver.exports.length, before, "no export to a removed or unsampled integration");
  });
});

describe("the exporter never touches the visitor", () => {
  /** The stream as the visitor sees it, without the per-turn ids. */
  const shape = (result) => result.chunks.map(({ chunk }) => JSON.stringify({ ...chunk, id: undefined, messageId: undefined }));

  async function timedTurn(chatId) {
    const started = performance.now();
    const result = await chat(worker.url, "plain", { chatId, text: "Hello there" });
    return { result, ms: performance.now() - started };
  }

  for (const mode of [500, 401, "slow", "hang", "reset"]) {
    test(`an exporter that answers ${mode}: same bytes, same timing, the answer stored`, async () => {
      receiver.state.mode = "ok";
      const baseline = await timedTurn(`chat_base_${mode}`);
      await exportsOf(`chat_base_${mode}`);
      receiver.state.mode = mode;
      receiver.state.slowMs = 3000;
      const before = receiver.exports.length;
      const failing = await timedTurn(`chat_fail_${mode}`);
      assert.deepEqual(shape(failing.result), shape(baseline.result));
      assert.ok(failing.ms < baseline.ms + 400, `${Math.round(failing.ms)} ms with the exporter failing vs ${Math.round(baseline.ms)} ms`);
      const stored = await eventually(async () => {
        const c = await storedConversation(worker.url, "plain", `chat_fail_${mode}`);
        return c.body.messages?.length === 2 && c;
      });
      assert.equal(stored.body.messages[1].metadata.status, "complete");
      // 5xx, timeouts and dropped connections are retried (bounded); 401 is not.
      const attempts = mode === 401 ? 1 : 3;
      await eventually(() => receiver.exports.length - before >= 2 * attempts, { timeoutMs: 10_000 });
      if (mode === 401) {
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(receiver.exports.length - before, 2, "a refused export is not retried");
      }
      receiver.state.mode = "ok";
      // The next turn is exported normally.
      await timedTurn(`chat_after_${mode}`);
      await exportsOf(`chat_after_${mode}`);
    });
  }

  test("an exporter that is not listening at all", async () => {
    const down = await startOtlpReceiver();
    const url = down.url;
    await down.close();
    const other = await startWorker({
      OPENROUTER_BASE_URL: `${standin.url}/v1`,
      OPENROUTER_API_KEY: SECRETS.provider,
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${url}/v1/traces`,
      OTEL_EXPORTER_OTLP_TIMEOUT: "500",
    });
    try {
      await putAgent(other.db, { id: "plain", config: agentConfig("scenario/plain") });
      const result = await chat(other.url, "plain", { chatId: "chat_down", text: "Hello there" });
      assert.equal(textOf(result.message).length > 0, true);
      assert.deepEqual(result.errors, []);
    } finally {
      await other.stop();
    }
  });
});

describe("structured logs", () => {
  test("one JSON line per request with route, tenant, agent, status, duration, the trace id and the isolate's memory; exports counted", async () => {
    const chatId = "chat_logged";
    await chat(worker.url, "plain", { chatId, text: "log me" });
    const [entry] = await exportsOf(chatId);
    const traceId = traceOf(entry).root.traceId;
    const line = await eventually(() => logs.find((l) => l.event === "request" && l.traceId === traceId));
    assert.deepEqual(
      [line.method, line.route, line.status, line.tenant, line.agent, line.level],
      ["POST", "/api/agents/{agentId}/chat", 200, "t_test", "plain", "info"],
    );
    assert.ok(Number.isInteger(line.ms) && line.ms >= 0);
    // The isolate's wasm memory: whole 64 KiB pages, a few MB for this worker.
    assert.ok(Number.isInteger(line.memoryKb) && line.memoryKb % 64 === 0 && line.memoryKb >= 1024 && line.memoryKb < 128 * 1024, `memoryKb ${line.memoryKb}`);
    const exported = await eventually(() => logs.filter((l) => l.event === "trace.export" && l.traceId === traceId).length === 2 && logs.filter((l) => l.event === "trace.export" && l.traceId === traceId));
    assert.deepEqual(exported.map((l) => [l.target, l.ok, l.attempts]).sort(), [["langfuse", true, 1], ["otlp", true, 1]]);
    // Failed exports are counted too (the failure tests above ran first).
    assert.ok(logs.some((l) => l.event === "trace.export" && l.ok === false && l.status === 500 && l.attempts === 3));
    assert.ok(logs.some((l) => l.event === "trace.export" && l.ok === false && l.status === 401 && l.attempts === 1));
    // A refused request names no tenant but still has its line; no log line carries a secret.
    await fetch(`${worker.url}/api/admin/agents`, { headers: { authorization: "Bearer sk_live_nope" } });
    const refused = await eventually(() => logs.find((l) => l.event === "request" && l.route === "/api/admin/agents" && l.status === 401));
    assert.equal(refused.tenant, null);
    assert.equal(refused.level, "warn");
    const all = JSON.stringify(logs);
    for (const [name, secret] of Object.entries(SECRETS)) assert.ok(!all.includes(secret), `${name} in the logs`);
  });
});

describe("privacy", () => {
  test("a webhook's headers echoed back by the tool are redacted in the export", async () => {
    const chatId = "chat_trace_secret";
    const result = await chat(worker.url, "echo", { chatId, text: `my provider key is ${SECRETS.provider}` });
    assert.ok(textOf(result.message).includes(SECRETS.webhook), "the tool result really carries the header back");
    const [entry] = await exportsOf(chatId);
    const tool = traceOf(entry).children.find((s) => s.attributes["langfuse.observation.type"] === "tool");
    assert.match(tool.attributes["langfuse.observation.output"], /\[redacted\]/);
  });

  test("no secret in any byte of any export", async () => {
    assert.ok(receiver.exports.length >= 20, `${receiver.exports.length} exports scanned`);
    const all = Buffer.concat([...receiver.exports, ...receiver.scores, ...tenantReceiver.exports].map((e) => e.raw)).toString("utf8");
    for (const [name, secret] of Object.entries(SECRETS)) {
      assert.ok(!all.includes(secret), `${name} leaked into an export`);
      assert.ok(!all.includes(Buffer.from(secret).toString("base64")), `${name} leaked base64-encoded`);
    }
    assert.ok(!all.includes(Buffer.from(`${LANGFUSE_PUBLIC}:${SECRETS.langfuseSecret}`).toString("base64")));
    assert.deepEqual(receiver.exports.filter((e) => e.error).map((e) => e.error), [], "every export decoded");
  });
});
