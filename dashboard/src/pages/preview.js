// The live preview: the real chat panel (/chat-panel.js) drawn from the unsaved form. It chats
// as a preview (the panel sends the tenant's key, so the inbox can tell previews apart) and
// says which origin to allow when the agent refuses this dashboard.
import { state } from "../lib/api.js";
import { h } from "../lib/dom.js";
import { originAllowed } from "../lib/format.js";
import { fail } from "../lib/ui.js";

let panelScript = null;
let timer = null;
let current = null; // {box, panel}: the mounted preview, destroyed before the next one

function loadPanel() {
  if (window.EdgeChatPanel) return Promise.resolve();
  if (!panelScript) {
    panelScript = new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = "/chat-panel.js";
      s.onload = resolve;
      s.onerror = () => {
        panelScript = null;
        reject(new Error("The widget preview could not be loaded."));
      };
      document.head.append(s);
    });
  }
  return panelScript;
}

/** Removes the mounted preview (on leaving the page, or before drawing it again). */
export function unmountPreview() {
  clearTimeout(timer);
  if (current && current.panel) current.panel.destroy();
  current = null;
}

export function preview(agent, editor) {
  unmountPreview();
  const box = h("div.preview-host");
  const mine = { box, panel: null };
  current = mine;
  const key = agent.publishableKeys && agent.publishableKeys[0];
  const origin = location.origin;
  const refused = h("div#preview-refused.warn-box", { role: "alert", hidden: true },
    h("p", null, "This dashboard’s origin ", h("code", { text: origin }), " is not in the agent’s allowed origins, so the preview cannot chat."),
    h("button", { type: "button", text: "Allow this origin", onclick: () => {
      editor.addOrigin(origin);
      // Saved at once (after a save already on its way): the preview chats through the
      // worker, which reads the saved agent.
      editor.requestSave();
    } }));
  const section = h("section.card.preview", { "aria-labelledby": "preview-title" },
    h("h2#preview-title", { text: "Preview" }),
    h("p.muted", { text: "The real widget with your unsaved branding. Chats here are marked as previews in the inbox." }),
    refused, box);
  const check = () => { refused.hidden = originAllowed(origin, editor.origins()); };
  editor.form.addEventListener("origins", check);
  check();
  function draw() {
    if (current !== mine || !key) return;
    loadPanel().then(() => {
      if (current !== mine) return;
      if (mine.panel) mine.panel.destroy();
      const host = h("div.preview-panel");
      box.replaceChildren(host);
      mine.panel = window.EdgeChatPanel.mount(host.attachShadow({ mode: "open" }), {
        base: origin, key, mode: "inline", config: Promise.resolve(editor.publicConfig()),
        previewKey: state.key, storagePrefix: "edgechat:preview:",
        emit: (name, detail) => {
          // A refusal can arrive after "Allow this origin" (from a request made before it): the
          // notice follows the origins as they are now, not the late answer.
          if (name === "error" && detail.code === "origin_not_allowed") check();
        },
      });
    }, fail);
  }
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(draw, 300);
  };
  for (const i of editor.brandingInputs) {
    i.addEventListener("input", schedule);
    i.addEventListener("change", schedule);
  }
  if (key) draw();
  else box.append(h("p.muted", { text: "No publishable key: no preview." }));
  return section;
}
