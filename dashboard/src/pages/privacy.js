// Privacy: how long conversations are kept (the tenant's retention, applied by the scheduled
// sweep), and one end user's data: export it as JSON, or erase it after a confirm step.
import { api, q, state } from "../lib/api.js";
import { checkbox, field, h, select } from "../lib/dom.js";
import { fail, heading, say } from "../lib/ui.js";

const MAX_DAYS = 3650;

export async function showPrivacy(_, view) {
  heading(view, "Privacy");
  const tenant = (await api("GET", "/tenant")).body.tenant;
  state.tenant = tenant;
  view.append(retentionCard(tenant), endUserCard());
}

function retentionCard(tenant) {
  const card = h("section#privacy-retention.card", { "aria-labelledby": "retention-title" });
  const days = field("Delete conversations after (days)", h("input", { name: "retentionDays", type: "number", min: "1", max: String(MAX_DAYS), step: "1", value: tenant.retentionDays ?? "" }),
    `1 to ${MAX_DAYS} days without activity. Conversations are deleted with their messages, ratings, timing and call records.`);
  const forever = checkbox("Keep conversations forever", tenant.retentionDays == null);
  const sync = () => { days.input.disabled = forever.input.checked; };
  forever.input.addEventListener("change", sync);
  sync();
  const current = h("p#retention-state.meta", { text: describe(tenant.retentionDays) });
  const form = h("form", null, forever.row, days.row, h("div.actions", null, h("button", { type: "submit", text: "Save retention" })));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    let value = null;
    if (!forever.input.checked) {
      value = Number(days.input.value);
      if (!Number.isInteger(value) || value < 1 || value > MAX_DAYS) {
        say(`Enter a whole number of days from 1 to ${MAX_DAYS}, or keep conversations forever.`, "error");
        days.input.focus();
        return;
      }
    }
    api("PATCH", "/tenant", { retentionDays: value }).then((r) => {
      state.tenant = r.body.tenant;
      current.textContent = describe(r.body.tenant.retentionDays);
      say("Retention saved.", "ok");
    }).catch(fail);
  });
  card.append(h("h2#retention-title", { text: "Retention" }),
    h("p.muted", { text: "A scheduled job (every six hours) deletes conversations whose last activity is older than this. Usage totals, which hold no content, are kept." }),
    current, form);
  return card;
}

function describe(days) {
  return days == null ? "Conversations are kept until you delete them." : `Conversations inactive for more than ${days} day${days === 1 ? "" : "s"} are deleted.`;
}

function endUserCard() {
  const card = h("section#privacy-end-user.card", { "aria-labelledby": "end-user-title" });
  const kind = select("kind", "userId", [["userId", "Verified user id"], ["visitorId", "Visitor id"]]);
  const kindField = field("Identify the end user by", kind);
  const id = field("Id", h("input", { name: "endUserId", autocomplete: "off", spellcheck: "false", required: true }),
    "A verified user's id is the userId your backend signs; a visitor id is shown on each conversation (v_…).");
  const result = h("div#end-user-result", { "aria-live": "polite" });
  const target = () => {
    const value = id.input.value.trim();
    if (!value) {
      say("Enter the end user's id.", "error");
      id.input.focus();
      return null;
    }
    return { [kind.value]: value };
  };
  const exportButton = h("button", { type: "button", text: "Export as JSON", onclick: () => {
    const who = target();
    if (who) exportAll(who, result).catch(fail);
  } });
  const eraseButton = h("button.danger", { type: "button", text: "Erase…", onclick: () => {
    const who = target();
    if (who) confirmErase(who, result);
  } });
  card.append(h("h2#end-user-title", { text: "One end user's data" }),
    h("p.muted", { text: "Export everything one end user said and was answered, or erase it: their conversations, messages, ratings, timing and call records. Traces already sent to Langfuse or another OTLP backend are not reached from here." }),
    kindField.row, id.row, h("div.actions", null, exportButton, eraseButton), result);
  return card;
}

/** Reads every page of the export, then offers the whole as one JSON file. */
async function exportAll(who, result) {
  result.replaceChildren(h("p.meta", { text: "Exporting…" }));
  const conversations = [];
  let cursor = null;
  let visitorId = null;
  for (let pages = 0; pages < 1000; pages++) {
    const r = await api("GET", `/end-users/export${q({ ...who, limit: 20, cursor })}`);
    visitorId = r.body.visitorId;
    conversations.push(...r.body.conversations);
    cursor = r.body.nextCursor;
    if (!cursor) break;
  }
  const data = { visitorId, exportedAt: Date.now(), conversations };
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
  const name = `end-user-${visitorId.replace(/[^A-Za-z0-9_-]+/g, "_")}.json`;
  const messages = conversations.reduce((n, c) => n + c.messages.length, 0);
  result.replaceChildren(h("p#export-summary.result.ok", { text: `${conversations.length} conversation${conversations.length === 1 ? "" : "s"}, ${messages} message${messages === 1 ? "" : "s"} of ${visitorId}.` }),
    h("a.button", { href: url, download: name, text: `Download ${name}` }));
}

/** The confirm step: nothing is deleted until the second, explicit button. */
function confirmErase(who, result) {
  const name = who.userId ? `verified user ${who.userId}` : `visitor ${who.visitorId}`;
  const yes = h("button.danger", { type: "button", text: "Erase for good", onclick: () => {
    yes.disabled = true;
    eraseAll(who, result).catch((e) => { yes.disabled = false; fail(e); });
  } });
  const no = h("button.secondary", { type: "button", text: "Cancel", onclick: () => result.replaceChildren() });
  result.replaceChildren(h("div#erase-confirm.confirm", { role: "alertdialog", "aria-label": "Confirm erase" },
    h("p", { text: `Delete every conversation of ${name}, with its messages, ratings, timing and call records? This cannot be undone.` }),
    h("div.actions", null, yes, no)));
  no.focus();
}

async function eraseAll(who, result) {
  const total = { conversations: 0, messages: 0, feedback: 0 };
  // One request erases a bounded amount; `complete: false` asks for another.
  for (let round = 0; round < 100; round++) {
    const r = await api("POST", "/end-users/erase", who);
    for (const k of Object.keys(total)) total[k] += r.body.deleted[k];
    if (r.body.complete) break;
  }
  result.replaceChildren(h("p#erase-summary.result.ok", { text: `Erased ${total.conversations} conversation${total.conversations === 1 ? "" : "s"}, ${total.messages} message${total.messages === 1 ? "" : "s"} and ${total.feedback} rating${total.feedback === 1 ? "" : "s"}.` }));
  say("End user erased.", "ok");
}
