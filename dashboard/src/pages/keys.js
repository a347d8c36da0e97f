// Keys: create (shown once) and revoke.
import { agentName, api, loadAgents, q, state } from "../lib/api.js";
import { field, h } from "../lib/dom.js";
import { date } from "../lib/format.js";
import { fail, heading, say } from "../lib/ui.js";

export async function showKeys(_, view) {
  heading(view, "Keys");
  if (!state.agents.length) await loadAgents().catch(() => {});
  const kind = field("Kind", h("select", { name: "kind" }, h("option", { value: "publishable", text: "Publishable (for web pages)" }), h("option", { value: "secret", text: "Secret (for servers and this dashboard)" })));
  const agentSel = field("Agent (publishable keys)", h("select", { name: "agentId" }, state.agents.map((a) => h("option", { value: a.id, text: `${a.config.name} (${a.id})` }))));
  const name = field("Name", h("input", { name: "name", autocomplete: "off", placeholder: "e.g. CI, marketing site" }));
  const sync = () => { agentSel.row.hidden = kind.input.value !== "publishable"; };
  kind.input.addEventListener("change", sync);
  sync();
  const shown = h("div");
  const form = h("form.card.filters", null, h("h2", { text: "Create a key" }), kind.row, agentSel.row, name.row, h("button", { type: "submit", text: "Create key" }));
  const list = h("div");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const body = { kind: kind.input.value, name: name.input.value.trim() || undefined };
    if (body.kind === "publishable") body.agentId = agentSel.input.value;
    api("POST", "/keys", body).then((r) => {
      shown.replaceChildren(h("div.card.warn", { role: "alert" },
        h("strong", { text: "Copy this key now: it will not be shown again." }),
        h("pre.snippet", null, h("code#new-key", { text: r.body.value })),
        h("button.secondary", { type: "button", text: "Copy key", onclick: () => { navigator.clipboard.writeText(r.body.value).then(() => say("Key copied.", "ok"), fail); } })));
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
      h("thead", null, h("tr", null, ["Name", "Kind", "Agent", "Key", "Created", "Status", ""].map((t) => h("th", { scope: "col", text: t || null }, t ? null : h("span.sr", { text: "Actions" }))))));
    const body = h("tbody");
    for (const k of all) {
      body.append(h("tr", null, h("td", { text: k.name || "–" }), h("td", { text: k.kind }), h("td", { text: k.agentId ? agentName(k.agentId) : "–" }),
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
