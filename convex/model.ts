/**
 * Shared validators, row mappers and lookups for the store's Convex functions.
 *
 * Documents mirror the D1 schema (`migrations/*.sql`) in camelCase: our own string ids live in
 * an `id` field (Convex's `_id` is never exposed), times are numbers (ms since the epoch),
 * nullable fields are always present (stored as `null`), and JSON blobs (agent config, message
 * parts) are strings. Rows handed to the worker carry exactly the fields of their validator
 * below, never `_id` or `_creationTime`.
 */
import { ConvexError, v } from "convex/values";
import type { Infer, Validator } from "convex/values";
import type { Doc } from "./_generated/dataModel";
import type { DatabaseReader, DatabaseWriter } from "./_generated/server";

/** `inner` or `null`; the field is always present. */
export function nullable<T extends Validator<any, "required", any>>(inner: T) {
  return v.union(v.null(), inner);
}

// ---- enumerations

export const tenantStatus = v.union(v.literal("active"), v.literal("suspended"));
/** `api` keys call agents over the OpenAI-compatible /v1; `mcp` is reserved for the MCP server. */
export const keyKind = v.union(v.literal("secret"), v.literal("publishable"), v.literal("api"), v.literal("mcp"));
export const messageRole = v.union(v.literal("user"), v.literal("assistant"));
export const messageStatus = v.union(
  v.literal("complete"),
  v.literal("aborted"),
  v.literal("error"),
);
export const rating = v.union(v.literal("up"), v.literal("down"));
export const secretName = v.union(v.literal("identity"), v.literal("signing"));
export const tableName = v.union(
  v.literal("tenants"),
  v.literal("agents"),
  v.literal("apiKeys"),
  v.literal("conversations"),
  v.literal("messages"),
  v.literal("usageDaily"),
  v.literal("usageMonthly"),
  v.literal("integrations"),
  v.literal("calls"),
);
export type TableName = Infer<typeof tableName>;

// ---- documents, exactly as stored (and as `transfer:exportTable` hands them out)

export const tenantDoc = v.object({
  id: v.string(),
  name: v.string(),
  status: tenantStatus,
  monthlySpendCap: nullable(v.number()),
  identitySecret: nullable(v.string()),
  signingSecret: nullable(v.string()),
  createdAt: v.number(),
  /**
   * Conversations inactive (by `updatedAt`) for longer than this many days are deleted by the
   * scheduled sweep; null keeps them. Optional: tenants stored before the setting have none.
   */
  retentionDays: v.optional(nullable(v.number())),
});

export const agentDoc = v.object({
  id: v.string(),
  tenantId: v.string(),
  /** The agent's configuration as JSON text. */
  config: v.string(),
  enabled: v.boolean(),
  createdAt: v.number(),
  updatedAt: v.number(),
  /**
   * Bumped by every update: what a stale-edit check compares (not the caller's clock).
   * Optional only so that a deployment with agents from before it still accepts the schema;
   * absent reads as 1 (`versionOf`), and every write sets it.
   */
  version: v.optional(v.number()),
});

export const apiKeyDoc = v.object({
  id: v.string(),
  tenantId: v.string(),
  agentId: nullable(v.string()),
  kind: keyKind,
  name: v.string(),
  /** A secret key's first characters, or a publishable key whole. */
  lookup: v.string(),
  /** SHA-256 of the key, as 64 lowercase hex digits (checked by `assertKeyHash`). */
  hash: v.string(),
  masked: v.string(),
  createdAt: v.number(),
  revokedAt: nullable(v.number()),
  // The scope of `api` (and later `mcp`) keys. Optional: keys stored before scopes have none.
  /** The agents the key may call; null: every agent of the tenant. */
  scopeAgents: v.optional(nullable(v.array(v.string()))),
  /** Whether web pages may call /v1 with it (CORS). */
  browser: v.optional(v.boolean()),
  /** Its own rate limit, requests a minute; null: the default. */
  perMinute: v.optional(nullable(v.number())),
});

export const conversationDoc = v.object({
  id: v.string(),
  tenantId: v.string(),
  agentId: v.string(),
  visitorId: nullable(v.string()),
  createdAt: v.number(),
  updatedAt: v.number(),
  // Optional: conversations stored before the inbox summary have none of these.
  /** The page the first message came from, as the page reported it. */
  pageUrl: v.optional(nullable(v.string())),
  /** Where the chat was started, as the client said (`widget`, `inline`, `api`). */
  channel: v.optional(nullable(v.string())),
  /** Started from the dashboard's preview with the tenant's secret key. */
  preview: v.optional(v.boolean()),
});

export const messageDoc = v.object({
  conversationId: v.string(),
  tenantId: v.string(),
  id: v.string(),
  /** Position in the conversation, from 1. */
  seq: v.number(),
  role: messageRole,
  /** The message parts as JSON text (an array). */
  parts: v.string(),
  status: messageStatus,
  model: nullable(v.string()),
  finishReason: nullable(v.string()),
  inputTokens: v.number(),
  outputTokens: v.number(),
  cost: v.number(),
  error: nullable(v.string()),
  feedback: nullable(rating),
  feedbackAt: nullable(v.number()),
  createdAt: v.number(),
  /** The per-turn summary of an answer as JSON text (timings, tokens, cost, models tried). */
  timing: v.optional(nullable(v.string())),
});

export const usageDoc = v.object({
  tenantId: v.string(),
  agentId: v.string(),
  /** UTC day, `YYYY-MM-DD`. */
  day: v.string(),
  messages: v.number(),
  inputTokens: v.number(),
  outputTokens: v.number(),
  cost: v.number(),
});

/**
 * Running totals of a calendar month, kept in the same transaction as the daily rows, so the
 * spend check is two point reads whatever the number of agents and days.
 */
export const usageMonthlyDoc = v.object({
  tenantId: v.string(),
  /** The agent, or `TENANT_TOTAL` ("") for the tenant's total across its agents. */
  agentId: v.string(),
  /** UTC month, `YYYY-MM`. */
  month: v.string(),
  messages: v.number(),
  inputTokens: v.number(),
  outputTokens: v.number(),
  cost: v.number(),
});

/** The `agentId` of a tenant's monthly total (agent ids are never empty). */
export const TENANT_TOTAL = "";

/** Each table's document validator. */
/** A tenant's settings for one outside service (migration 0011); `secrets` never leaves the worker. */
export const integrationDoc = v.object({
  tenantId: v.string(),
  name: v.string(),
  settings: v.string(),
  secrets: v.string(),
  updatedAt: v.number(),
});

/** The call a phone conversation is (migration 0011). */
export const callDoc = v.object({
  conversationId: v.string(),
  tenantId: v.string(),
  agentId: v.string(),
  callSid: v.string(),
  caller: v.string(),
  callee: v.string(),
  startedAt: v.number(),
  endedAt: nullable(v.number()),
  outcome: nullable(v.string()),
  details: v.string(),
});

export const documents = {
  tenants: tenantDoc,
  agents: agentDoc,
  apiKeys: apiKeyDoc,
  conversations: conversationDoc,
  messages: messageDoc,
  usageDaily: usageDoc,
  usageMonthly: usageMonthlyDoc,
  integrations: integrationDoc,
  calls: callDoc,
} as const;

/** Any table's document (for `transfer`). */
export const anyDoc = v.union(
  tenantDoc,
  agentDoc,
  apiKeyDoc,
  conversationDoc,
  messageDoc,
  usageDoc,
  usageMonthlyDoc,
  integrationDoc,
  callDoc,
);

// ---- rows handed to the worker

export const tenantRow = tenantDoc.omit("identitySecret", "signingSecret");
export const agentRow = agentDoc.omit("version").extend({
  version: v.number(),
  tenantStatus,
  identitySecret: nullable(v.string()),
  signingSecret: nullable(v.string()),
  monthlySpendCap: nullable(v.number()),
  /** `lookup` of the agent's live publishable keys. */
  publishableKeys: v.array(v.string()),
});
export const keyRow = apiKeyDoc;
export const keyWithTenantRow = apiKeyDoc.extend({ tenantStatus });
export const conversationRow = conversationDoc;
/** A conversation as the inbox lists it: with what its messages say about it. */
export const conversationListRow = conversationDoc.extend({
  /** The first user message's text, cut to `SNIPPET_CHARS`. */
  firstMessage: nullable(v.string()),
  messageCount: v.number(),
  /** "down" when any answer was rated down, else "up" when any was rated up. */
  rating: nullable(rating),
  /** How the last answer ended; null before the first answer. */
  lastStatus: nullable(messageStatus),
  /** With a search: the whole text of the first message that has it (the worker cuts it). */
  matchText: nullable(v.string()),
});
export const messageRow = messageDoc.omit("feedbackAt");
export const usageRow = usageDoc.omit("tenantId");
export const spendRow = v.object({ tenant: v.number(), agent: v.number() });
export const conversationWithMessages = v.object({
  conversation: conversationRow,
  messages: v.array(messageRow),
});
/**
 * What a chat turn reads of its conversation: `missing`, `foreign` (another tenant's or
 * agent's: nothing of it is returned), or `found` with a window of its newest messages.
 */
export const turnConversation = v.union(
  v.object({ state: v.literal("missing") }),
  v.object({ state: v.literal("foreign") }),
  v.object({
    state: v.literal("found"),
    conversation: conversationRow,
    /** The newest `historyLimit` messages up to the anchor, oldest first. */
    messages: v.array(messageRow),
    /** The last message's seq (seqs run from 1 without gaps). */
    messageCount: v.number(),
    /** The resent message, when the conversation holds it. */
    resent: nullable(v.object({ seq: v.number(), role: messageRole })),
  }),
);
/** Usage of one turn, to add to the daily and monthly totals. */
export const usageAmount = v.object({
  inputTokens: v.number(),
  outputTokens: v.number(),
  cost: v.number(),
});
/** A rated answer, with the question it answered (texts cut to `SNIPPET_CHARS`). */
export const feedbackRow = v.object({
  conversationId: v.string(),
  messageId: v.string(),
  agentId: v.string(),
  rating,
  feedbackAt: v.number(),
  /** The answer's text. */
  answer: v.string(),
  /** The text of the nearest earlier user message of the conversation, or null. */
  question: nullable(v.string()),
});

// ---- arguments

/** A message to append; the store assigns `seq`. */
export const newMessage = messageRow.omit("seq");
/** A new agent; the store starts its `version` at 1. */
export const newAgent = agentDoc.omit("version");
export const agentUpdate = agentDoc.omit("createdAt", "version");
export const newTenant = tenantRow;
export const tenantUpdate = tenantRow.omit("createdAt");
/** Where a page of conversations ends: the last row of the previous page. */
export const conversationCursor = v.object({ updatedAt: v.number(), id: v.string() });
/** Where a page of agents, keys or tenants ends: the last row of the previous page. */
export const listCursor = v.object({ createdAt: v.number(), id: v.string() });
export type ListCursor = Infer<typeof listCursor>;
/** Where a page of rated answers ends: the last row of the previous page. */
export const feedbackCursor = v.object({ feedbackAt: v.number(), messageId: v.string() });

export type TenantRow = Infer<typeof tenantRow>;
export type AgentRow = Infer<typeof agentRow>;
export type KeyRow = Infer<typeof keyRow>;
export type ConversationRow = Infer<typeof conversationRow>;
export type ConversationListRow = Infer<typeof conversationListRow>;
export type MessageRow = Infer<typeof messageRow>;
export type NewMessage = Infer<typeof newMessage>;
export type UsageRow = Infer<typeof usageRow>;
export type Spend = Infer<typeof spendRow>;
export type FeedbackRow = Infer<typeof feedbackRow>;

// ---- errors

/** Codes of the `ConvexError`s thrown for caller mistakes (`errorData.code` over HTTP). */
export type ErrorCode = "NotFound" | "Conflict" | "Mismatch" | "Invalid" | "Stale";

/** Throws a `ConvexError` with `{code, message}` as its data. */
export function fail(code: ErrorCode, message: string): never {
  throw new ConvexError({ code, message });
}

/** Fails unless `text` is JSON (D1 checks `json_valid`). */
export function assertJson(text: string, what: string) {
  try {
    JSON.parse(text);
  } catch {
    fail("Invalid", `${what} is not valid JSON`);
  }
}

/** Fails unless `day` looks like `YYYY-MM-DD`. */
export function assertDay(day: string, what: string) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) {
    fail("Invalid", `${what} must be a day as YYYY-MM-DD, got ${JSON.stringify(day)}`);
  }
}

/** Fails unless `month` looks like `YYYY-MM`. */
export function assertMonth(month: string, what: string) {
  if (!/^\d{4}-\d{2}$/.test(month)) {
    fail("Invalid", `${what} must be a month as YYYY-MM, got ${JSON.stringify(month)}`);
  }
}

/** Fails unless `hash` is a SHA-256 digest as 64 lowercase hex digits (never a key itself). */
export function assertKeyHash(hash: string, keyId: string) {
  if (!/^[0-9a-f]{64}$/.test(hash)) {
    fail("Invalid", `Key ${keyId}: hash must be a SHA-256 hex digest (64 lowercase hex digits)`);
  }
}

/** Fails unless `n` is a whole number of at least `min`. */
export function assertCount(n: number, what: string, min: number) {
  if (!Number.isInteger(n) || n < min) {
    fail("Invalid", `${what} must be a whole number of at least ${min}, got ${n}`);
  }
}

/** Orders rows by `keys` in turn (a stable sort, like `ORDER BY`). */
export function orderBy<T>(rows: T[], ...keys: Array<[(row: T) => string | number, "asc" | "desc"]>) {
  return rows.sort((a, b) => {
    for (const [key, direction] of keys) {
      const x = key(a);
      const y = key(b);
      if (x < y) return direction === "asc" ? -1 : 1;
      if (x > y) return direction === "asc" ? 1 : -1;
    }
    return 0;
  });
}

// ---- message text

/** How many characters (Unicode code points) of a message's text a snippet keeps. */
export const SNIPPET_CHARS = 300;

/**
 * A message's text: the `text` of its parts of type "text", concatenated (parts that are not an
 * array of objects, or text that is not a string, add nothing).
 */
export function messageText(parts: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(parts);
  } catch {
    return "";
  }
  if (!Array.isArray(parsed)) return "";
  let text = "";
  for (const part of parsed) {
    if (part !== null && typeof part === "object" && part.type === "text" && typeof part.text === "string") {
      text += part.text;
    }
  }
  return text;
}

/** The length of the pieces message search indexes a text by (as D1's trigram index). */
const GRAM = 3;

/** Most grams one search sends: Convex takes at most 16 terms per search query. */
const MAX_QUERY_GRAMS = 16;

/**
 * Each distinct trigram of `text` (lower case, by code point) as lowercase hex of its UTF-8
 * bytes. Convex's search index matches whole words, not substrings; words of hex digits survive
 * its tokenizer whatever the text held (punctuation, spaces, any script), so a substring search
 * becomes a search for its trigrams, whose hits are then checked for the substring itself.
 */
function gramsOf(text: string): string[] {
  const chars = Array.from(text.toLowerCase());
  const grams = new Set<string>();
  for (let i = 0; i + GRAM <= chars.length; i++) grams.add(hex(chars.slice(i, i + GRAM).join("")));
  return [...grams];
}

function hex(text: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(text)) out += byte.toString(16).padStart(2, "0");
  return out;
}

/** What a message keeps in `searchGrams` (its search index field) for its parts. */
export function searchGramsOf(parts: string): string {
  return gramsOf(messageText(parts)).join(" ");
}

/**
 * The search query for messages containing `needle` (already lower case), or null when it is
 * shorter than a trigram. Up to 16 of its grams, spread over its length: every message that
 * contains the needle holds all of them, so these are candidates, never misses.
 */
export function gramQuery(needle: string): string | null {
  const grams = gramsOf(needle);
  if (grams.length === 0) return null;
  if (grams.length <= MAX_QUERY_GRAMS) return grams.join(" ");
  const step = (grams.length - 1) / (MAX_QUERY_GRAMS - 1);
  return Array.from({ length: MAX_QUERY_GRAMS }, (_, i) => grams[Math.round(i * step)]).join(" ");
}

/** `text` cut to `max` code points with "…" appended when it is longer. */
export function snippet(text: string, max = SNIPPET_CHARS): string {
  const chars = Array.from(text);
  return chars.length > max ? `${chars.slice(0, max).join("")}…` : text;
}

// ---- row mappers (exactly the row fields, nothing of Convex's own)

export function tenantRowOf(t: Doc<"tenants">): TenantRow {
  return {
    id: t.id,
    name: t.name,
    status: t.status,
    monthlySpendCap: t.monthlySpendCap,
    createdAt: t.createdAt,
    retentionDays: t.retentionDays ?? null,
  };
}

export function keyRowOf(k: Doc<"apiKeys">): KeyRow {
  return {
    id: k.id,
    tenantId: k.tenantId,
    agentId: k.agentId,
    kind: k.kind,
    name: k.name,
    lookup: k.lookup,
    hash: k.hash,
    masked: k.masked,
    createdAt: k.createdAt,
    revokedAt: k.revokedAt,
    scopeAgents: k.scopeAgents ?? null,
    browser: k.browser ?? false,
    perMinute: k.perMinute ?? null,
  };
}

export function conversationRowOf(c: Doc<"conversations">): ConversationRow {
  return {
    id: c.id,
    tenantId: c.tenantId,
    agentId: c.agentId,
    visitorId: c.visitorId,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
    pageUrl: c.pageUrl ?? null,
    channel: c.channel ?? null,
    preview: c.preview ?? false,
  };
}

export function messageRowOf(m: Doc<"messages">): MessageRow {
  return {
    id: m.id,
    conversationId: m.conversationId,
    tenantId: m.tenantId,
    seq: m.seq,
    role: m.role,
    parts: m.parts,
    status: m.status,
    model: m.model,
    finishReason: m.finishReason,
    inputTokens: m.inputTokens,
    outputTokens: m.outputTokens,
    cost: m.cost,
    error: m.error,
    feedback: m.feedback,
    createdAt: m.createdAt,
    // Only answers stored with a summary have one (older documents lack the field).
    ...(m.timing != null ? { timing: m.timing } : {}),
  };
}

export function usageRowOf(u: Doc<"usageDaily">): UsageRow {
  return {
    agentId: u.agentId,
    day: u.day,
    messages: u.messages,
    inputTokens: u.inputTokens,
    outputTokens: u.outputTokens,
    cost: u.cost,
  };
}

/** An agent's version; agents stored before versions were counted are at 1. */
export function versionOf(a: Doc<"agents">): number {
  return a.version ?? 1;
}

/** An agent with what the worker needs of its tenant and its live publishable keys. */
export async function agentRowOf(
  db: DatabaseReader,
  a: Doc<"agents">,
  tenant: Doc<"tenants">,
): Promise<AgentRow> {
  const publishable = await db
    .query("apiKeys")
    .withIndex("by_agent", (q) =>
      q.eq("agentId", a.id).eq("kind", "publishable").eq("revokedAt", null),
    )
    .collect();
  return {
    id: a.id,
    tenantId: a.tenantId,
    config: a.config,
    enabled: a.enabled,
    createdAt: a.createdAt,
    updatedAt: a.updatedAt,
    version: versionOf(a),
    tenantStatus: tenant.status,
    identitySecret: tenant.identitySecret,
    signingSecret: tenant.signingSecret,
    monthlySpendCap: tenant.monthlySpendCap,
    // insertKey refuses a key for another tenant's agent; the check stays as a second line.
    publishableKeys: publishable.filter((k) => k.tenantId === a.tenantId).map((k) => k.lookup),
  };
}

// ---- lookups by our own ids

export function tenantById(db: DatabaseReader, id: string) {
  return db
    .query("tenants")
    .withIndex("by_tenant_id", (q) => q.eq("id", id))
    .unique();
}

export function agentById(db: DatabaseReader, id: string) {
  return db
    .query("agents")
    .withIndex("by_agent_id", (q) => q.eq("id", id))
    .unique();
}

export function keyById(db: DatabaseReader, id: string) {
  return db
    .query("apiKeys")
    .withIndex("by_key_id", (q) => q.eq("id", id))
    .unique();
}

export function conversationById(db: DatabaseReader, id: string) {
  return db
    .query("conversations")
    .withIndex("by_conversation_id", (q) => q.eq("id", id))
    .unique();
}

export function messageById(db: DatabaseReader, conversationId: string, id: string) {
  return db
    .query("messages")
    .withIndex("by_conversation_message", (q) =>
      q.eq("conversationId", conversationId).eq("id", id),
    )
    .unique();
}

/** A tenant's conversation with its messages in order, or null (also when another tenant's). */
export async function loadConversation(db: DatabaseReader, tenantId: string, conversationId: string) {
  const conversation = await conversationById(db, conversationId);
  if (conversation === null || conversation.tenantId !== tenantId) return null;
  const messages = await db
    .query("messages")
    .withIndex("by_conversation", (q) => q.eq("conversationId", conversationId))
    .collect();
  return {
    conversation: conversationRowOf(conversation),
    messages: messages.map(messageRowOf),
  };
}

/** The monthly totals row of a tenant (`TENANT_TOTAL`) or of one agent, or null. */
export function monthlyRow(db: DatabaseReader, tenantId: string, agentId: string, month: string) {
  return db
    .query("usageMonthly")
    .withIndex("by_key", (q) => q.eq("tenantId", tenantId).eq("agentId", agentId).eq("month", month))
    .unique();
}

/** This month's spend of a tenant and of one of its agents: two point reads. */
export async function monthlySpendOf(
  db: DatabaseReader,
  tenantId: string,
  agentId: string,
  month: string,
): Promise<Spend> {
  const [tenant, agent] = await Promise.all([
    monthlyRow(db, tenantId, TENANT_TOTAL, month),
    monthlyRow(db, tenantId, agentId, month),
  ]);
  return { tenant: tenant?.cost ?? 0, agent: agent?.cost ?? 0 };
}

/** Spend since `sinceDay` (inclusive) of a tenant (all agents) and of one of its agents. */
export async function spendOf(
  db: DatabaseReader,
  tenantId: string,
  agentId: string | null,
  sinceDay: string,
): Promise<Spend> {
  const days = await db
    .query("usageDaily")
    .withIndex("by_tenant_day", (q) => q.eq("tenantId", tenantId).gte("day", sinceDay))
    .collect();
  let tenant = 0;
  let agent = 0;
  for (const day of days) {
    tenant += day.cost;
    if (agentId !== null && day.agentId === agentId) agent += day.cost;
  }
  return { tenant, agent };
}

// ---- writes shared by several modules

/** Stores a key after checking its hash, its tenant, its agent (the same tenant's) and its id. */
export async function insertKey(db: DatabaseWriter, key: KeyRow) {
  assertKeyHash(key.hash, key.id);
  if ((await tenantById(db, key.tenantId)) === null) {
    fail("NotFound", `Tenant ${key.tenantId} does not exist`);
  }
  if ((await keyById(db, key.id)) !== null) {
    fail("Conflict", `Key ${key.id} exists`);
  }
  if (key.agentId !== null) {
    const agent = await agentById(db, key.agentId);
    if (agent === null || agent.tenantId !== key.tenantId) {
      fail("NotFound", `Tenant ${key.tenantId} has no agent ${key.agentId}`);
    }
  }
  await db.insert("apiKeys", key);
}

/**
 * Most documents one call of a batched delete (`agents:remove`, `conversations:remove`)
 * deletes: far inside Convex's per-transaction limits (16,000 writes, 8 MiB), whatever the size
 * of the messages.
 */
export const DELETE_BATCH = 1000;

/** Most documents one call of a bulk delete (`conversations:removeSome`) deletes. */
export const BULK_DELETE_BATCH = 1000;

/** What one call of a batched delete did: nothing to delete, a batch with more left, the rest. */
export const deleteStep = v.union(v.literal("missing"), v.literal("more"), v.literal("done"));
export type DeleteStep = Infer<typeof deleteStep>;

/**
 * Deletes up to `budget` documents of a conversation, its messages first and its own row last
 * (so a delete that stops part way is found again); returns how many it deleted and whether
 * the conversation is gone.
 */
export async function deleteConversationSome(
  db: DatabaseWriter,
  conversation: Doc<"conversations">,
  budget: number,
): Promise<{ deleted: number; done: boolean; messages: number; feedback: number }> {
  const messages = await db
    .query("messages")
    .withIndex("by_conversation", (q) => q.eq("conversationId", conversation.id))
    .take(budget);
  let feedback = 0;
  for (const message of messages) {
    if (message.feedback !== null) feedback += 1;
    await db.delete("messages", message._id);
  }
  if (messages.length >= budget) {
    return { deleted: messages.length, done: false, messages: messages.length, feedback };
  }
  // A phone conversation's call record goes with it.
  const call = await db
    .query("calls")
    .withIndex("by_conversation", (q) => q.eq("conversationId", conversation.id))
    .unique();
  if (call !== null) await db.delete("calls", call._id);
  await db.delete("conversations", conversation._id);
  return { deleted: messages.length + 1, done: true, messages: messages.length, feedback };
}

/** The most days a tenant's retention setting may name (ten years); the least is 1. */
export const MAX_RETENTION_DAYS = 3650;

/** A day in ms: a retention of N days deletes conversations inactive since before now - N days. */
export const DAY_MS = 86_400_000;

/** Fails unless `days` is null or a whole number of days from 1 to `MAX_RETENTION_DAYS`. */
export function assertRetentionDays(days: number | null) {
  if (days !== null && (!Number.isInteger(days) || days < 1 || days > MAX_RETENTION_DAYS)) {
    fail("Invalid", `retentionDays must be a whole number from 1 to ${MAX_RETENTION_DAYS}, or null`);
  }
}

/**
 * Appends a message to its conversation with the next `seq` (1 for the first). A message whose
 * id the conversation already holds is not appended again (a retried call after a lost answer),
 * so this returns whether it appended.
 */
export async function appendMessage(db: DatabaseWriter, message: NewMessage): Promise<boolean> {
  assertJson(message.parts, "Message parts");
  const existing = await messageById(db, message.conversationId, message.id);
  if (existing !== null) {
    if (existing.role !== message.role) {
      fail("Conflict", `Message ${message.id} exists as a ${existing.role} message`);
    }
    return false;
  }
  const last = await db
    .query("messages")
    .withIndex("by_conversation", (q) => q.eq("conversationId", message.conversationId))
    .order("desc")
    .first();
  await db.insert("messages", {
    ...message,
    searchGrams: searchGramsOf(message.parts),
    seq: (last?.seq ?? 0) + 1,
    feedbackAt: message.feedback === null ? null : message.createdAt,
  });
  return true;
}

type Usage = Infer<typeof usageAmount>;

/** Adds one answered turn's usage (`messages` of them) to a row, creating it when missing. */
async function addTo<T extends "usageDaily" | "usageMonthly">(
  db: DatabaseWriter,
  table: T,
  existing: Doc<T> | null,
  fresh: Omit<Doc<T>, "_id" | "_creationTime" | "messages" | "inputTokens" | "outputTokens" | "cost">,
  usage: Usage,
  messages: number,
) {
  if (existing === null) {
    await db.insert(table, {
      ...fresh,
      messages,
      inputTokens: usage.inputTokens,
      outputTokens: usage.outputTokens,
      cost: usage.cost,
    } as never);
  } else {
    await db.patch(table, existing._id, {
      messages: existing.messages + messages,
      inputTokens: existing.inputTokens + usage.inputTokens,
      outputTokens: existing.outputTokens + usage.outputTokens,
      cost: existing.cost + usage.cost,
    } as never);
  }
}

/**
 * Adds one turn's usage to the agent's row of `day` and to the month's running totals of the
 * agent and of the tenant, in the caller's transaction.
 */
export async function addUsage(
  db: DatabaseWriter,
  tenantId: string,
  agentId: string,
  day: string,
  usage: Usage,
  messages = 1,
) {
  assertDay(day, "day");
  if (agentId === TENANT_TOTAL) fail("Invalid", "agentId must not be empty");
  const month = day.slice(0, 7);
  const daily = await db
    .query("usageDaily")
    .withIndex("by_key", (q) => q.eq("tenantId", tenantId).eq("agentId", agentId).eq("day", day))
    .unique();
  await addTo(db, "usageDaily", daily, { tenantId, agentId, day }, usage, messages);
  for (const who of [agentId, TENANT_TOTAL]) {
    const monthly = await monthlyRow(db, tenantId, who, month);
    await addTo(db, "usageMonthly", monthly, { tenantId, agentId: who, month }, usage, messages);
  }
}

/** The usage line of knowledge's embeddings (the worker's `knowledge::EMBEDDING_USAGE`). */
export const EMBEDDING_USAGE = "knowledge:embeddings";

/**
 * Adds the tokens a turn's knowledge searches spent embedding their queries to the
 * `knowledge:embeddings` line, in the caller's transaction: tokens only (the answer is one
 * message, on its agent's line).
 */
export async function addEmbeddingTokens(db: DatabaseWriter, tenantId: string, day: string, tokens: number | undefined) {
  if (!tokens) return;
  await addUsage(db, tenantId, EMBEDDING_USAGE, day, { inputTokens: tokens, outputTokens: 0, cost: 0 }, 0);
}

