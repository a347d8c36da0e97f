// Talks to the chat API the way `useChat` does: the official `ai` package's
// DefaultChatTransport sends the request and validates every chunk; readUIMessageStream
// assembles the UIMessage a client would render.
import { randomUUID } from "node:crypto";
import { DefaultChatTransport, readUIMessageStream } from "ai";

/** Sends one user message; returns the final UIMessage, each chunk with its arrival time, and headers. */
export async function chat(base, agentId, { chatId, text, messageId = `u_${randomUUID()}`, abortSignal, onChunk } = {}) {
  let response;
  const transport = new DefaultChatTransport({
    api: `${base}/api/agents/${agentId}/chat`,
    fetch: async (url, init) => (response = await fetch(url, init)),
  });
  const stream = await transport.sendMessages({
    chatId,
    messages: [{ id: messageId, role: "user", parts: [{ type: "text", text }] }],
    trigger: "submit-message",
    messageId: undefined,
    abortSignal,
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

/** Reads a stored conversation. */
export async function storedConversation(base, agentId, chatId) {
  const res = await fetch(`${base}/api/agents/${agentId}/conversations/${chatId}`);
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
