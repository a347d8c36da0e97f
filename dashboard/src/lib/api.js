// The management API (/api/admin/…, same origin) with the tenant's secret key, which lives in
// this tab's sessionStorage only.

export const KEY_STORE = "edgechat:admin:key";
export const state = { key: sessionStorage.getItem(KEY_STORE), tenant: null, agents: [] };
let onRefused = () => {};

/** What to do when the API refuses the key later on (revoked key): sign out, with the reason. */
export function whenRefused(fn) {
  onRefused = fn;
}

/** Calls the management API; resolves {body, res}, rejects with an Error carrying code/field/status. */
export async function api(method, path, body, headers) {
  const init = { method, headers: { authorization: `Bearer ${state.key}`, ...(headers || {}) } };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(`/api/admin${path}`, init);
  } catch {
    throw new Error("The server could not be reached. Check your connection and try again.");
  }
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) {
    const err = (data && data.error) || {};
    let message = err.message || `The request failed (HTTP ${res.status}).`;
    if (err.field) message += ` (field: ${err.field})`;
    if (res.status === 401 && state.tenant && path !== "/tenant") {
      onRefused(`Your key was refused (${message}). Sign in again.`);
      message = `Signed out: ${message}`;
    }
    throw Object.assign(new Error(message), { code: err.code, field: err.field, status: res.status });
  }
  return { body: data, res };
}

/** A query string of the non-empty `params`. */
export function q(params) {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null && v !== "") s.set(k, v);
  const text = s.toString();
  return text ? `?${text}` : "";
}

/** Every agent of the tenant (all pages), kept in state for names and pickers. */
export async function loadAgents() {
  let all = [];
  let cursor = null;
  do {
    const r = await api("GET", `/agents${q({ limit: 200, cursor })}`);
    all = all.concat(r.body.agents);
    cursor = r.body.nextCursor;
  } while (cursor);
  state.agents = all;
  return all;
}

/** The agent's display name for an id (the id when it is unknown, such as a deleted agent). */
export function agentName(id) {
  const agent = state.agents.find((a) => a.id === id);
  return (agent && agent.config.name) || id;
}
