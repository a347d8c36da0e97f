// Tracing: the tenant's own Langfuse and OpenTelemetry (OTLP) backends, with their privacy
// controls and a "Send test trace" button. Secrets are write-only: the API shows them masked,
// and a field left empty keeps what is stored.
import { api } from "../lib/api.js";
import { checkbox, field, h } from "../lib/dom.js";
import { fail, heading, say } from "../lib/ui.js";

const KINDS = {
  langfuse: {
    title: "Langfuse",
    short: "Langfuse",
    about: "Every turn as a trace in Langfuse (its OpenTelemetry endpoint): model calls with tokens, cost and time to first token, tool calls, fallbacks; visitor ratings become scores.",
  },
  otlp: {
    title: "Any OpenTelemetry backend (OTLP/HTTP)",
    short: "OTLP backend",
    about: "Grafana, Honeycomb, Jaeger, an OpenTelemetry Collector: the same traces, sent as OTLP/HTTP JSON with your headers.",
  },
};

/** The stored integration, or null when it is not set up. */
async function stored(name) {
  try {
    return (await api("GET", `/integrations/${name}`)).body.integration;
  } catch (e) {
    if (e.status === 404) return null;
    throw e;
  }
}

/** Header lines `name: value` → an object; a line with only a name keeps its stored value. */
function parseHeaders(text) {
  const out = {};
  for (const line of text.split("\n").map((l) => l.trim()).filter(Boolean)) {
    const at = line.indexOf(":");
    const name = (at < 0 ? line : line.slice(0, at)).trim();
    out[name] = at < 0 ? "" : line.slice(at + 1).trim();
  }
  return out;
}

function privacy(settings) {
  const rate = field("Sample rate (0 to 1)", h("input", { name: "sampleRate", type: "number", min: "0", max: "1", step: "0.01", value: String(settings.sampleRate ?? 1) }),
    "The share of turns exported: 1 exports every turn, 0.1 one in ten.");
  const content = checkbox("Export inputs and outputs", settings.captureContent ?? true,
    "Off: no prompts, answers, tool arguments or results leave; only timings, models, tokens, costs and errors. Secrets (webhook headers, keys) are never exported either way.");
  return { rows: [rate.row, content.row], read: () => ({ sampleRate: Number(rate.input.value), captureContent: content.input.checked }) };
}

function card(name, integration, reload) {
  const kind = KINDS[name];
  const settings = integration?.settings || {};
  const secrets = integration?.secrets || {};
  const result = h("div", { role: "status" });
  const rows = [];
  let read;
  if (name === "langfuse") {
    const host = field("Host", h("input", { name: "host", type: "url", value: settings.host || "https://cloud.langfuse.com", autocomplete: "off" }),
      "https://cloud.langfuse.com (EU), https://us.cloud.langfuse.com (US), or your self-hosted Langfuse.");
    const pub = field("Public key", h("input", { name: "publicKey", value: settings.publicKey || "", placeholder: "pk-lf-…", autocomplete: "off" }));
    const sec = field("Secret key", h("input", { name: "secretKey", type: "password", placeholder: secrets.secretKey ? `stored (${secrets.secretKey}); leave empty to keep` : "sk-lf-…", autocomplete: "new-password" }),
      "Langfuse → project settings → API keys. Never shown again once saved.");
    rows.push(host.row, pub.row, sec.row);
    read = () => {
      const body = { host: host.input.value.trim(), publicKey: pub.input.value.trim() };
      if (sec.input.value.trim()) body.secretKey = sec.input.value.trim();
      return body;
    };
  } else {
    const endpoint = field("Endpoint", h("input", { name: "endpoint", type: "url", value: settings.endpoint || "", placeholder: "https://api.honeycomb.io/v1/traces", autocomplete: "off" }),
      "The full OTLP/HTTP traces URL (usually ending in /v1/traces).");
    const names = Object.keys(secrets.headers || {});
    const headers = field("Headers", h("textarea", { name: "headers", rows: "3", placeholder: "x-honeycomb-team: YOUR_KEY", text: names.join("\n") }),
      names.length ? "One per line, name: value. Stored values are not shown: a line with only the name keeps its value; a removed line removes the header." : "One per line, name: value (an API key, Authorization: Basic …).");
    rows.push(endpoint.row, headers.row);
    read = () => ({ endpoint: endpoint.input.value.trim(), headers: parseHeaders(headers.input.value) });
  }
  const controls = privacy(settings);
  const save = h("button", { type: "submit", text: integration ? "Save" : `Connect ${kind.short}` });
  const test = h("button.secondary", { type: "button", text: "Send test trace", disabled: !integration, onclick: () => {
    result.textContent = "Sending…";
    api("POST", `/integrations/${name}/test`).then((r) => {
      const t = r.body;
      result.replaceChildren(t.ok
        ? h("span.ok", { text: `Delivered to ${t.endpoint} (HTTP ${t.status}); trace ${t.traceId}.` })
        : h("span.error", { text: `Not delivered to ${t.endpoint}${t.status ? ` (HTTP ${t.status})` : ""}: ${t.error}` }));
    }).catch(fail);
  } });
  const remove = integration ? h("button.danger", { type: "button", text: "Remove", onclick: () => {
    if (!confirm(`Stop sending traces to ${kind.title}?`)) return;
    api("DELETE", `/integrations/${name}`).then(() => { say(`${kind.title} removed.`, "ok"); return reload(); }).catch(fail);
  } }) : null;
  const form = h(`form#tracing-${name}.card`, { "aria-labelledby": `tracing-${name}-title` },
    h(`h2#tracing-${name}-title`, { text: kind.title }), h("p.muted", { text: kind.about }),
    rows, controls.rows, h("div.actions", null, save, test, remove), result);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    api("PUT", `/integrations/${name}`, { ...read(), ...controls.read() }).then(() => {
      say(`${kind.title} saved.`, "ok");
      return reload();
    }).catch(fail);
  });
  return form;
}

export async function showTracing(_, view) {
  heading(view, "Tracing");
  view.append(h("p.muted", { text: "Send every chat turn of your agents to your own observability backend. Each answer's timeline (time to first token, model and tool times, tokens, cost, models tried) is also in Conversations, without any backend." }));
  const cards = h("div");
  const load = async () => {
    const [langfuse, otlp] = await Promise.all([stored("langfuse"), stored("otlp")]);
    cards.replaceChildren(card("langfuse", langfuse, load), card("otlp", otlp, load));
  };
  view.append(cards);
  await load();
}
