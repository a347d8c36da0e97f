// The tenant dashboard: sign-in and routing. Each view is a module of ./pages/ working only
// through the management API (/api/admin/…, same origin); esbuild bundles them into admin.js.
import { KEY_STORE, api, state, whenRefused } from "./lib/api.js";
import { h } from "./lib/dom.js";
import { fail, nav, say } from "./lib/ui.js";
import { showAgent, showAgents, showNewAgent } from "./pages/agents.js";
import { showConversation, showConversations, showFeedback } from "./pages/conversations.js";
import { showIntegrations } from "./pages/integrations.js";
import { showKeys } from "./pages/keys.js";
import { showBase, showKnowledge } from "./pages/knowledge.js";
import { unmountPreview } from "./pages/preview.js";
import { showPrivacy } from "./pages/privacy.js";
import { showTracing } from "./pages/tracing.js";
import { showUsage } from "./pages/usage.js";

const $ = (id) => document.getElementById(id);
const viewRoot = $("view");

const routes = {
  agents: showAgents, agent: showAgent, "new-agent": showNewAgent,
  conversations: showConversations, conversation: showConversation, feedback: showFeedback,
  usage: showUsage, keys: showKeys, knowledge: showKnowledge, "knowledge-base": showBase, integrations: showIntegrations,
  tracing: showTracing, privacy: showPrivacy,
};
const SECTION = { agent: "agents", "new-agent": "agents", conversation: "conversations", feedback: "conversations", "knowledge-base": "knowledge" };

async function signIn(key) {
  state.key = key;
  const r = await api("GET", "/tenant");
  state.tenant = r.body.tenant;
  sessionStorage.setItem(KEY_STORE, key);
  $("tenant-name").textContent = state.tenant.name || state.tenant.id;
  $("sign-in").hidden = true;
  $("nav").hidden = $("sign-out").hidden = viewRoot.hidden = false;
}

function signOut(message) {
  sessionStorage.removeItem(KEY_STORE);
  unmountPreview();
  Object.assign(state, { key: null, tenant: null, agents: [] });
  $("tenant-name").textContent = "";
  $("nav").hidden = $("sign-out").hidden = viewRoot.hidden = true;
  viewRoot.textContent = "";
  $("sign-in").hidden = false;
  $("secret-key").value = "";
  say(message || "");
  $("secret-key").focus();
}
whenRefused(signOut);

function route() {
  if (!state.tenant) return;
  const hash = decodeURIComponent(location.hash.slice(1)) || "agents";
  let name = hash.split("/")[0];
  const arg = hash.slice(name.length + 1);
  if (!routes[name]) name = "agents";
  const section = SECTION[name] || name;
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.view === section) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  unmountPreview();
  // A fresh container per route: a slow answer for a view the user left lands nowhere.
  const container = h("div");
  viewRoot.replaceChildren(container);
  Promise.resolve(routes[name](arg, container)).catch((e) => { if (container.isConnected) fail(e); });
}
nav.route = route;

$("sign-in-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const key = $("secret-key").value.trim();
  say("Signing in…");
  signIn(key).then(() => {
    say("");
    $("secret-key").value = "";
    route();
  }, (err) => {
    state.key = null;
    say(err.status === 401 ? `That key was not accepted: ${err.message}` : err.message, "error");
  });
});
$("sign-out").addEventListener("click", () => signOut("Signed out."));
window.addEventListener("hashchange", () => {
  if (!nav.keepStatus) say("");
  nav.keepStatus = false;
  nav.focusHeading = true;
  route();
});

if (state.key) {
  signIn(state.key).then(route, (e) => signOut(e.status === 401 ? "Your key is no longer valid. Sign in again." : e.message));
} else {
  signOut("");
}
