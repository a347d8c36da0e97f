// Phone-call latency: the built worker in workerd (Miniflare, D1) against the local model
// stand-in, driven as Twilio drives it (signed webhook, then the ConversationRelay WebSocket).
//
// - prompt → first `text` frame, minus the stand-in's own time to its first token (measured
//   directly against the stand-in with the same request shape): what the worker adds before
//   the caller hears anything. The first prompt of a call, and a follow-up prompt (which also
//   stores the previous answer, while the model runs).
// - interrupt → the upstream model request cancelled (the stand-in sees its socket close).
//
//   node bench/voice.mjs [--quick] [--write | --json]   (also part of `npm run bench`)
import { randomBytes, randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";
import twilio from "twilio";
import WebSocket from "ws";
import { startStandIn } from "../tests/support/standin.mjs";
import { startWorker, TEST_ORIGIN } from "../tests/support/worker.mjs";
import { writeResultsSection } from "./workerd.mjs";

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** How long a call waits after its setup message before the first prompt. */
const SETUP_PAUSE_MS = 100;

/** The stand-in's own time from request to its first content chunk. */
async function directFirstToken(standin, model) {
  const started = performance.now();
  const res = await fetch(`${standin.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, stream: true, messages: [{ role: "system", content: "x" }, { role: "user", content: "When are you open?" }] }),
  });
  const reader = res.body.getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString();
    if (text.includes('"content"')) break;
  }
  const ms = performance.now() - started;
  await reader.cancel();
  return ms;
}

export async function voiceFigures({ quick = false } = {}) {
  const admin = `adm_${randomUUID()}`;
  const authToken = randomBytes(16).toString("hex");
  const accountSid = `AC${randomBytes(16).toString("hex")}`;
  const standin = await startStandIn();
  const worker = await startWorker({ OPENROUTER_BASE_URL: `${standin.url}/v1`, OPENROUTER_API_KEY: "bench", ADMIN_API_KEY: admin }, { store: "d1" });
  const api = async (method, path, token, body) => {
    const res = await fetch(`${worker.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  try {
    const { secretKey } = await api("POST", "/api/admin/tenants", admin, { name: "Bench" });
    await api("PUT", "/api/admin/integrations/twilio", secretKey, { accountSid, authToken });
    let publishableKey;
    for (const [id, model] of [["bench-voice", "scenario/plain"], ["bench-hold", "scenario/hold"]]) {
      const created = await api("POST", "/api/admin/agents", secretKey, { id, config: { model, allowedOrigins: [TEST_ORIGIN], phone: { enabled: true } } });
      publishableKey ??= created.agent.publishableKeys[0];
    }
    /** The same agent's widget chat turn, request → first text delta (the reference). */
    const widgetFirstToken = async () => {
      const sent = performance.now();
      const res = await fetch(`${worker.url}/api/agents/bench-voice/chat`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-publishable-key": publishableKey, origin: TEST_ORIGIN },
        body: JSON.stringify({ messages: [{ id: `u_${randomUUID()}`, role: "user", parts: [{ type: "text", text: "When are you open?" }] }] }),
      });
      const reader = res.body.getReader();
      let text = "";
      let at = NaN;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += Buffer.from(value).toString();
        if (Number.isNaN(at) && text.includes('"text-delta"')) at = performance.now();
      }
      return at - sent;
    };
    const call = async (agentId) => {
      const callSid = `CA${randomBytes(16).toString("hex")}`;
      const params = { CallSid: callSid, AccountSid: accountSid, From: "+18005550100", To: "+18005550101" };
      const url = `${worker.url}/voice/twilio/${agentId}`;
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": twilio.getExpectedTwilioSignature(authToken, url, params) },
        body: new URLSearchParams(params).toString(),
      });
      const twiml = await res.text();
      const token = /name="token" value="([^"]+)"/.exec(twiml)?.[1];
      const relayUrl = /url="(ws[^"]+)"/.exec(twiml)?.[1];
      const ws = new WebSocket(relayUrl, { headers: { "x-twilio-signature": twilio.getExpectedTwilioSignature(authToken, relayUrl, {}) } });
      await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
      const frames = [];
      let wake = () => {};
      ws.on("message", (data) => {
        frames.push({ at: performance.now(), frame: JSON.parse(String(data)) });
        wake();
      });
      const until = async (check) => {
        for (;;) {
          const hit = check();
          if (hit) return hit;
          await new Promise((r) => (wake = r));
        }
      };
      ws.send(JSON.stringify({ type: "setup", callSid, from: params.From, to: params.To, customParameters: { token } }));
      await sleep(SETUP_PAUSE_MS); // the worker opens the call's conversation before the first words
      return { ws, frames, until };
    };

    const samples = quick ? 8 : 60;
    // The stand-in's own time to its first token, measured as each prompt is sent: back to back
    // (follow-ups, widget turns), and after the same pause as a call's first prompt, which
    // finds both processes idle (waking them costs this machine 0.5-1.5 ms for any request).
    const direct = [];
    const directIdle = [];
    for (let i = 0; i < samples; i++) {
      direct.push(await directFirstToken(standin, "scenario/plain"));
      await sleep(SETUP_PAUSE_MS);
      directIdle.push(await directFirstToken(standin, "scenario/plain"));
    }
    const directP50 = percentile(direct, 50);
    const directIdleP50 = percentile(directIdle, 50);
    const first = [];
    const followUp = [];
    const beforeModel = [];
    const beforeModelFollowUp = [];
    for (let i = 0; i < samples; i++) {
      const c = await call("bench-voice");
      for (const into of [first, followUp]) {
        const start = c.frames.length;
        const sent = performance.now();
        c.ws.send(JSON.stringify({ type: "prompt", voicePrompt: "When are you open?", lang: "en-US", last: true }));
        const frame = await c.until(() => c.frames.slice(start).find((f) => f.frame.type === "text"));
        into.push(frame.at - sent - (into === first ? directIdleP50 : directP50));
        // Where the time goes: before the model request reaches the stand-in, and after.
        const request = standin.streams.find((s) => s.startedAt >= sent);
        if (request) (into === first ? beforeModel : beforeModelFollowUp).push(request.startedAt - sent);
        await c.until(() => c.frames.slice(start).find((f) => f.frame.type === "text" && f.frame.last));
      }
      c.ws.close();
    }

    const widget = [];
    for (let i = 0; i < samples; i++) widget.push((await widgetFirstToken()) - directP50);

    const cancel = [];
    for (let i = 0; i < (quick ? 4 : 20); i++) {
      const c = await call("bench-hold");
      c.ws.send(JSON.stringify({ type: "prompt", voicePrompt: "Tell me everything", lang: "en-US", last: true }));
      await c.until(() => c.frames.find((f) => f.frame.type === "text"));
      while (!standin.holding("hold")) await sleep(1);
      const stream = standin.streams.at(-1);
      const sent = performance.now();
      c.ws.send(JSON.stringify({ type: "interrupt", utteranceUntilInterrupt: "First", durationUntilInterruptMs: 500 }));
      while (!stream.closedEarly) await sleep(0.2);
      cancel.push(stream.closedAt - sent);
      standin.release("hold");
      c.ws.close();
    }
    return {
      samples,
      directP50,
      directIdleP50,
      first: { p50: percentile(first, 50), p99: percentile(first, 99) },
      followUp: { p50: percentile(followUp, 50), p99: percentile(followUp, 99) },
      beforeModel: { p50: percentile(beforeModel, 50), p99: percentile(beforeModel, 99) },
      beforeModelFollowUp: { p50: percentile(beforeModelFollowUp, 50), p99: percentile(beforeModelFollowUp, 99) },
      widget: { p50: percentile(widget, 50), p99: percentile(widget, 99) },
      cancel: { p50: percentile(cancel, 50), p99: percentile(cancel, 99), n: cancel.length },
    };
  } finally {
    await worker.stop();
    await standin.close();
  }
}

/** The figures as Markdown, for bench/RESULTS.md. */
export function voiceMarkdown(v) {
  const f = (x) => (Number.isFinite(x) ? x.toFixed(2) : "–");
  return [
    "## Phone calls (ConversationRelay)",
    "",
    `Prompt frame to the first \`text\` frame, minus the stand-in's own first-token time measured the same way (${f(v.directP50)} ms p50 back to back, for follow-ups and widget turns; ${f(v.directIdleP50)} ms after the ${SETUP_PAUSE_MS} ms pause a call's first prompt comes after, since waking idle processes costs any request on this machine), over ${v.samples} calls on D1; and interrupt to the upstream model request being cancelled (the stand-in sees its connection close), over ${v.cancel.n} calls.`,
    "",
    "A phone turn plans from the call's own view of its conversation (read once when the call starts), so nothing is read before the model is called; the previous answer and the caller's words are stored while the model runs. The widget turn reads the conversation's window and the month's spend first, and stores the question in the same D1 batch (one round trip).",
    "",
    "| measure | p50 (ms) | p99 (ms) |",
    "|---|---|---|",
    `| first prompt of a call → first text frame (target ≤ 5 ms p50) | ${f(v.first.p50)} | ${f(v.first.p99)} |`,
    `| follow-up prompt → first text frame (the previous answer stored meanwhile) | ${f(v.followUp.p50)} | ${f(v.followUp.p99)} |`,
    `| of which: first prompt → the model request reaches the stand-in | ${f(v.beforeModel.p50)} | ${f(v.beforeModel.p99)} |`,
    `| of which: follow-up prompt → the model request reaches the stand-in | ${f(v.beforeModelFollowUp.p50)} | ${f(v.beforeModelFollowUp.p99)} |`,
    `| reference: the same agent's widget chat turn, request → first text delta | ${f(v.widget.p50)} | ${f(v.widget.p99)} |`,
    `| interrupt → upstream request cancelled | ${f(v.cancel.p50)} | ${f(v.cancel.p99)} |`,
    "",
  ].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  voiceFigures({ quick: process.argv.includes("--quick") })
    .then((v) => {
      // `--json`: the figures alone, as one line (how `npm run bench` reads them).
      if (process.argv.includes("--json")) {
        console.log(JSON.stringify(v));
        return;
      }
      const markdown = voiceMarkdown(v);
      console.log(markdown);
      // `--write`: this run's figures replace the phone section of bench/RESULTS.md.
      if (process.argv.includes("--write")) {
        writeResultsSection("Phone calls (ConversationRelay)", markdown);
        console.log("wrote the Phone calls section of bench/RESULTS.md");
      }
    })
    .catch((error) => {
      console.error(error);
      process.exit(1);
    });
}
