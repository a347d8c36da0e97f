/// <reference types="vite/client" />
// Fixtures shared by the unit tests (two dots in the name: not a Convex module).
import { convexTest } from "convex-test";
import { internal } from "./_generated/api";
import schema from "./schema";
import type { KeyRow, NewMessage, TenantRow } from "./model";

/** The Convex modules, as convex-test needs them (files with one dot only). */
export const modules = import.meta.glob("./**/!(*.*.*)*.*s");

export type T = ReturnType<typeof setup>;

/** A fresh in-memory deployment running this directory's functions. */
export function setup() {
  return convexTest(schema, modules);
}

export const T0 = 1_760_000_000_000;

export function tenantRow(id: string, over: Partial<TenantRow> = {}): TenantRow {
  return { id, name: `Tenant ${id}`, status: "active", monthlySpendCap: null, createdAt: T0, retentionDays: null, ...over };
}

/** A stand-in SHA-256 hex digest (64 lowercase hex digits) that differs per `seed`. */
export function fakeHash(seed: string): string {
  const hex = Array.from(new TextEncoder().encode(seed), (b) => b.toString(16).padStart(2, "0")).join("");
  return hex.padEnd(64, "0").slice(0, 64);
}

export function keyRow(id: string, tenantId: string, over: Partial<KeyRow> = {}): KeyRow {
  return {
    id,
    tenantId,
    agentId: null,
    kind: "secret",
    name: `Key ${id}`,
    lookup: `sk_${id}`,
    hash: fakeHash(id),
    masked: `sk_…${id}`,
    createdAt: T0,
    revokedAt: null,
    scopeAgents: null,
    browser: false,
    perMinute: null,
    ...over,
  };
}

export function agentInput(id: string, tenantId: string, createdAt = T0) {
  return {
    id,
    tenantId,
    config: JSON.stringify({ name: `Agent ${id}` }),
    enabled: true,
    createdAt,
    updatedAt: createdAt,
  };
}

export function conversationRow(id: string, tenantId: string, agentId: string, at = T0) {
  return {
    id,
    tenantId,
    agentId,
    visitorId: "v1",
    createdAt: at,
    updatedAt: at,
    pageUrl: null as string | null,
    channel: null as string | null,
    preview: false,
  };
}

export function messageInput(
  id: string,
  conversationId: string,
  tenantId: string,
  over: Partial<NewMessage> = {},
): NewMessage {
  return {
    id,
    conversationId,
    tenantId,
    role: "user",
    parts: JSON.stringify([{ type: "text", text: `text of ${id}` }]),
    status: "complete",
    model: null,
    finishReason: null,
    inputTokens: 0,
    outputTokens: 0,
    cost: 0,
    error: null,
    feedback: null,
    createdAt: T0,
    ...over,
  };
}

export function answerInput(
  id: string,
  conversationId: string,
  tenantId: string,
  over: Partial<NewMessage> = {},
): NewMessage {
  return messageInput(id, conversationId, tenantId, {
    role: "assistant",
    model: "model/x",
    finishReason: "stop",
    inputTokens: 10,
    outputTokens: 20,
    cost: 0.5,
    ...over,
  });
}

/** Creates a tenant (with secrets `idsec-<id>`/`whsec-<id>` and a first secret key `k-<id>`). */
export async function seedTenant(t: T, id: string, over: Partial<TenantRow> = {}) {
  await t.mutation(internal.tenants.create, {
    tenant: tenantRow(id, over),
    identitySecret: `idsec-${id}`,
    signingSecret: `whsec-${id}`,
    key: keyRow(`k-${id}`, id, { createdAt: over.createdAt ?? T0 }),
  });
}

/** Creates an agent of a tenant. */
export async function seedAgent(t: T, id: string, tenantId: string, createdAt = T0) {
  return t.mutation(internal.agents.create, { agent: agentInput(id, tenantId, createdAt) });
}

/** Starts a conversation with one user message. */
export async function seedConversation(
  t: T,
  id: string,
  tenantId: string,
  agentId: string,
  at = T0,
) {
  await t.mutation(internal.conversations.startTurn, {
    conversation: conversationRow(id, tenantId, agentId, at),
    create: true,
    replaceAfter: null,
    userMessage: messageInput(`${id}-u1`, id, tenantId, { createdAt: at }),
  });
}

/** The Convex error data of a rejected call. */
export async function errorData(call: Promise<unknown>): Promise<unknown> {
  try {
    await call;
  } catch (e) {
    return (e as { data?: unknown }).data;
  }
  throw new Error("expected the call to fail");
}

/**
 * `db` with a count of the documents (and their JSON bytes) its reads return (`get`, `first`, `unique`, `take`,
 * `collect`, `paginate` and iteration). It does not see documents a `.filter()` skips, so it
 * is exact only for functions that read through index ranges, as `turnContext` does.
 */
export function countingDb<D extends object>(db: D): { db: D; reads: () => number; bytes: () => number } {
  let reads = 0;
  let bytes = 0;
  const one = (doc: unknown) => {
    reads += 1;
    bytes += JSON.stringify(doc).length;
  };
  const count = (value: unknown) => {
    if (Array.isArray(value)) value.forEach(one);
    else if (value !== null && typeof value === "object" && "page" in value) {
      (value as { page: unknown[] }).page.forEach(one);
    } else if (value !== null && value !== undefined) one(value);
    return value;
  };
  const wrap = (target: object): object =>
    new Proxy(target, {
      get(obj, key, receiver) {
        const member = Reflect.get(obj, key, receiver);
        if (key === Symbol.asyncIterator) {
          return () => {
            const inner = (member as () => AsyncIterator<unknown>).call(obj);
            return {
              next: async () => {
                const step = await inner.next();
                if (!step.done) count(step.value);
                return step;
              },
            };
          };
        }
        if (typeof member !== "function") return member;
        return (...args: unknown[]) => {
          const result = member.apply(obj, args);
          if (result instanceof Promise) return result.then(count);
          return result !== null && typeof result === "object" ? wrap(result) : result;
        };
      },
    });
  return { db: wrap(db) as D, reads: () => reads, bytes: () => bytes };
}

/**
 * Every page of a list function, `limit` rows at a time (asking for `limit`, as the worker asks
 * for one more than it shows), each page after the last row of the one before, as ids.
 */
export async function walkPages<R extends { id: string; createdAt: number }>(
  list: (after: { createdAt: number; id: string } | null, limit: number) => Promise<R[]>,
  limit: number,
): Promise<string[]> {
  const ids: string[] = [];
  let after: { createdAt: number; id: string } | null = null;
  for (let page = 0; page < 100; page++) {
    const rows = await list(after, limit);
    ids.push(...rows.map((r) => r.id));
    if (rows.length < limit) return ids;
    const last = rows[rows.length - 1];
    after = { createdAt: last.createdAt, id: last.id };
  }
  throw new Error("the pages did not end");
}
