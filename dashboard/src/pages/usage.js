// Usage: totals, a bar chart per day for messages, tokens and cost (with axes), and a table
// per agent by name.
import { agentName, api, loadAgents, q, state } from "../lib/api.js";
import { field, h } from "../lib/dom.js";
import { fmt } from "../lib/format.js";
import { fail, heading } from "../lib/ui.js";

const DAY = 86400000;
/** The usage line of knowledge ingestion's embeddings (its "messages" are ingestions). */
const EMBEDDINGS = "knowledge:embeddings";
const dayOf = (ms) => new Date(ms).toISOString().slice(0, 10);

export async function showUsage(_, view) {
  heading(view, "Usage");
  if (!state.agents.length) await loadAgents().catch(() => {});
  const since = field("Since", h("input", { type: "date", name: "since", value: dayOf(Date.now() - 29 * DAY) }));
  const form = h("form.filters", null, since.row, h("button", { type: "submit", text: "Show" }));
  const out = h("div");
  view.append(form, out);
  async function load() {
    const r = await api("GET", `/usage${q({ since: since.input.value })}`);
    const rows = r.body.usage || [];
    out.textContent = "";
    const total = { messages: 0, tokens: 0, cost: 0 };
    const days = {};
    const agents = {};
    for (const u of rows) {
      const tokens = (u.inputTokens || 0) + (u.outputTokens || 0);
      const messages = u.agentId === EMBEDDINGS ? 0 : u.messages || 0;
      total.messages += messages;
      total.tokens += tokens;
      total.cost += u.cost || 0;
      const d = days[u.day] || (days[u.day] = { messages: 0, tokens: 0, cost: 0 });
      d.messages += messages;
      d.tokens += tokens;
      d.cost += u.cost || 0;
      const a = agents[u.agentId] || (agents[u.agentId] = { messages: 0, inputTokens: 0, outputTokens: 0, cost: 0 });
      a.messages += u.messages || 0;
      a.inputTokens += u.inputTokens || 0;
      a.outputTokens += u.outputTokens || 0;
      a.cost += u.cost || 0;
    }
    out.append(h("dl.totals", null,
      h("div", null, h("dt", { text: "Messages" }), h("dd#total-messages", { text: fmt(total.messages) })),
      h("div", null, h("dt", { text: "Tokens" }), h("dd", { text: fmt(total.tokens) })),
      h("div", null, h("dt", { text: "Cost (USD)" }), h("dd", { text: `$${fmt(total.cost, 4)}` }))));
    if (!rows.length) {
      out.append(h("p.muted", { text: `No usage since ${r.body.since}.` }));
      return;
    }
    // Every day from `since` to today gets a bar (zero when quiet), so one busy day is one bar
    // among many rather than a single bar across the whole chart.
    const dayList = [];
    for (let t = Date.parse(`${r.body.since}T00:00:00Z`), end = Date.parse(`${dayOf(Date.now())}T00:00:00Z`); t <= end && dayList.length < 400; t += DAY) {
      dayList.push(dayOf(t));
    }
    for (const d of Object.keys(days)) if (!dayList.includes(d)) dayList.push(d);
    dayList.sort();
    for (const d of dayList) days[d] ??= { messages: 0, tokens: 0, cost: 0 };
    out.append(h("div.charts", null,
      chart("Messages per day", dayList, days, "messages", (v) => fmt(v)),
      chart("Tokens per day", dayList, days, "tokens", (v) => fmt(v)),
      chart("Cost per day (USD)", dayList, days, "cost", (v) => `$${fmt(v, 4)}`)));
    const table = h("table", null, h("caption", { text: `Per agent since ${r.body.since}` }),
      h("thead", null, h("tr", null, ["Agent", "Messages", "Input tokens", "Output tokens", "Cost (USD)"].map((t) => h("th", { scope: "col", text: t })))));
    const body = h("tbody");
    const name = (id) => (id === EMBEDDINGS ? "Knowledge (embeddings)" : agentName(id));
    for (const id of Object.keys(agents).sort((x, y) => name(x).localeCompare(name(y)))) {
      const a = agents[id];
      body.append(h("tr", null,
        h("th", { scope: "row" }, name(id), name(id) !== id ? h("span.muted", { text: ` (${id})` }) : null),
        h("td", { text: id === EMBEDDINGS ? "—" : fmt(a.messages) }), h("td", { text: fmt(a.inputTokens) }), h("td", { text: fmt(a.outputTokens) }), h("td", { text: `$${fmt(a.cost, 4)}` })));
    }
    table.append(body);
    out.append(h("div.scroll", null, table));
  }
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    load().catch(fail);
  });
  await load();
}

const NS = "http://www.w3.org/2000/svg";
function svgEl(tag, attrs, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text != null) node.textContent = text;
  return node;
}

/** An inline SVG bar chart of days[day][metric] with a y axis (0 and the top) and dated x axis. */
function chart(title, dayList, days, metric, label) {
  const W = 360, H = 140, left = 48, bottom = 22, top = 8;
  const plotW = W - left - 4, plotH = H - bottom - top;
  const max = Math.max(0, ...dayList.map((d) => days[d][metric])) || 1;
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${title}: ${dayList.filter((d) => days[d][metric] > 0).map((d) => `${d} ${label(days[d][metric])}`).join(", ") || "none"}` });
  const slot = plotW / dayList.length;
  const bw = Math.max(1, Math.min(24, slot * 0.8));
  svg.append(svgEl("line", { class: "axis", x1: left, y1: top, x2: left, y2: top + plotH }));
  svg.append(svgEl("line", { class: "axis", x1: left, y1: top + plotH, x2: W - 4, y2: top + plotH }));
  for (const [value, y] of [[max, top], [max / 2, top + plotH / 2], [0, top + plotH]]) {
    svg.append(svgEl("text", { class: "tick", x: left - 4, y: y + 4, "text-anchor": "end" }, label(value)));
    if (value) svg.append(svgEl("line", { class: "grid", x1: left, y1: y, x2: W - 4, y2: y }));
  }
  dayList.forEach((d, i) => {
    const v = days[d][metric];
    const bh = Math.max(v > 0 ? 2 : 0, (v / max) * plotH);
    const rect = svgEl("rect", { x: left + i * slot + (slot - bw) / 2, y: top + plotH - bh, width: bw, height: bh });
    rect.append(svgEl("title", {}, `${d}: ${label(v)}`));
    svg.append(rect);
  });
  const ticks = dayList.length > 2 ? [0, Math.floor((dayList.length - 1) / 2), dayList.length - 1] : dayList.map((_, i) => i);
  for (const i of ticks) {
    const anchor = i === 0 ? "start" : i === dayList.length - 1 ? "end" : "middle";
    const x = i === 0 ? left : i === dayList.length - 1 ? W - 4 : left + i * slot + slot / 2;
    svg.append(svgEl("text", { class: "tick", x, y: H - 6, "text-anchor": anchor }, dayList[i].slice(5)));
  }
  return h("figure.chart", null, svg, h("figcaption", { text: title }));
}
