// Integrations: the tenant's credentials for outside services. Twilio (phone agents) first;
// secrets are sent once and only ever shown masked.
import { api } from "../lib/api.js";
import { field, h } from "../lib/dom.js";
import { date } from "../lib/format.js";
import { fail, heading, say } from "../lib/ui.js";

export async function showIntegrations(_, view) {
  heading(view, "Integrations");
  const card = h("section.card", { "aria-labelledby": "twilio-title" });
  view.append(card);
  await twilioCard(card);
}

async function twilioCard(card) {
  let current = null;
  try {
    current = (await api("GET", "/integrations/twilio")).body.integration;
  } catch (e) {
    if (e.status !== 404) throw e;
  }
  const sid = field("Account SID", h("input", { name: "accountSid", autocomplete: "off", spellcheck: "false", placeholder: current ? current.settings.accountSid : "AC…" }),
    current ? "Leave empty to keep the saved one." : "AC followed by 32 characters: Twilio Console → Account Info.");
  const token = field("Auth Token", h("input", { name: "authToken", type: "password", autocomplete: "off", placeholder: current ? current.secrets.authToken : "" }),
    current ? "Leave empty to keep the saved one. It is never shown again." : "Next to the Account SID in the Twilio Console. It signs every request Twilio sends.");
  const state = h("p#twilio-state.meta", {
    text: current ? `Connected: ${current.settings.accountSid}, Auth Token ${current.secrets.authToken} (saved ${date(current.updatedAt)})` : "Not set up: phone agents answer no calls yet.",
  });
  const remove = current ? h("button.danger", { type: "button", text: "Remove Twilio", onclick: () => {
    if (!confirm("Remove the Twilio credentials? Calls to your phone agents will be refused.")) return;
    api("DELETE", "/integrations/twilio").then(() => { say("Twilio removed.", "ok"); return redraw(); }).catch(fail);
  } }) : null;
  const form = h("form", null, sid.row, token.row, h("div.actions", null, h("button", { type: "submit", text: current ? "Save Twilio" : "Connect Twilio" }), remove));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const body = {};
    if (sid.input.value.trim()) body.accountSid = sid.input.value.trim();
    if (token.input.value.trim()) body.authToken = token.input.value.trim();
    api("PUT", "/integrations/twilio", body).then(() => { say("Twilio saved.", "ok"); return redraw(); }).catch(fail);
  });
  async function redraw() {
    card.replaceChildren();
    await twilioCard(card);
  }
  card.append(h("h2#twilio-title", { text: "Twilio (phone agents)" }),
    h("p.muted", { text: "Your agents answer calls to your Twilio numbers. Set the number's Voice URL to the incoming-call URL shown on the agent's page (Phone section)." }),
    state, form);
}
