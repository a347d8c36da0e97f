// Talks to the chat API the way `useChat` does: the official `ai` package's
// DefaultChatTransport sends the request and validates every chunk; readUIMessageStream
// assembles the UIMessage a client would render.
import { randomUUID } from "node:crypto";
import { DefaultChatTransport, readUIMessageStream } from "ai";
import { TEST_ORIGIN, testKey } from "./worker.mjs";

/** Visitor tokens the worker issued, by worker URL and agent, reused like a widget would. */
const tokens = new Map();

/** Headers a widget on TEST_ORIGIN sends for `agentId`, with the visitor token it holds. */
export function widgetHeaders(base, agentId, { key = testKey(agentId), origin = TEST_ORIGIN, token = tokens.get(`${base}|${agentId}`) } = {}) {
  const headers = { "x-publishable-key": key, origin };
  if (token) headers["x-visitor-token"] = token;
  return headers;
}

/** Remembers the token a response issued, as the widget does. */
export function keepToken(base, agentId, response) {
  const token = response.headers.get("x-visitor-token");
  if (token) tokens.set(`${base}|${agentId}`, token);
}

/**
 * Sends one user message (`first`: say it starts the conversation, as the widget does); returns
 * the final UIMessage, each chunk with its arrival time, and headers.
 */
export async function chat(base, agentId, { chatId, text, messageId = `u_${randomUUID()}`, abortSignal, onChunk, headers, first } = {}) {
  let response;
  const transport = new DefaultChatTransport({
    api: `${base}/api/agents/${agentId}/chat`,
    headers: headers ?? widgetHeaders(base, agentId),
    fetch: async (url, init) => {
      response = await fetch(url, init);
      keepToken(base, agentId, response);
      return response;
    },
  });
  const stream = await transport.sendMessages({
    chatId,
    messages: [{ id: messageId, role: "user", parts: [{ type: "text", text }] }],
    trigger: "submit-message",
    messageId: undefined,
    abortSignal,
    ...(first === undefined ? {} : { body: { first } }),
  });
  const chunks = [];
  const errors = [];
  const tapped = stream.pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        chunks.push({ at: performance.now(), chunk });
        onChunk?.(chunk);
        controller.enqueue(chunk);
      },
    }),
  );
  let message;
  for await (const snapshot of readUIMessageStream({ stream: tapped, onError: (e) => errors.push(e.message) })) {
    message = snapshot;
  }
  return { message, chunks, errors, headers: response.headers, messageId };
}

/** The visible text of a UIMessage. */
export function textOf(message) {
  return (message?.parts ?? []).filter((p) => p.type === "text").map((p) => p.text).join("");
}

/** Reads a stored conversation as the visitor who holds the agent's token. */
export async function storedConversation(base, agentId, chatId, headers = widgetHeaders(base, agentId)) {
  const res = await fetch(`${base}/api/agents/${agentId}/conversations/${chatId}`, { headers });
  return { status: res.status, body: await res.json() };
}

/** Polls `check` until it returns a truthy value or the time runs out. */
export async function eventually(check, { timeoutMs = 5000, intervalMs = 25 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
