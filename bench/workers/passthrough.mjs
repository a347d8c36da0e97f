// Baseline (a): a JavaScript worker that forwards the upstream body untouched (the floor).
export default {
  async fetch(request, env) {
    const { messages } = await request.json();
    const model = decodeURIComponent(new URL(request.url).pathname.slice(1));
    const text = messages.at(-1).parts.map((p) => p.text).join("");
    const upstream = await fetch(`${env.UPSTREAM}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer bench" },
      body: JSON.stringify({ model, stream: true, messages: [{ role: "user", content: text }] }),
    });
    return new Response(upstream.body, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
  },
};
