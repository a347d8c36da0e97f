// Agents: the list, a new agent, and the editor (with webhook tools, the embed snippet and the
// live preview).
import { agentName, api, loadAgents, state } from "../lib/api.js";
import { checkbox, field, h, nextId, select } from "../lib/dom.js";
import { date, lines, originAllowed } from "../lib/format.js";
import { fail, go, heading, say } from "../lib/ui.js";
import { loadBases } from "./knowledge.js";
import { preview } from "./preview.js";

/** The built-in tools the worker has (src/tools/builtin.rs), with what they do for a tenant. */
const BUILTIN_TOOLS = [["get_current_time", "Current date and time", "Lets the agent tell the time and date in any time zone."]];
const LOCALES = [["", "The visitor's browser language"], ["en", "English"], ["es", "Español"], ["fr", "Français"], ["de", "Deutsch"], ["ar", "العربية"]];
/** The worker's limit on maxSteps (MAX_STEPS_CEILING). */
const MAX_STEPS = 10;

export async function showAgents(_, view) {
  heading(view, "Agents", h("a.button", { href: "#new-agent", text: "New agent" }));
  const agents = await loadAgents();
  if (!agents.length) {
    view.append(h("p.muted", { text: "No agents yet. Create one to get an embed snippet." }));
    return;
  }
  const table = h("table", null, h("caption.sr", { text: "Your agents" }),
    h("thead", null, h("tr", null, ["Name", "Id", "Model", "Status", "Runs on", "Updated"].map((t) => h("th", { scope: "col", text: t })))));
  const body = h("tbody");
  for (const a of agents) {
    const origins = a.config.allowedOrigins || [];
    body.append(h("tr", null,
      h("td", null, h("a", { href: `#agent/${encodeURIComponent(a.id)}`, text: a.config.name || a.id })),
      h("td", null, h("code", { text: a.id })),
      h("td", { text: a.config.model }),
      h("td", { text: a.enabled ? "enabled" : "disabled" }),
      h("td", null, origins.length ? origins.join(", ") : h("span.warn-text", { text: "nowhere yet: no allowed origins" })),
      h("td", { text: date(a.updatedAt) })));
  }
  table.append(body);
  view.append(h("div.scroll", null, table));
}

export function showNewAgent(_, view) {
  heading(view, "New agent");
  const id = field("Id (optional)", h("input", { name: "id", pattern: "[A-Za-z0-9_-]+", autocomplete: "off" }), "Letters, digits, _ and -. Left empty, one is generated.");
  // The dashboard's own origin is allowed from the start, so the preview can chat at once.
  const draft = { config: { name: "Assistant", model: "openai/gpt-4o-mini", allowedOrigins: [location.origin], limits: {}, branding: {}, tools: {} }, publishableKeys: [] };
  const editor = agentForm(draft, true);
  editor.form.prepend(id.row);
  editor.form.addEventListener("submit", (e) => {
    e.preventDefault();
    let config;
    try {
      config = stripNulls(editor.read());
    } catch (err) {
      return fail(err);
    }
    const body = { config, enabled: editor.enabled.checked };
    if (id.input.value.trim()) body.id = id.input.value.trim();
    api("POST", "/agents", body).then((r) => {
      say(`Agent “${r.body.agent.config.name}” created.`, "ok");
      go(`agent/${r.body.agent.id}`);
    }, fail);
  });
  view.append(editor.root);
}

export async function showAgent(id, view) {
  const r = await api("GET", `/agents/${encodeURIComponent(id)}`);
  const agent = r.body.agent;
  let etag = r.res.headers.get("etag");
  heading(view, agent.config.name || agent.id, h("div.actions", null,
    h("button.secondary", { type: "button", text: "Duplicate", onclick: () => {
      api("POST", `/agents/${encodeURIComponent(agent.id)}/duplicate`, {}).then((d) => {
        say(`Duplicated as “${d.body.agent.config.name}”.`, "ok");
        go(`agent/${d.body.agent.id}`);
      }, fail);
    } }),
    h("button.danger", { type: "button", text: "Delete", onclick: () => {
      if (!confirm(`Delete the agent “${agent.config.name || agent.id}”? Its conversations and keys are deleted too.`)) return;
      api("DELETE", `/agents/${encodeURIComponent(agent.id)}`).then(() => {
        say("Agent deleted.", "ok");
        go("agents");
      }, fail);
    } })));

  const pk = agent.publishableKeys && agent.publishableKeys[0];
  const snippet = pk ? `<script src="${location.origin}/widget.js" data-key="${pk}" async></script>` : "";
  const code = h("code#embed-snippet", { text: snippet || "This agent has no publishable key. Create one under Keys." });
  if (pk) code.dataset.key = pk;
  view.append(h("section.card", { "aria-labelledby": "embed-title" },
    h("h2#embed-title", { text: "Embed snippet" }),
    h("p.muted", { text: "Paste it before </body> on a page whose origin is listed under “Where will this chat run?” below." }),
    h("pre.snippet", null, code),
    pk ? h("button.secondary", { type: "button", text: "Copy snippet", onclick: () => {
      navigator.clipboard.writeText(snippet).then(() => say("Snippet copied.", "ok"), () => say("Copying failed: select the snippet and copy it by hand.", "error"));
    } }) : null));

  view.append(apiCard(agent));
  const callUrl = `${location.origin}/voice/twilio/${encodeURIComponent(agent.id)}`;
  view.append(h("section.card", { "aria-labelledby": "phone-title" },
    h("h2#phone-title", { text: "Incoming-call URL" }),
    h("p.muted", { text: "In the Twilio Console, open your phone number and set “A call comes in” to Webhook, HTTP POST, with this URL. Turn the phone on under “Phone (Twilio)” below and connect Twilio under Integrations." }),
    h("pre.snippet", null, h("code#call-url", { text: callUrl })),
    h("button.secondary", { type: "button", text: "Copy URL", onclick: () => {
      navigator.clipboard.writeText(callUrl).then(() => say("Incoming-call URL copied.", "ok"), () => say("Copying failed: select the URL and copy it by hand.", "error"));
    } })));

  const editor = agentForm(agent, false);
  const reload = h("button.secondary", { type: "button", hidden: true, text: "Load the latest version (discards your edits)", onclick: () => {
    if (confirm("Discard your edits and load the latest saved version?")) go(`agent/${agent.id}`);
  } });
  editor.save.after(reload);
  const saved = h("p#last-saved.meta", { text: `Last saved ${date(agent.updatedAt)}` });
  editor.form.append(saved);
  // A save asked for while one is on its way (the preview's "Allow this origin" right after
  // "Save changes") runs when that one is done, instead of being lost on a disabled button.
  let saveAgain = false;
  editor.requestSave = () => {
    if (editor.save.disabled) saveAgain = true;
    else editor.save.click();
  };
  editor.form.addEventListener("submit", (e) => {
    e.preventDefault();
    let config;
    try {
      config = editor.read();
    } catch (err) {
      return fail(err);
    }
    editor.save.disabled = true;
    api("PATCH", `/agents/${encodeURIComponent(agent.id)}`, { config, enabled: editor.enabled.checked }, { "if-match": etag })
      .then((s) => {
        etag = s.res.headers.get("etag") || etag;
        editor.reset(s.body.agent);
        saved.textContent = `Last saved ${date(s.body.agent.updatedAt)}`;
        const i = state.agents.findIndex((a) => a.id === agent.id);
        if (i >= 0) state.agents[i] = s.body.agent;
        reload.hidden = true;
        say("Saved.", "ok");
      }, (err) => {
        // The form keeps every edit; only the message changes.
        if (err.code === "stale") {
          say(`${err.message} Your edits are still in the form.`, "error");
          reload.hidden = false;
        } else fail(err);
      })
      .finally(() => {
        editor.save.disabled = false;
        if (saveAgain) {
          saveAgain = false;
          editor.save.click();
        }
      });
  });
  view.append(h("div.editor", null, editor.root, preview(agent, editor)));
}

function stripNulls(value) {
  if (Array.isArray(value)) return value.map(stripNulls);
  if (value && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = stripNulls(v);
    return out;
  }
  return value;
}

/** Code that calls the agent as an OpenAI-compatible model, in each client's words. */
export function apiSnippets(base, model) {
  const body = JSON.stringify({ model, messages: [{ role: "user", content: "Hello!" }] });
  return {
    JavaScript: `import OpenAI from "openai";

const client = new OpenAI({ baseURL: "${base}", apiKey: process.env.AGENT_API_KEY });
const completion = await client.chat.completions.create({
  model: "${model}",
  messages: [{ role: "user", content: "Hello!" }],
});
console.log(completion.choices[0].message.content);`,
    Python: `from openai import OpenAI
import os

client = OpenAI(base_url="${base}", api_key=os.environ["AGENT_API_KEY"])
completion = client.chat.completions.create(
    model="${model}",
    messages=[{"role": "user", "content": "Hello!"}],
)
print(completion.choices[0].message.content)`,
    curl: `curl ${base}/chat/completions \\
  -H "Authorization: Bearer $AGENT_API_KEY" \\
  -H "Content-Type: application/json" \\
  -d '${body}'`,
  };
}

/** "Use it as an OpenAI-compatible model": the model id, the base URL and a copyable snippet. */
function apiCard(agent) {
  const base = `${location.origin}/v1`;
  const snippets = apiSnippets(base, agent.id);
  const code = h("code#api-snippet", { text: snippets.JavaScript });
  const lang = select("api-language", "JavaScript", Object.keys(snippets).map((k) => [k, k]));
  lang.id = nextId();
  lang.addEventListener("change", () => { code.textContent = snippets[lang.value]; });
  return h("section.card", { "aria-labelledby": "api-title" },
    h("h2#api-title", { text: "OpenAI-compatible API" }),
    h("p.muted", null, "Any OpenAI client can call this agent: its prompt, models, tools and limits apply on the server. ",
      h("a", { href: "#keys", text: "Create an API key" }), " (kind “API”) and set it as AGENT_API_KEY."),
    h("dl.facts", null,
      h("dt", { text: "Model id" }), h("dd", null, h("code#api-model", { text: agent.id })),
      h("dt", { text: "Base URL" }), h("dd", null, h("code#api-base", { text: base }))),
    h("div.field", null, h("label", { for: lang.id, text: "Snippet language" }), lang),
    h("pre.snippet", null, code),
    h("button.secondary", { type: "button", text: "Copy API snippet", onclick: () => {
      navigator.clipboard.writeText(code.textContent).then(() => say("Snippet copied.", "ok"), () => say("Copying failed: select the snippet and copy it by hand.", "error"));
    } }));
}

/** The agent editor. read() returns the full config (null clears a field: merge patch). */
function agentForm(agent, creating) {
  let base = JSON.parse(JSON.stringify(agent.config || {}));
  const c = base;
  const b = c.branding || {};
  const l = c.limits || {};
  // The worker's defaults, for agents saved before phone settings existed (and new ones).
  const p = { greeting: "Hello! How can I help you today?", language: "en-US", interruptible: "any", dtmf: true, filler: "One moment while I check that.", maxCallSeconds: 600, ...(c.phone || {}) };
  const ph = p.handoffHours || {};
  const text = (v) => (v == null ? "" : String(v));
  const input = (name, value, extra) => h("input", { name, value: text(value), autocomplete: "off", ...(extra || {}) });
  const area = (name, value, rows) => {
    const t = h("textarea", { name, rows: String(rows || 3) });
    t.value = text(value);
    return t;
  };
  const f = {
    name: field("Name", input("name", c.name, { required: true, maxlength: "100" })),
    systemPrompt: field("System prompt", area("systemPrompt", c.systemPrompt, 5)),
    model: field("Model", input("model", c.model, { required: true })),
    models: field("Fallback models", area("models", (c.models || []).join("\n"), 2), "One per line, tried in order."),
    temperature: field("Temperature", input("temperature", c.temperature, { type: "number", step: "0.1", min: "0", max: "2" }), "Empty: the provider's default."),
    maxSteps: field("Most tool rounds per answer (maxSteps)", input("maxSteps", c.maxSteps, { type: "number", min: "1", max: String(MAX_STEPS) }), `1-${MAX_STEPS}. Empty: the default (5).`),
    allowedOrigins: field("Allowed origins", area("allowedOrigins", (c.allowedOrigins || []).join("\n"), 3), "One per line: the sites that may show this chat, e.g. https://www.example.com or https://*.example.com. The worker refuses every other site."),
    requireVerifiedUser: checkbox("Only verified users may chat (requireVerifiedUser)", c.requireVerifiedUser, "Visitors must be signed in through EdgeChat.identify with a userHash from your server."),
    storeApiConversations: checkbox("Keep every API call in the inbox (storeApiConversations)", c.storeApiConversations, "Stores each OpenAI-compatible API call as a conversation (channel “api”), as if the caller sent store: true."),
    visitorPerMinute: field("Messages per visitor per minute", input("visitorPerMinute", l.visitorPerMinute, { type: "number", min: "1" })),
    ipPerMinute: field("Messages per IP per minute", input("ipPerMinute", l.ipPerMinute, { type: "number", min: "1" })),
    maxMessageChars: field("Longest message (characters)", input("maxMessageChars", l.maxMessageChars, { type: "number", min: "1" })),
    monthlySpendCap: field("Monthly spend cap (USD)", input("monthlySpendCap", l.monthlySpendCap, { type: "number", min: "0", step: "0.01" }), "Empty: no cap."),
    title: field("Title", input("title", b.title)),
    primaryColor: field("Primary colour", input("primaryColor", b.primaryColor, { placeholder: "#4f46e5" }), "A CSS colour: #0f766e, rgb(15 118 110) or a name such as teal. Header text turns black or white to stay readable."),
    theme: field("Theme", select("theme", b.theme, [["", "Default (auto)"], ["auto", "Auto (follows the page inline, the system otherwise)"], ["light", "Light"], ["dark", "Dark"]])),
    position: field("Position", select("position", b.position, [["", "Default (bottom right)"], ["bottom-right", "Bottom right"], ["bottom-left", "Bottom left"]])),
    locale: field("Language of the widget", select("locale", c.locale, LOCALES)),
    avatarUrl: field("Avatar image URL", input("avatarUrl", b.avatarUrl, { type: "url", placeholder: "https://…" }), "Shown in the header; an https image."),
    launcherIconUrl: field("Launcher icon URL", input("launcherIconUrl", b.launcherIconUrl, { type: "url", placeholder: "https://…" }), "Replaces the chat bubble on the launcher button; an https image."),
    welcomeMessage: field("Welcome message", area("welcomeMessage", c.welcomeMessage, 2)),
    starterPrompts: field("Starter prompts", area("starterPrompts", (c.starterPrompts || []).join("\n"), 3), "One per line."),
    placeholder: field("Input placeholder", input("placeholder", b.placeholder)),
    phoneEnabled: checkbox("Answer phone calls", p.enabled, "Needs Twilio under Integrations and the incoming-call URL on your Twilio number."),
    greeting: field("Greeting", area("greeting", p.greeting, 2), "Said when the call is answered."),
    language: field("Call language", input("language", p.language, { placeholder: "en-US" }), "Speech recognition and voice, such as en-US, fr-FR or de-DE."),
    ttsProvider: field("Voice provider", select("ttsProvider", p.ttsProvider, [["", "Twilio's default"], ["Google", "Google"], ["Amazon", "Amazon"], ["ElevenLabs", "ElevenLabs"]])),
    voice: field("Voice", input("voice", p.voice, { placeholder: "e.g. en-US-Journey-O" }), "The provider's voice name; empty: its default."),
    transcriptionProvider: field("Speech recognition", select("transcriptionProvider", p.transcriptionProvider, [["", "Twilio's default"], ["Google", "Google"], ["Deepgram", "Deepgram"]])),
    speechModel: field("Recognition model", input("speechModel", p.speechModel, { placeholder: "e.g. nova-3-general" })),
    interruptible: field("Callers may interrupt with", select("interruptible", p.interruptible, [["any", "Speech or keys"], ["speech", "Speech"], ["dtmf", "Keys"], ["none", "Nothing"]])),
    dtmf: checkbox("Key presses reach the agent", p.dtmf !== false),
    humanDigit: field("Key that asks for a person", input("humanDigit", p.humanDigit, { maxlength: "1", placeholder: "0" }), "Empty: none."),
    handoffNumber: field("Transfer to (handoff number)", input("handoffNumber", p.handoffNumber, { type: "tel", placeholder: "+15551234567" }), "E.164. With none, the agent takes a message instead."),
    handoffCallerId: field("Caller id for transfers", input("handoffCallerId", p.handoffCallerId, { type: "tel", placeholder: "+15550000000" }), "A number of your Twilio account."),
    hoursTimezone: field("Transfer hours: time zone", input("hoursTimezone", ph.timezone, { placeholder: "Europe/Paris" }), "Empty: transfers at any time."),
    hoursDays: field("Transfer days", input("hoursDays", (ph.days || []).join(","), { placeholder: "1,2,3,4,5" }), "1 = Monday … 7 = Sunday."),
    hoursOpen: field("Opens", input("hoursOpen", ph.open, { placeholder: "09:00" })),
    hoursClose: field("Closes", input("hoursClose", ph.close, { placeholder: "17:00" })),
    filler: field("Said while a tool runs", input("filler", p.filler)),
    maxCallSeconds: field("Longest call (seconds)", input("maxCallSeconds", p.maxCallSeconds, { type: "number", min: "5", max: "14400" }), "A spoken goodbye ends the call. Empty: 600."),
  };
  const k = c.knowledge || {};
  const kf = {
    mode: field("How the agent uses its knowledge", select("knowledgeMode", k.mode || "auto", [["auto", "Search every message"], ["tool", "Let the agent search when it needs to"]]),
      "Every message: passages go to the model with each question. When it needs to: the model calls search_knowledge itself (fewer searches, an extra model step when it does)."),
    topK: field("Passages per answer (topK)", input("topK", k.topK, { type: "number", min: "1", max: "20" }), "1-20. Empty: the default (5)."),
    minScore: field("Score floor (minScore)", input("minScore", k.minScore, { type: "number", min: "0", max: "1", step: "0.05" }), "0-1; passages scoring less are not used. Empty: 0."),
    strict: checkbox("Answer only from knowledge (strict)", k.strict, "When nothing relevant is found, the agent says the fallback below."),
    fallback: field("Fallback", area("fallback", k.fallback, 2), "What a strict agent says when its knowledge has no answer."),
  };
  // The bases are loaded after the form is shown; ids the list does not know are kept.
  const baseBoxes = h("div.bases", null, h("p.hint", { text: "Loading knowledge bases…" }));
  let baseChecks = [];
  loadBases().then(({ bases, mode }) => {
    baseChecks = bases.map((b) => ({ id: b.id, box: checkbox(`${b.name} (${b.id})`, (k.bases || []).includes(b.id)) }));
    baseBoxes.replaceChildren(...(bases.length ? baseChecks.map((x) => x.box.row) : [h("p.hint", null, "No knowledge bases yet: create one under ", h("a", { href: "#knowledge", text: "Knowledge" }), ".")]),
      h("p.hint", { text: mode === "hybrid" ? "Search is hybrid (keywords and embeddings)." : "Search is keyword only: no embeddings endpoint is configured." }));
  }).catch(() => baseBoxes.replaceChildren(h("p.hint", { text: "The knowledge bases could not be loaded." })));
  const enabled = h("input", { type: "checkbox", name: "enabled", id: nextId() });
  enabled.checked = agent.enabled !== false;
  const builtins = BUILTIN_TOOLS.map(([name, label, hint]) => ({ name, box: checkbox(`${label} (${name})`, ((c.tools && c.tools.builtin) || []).includes(name), hint) }));
  const tools = h("div.tools");
  for (const t of (c.tools && c.tools.webhooks) || []) tools.append(toolEditor(t, agent.id, creating));
  const servers = h("div.mcp-servers");
  for (const s of c.mcpServers || []) servers.append(mcpEditor(s, agent.id, creating));

  // "Where will this chat run?": the step a new agent needs before it works anywhere.
  const noOrigins = h("p#no-origins.warn-box", { role: "note" },
    h("strong", { text: "No allowed origins: this chat works nowhere yet. " }),
    "Add the origin of each site that will show it (scheme, host and port, such as https://www.example.com).");
  const addHere = h("button.secondary", { type: "button", text: `Add this dashboard (${location.origin})`, onclick: () => {
    addOrigin(location.origin);
    f.allowedOrigins.input.focus();
  } });
  function syncOrigins() {
    const rules = lines(f.allowedOrigins.input.value);
    noOrigins.hidden = rules.length > 0;
    addHere.hidden = originAllowed(location.origin, rules);
    form.dispatchEvent(new CustomEvent("origins"));
  }
  function addOrigin(origin) {
    const rules = lines(f.allowedOrigins.input.value);
    if (!rules.includes(origin)) f.allowedOrigins.input.value = rules.concat(origin).join("\n");
    syncOrigins();
  }
  f.allowedOrigins.input.addEventListener("input", syncOrigins);

  const save = h("button", { type: "submit", text: creating ? "Create agent" : "Save changes" });
  const form = h("form.card.agent-form", { novalidate: true },
    h("fieldset", null, h("legend", { text: "Agent" }), f.name.row, f.systemPrompt.row, f.model.row, f.models.row, f.temperature.row,
      h("div.check", null, enabled, h("label", { for: enabled.id, text: "Enabled (widgets can chat)" }))),
    h("fieldset.where", null, h("legend", { text: "Where will this chat run?" }), noOrigins, f.allowedOrigins.row, addHere, f.requireVerifiedUser.row),
    h("fieldset.knowledge", null, h("legend", { text: "Knowledge" }), baseBoxes, kf.mode.row, kf.topK.row, kf.minScore.row, kf.strict.row, kf.fallback.row),
    h("fieldset", null, h("legend", { text: "Built-in tools" }), builtins.map((t) => t.box.row), f.maxSteps.row),
    h("fieldset", null, h("legend", { text: "OpenAI-compatible API" }), f.storeApiConversations.row),
    h("fieldset.grid2", null, h("legend", { text: "Limits" }), f.visitorPerMinute.row, f.ipPerMinute.row, f.maxMessageChars.row, f.monthlySpendCap.row),
    h("fieldset.branding", null, h("legend", { text: "Branding" }), f.title.row, f.primaryColor.row, f.theme.row, f.position.row, f.locale.row,
      f.avatarUrl.row, f.launcherIconUrl.row, f.welcomeMessage.row, f.starterPrompts.row, f.placeholder.row),
    h("fieldset.phone", null, h("legend", { text: "Phone (Twilio)" }), f.phoneEnabled.row, f.greeting.row, f.language.row, f.ttsProvider.row, f.voice.row,
      f.transcriptionProvider.row, f.speechModel.row, f.interruptible.row, f.dtmf.row, f.humanDigit.row, f.handoffNumber.row, f.handoffCallerId.row,
      f.hoursTimezone.row, f.hoursDays.row, f.hoursOpen.row, f.hoursClose.row, f.filler.row, f.maxCallSeconds.row),
    h("fieldset", null, h("legend", { text: "Webhook tools" }), tools,
      h("button.secondary", { type: "button", text: "Add tool", onclick: () => {
        const ed = toolEditor({ name: "", description: "", url: "https://", method: "POST", parameters: { type: "object", properties: {} }, headers: {} }, agent.id, creating);
        tools.append(ed);
        ed.querySelector("input").focus();
      } })),
    h("fieldset", null, h("legend", { text: "MCP servers" }),
      h("p.hint", { text: "Tools from remote MCP servers (Streamable HTTP). The model sees them as server__tool; calls follow the same outbound rules as webhook tools." }),
      servers,
      h("button.secondary", { type: "button", text: "Add MCP server", onclick: () => {
        const ed = mcpEditor({ name: "", url: "https://", headers: {}, allowedTools: null }, agent.id, creating);
        servers.append(ed);
        ed.querySelector("input").focus();
      } })),
    h("div.actions", null, save));
  syncOrigins();

  function num(el) {
    const v = el.value.trim();
    if (v === "") return null;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`“${el.labels[0].textContent}” must be a number.`);
    return n;
  }
  const str = (el) => (el.value.trim() === "" ? null : el.value);
  function readBranding() {
    return {
      title: str(f.title.input), primaryColor: str(f.primaryColor.input), theme: str(f.theme.input), position: str(f.position.input),
      placeholder: str(f.placeholder.input), avatarUrl: str(f.avatarUrl.input), launcherIconUrl: str(f.launcherIconUrl.input),
    };
  }
  function read() {
    const out = JSON.parse(JSON.stringify(base));
    out.name = f.name.input.value.trim();
    out.systemPrompt = f.systemPrompt.input.value;
    out.model = f.model.input.value.trim();
    out.models = lines(f.models.input.value);
    out.temperature = num(f.temperature.input);
    out.maxSteps = num(f.maxSteps.input);
    out.allowedOrigins = lines(f.allowedOrigins.input.value);
    out.requireVerifiedUser = f.requireVerifiedUser.input.checked;
    out.storeApiConversations = f.storeApiConversations.input.checked;
    out.locale = str(f.locale.input);
    out.limits = { ...base.limits,
      visitorPerMinute: num(f.visitorPerMinute.input), ipPerMinute: num(f.ipPerMinute.input),
      maxMessageChars: num(f.maxMessageChars.input), monthlySpendCap: num(f.monthlySpendCap.input) };
    out.branding = { ...base.branding, ...readBranding() };
    out.welcomeMessage = str(f.welcomeMessage.input);
    out.starterPrompts = lines(f.starterPrompts.input.value);
    // Built-ins the form does not know (a newer worker) are kept as they are.
    const knownTools = BUILTIN_TOOLS.map(([name]) => name);
    const builtin = ((base.tools && base.tools.builtin) || []).filter((n) => !knownTools.includes(n))
      .concat(builtins.filter((t) => t.box.input.checked).map((t) => t.name));
    out.tools = { ...base.tools, builtin, webhooks: Array.from(tools.children, (ed) => ed.read()) };
    const known = new Set(baseChecks.map((x) => x.id));
    const kept = ((base.knowledge && base.knowledge.bases) || []).filter((id) => !known.has(id));
    out.knowledge = { ...base.knowledge, bases: kept.concat(baseChecks.filter((x) => x.box.input.checked).map((x) => x.id)),
      mode: kf.mode.input.value, topK: num(kf.topK.input) ?? undefined, minScore: num(kf.minScore.input) ?? undefined,
      strict: kf.strict.input.checked, fallback: str(kf.fallback.input) };
    const tz = str(f.hoursTimezone.input);
    out.phone = { ...(base.phone || {}),
      enabled: f.phoneEnabled.input.checked, greeting: f.greeting.input.value, language: f.language.input.value.trim() || "en-US",
      ttsProvider: str(f.ttsProvider.input), voice: str(f.voice.input), transcriptionProvider: str(f.transcriptionProvider.input),
      speechModel: str(f.speechModel.input), interruptible: f.interruptible.input.value, dtmf: f.dtmf.input.checked,
      humanDigit: str(f.humanDigit.input), handoffNumber: str(f.handoffNumber.input), handoffCallerId: str(f.handoffCallerId.input),
      handoffHours: tz ? { timezone: tz, days: f.hoursDays.input.value.split(/[\s,]+/).filter(Boolean).map(Number),
        open: f.hoursOpen.input.value.trim(), close: f.hoursClose.input.value.trim() } : null,
      filler: f.filler.input.value, maxCallSeconds: num(f.maxCallSeconds.input) ?? 600 };
    out.mcpServers = Array.from(servers.children, (ed) => ed.read());
    return out;
  }
  const brandingInputs = [f.name, f.title, f.primaryColor, f.theme, f.position, f.locale, f.avatarUrl, f.welcomeMessage, f.starterPrompts, f.placeholder].map((x) => x.input);
  return {
    root: form, form, read, save, enabled, brandingInputs, addOrigin,
    origins: () => lines(f.allowedOrigins.input.value),
    reset(saved) { base = JSON.parse(JSON.stringify(saved.config)); },
    publicConfig() {
      const branding = stripNulls({ ...base.branding, ...readBranding() });
      return {
        agentId: agent.id, name: f.name.input.value.trim() || "Assistant", branding,
        welcomeMessage: str(f.welcomeMessage.input), starterPrompts: lines(f.starterPrompts.input.value),
        locale: str(f.locale.input), maxMessageChars: 4000, sendPageContext: true,
      };
    },
  };
}

/** One webhook tool: fields, a test call, remove. The element has read(). */
function toolEditor(tool, agentId, creating) {
  const json = (v) => JSON.stringify(v == null ? {} : v, null, 2);
  const name = field("Tool name", h("input", { value: tool.name || "", autocomplete: "off", pattern: "[A-Za-z0-9_-]+" }));
  const description = field("Description", h("input", { value: tool.description || "", autocomplete: "off" }));
  const url = field("URL", h("input", { value: tool.url || "", type: "url", autocomplete: "off" }));
  const method = field("Method", h("select", null, ["POST", "GET", "PUT", "PATCH", "DELETE"].map((m) => h("option", { text: m }))));
  method.input.value = (tool.method || "POST").toUpperCase();
  const params = field("Parameters (JSON Schema)", h("textarea.mono", { rows: "4" }));
  params.input.value = json(tool.parameters || { type: "object", properties: {} });
  const headers = field("Headers (JSON)", h("textarea.mono", { rows: "2" }), "Stored values show as ********; leave them to keep them.");
  headers.input.value = json(tool.headers || {});
  const input = field("Test input (JSON)", h("textarea.mono", { rows: "2" }));
  input.input.value = "{}";
  const result = h("output.result", { "aria-live": "polite" });
  function parse(fl) {
    try {
      return JSON.parse(fl.input.value || "{}");
    } catch {
      throw new Error(`“${fl.input.labels[0].textContent}” of tool “${name.input.value || "new tool"}” is not valid JSON.`);
    }
  }
  const root = h("fieldset.tool", null, h("legend", { text: tool.name ? `Tool ${tool.name}` : "New tool" }),
    h("div.grid2", null, name.row, method.row), description.row, url.row, params.row, headers.row,
    h("div.test", null, input.row,
      h("div.actions", null,
        h("button.secondary", { type: "button", text: "Test call", disabled: creating, title: creating ? "Create the agent first" : null, onclick: () => {
          let body;
          try {
            body = { input: parse(input), tool: root.read() };
          } catch (e) {
            return fail(e);
          }
          result.className = "result";
          result.textContent = "Calling…";
          const toolName = body.tool.name || "tool";
          api("POST", `/agents/${encodeURIComponent(agentId)}/tools/${encodeURIComponent(toolName)}/test`, body).then((r) => {
            const d = r.body;
            result.className = `result ${d.ok ? "ok" : "error"}`;
            result.textContent = `${d.ok ? "OK" : "Failed"} in ${d.ms} ms: ${d.ok ? (typeof d.output === "string" ? d.output : JSON.stringify(d.output, null, 2)) : d.error}`;
          }, (e) => {
            result.className = "result error";
            result.textContent = e.message;
          });
        } }),
        h("button.danger", { type: "button", text: "Remove tool", onclick: () => {
          const fs = root.parentNode;
          root.remove();
          say("Tool removed. Save to apply.");
          const next = fs && fs.parentNode && fs.parentNode.querySelector("button");
          if (next) next.focus();
        } }))),
    result);
  root.read = () => {
    const t = { name: name.input.value.trim(), description: description.input.value, url: url.input.value.trim(), method: method.input.value, parameters: parse(params), headers: parse(headers) };
    if (tool.timeoutMs != null) t.timeoutMs = tool.timeoutMs;
    return t;
  };
  return root;
}

/**
 * One MCP server: name, URL, headers, timeout, and the tools the agent may use ("Test
 * connection" lists what the server offers, to tick). The element has read().
 */
function mcpEditor(server, agentId, creating) {
  const json = (v) => JSON.stringify(v == null ? {} : v, null, 2);
  const name = field("Server name", h("input", { value: server.name || "", autocomplete: "off", pattern: "[A-Za-z0-9_-]+", maxlength: "32" }), "1-32 letters, digits, _ or -; the prefix of its tools' names.");
  const url = field("MCP endpoint URL", h("input", { value: server.url || "", type: "url", autocomplete: "off", placeholder: "https://mcp.example.com/mcp" }));
  const headers = field("Headers (JSON)", h("textarea.mono", { rows: "2" }), "Such as {\"authorization\": \"Bearer …\"}. Stored values show as ********; leave them to keep them.");
  headers.input.value = json(server.headers || {});
  const timeout = field("Timeout (ms)", h("input", { type: "number", min: "1", max: "30000", value: server.timeoutMs == null ? "" : String(server.timeoutMs) }), "Empty: 15,000.");
  const all = checkbox("The agent may use every tool of this server", server.allowedTools == null);
  const picks = h("div.mcp-tools");
  const result = h("output.result", { "aria-live": "polite" });
  /** Shows one checkbox per tool name; `allowed` ticks them. */
  function showTools(listed, allowed) {
    picks.replaceChildren();
    for (const tool of listed) {
      const box = checkbox(`${tool.name}${tool.description ? ` (${tool.description})` : ""}`, allowed(tool.name));
      box.input.dataset.tool = tool.name;
      box.input.disabled = all.input.checked;
      picks.append(box.row);
    }
  }
  showTools((server.allowedTools || []).map((n) => ({ name: n })), () => true);
  all.input.addEventListener("change", () => {
    for (const box of picks.querySelectorAll("input")) box.disabled = all.input.checked;
  });
  function parseHeaders() {
    try {
      return JSON.parse(headers.input.value || "{}");
    } catch {
      throw new Error(`“Headers” of MCP server “${name.input.value || "new server"}” is not valid JSON.`);
    }
  }
  const root = h("fieldset.mcp-server", null, h("legend", { text: server.name ? `MCP server ${server.name}` : "New MCP server" }),
    h("div.grid2", null, name.row, timeout.row), url.row, headers.row, all.row, picks,
    h("div.actions", null,
      h("button.secondary", { type: "button", text: "Test connection", disabled: creating, title: creating ? "Create the agent first" : null, onclick: () => {
        let body;
        try {
          body = { server: root.read() };
        } catch (e) {
          return fail(e);
        }
        result.className = "result";
        result.textContent = "Connecting…";
        api("POST", `/agents/${encodeURIComponent(agentId)}/mcp-servers/test`, body).then((r) => {
          const d = r.body;
          result.className = `result ${d.ok ? "ok" : "error"}`;
          if (!d.ok) {
            result.textContent = `Failed in ${d.ms} ms: ${d.error}`;
            return;
          }
          result.textContent = `Connected in ${d.ms} ms: ${d.tools.length} tool${d.tools.length === 1 ? "" : "s"}. Tick the ones the agent may use, then save.`;
          const ticked = new Set(Array.from(picks.querySelectorAll("input:checked"), (b) => b.dataset.tool));
          const known = picks.querySelectorAll("input").length > 0;
          showTools(d.tools, (n) => (known ? ticked.has(n) : true));
        }, (e) => {
          result.className = "result error";
          result.textContent = e.message;
        });
      } }),
      h("button.danger", { type: "button", text: "Remove server", onclick: () => {
        root.remove();
        say("MCP server removed. Save to apply.");
      } })),
    result);
  root.read = () => {
    const out = { name: name.input.value.trim(), url: url.input.value.trim(), headers: parseHeaders() };
    out.allowedTools = all.input.checked ? null : Array.from(picks.querySelectorAll("input:checked"), (b) => b.dataset.tool);
    const ms = timeout.input.value.trim();
    if (ms !== "") out.timeoutMs = Number(ms);
    return out;
  };
  return root;
}

export { agentName };
