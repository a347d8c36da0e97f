// Small DOM helpers. Every piece of data goes in with textContent or as an attribute value,
// never as HTML.

/** h("tag#id.class", {attr: value, onclick: fn, text: "…"}, child, "text", …): builds an element. */
export function h(spec, attrs, ...children) {
  const parts = spec.split(".");
  const tag = parts[0].split("#");
  const node = document.createElement(tag[0]);
  if (tag[1]) node.id = tag[1];
  if (parts.length > 1) node.className = parts.slice(1).join(" ");
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "text") node.textContent = value;
    else if (name in node && typeof value !== "string") node[name] = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) append(node, child);
  return node;
}

export function append(node, child) {
  if (child == null || child === false) return;
  if (Array.isArray(child)) child.forEach((c) => append(node, c));
  else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
}

let uid = 0;
/** A fresh element id. */
export const nextId = () => `f${++uid}`;

/** A labelled form field; returns {row, input}. */
export function field(label, input, hint) {
  input.id = input.id || nextId();
  const hintEl = hint ? h("small.hint", { id: `${input.id}-hint`, text: hint }) : null;
  if (hintEl) input.setAttribute("aria-describedby", hintEl.id);
  return { row: h("div.field", null, h("label", { for: input.id, text: label }), input, hintEl), input };
}

/** A labelled checkbox; returns {row, input}. */
export function checkbox(label, checked, hint) {
  const input = h("input", { type: "checkbox", id: nextId() });
  input.checked = !!checked;
  const hintEl = hint ? h("small.hint", { id: `${input.id}-hint`, text: hint }) : null;
  if (hintEl) input.setAttribute("aria-describedby", hintEl.id);
  return { row: h("div.check", null, input, h("label", { for: input.id, text: label }), hintEl), input };
}

/** A <select> of [value, label] pairs with `value` chosen. */
export function select(name, value, options) {
  const s = h("select", { name }, options.map(([v, label]) => h("option", { value: v, text: label })));
  s.value = value || "";
  return s;
}

const SVG = "http://www.w3.org/2000/svg";
// The widget's thumbs, as SVG: emoji render as empty boxes on systems without an emoji font.
const ICONS = {
  up: "M7 22H4V11h3m0 11h10.3a2 2 0 0 0 2-1.7l1.4-7A2 2 0 0 0 18.7 11H14V6a3 3 0 0 0-3-3l-4 8",
  down: "M17 2h3v11h-3M17 2H6.7a2 2 0 0 0-2 1.7l-1.4 7A2 2 0 0 0 5.3 13H10v5a3 3 0 0 0 3 3l4-8",
};

/** An inline SVG icon (decorative: the text next to it says what it means). */
export function icon(name) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", `icon icon-${name}`);
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}

/** `text` with every case-insensitive occurrence of `needle` in a <mark>. */
export function highlight(text, needle) {
  const out = document.createDocumentFragment();
  const lower = text.toLowerCase();
  const n = (needle || "").toLowerCase();
  let at = 0;
  for (let i = n ? lower.indexOf(n) : -1; i >= 0; i = lower.indexOf(n, at)) {
    if (i > at) out.append(text.slice(at, i));
    out.append(h("mark", { text: text.slice(i, i + n.length) }));
    at = i + n.length;
  }
  if (at < text.length) out.append(text.slice(at));
  return out;
}
