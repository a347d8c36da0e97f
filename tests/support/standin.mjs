// A local stand-in for OpenRouter (any OpenAI-compatible chat completions server) and for a
// tenant's webhook endpoints. It speaks the streaming wire format of protocols.md §2 and picks a
// scenario from the requested model name: `scenario/<name>`; unknown models get `plain`.
// `scenario/faulty` answers plainly unless a fault was queued with `fault(kind)` (see
// `faultyAnswer`): the next request then fails that way, so the turn after works again.
import { createServer } from "node:http";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function event(payload) {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

// Shaped like OpenRouter's chunks (about 300 bytes for a one-token delta).
function chunkOf(model, choice, extra = {}) {
  return {
    id: "gen-1760000000-standin0000000000",
    provider: "StandIn",
    model,
    object: "chat.completion.chunk",
    created: 1760000000,
    choices: choice ? [{ index: 0, logprobs: null, native_finish_reason: null, ...choice }] : [],
    system_fingerprint: "fp_standin",
    ...extra,
  };
}

const text = (model, content) => event(chunkOf(model, { delta: { content }, finish_reason: null }));
const finish = (model, reason) => event(chunkOf(model, { delta: {}, finish_reason: reason, native_finish_reason: reason }));
const usage = (model, prompt, completion, cost) =>
  event(chunkOf(model, null, { usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, cost } }));
const toolDelta = (model, calls) => event(chunkOf(model, { delta: { tool_calls: calls }, finish_reason: null }));
const DONE = "data: [DONE]\n\n";

/** Writes `body` in pieces of `size` bytes (splitting UTF-8 characters too), pausing between them. */
async function writeSplit(res, body, size) {
  const bytes = Buffer.from(body);
  for (let i = 0; i < bytes.length; i += size) {
    res.write(bytes.subarray(i, i + size));
    await sleep(1);
  }
}

function readBody(req) {
  return new Promise((resolve) => {
    const parts = [];
    req.on("data", (c) => parts.push(c));
    req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
  });
}

function lastMessage(body) {
  return body.messages?.[body.messages.length - 1] ?? {};
}

/** Starts the stand-in on a free loopback port. */
export async function startStandIn() {
  const requests = [];
  const hooks = [];
  const gates = new Map();
  const streams = [];
  const sockets = new Set();
  /** Faults queued for `scenario/faulty`: each `{ kind, left }` serves `left` requests. */
  const faults = [];

  function gate(name) {
    if (!gates.has(name)) {
      let release;
      const promise = new Promise((r) => (release = r));
      gates.set(name, { promise, release, waiting: false });
    }
    return gates.get(name);
  }

  async function completions(req, res, body) {
    const requested = String(body.model ?? "");
    const scenario = requested.startsWith("scenario/") ? requested.slice(9) : "plain";
    const model = `${requested}@served`;
    const record = { scenario, closedEarly: false, finished: false, startedAt: performance.now() };
    streams.push(record);
    res.on("close", () => {
      if (!record.finished) {
        record.closedEarly = true;
        record.closedAt = performance.now();
      }
    });
    const sse = () => {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.socket?.setNoDelay(true);
    };
    const end = () => {
      record.finished = true;
      res.end();
    };
    const fail = (status, message, headers = {}) => {
      res.writeHead(status, { "content-type": "application/json", ...headers });
      record.finished = true;
      res.end(JSON.stringify({ error: { code: status, message } }));
    };
    const toolTurn = lastMessage(body).role === "tool";

    // `scenario/call/<tool>`: calls that tool with no arguments, then reports its result.
    if (scenario.startsWith("call/")) {
      sse();
      if (toolTurn) res.write(text(model, `Tool result: ${lastMessage(body).content}`) + finish(model, "stop") + DONE);
      else res.write(toolDelta(model, [{ index: 0, id: "call_1", type: "function", function: { name: scenario.slice(5), arguments: "{}" } }]) + finish(model, "tool_calls") + DONE);
      return end();
    }

    // `scenario/search`: calls `search_knowledge` with the user's last message as the query,
    // then answers with what the search returned.
    if (scenario === "search") {
      sse();
      if (toolTurn) res.write(text(model, `Found: ${String(lastMessage(body).content).slice(0, 2000)}`) + finish(model, "stop") + DONE);
      else {
        const question = [...(body.messages ?? [])].reverse().find((m) => m.role === "user")?.content;
        const call = { name: "search_knowledge", arguments: JSON.stringify({ query: String(question ?? "") }) };
        res.write(toolDelta(model, [{ index: 0, id: "call_search", type: "function", function: call }]) + finish(model, "tool_calls") + DONE);
      }
      return end();
    }

    // `scenario/mixed/<server tool>/<client tool>`: calls the server's tool, then (seeing its
    // result) the client's, then answers with the client's result. The step is read from the
    // tool the last assistant message called, as a stateless API client sends it back.
    if (scenario.startsWith("mixed/")) {
      const [, serverTool, clientTool] = scenario.split("/");
      const lastCall = [...(body.messages ?? [])].reverse().find((m) => m.role === "assistant" && m.tool_calls?.length)?.tool_calls[0].function.name;
      sse();
      if (toolTurn && lastCall === clientTool) res.write(text(model, `Done: ${lastMessage(body).content}`) + finish(model, "stop") + usage(model, 20, 4, 0.0001) + DONE);
      else if (toolTurn && lastCall === serverTool)
        res.write(toolDelta(model, [{ index: 0, id: "call_client", type: "function", function: { name: clientTool, arguments: '{"topic":"refund"}' } }]) + finish(model, "tool_calls") + usage(model, 15, 6, 0.0001) + DONE);
      else res.write(toolDelta(model, [{ index: 0, id: "call_server", type: "function", function: { name: serverTool, arguments: "{}" } }]) + finish(model, "tool_calls") + usage(model, 10, 3, 0.0001) + DONE);
      return end();
    }

    // `scenario/bench/<chunks>/<pace ms>`: N one-token chunks, back to back or paced.
    // `…/prelude`: first what OpenRouter sends before the first token (a keep-alive comment,
    // then a chunk with the role and empty content), each a pace apart.
    if (scenario.startsWith("bench/")) {
      const [, chunks, pace] = scenario.split("/").map(Number);
      sse();
      if (scenario.endsWith("/prelude")) {
        res.write(": OPENROUTER PROCESSING\n\n");
        await sleep(pace);
        res.write(event(chunkOf(model, { delta: { role: "assistant", content: "" }, finish_reason: null })));
        await sleep(pace);
      }
      for (let i = 0; i < chunks && !record.closedEarly; i++) {
        res.write(text(model, "tok "));
        if (pace > 0) await sleep(pace);
      }
      res.write(finish(model, "stop") + usage(model, 10, chunks, 0) + DONE);
      return end();
    }

    if (scenario === "faulty") return faultyAnswer(req, res, body, model, record, { sse, end, fail, toolTurn });

    switch (scenario) {
      case "cited":
        // An answer with OpenRouter web-search citations (`url_citation` annotations).
        sse();
        res.write(
          text(model, "Our return window is **30 days** [1].") +
            event(chunkOf(model, { delta: { content: "", annotations: [
              { type: "url_citation", url_citation: { url: "https://shop.example/returns", title: "Returns policy", start_index: 0, end_index: 10 } },
              { type: "url_citation", url_citation: { url: "javascript:alert(1)", title: "Bad link" } },
            ] }, finish_reason: null })) +
            finish(model, "stop") + usage(model, 10, 8, 0.0001) + DONE,
        );
        return end();
      case "xss":
        // Markup and script in an answer must render as inert text in every client.
        sse();
        for (const piece of [
          "Here: <img src=x onerror=\"window.__xss=1\"> and <script>window.__xss=2</script>\n\n",
          "[click me](javascript:window.__xss=3) [data](data:text/html,<b>x</b>) [ok](https://safe.example/page)\n\n",
          "**<b onmouseover=\"window.__xss=4\">bold</b>** `<i>code</i>`\n\n",
          "```html\n<iframe src=\"javascript:window.__xss=5\"></iframe>\n```\n",
          "- <svg onload=\"window.__xss=6\">\n- item *two*\n",
        ]) {
          res.write(text(model, piece));
          await sleep(5);
        }
        res.write(finish(model, "stop") + usage(model, 10, 30, 0) + DONE);
        return end();
      case "rate-limited":
        return fail(429, "Rate limit exceeded: free-models-per-min", { "retry-after": "3" });
      case "unauthorized":
        return fail(401, "No auth credentials found");
      case "no-credits":
        return fail(402, "Insufficient credits");
      case "server-error":
        return fail(500, "Internal Server Error");
      case "tool":
        sse();
        if (toolTurn) {
          await writeSplit(res, text(model, `The tool said: ${lastMessage(body).content}`) + finish(model, "stop") + usage(model, 40, 9, 0.0002) + DONE, 64);
          return end();
        }
        await writeSplit(
          res,
          ": OPENROUTER PROCESSING\n\n" +
            toolDelta(model, [{ index: 0, id: "call_time1", type: "function", function: { name: "get_current_time", arguments: "" } }]) +
            ['{"ti', 'mezo', 'ne":', ' "Eu', 'rope/', 'Paris', '"}'].map((a) => toolDelta(model, [{ index: 0, function: { arguments: a } }])).join("") +
            finish(model, "tool_calls") +
            usage(model, 30, 12, 0.0001) +
            DONE,
          7,
        );
        return end();
      case "parallel":
        sse();
        if (toolTurn) {
          const results = body.messages.filter((m) => m.role === "tool").map((m) => m.content);
          await writeSplit(res, text(model, `Both done: ${results.join(" | ")}`) + finish(model, "stop") + DONE, 50);
          return end();
        }
        await writeSplit(
          res,
          toolDelta(model, [{ index: 0, id: "call_dup", type: "function", function: { name: "get_current_time", arguments: '{"timezone":' } }]) +
            toolDelta(model, [{ index: 1, id: "call_dup", type: "function", function: { name: "lookup_order", arguments: '{"orderId":' } }]) +
            toolDelta(model, [{ index: 0, function: { arguments: '"Asia/Tokyo"}' } }]) +
            toolDelta(model, [{ index: 1, function: { arguments: '"A-17"}' } }]) +
            finish(model, "tool_calls") +
            DONE,
          11,
        );
        return end();
      case "markdown":
        // What a model writes for a page, which must never reach text-to-speech.
        sse();
        for (const piece of ["## Opening hours\n\n", "**We are open** 9 to 5. ", "See [our page](https://shop.example/hours) ", "or https://shop.example/x.\n", "- item *two*\n", "`code` done."]) {
          res.write(text(model, piece));
          await sleep(2);
        }
        res.write(finish(model, "stop") + usage(model, 20, 30, 0.0003) + DONE);
        return end();
      case "handoff":
        // A phone agent asked for a person: it calls transfer_to_human, then says so.
        sse();
        if (toolTurn) res.write(text(model, "I am transferring you to a colleague now.") + finish(model, "stop") + DONE);
        else res.write(toolDelta(model, [{ index: 0, id: "call_handoff", type: "function", function: { name: "transfer_to_human", arguments: JSON.stringify({ reason: "billing dispute", summary: "Caller disputes invoice 42" }) } }]) + finish(model, "tool_calls") + DONE);
        return end();
      case "message":
        // A phone agent with nobody to transfer to takes a message.
        sse();
        if (toolTurn) res.write(text(model, "I have passed your message on.") + finish(model, "stop") + DONE);
        else res.write(toolDelta(model, [{ index: 0, id: "call_message", type: "function", function: { name: "take_message", arguments: JSON.stringify({ message: "Please call me back about my order", name: "Ann", callbackNumber: "+15550109999" }) } }]) + finish(model, "tool_calls") + DONE);
        return end();
      case "tool-timeout":
        sse();
        if (toolTurn) {
          res.write(text(model, `Sorry, the lookup failed: ${lastMessage(body).content}`) + finish(model, "stop") + DONE);
          return end();
        }
        res.write(toolDelta(model, [{ index: 0, id: "call_slow", type: "function", function: { name: "slow_lookup", arguments: "{}" } }]) + finish(model, "tool_calls") + DONE);
        return end();
      case "burst-then-slow":
        sse();
        for (let i = 0; i < 20; i++) res.write(text(model, `b${i} `));
        for (let i = 0; i < 10; i++) {
          await sleep(200);
          res.write(text(model, `s${i} `));
        }
        res.write(finish(model, "stop") + DONE);
        return end();
      case "keepalive":
        sse();
        res.write(": OPENROUTER PROCESSING\r\n\r\n");
        await sleep(20);
        res.write(text(model, "Kept ").replace(/\n/g, "\r\n"));
        res.write(": OPENROUTER PROCESSING\n\n");
        await sleep(20);
        res.write(text(model, "alive ✓"));
        res.write(": ping\n\n" + finish(model, "stop") + usage(model, 3, 2, 0) + DONE);
        return end();
      case "midstream-error":
        sse();
        res.write(text(model, "Partial answer"));
        await sleep(20);
        res.write(event({ ...chunkOf(model, { delta: { content: "" }, finish_reason: "error" }), error: { code: "server_error", message: "Provider disconnected unexpectedly" } }));
        return end();
      case "slow-first-token":
        sse();
        for (let i = 0; i < 5; i++) {
          res.write(": OPENROUTER PROCESSING\n\n");
          await sleep(300);
        }
        res.write(text(model, "Worth the wait.") + finish(model, "stop") + DONE);
        return end();
      case "hold": {
        sse();
        res.write(text(model, "First words"));
        const g = gate("hold");
        g.waiting = true;
        await g.promise;
        g.waiting = false;
        res.write(text(model, " and the rest.") + finish(model, "stop") + DONE);
        return end();
      }
      case "list-hold": {
        // A list cut off mid-item (the visitor presses Stop here), after inline markup.
        sse();
        res.write(text(model, "Call my_tool_name for _this_:\n- one\n- "));
        const g = gate("list-hold");
        g.waiting = true;
        await g.promise;
        g.waiting = false;
        res.write(text(model, "two") + finish(model, "stop") + DONE);
        return end();
      }
      case "silent":
        sse();
        res.write(": OPENROUTER PROCESSING\n\n");
        return; // never answers; the worker must give up on its own
      case "slow-stream":
        sse();
        for (let i = 0; i < 60 && !record.closedEarly; i++) {
          res.write(text(model, `w${i} `));
          await sleep(100);
        }
        res.write(finish(model, "stop") + DONE);
        return end();
      default:
        sse();
        res.write(text(model, "Hello"));
        res.write(text(model, " from the"));
        res.write(text(model, " stand-in.") + finish(model, "stop") + usage(model, 12, 5, 0.00042) + DONE);
        return end();
    }
  }

  /**
   * `scenario/faulty`: the queued fault, else a plain answer (or, after a tool call, the tool's
   * result, cut to 300 characters). Faults: `429`, `500`, `503` (before any token), `midstream`
   * (an error chunk after some text), `reset` (the connection dropped mid-stream), `stall`
   * (silence after some text), `stall-first` (silence before any token), `garbage` (chunks that
   * are not JSON), `html` (a 200 with a web page instead of a stream), `refuse` (the
   * connection dropped before any answer), `pace` (ten paced
   * tokens), `call:<tool>` (calls the tool), `loop:<tool>:<n>` (calls the tool n times in
   * parallel in every step, until the request says `tool_choice: "none"`).
   */
  async function faultyAnswer(req, res, body, model, record, { sse, end, fail, toolTurn }) {
    const queued = faults[0];
    if (queued && --queued.left <= 0) faults.shift();
    const kind = queued?.kind ?? "";
    const stall = () => {
      const g = gate("stall");
      g.waiting = true;
      res.on("close", () => (g.waiting = false));
    };
    if (kind === "429") return fail(429, "Rate limit exceeded: free-models-per-min", { "retry-after": "1" });
    if (kind === "500") return fail(500, "Internal Server Error");
    if (kind === "503") return fail(503, "No instances available", { "retry-after": "1" });
    // The connection dropped before any answer: a provider or proxy shedding load.
    if (kind === "refuse") {
      record.finished = true;
      return res.socket.destroy();
    }
    if (kind === "html") {
      res.writeHead(200, { "content-type": "text/html" });
      record.finished = true;
      return res.end("<html><body><h1>502 Bad Gateway</h1></body></html>");
    }
    sse();
    switch (kind) {
      case "midstream":
        res.write(text(model, "Partial answer"));
        await sleep(10);
        res.write(event({ ...chunkOf(model, { delta: { content: "" }, finish_reason: "error" }), error: { code: "server_error", message: "Provider disconnected unexpectedly" } }));
        return end();
      case "reset":
        res.write(text(model, "Partial answer"));
        await sleep(30);
        record.finished = true;
        return res.socket.destroy();
      case "stall":
        res.write(text(model, "Partial answer"));
        return stall();
      case "stall-first":
        res.write(": OPENROUTER PROCESSING\n\n");
        return stall();
      case "garbage":
        res.write("data: {\"choices\": [{\"delta\": {\"content\": \"Hel\n\n");
        res.write("data: \u0000\u0001 not json at all\n\n");
        return end();
      case "pace":
        for (let i = 0; i < 10; i++) {
          res.write(text(model, `p${i} `));
          await sleep(40);
        }
        res.write(finish(model, "stop") + DONE);
        return end();
    }
    if (kind.startsWith("loop:") && body.tool_choice !== "none") {
      const [, tool, n] = kind.split(":");
      const calls = Array.from({ length: Number(n) }, (_, i) => ({ index: i, id: `call_loop_${i}`, type: "function", function: { name: tool, arguments: "{}" } }));
      res.write(toolDelta(model, calls) + finish(model, "tool_calls") + DONE);
      return end();
    }
    if (kind.startsWith("call:")) {
      res.write(toolDelta(model, [{ index: 0, id: "call_fault", type: "function", function: { name: kind.slice(5), arguments: "{}" } }]) + finish(model, "tool_calls") + DONE);
      return end();
    }
    if (toolTurn) res.write(text(model, `Tool result: ${String(lastMessage(body).content).slice(0, 300)}`) + finish(model, "stop") + DONE);
    else res.write(text(model, "Hello from the stand-in.") + finish(model, "stop") + usage(model, 12, 5, 0.00042) + DONE);
    return end();
  }

  async function hook(req, res, path, body) {
    hooks.push({ path, method: req.method, url: req.url, headers: req.headers, body });
    const json = (status, value) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(value));
    };
    if (path === "/hooks/order") {
      const input = body ? JSON.parse(body) : {};
      return json(200, { orderId: input.orderId, status: "shipped", authorized: req.headers["x-api-key"] === "hook-secret" });
    }
    if (path === "/hooks/slow") return; // hangs until the worker gives up
    if (path === "/hooks/reset") return req.socket.destroy(); // drops the connection unanswered
    // Ten megabytes of JSON, more than any tool result may be.
    if (path === "/hooks/huge") return json(200, { data: "x".repeat(10 * 1024 * 1024) });
    // `/hooks/redirect?to=URL&status=302`: a redirect anywhere, as a hostile endpoint would.
    if (path === "/hooks/redirect") {
      const query = new URL(req.url, "http://x").searchParams;
      res.writeHead(Number(query.get("status") ?? 302), { location: query.get("to") ?? "/" });
      return res.end();
    }
    if (path === "/hooks/loop") {
      res.writeHead(302, { location: "/hooks/loop" });
      return res.end();
    }
    // Tells the caller which headers and body reached it.
    if (path === "/hooks/echo") return json(200, { method: req.method, headers: req.headers, body });
    return json(404, { error: "no such hook" });
  }

  const server = createServer(async (req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    const raw = await readBody(req);
    if (path === "/v1/chat/completions" && req.method === "POST") {
      const body = JSON.parse(raw);
      requests.push({ headers: req.headers, body });
      return completions(req, res, body);
    }
    if (path.startsWith("/hooks/")) return hook(req, res, path, raw);
    res.writeHead(404).end();
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    hooks,
    streams,
    /** Queues a fault for the next `count` requests to `scenario/faulty` (see `faultyAnswer`). */
    fault(kind, count = 1) {
      faults.push({ kind, left: count });
    },
    /** Forgets queued faults (a `loop` fault lasts until cleared or used up). */
    clearFaults() {
      faults.length = 0;
    },
    /** Whether a `hold` stream is waiting for `release`. */
    holding: (name = "hold") => gates.get(name)?.waiting === true,
    release(name = "hold") {
      gate(name).release();
      gates.delete(name);
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
