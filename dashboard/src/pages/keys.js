// Keys: create (shown once) and revoke. MCP keys reach one agent or the tenant, and come with
// client configurations to paste. API keys carry a scope: the agents they may call (or
// all), whether web pages may use them (CORS on /v1) and their own rate limit.
import { agentName, api, loadAgents, q, state } from "../lib/api.js";
import { checkbox, field, h } from "../lib/dom.js";
import { date } from "../lib/format.js";
import { fail, heading, say } from "../lib/ui.js";

export async function showKeys(_, view) {
  heading(view, "Keys");
  if (!state.agents.length) await loadAgents().catch(() => {});
  const kind = field("Kind", h("select", { name: "kind" },
    h("option", { value: "publishable", text: "Publishable (for web pages)" }),
    h("option", { value: "secret", text: "Secret (for servers and this dashboard)" }),
    h("option", { value: "api", text: "API (OpenAI-compatible /v1, for servers and apps)" }),
    h("option", { value: "mcp", text: "MCP (for Claude, Cursor, VS Code and other MCP clients)" })));
  const agentSel = field("Agent (publishable keys)", h("select", { name: "agentId" }, state.agents.map((a) => h("option", { value: a.id, text: `${a.config.name} (${a.id})` }))));
  const mcpAgent = field("Reaches", h("select", { name: "mcpAgent" },
    h("option", { value: "", text: "The whole tenant (every agent, conversations readable)" }),
    state.agents.map((a) => h("option", { value: a.id, text: `Only ${a.config.name} (${a.id})` }))));
  const name = field("Name", h("input", { name: "name", autocomplete: "off", placeholder: "e.g. CI, marketing site, n8n" }));
  // The scope of an API key.
  const allAgents = checkbox("Every agent (also agents created later)", true);
  const chosen = state.agents.map((a) => ({ id: a.id, box: checkbox(`${a.config.name} (${a.id})`, false) }));
  const agentList = h("fieldset.key-agents", null, h("legend", { text: "Agents this key may call" }), allAgents.row, chosen.map((c) => c.box.row));
  const browser = checkbox("Allow web pages to call /v1 with this key (CORS)", false, "Anyone who opens such a page can read the key: limit it to the agents it needs.");
  const perMinute = field("Requests per minute (this key)", h("input", { name: "perMinute", type: "number", min: "1", max: "6000", placeholder: "300" }), "Empty: 300.");
  const apiRows = h("div", null, agentList, browser.row, perMinute.row);
  const sync = () => {
    agentSel.row.hidden = kind.input.value !== "publishable";
    apiRows.hidden = kind.input.value !== "api";
    mcpAgent.row.hidden = kind.input.value !== "mcp";
    for (const c of chosen) c.box.input.disabled = allAgents.input.checked;
  };
  kind.input.addEventListener("change", sync);
  allAgents.input.addEventListener("change", sync);
  sync();
  const shown = h("div");
  const form = h("form.card.filters", null, h("h2", { text: "Create a key" }), kind.row, agentSel.row, mcpAgent.row, apiRows, name.row, h("button", { type: "submit", text: "Create key" }));
  const list = h("div");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const body = { kind: kind.input.value, name: name.input.value.trim() || undefined };
    if (body.kind === "publishable") body.agentId = agentSel.input.value;
    if (body.kind === "mcp" && mcpAgent.input.value) body.agentId = mcpAgent.input.value;
    if (body.kind === "api") {
      if (!allAgents.input.checked) {
        body.agentIds = chosen.filter((c) => c.box.input.checked).map((c) => c.id);
        if (!body.agentIds.length) return fail(new Error("Choose the agents this key may call, or every agent."));
      }
      body.browser = browser.input.checked;
      const limit = perMinute.input.value.trim();
      if (limit) body.perMinute = Number(limit);
    }
    api("POST", "/keys", body).then((r) => {
      shown.replaceChildren(h("div.card.warn", { role: "alert" },
        h("strong", { text: "Copy this key now: it will not be shown again." }),
        h("pre.snippet", null, h("code#new-key", { text: r.body.value })),
        h("button.secondary", { type: "button", text: "Copy key", onclick: () => { navigator.clipboard.writeText(r.body.value).then(() => say("Key copied.", "ok"), fail); } }),
        body.kind === "mcp" ? mcpSetup(r.body.value, body.agentId) : null));
      name.input.value = "";
      return load();
    }).catch(fail);
  });
  async function load() {
    let all = [];
    let cursor = null;
    do {
      const r = await api("GET", `/keys${q({ limit: 200, cursor })}`);
      all = all.concat(r.body.keys);
      cursor = r.body.nextCursor;
    } while (cursor);
    const table = h("table", null, h("caption.sr", { text: "Keys" }),
      h("thead", null, h("tr", null, ["Name", "Kind", "Agents", "Key", "Created", "Status", ""].map((t) => h("th", { scope: "col", text: t || null }, t ? null : h("span.sr", { text: "Actions" }))))));
    const body = h("tbody");
    for (const k of all) {
      body.append(h("tr", null, h("td", { text: k.name || "–" }), h("td", { text: kindLabel(k) }), h("td", { text: reach(k) }),
        h("td", null, h("code", { text: k.key })), h("td", { text: date(k.createdAt) }), h("td", { text: k.revokedAt ? `revoked ${date(k.revokedAt)}` : "active" }),
        h("td", null, k.revokedAt ? null : h("button.danger", { type: "button", text: "Revoke", "aria-label": `Revoke key ${k.name || k.key}`, onclick: () => {
          if (!confirm(`Revoke the key “${k.name || k.key}”? Anything using it stops working at once.`)) return;
          api("DELETE", `/keys/${encodeURIComponent(k.id)}`).then(() => { say("Key revoked.", "ok"); return load(); }).catch(fail);
        } }))));
    }
    table.append(body);
    list.replaceChildren(h("div.scroll", null, table));
  }
  view.append(form, shown, list);
  await load();
}

/** The MCP endpoint of a new MCP key and client configurations to paste (with the key in them). */
function mcpSetup(key, agentId) {
  const url = `${location.origin}/mcp${agentId ? `/${agentId}` : ""}`;
  const name = agentId ? `edge-chat-${agentId}` : "edge-chat";
  const auth = `Bearer ${key}`;
  const configs = [
    ["Cursor (~/.cursor/mcp.json)", { mcpServers: { [name]: { url, headers: { Authorization: auth } } } }],
    ["VS Code (.vscode/mcp.json)", { servers: { [name]: { type: "http", url, headers: { Authorization: auth } } } }],
    ["Claude Desktop (claude_desktop_config.json, through mcp-remote)", { mcpServers: { [name]: { command: "npx", args: ["mcp-remote", url, "--header", "Authorization:${AUTH}"], env: { AUTH: auth } } } }],
  ];
  return h("div.mcp-setup", null,
    h("p", null, "MCP endpoint: ", h("code#mcp-url", { text: url })),
    configs.map(([label, config]) => h("details", null, h("summary", { text: label }), h("pre.snippet", null, h("code", { text: JSON.stringify(config, null, 2) })))));
}

/** What a key is, with an API key's browser use and limit. */
function kindLabel(k) {
  if (k.kind !== "api") return k.kind;
  const extras = [k.browser ? "web pages allowed" : null, k.perMinute ? `${k.perMinute}/min` : null].filter(Boolean);
  return extras.length ? `api (${extras.join(", ")})` : "api";
}

/** The agents a key reaches. */
function reach(k) {
  if (k.kind === "api") return k.agentIds ? k.agentIds.map(agentName).join(", ") : "every agent";
  if (k.kind === "mcp") return k.agentId ? agentName(k.agentId) : "every agent";
  return k.agentId ? agentName(k.agentId) : "–";
}
