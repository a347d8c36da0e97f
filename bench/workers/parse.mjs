// Baseline (b): what a typical TypeScript implementation does: read the upstream SSE, parse
// every chunk, and write AI SDK UI-stream events into a TransformStream.
export default {
  async fetch(request, env, ctx) {
    const { messages } = await request.json();
    const model = decodeURIComponent(new URL(request.url).pathname.slice(1));
    const text = messages.at(-1).parts.map((p) => p.text).join("");
    const upstream = await fetch(`${env.UPSTREAM}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer bench" },
      body: JSON.stringify({ model, stream: true, messages: [{ role: "user", content: text }] }),
    });
    const { readable, writable } = new TransformStream();
    const writer = writable.getWriter();
    const encoder = new TextEncoder();
    const send = (event) => writer.write(encoder.encode(`data: ${JSON.stringify(event)}\n\n`));
    ctx.waitUntil(
      (async () => {
        send({ type: "start", messageId: "msg_1" });
        send({ type: "start-step" });
        const decoder = new TextDecoder();
        let buffer = "";
        let open = false;
        for await (const chunk of upstream.body) {
          buffer += decoder.decode(chunk, { stream: true });
          let end;
          while ((end = buffer.indexOf("\n\n")) !== -1) {
            const event = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            for (const line of event.split("\n")) {
              if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
              const delta = JSON.parse(line.slice(6)).choices?.[0]?.delta?.content;
              if (!delta) continue;
              if (!open) {
                send({ type: "text-start", id: "txt_1" });
                open = true;
              }
              send({ type: "text-delta", id: "txt_1", delta });
            }
          }
        }
        if (open) send({ type: "text-end", id: "txt_1" });
        send({ type: "finish-step" });
        send({ type: "finish", finishReason: "stop" });
        await writer.write(encoder.encode("data: [DONE]\n\n"));
        await writer.close();
      })(),
    );
    return new Response(readable, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
  },
};
