// The inbox (conversations with what a tenant needs to pick one), a transcript, and feedback.
// Answers render with the widget's own Markdown module: DOM nodes only, never innerHTML.
import { render } from "../../../widget/src/markdown.js";
import { agentName, api, loadAgents, q, state } from "../lib/api.js";
import { field, h, highlight, icon, select } from "../lib/dom.js";
import { ago, date, fmt, shortUrl } from "../lib/format.js";
import { fail, go, heading, say } from "../lib/ui.js";

const RATING_TEXT = { up: "Rated helpful", down: "Rated not helpful" };
const STATUS_TEXT = { error: "Last answer failed", aborted: "Last answer stopped" };

function rating(value, words) {
  return value ? h(`span.rating.${value}`, { title: RATING_TEXT[value] }, icon(value), h(words ? "span" : "span.sr", { text: `${RATING_TEXT[value]} (${value})` })) : null;
}

export async function showConversations(_, view) {
  heading(view, "Conversations", h("a.button.secondary", { href: "#feedback", text: "Feedback" }));
  if (!state.agents.length) await loadAgents().catch(() => {});
  const search = field("Search messages", h("input", { type: "search", name: "q", autocomplete: "off" }));
  const agentSel = field("Agent", select("agentId", "", [["", "All agents"]].concat(state.agents.map((a) => [a.id, `${a.config.name} (${a.id})`]))));
  const ratingSel = field("Rating", select("rating", "", [["", "Any rating"], ["up", "Rated helpful"], ["down", "Rated not helpful"]]));
  const channelSel = field("Channel", select("channel", "", [["", "Any channel"], ["widget", "Widget (launcher)"], ["inline", "Inline"], ["phone", "Phone"]]));
  const statusSel = field("Status", select("status", "", [["", "Any status"], ["complete", "Answered"], ["error", "Failed"], ["aborted", "Stopped"]]));
  // Preview chats from the dashboard stay out of the way unless asked for.
  const previewSel = field("Preview chats", select("preview", "false", [["false", "Hide preview chats"], ["", "Show them too"], ["true", "Only preview chats"]]));
  const form = h("form.filters", { role: "search" }, search.row, agentSel.row, ratingSel.row, channelSel.row, statusSel.row, previewSel.row, h("button", { type: "submit", text: "Search" }));
  const list = h("ul.list.inbox", { "aria-label": "Conversations" });
  const more = h("button.secondary", { type: "button", text: "Load more", hidden: true });
  const count = h("p.muted", { "aria-live": "polite" });
  let cursor = null;
  let seq = 0;
  async function load(reset) {
    const mine = ++seq;
    const needle = search.input.value.trim();
    const r = await api("GET", `/conversations${q({
      q: needle, agentId: agentSel.input.value, rating: ratingSel.input.value, channel: channelSel.input.value,
      status: statusSel.input.value, preview: previewSel.input.value, limit: 25, cursor: reset ? null : cursor,
    })}`);
    if (mine !== seq) return; // a newer search answered (or will answer) instead
    if (reset) list.textContent = "";
    for (const c of r.body.conversations) list.append(row(c, needle));
    cursor = r.body.nextCursor;
    more.hidden = !cursor;
    const n = list.children.length;
    count.textContent = n ? `${n} conversation${n === 1 ? "" : "s"} shown.` : "No conversations found.";
  }
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    load(true).catch(fail);
  });
  for (const s of [agentSel, ratingSel, channelSel, statusSel, previewSel]) s.input.addEventListener("change", () => load(true).catch(fail));
  more.addEventListener("click", () => load(false).catch(fail));
  view.append(form, count, list, more);
  await load(true);
}

/** One inbox row: the first message (the match, when searching) and what else a tenant scans for. */
function row(c, needle) {
  const first = c.firstMessage || "(no message yet)";
  const quote = c.match || first;
  const bits = [
    h("span", { text: agentName(c.agentId) }),
    h("span", { text: `${c.messageCount} message${c.messageCount === 1 ? "" : "s"}` }),
    h("time", { datetime: new Date(c.updatedAt).toISOString(), title: date(c.updatedAt), text: ago(c.updatedAt) }),
    h("span", { text: c.channel || "api" }),
    c.pageUrl ? h("span.page", { title: c.pageUrl, text: shortUrl(c.pageUrl) }) : null,
    c.preview ? h("span.badge", { text: "preview" }) : null,
    STATUS_TEXT[c.status] ? h("span.badge.error", { text: STATUS_TEXT[c.status] }) : null,
    rating(c.rating, false),
  ].filter(Boolean);
  return h("li", null,
    h("a.first", { href: `#conversation/${encodeURIComponent(c.id)}` }, needle && c.match ? highlight(quote, needle) : highlight(first, needle)),
    needle && c.match && c.match !== first ? h("div.muted", null, "First message: ", first) : null,
    h("div.row-meta", null, bits.map((b, i) => (i ? [" · ", b] : b))));
}

export async function showConversation(id, view) {
  const r = await api("GET", `/conversations/${encodeURIComponent(id)}`);
  const c = r.body.conversation;
  if (!state.agents.length) await loadAgents().catch(() => {});
  heading(view, "Conversation", h("div.actions", null,
    h("a.button.secondary", { href: "#conversations", text: "Back to inbox" }),
    h("button.danger", { type: "button", text: "Delete", onclick: () => {
      if (!confirm("Delete this conversation? This cannot be undone.")) return;
      api("DELETE", `/conversations/${encodeURIComponent(c.id)}`).then(() => {
        say("Conversation deleted.", "ok");
        go("conversations");
      }, fail);
    } })));
  view.append(h("p.muted", { text: `${c.id} · ${agentName(c.agentId)}${c.visitorId ? ` · visitor ${c.visitorId}` : ""}` }));
  if (c.call) view.append(callCard(c.call));
  const log = h("ol.transcript", { "aria-label": "Transcript" });
  for (const m of c.messages || []) {
    const meta = m.metadata || {};
    const user = m.role === "user";
    const item = h(`li.msg.${user ? "user" : "assistant"}`, null, h("div.who", { text: user ? (c.call ? "Caller" : "Visitor") : "Assistant" }));
    for (const p of m.parts || []) {
      // The visitor's words as they typed them; answers as the widget showed them.
      if (p.type === "text") item.append(user ? h("div.text", { text: p.text }) : h("div.text.md", null, render(p.text)));
      else if (p.type && p.type.startsWith("tool-")) {
        const tool = h("details.toolcall", null, h("summary", { text: `Tool ${p.type.slice(5)}${p.errorText ? " (failed)" : ""}` }),
          h("div", { text: "Input:" }), h("pre", { text: JSON.stringify(p.input, null, 2) || "" }));
        if (p.errorText) tool.append(h("div", { text: "Error:" }), h("pre", { text: p.errorText }));
        else tool.append(h("div", { text: "Output:" }), h("pre", { text: JSON.stringify(p.output, null, 2) || "" }));
        item.append(tool);
      } else if (p.type === "source-url" || p.type === "source-document") {
        // Knowledge citations carry the chunk used: shown so the tenant sees what the answer drew on.
        const k = p.providerMetadata && p.providerMetadata.knowledge;
        const label = `Source: ${p.title || ""}${p.url ? ` – ${p.url}` : ""}`;
        if (!k) item.append(h("div.muted", { text: label }));
        else item.append(h("details.toolcall.chunk", null, h("summary", { text: `${label} (score ${Number(k.score).toFixed(3)})` }),
          h("div.muted", { text: `chunk ${k.chunkId}${k.heading ? ` · ${k.heading}` : ""}` }), h("pre", { text: k.text || "" })));
      }
    }
    if (meta.status === "error") {
      item.append(h("div.failed-turn", { role: "note" }, h("strong", { text: "This answer failed" }), meta.error ? `: ${meta.error}` : "."));
    }
    const bits = [date(meta.createdAt)];
    if (meta.model) bits.push(meta.model);
    if (meta.finishReason === "interrupted") bits.push("interrupted by the caller (what they heard)");
    else if (meta.status === "aborted") bits.push(c.call ? "cut off: the caller hung up" : "stopped by the visitor");
    item.append(h("div.meta", { text: bits.join(" · ") }));
    if (meta.feedback) item.append(h(`div.feedback.${meta.feedback}`, null, icon(meta.feedback), ` ${RATING_TEXT[meta.feedback]} (${meta.feedback})`));
    if (meta.timing) item.append(timeline(meta.timing));
    log.append(item);
  }
  if (!log.children.length) view.append(h("p.muted", { text: "No messages." }));
  view.append(log);
}

export async function showFeedback(_, view) {
  heading(view, "Feedback", h("a.button.secondary", { href: "#conversations", text: "Back to inbox" }));
  if (!state.agents.length) await loadAgents().catch(() => {});
  const list = h("ul.list.feedback-list", { "aria-label": "Rated answers" });
  const more = h("button.secondary", { type: "button", text: "Load more", hidden: true });
  let cursor = null;
  async function load() {
    const r = await api("GET", `/feedback${q({ limit: 25, cursor })}`);
    for (const f of r.body.feedback) {
      list.append(h("li", null,
        h("div", null, h(`strong.feedback.${f.rating}`, null, icon(f.rating), ` ${f.rating}`),
          h("span.muted", { text: ` · ${agentName(f.agentId)} · ${date(f.feedbackAt)} · ` }),
          h("a", { href: `#conversation/${encodeURIComponent(f.conversationId)}`, text: "Open conversation" })),
        h("div", null, h("span.muted", { text: "Q: " }), f.question || "–"),
        h("div.answer", null, h("span.muted", { text: "A: " }), h("div.md", null, render(f.answer || "–")))));
    }
    cursor = r.body.nextCursor;
    more.hidden = !cursor;
    if (!list.children.length) list.append(h("li.muted", { text: "No rated answers yet." }));
  }
  more.addEventListener("click", () => load().catch(fail));
  view.append(list, more);
  await load();
}

const ms = (n) => (n >= 1000 ? `${fmt(n / 1000, 2)} s` : `${fmt(n)} ms`);

/**
 * Where the time of one answer went: a bar per model call (with its first token marked) and
 * per tool call on the turn's time axis, and the figures beside it.
 */
export function timeline(t) {
  const total = Math.max(t.totalMs || 0, 1);
  const figures = [`total ${ms(t.totalMs || 0)}`];
  if (t.firstTokenMs != null) figures.unshift(`first token ${ms(t.firstTokenMs)}`);
  figures.push(`model ${ms(t.modelMs || 0)}`);
  if ((t.tools || []).length) figures.push(`tools ${ms(t.toolMs || 0)}`);
  figures.push(`${fmt(t.inputTokens)} → ${fmt(t.outputTokens)} tokens`);
  if (t.cost) figures.push(`$${fmt(t.cost, 6)}`);
  const rows = [];
  const bar = (kind, label, start, length, failed, mark) => {
    const left = (100 * Math.max(0, start)) / total;
    const width = Math.max((100 * Math.max(0, length)) / total, 0.8);
    const span = h(`span.bar.${kind}${failed ? ".failed" : ""}`, { style: `left:${left.toFixed(2)}%;width:${Math.min(width, 100 - left).toFixed(2)}%` });
    if (mark != null) span.append(h("i.first-token", { style: `left:${((100 * mark) / Math.max(length, 1)).toFixed(2)}%`, title: `first token after ${ms(mark)}` }));
    rows.push(h("li", null, h("span.label", { text: label }), h("span.track", null, span)));
  };
  for (const m of t.models || []) {
    const label = `${m.model} · ${ms(m.ms)}${m.firstTokenMs != null ? ` (first token ${ms(m.firstTokenMs)})` : ""}${m.error ? ` · failed: ${m.error}` : ""}`;
    bar("model", label, m.startMs, m.ms, !!m.error, m.firstTokenMs);
  }
  for (const tool of t.tools || []) bar("tool", `tool ${tool.name} · ${ms(tool.ms)}${tool.error ? " · failed" : ""}`, tool.startMs, tool.ms, tool.error);
  const tried = (t.models || []).map((m) => m.model);
  const details = h("details.timeline", null,
    h("summary", { text: `Timeline: ${figures.join(" · ")}` }),
    h("ol.bars", { "aria-label": "Turn timeline" }, rows),
    h("div.muted", { text: `Models tried: ${tried.join(", ") || "none"}${t.traceId ? ` · trace ${t.traceId}` : ""}` }));
  return details;
}

const OUTCOME_TEXT = {
  completed: "Completed", hangup: "The caller hung up mid-answer", handoff: "Transferred to a person", message: "Message taken",
  "time-limit": "Ended at the time limit", refused: "Refused (limit reached)", error: "Failed",
};

/** What a phone conversation's call was: who, when, how long, how it ended. */
function callCard(call) {
  const d = call.details || {};
  const rows = [
    ["Caller", call.caller], ["Called number", call.callee], ["Call SID", call.callSid], ["Started", date(call.startedAt)],
    ["Duration", call.durationSecs == null ? "in progress" : `${call.durationSecs} s`],
    ["Ended", call.outcome ? OUTCOME_TEXT[call.outcome] || call.outcome : "in progress"],
    ["Interruptions", String(d.interruptions ?? 0)],
  ];
  if (d.handoff) rows.push(["Handoff", `${d.handoff.reason}: ${d.handoff.summary}`]);
  if (d.message) rows.push(["Message", `${d.message.message}${d.message.name ? ` (from ${d.message.name}` : ""}${d.message.callbackNumber ? `, call back ${d.message.callbackNumber}` : ""}${d.message.name ? ")" : ""}`]);
  return h("section.card.call", { "aria-labelledby": "call-title" }, h("h2#call-title", { text: "Phone call" }),
    h("dl", null, rows.flatMap(([k, v]) => [h("dt", { text: k }), h("dd", { text: v })])));
}
