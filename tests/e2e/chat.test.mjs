// End-to-end: the built worker in workerd (Miniflare) with real D1, a local OpenAI-compatible
// stand-in, and the official `ai` client parsing every response.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startStandIn } from "../support/standin.mjs";
import { putAgent, startWorker } from "../support/worker.mjs";
import { chat, eventually, storedConversation, textOf } from "../support/chat.mjs";

let standin;
let worker;

const agentConfig = (model, extra = {}) => ({
  name: "Test agent",
  systemPrompt: "You are a test agent.",
  model,
  tools: { builtin: ["get_current_time"], webhooks: [] },
  ...extra,
});

before(async () => {
  standin = await startStandIn();
  worker = await startWorker({
    OPENROUTER_BASE_URL: `${standin.url}/v1`,
    OPENROUTER_API_KEY: "test-key",
    APP_URL: "https://tests.example",
    APP_TITLE: "Edge Agent Chat tests",
    MODEL_IDLE_TIMEOUT_MS: "1500",
  });
  await putAgent(worker.db, { id: "plain", config: agentConfig("scenario/plain") });
});

after(async () => {
  await worker?.stop();
  await standin?.close();
});

describe("plain text turn", () => {
  test("streams the answer, stores both messages, and sends attribution", async () => {
    const chatId = "chat_plain_1";
    const result = await chat(worker.url, "plain", { chatId, text: "Hi there" });
    assert.equal(textOf(result.message), "Hello from the stand-in.");
    assert.deepEqual(result.errors, []);
    assert.equal(result.headers.get("x-conversation-id"), chatId);
    assert.equal(result.headers.get("x-vercel-ai-ui-message-stream"), "v1");
    assert.equal(result.headers.get("content-type"), "text/event-stream");
    const types = result.chunks.map((c) => c.chunk.type);
    assert.deepEqual(types, ["start", "start-step", "text-start", "text-delta", "text-delta", "text-delta", "text-end", "finish-step", "finish"]);
    assert.equal(result.chunks.at(-1).chunk.finishReason, "stop");

    const upstream = standin.requests.at(-1);
    assert.equal(upstream.headers.authorization, "Bearer test-key");
    assert.equal(upstream.headers["http-referer"], "https://tests.example");
    assert.equal(upstream.headers["x-openrouter-title"], "Edge Agent Chat tests");
    assert.equal(upstream.body.stream, true);
    assert.deepEqual(upstream.body.messages, [
      { role: "system", content: "You are a test agent." },
      { role: "user", content: "Hi there" },
    ]);

    const stored = await eventually(async () => {
      const c = await storedConversation(worker.url, "plain", chatId);
      return c.body.messages?.length === 2 && c;
    });
    const [user, assistant] = stored.body.messages;
    assert.equal(user.id, result.messageId);
    assert.deepEqual(user.parts, [{ type: "text", text: "Hi there" }]);
    assert.equal(assistant.id, result.chunks[0].chunk.messageId);
    assert.equal(assistant.metadata.status, "complete");
    assert.equal(assistant.metadata.model, "scenario/plain@served");
    assert.deepEqual(assistant.metadata.usage, { inputTokens: 12, outputTokens: 5, cost: 0.00042 });
    assert.deepEqual(assistant.parts, [{ type: "step-start" }, { type: "text", text: "Hello from the stand-in.", state: "done" }]);
  });
});
