// The status line, view headings and navigation shared by every page.
import { h } from "./dom.js";

const statusEl = () => document.getElementById("status");

/** Shows a message in the live region at the top ("ok", "error" or plain). */
export function say(message, kind) {
  const el = statusEl();
  el.textContent = "";
  el.className = `status${kind ? ` ${kind}` : ""}`;
  if (message) {
    el.append(h("span", { text: message }), h("button.link", { type: "button", "aria-label": "Dismiss message", text: "×", onclick: () => say("") }));
  }
}
export const fail = (e) => say(e.message || String(e), "error");

export const nav = { keepStatus: false, focusHeading: false, route: () => {} };

/** Navigates after an action, keeping its message on screen. */
export function go(hash) {
  if (location.hash === `#${hash}`) return nav.route();
  nav.keepStatus = true;
  location.hash = hash;
}

/** The view's h1 (focused after a navigation, so screen readers announce the new view). */
export function heading(view, text, extra) {
  const h1 = h("h1", { text, tabindex: "-1" });
  view.append(h("div.bar", null, h1, extra));
  if (nav.focusHeading) {
    nav.focusHeading = false;
    h1.focus();
  }
  return h1;
}
