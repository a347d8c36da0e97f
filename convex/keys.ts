/** API keys: secret keys (stored hashed) and publishable keys. Internal functions only. */
import { v } from "convex/values";
import { internalMutation, internalQuery } from "./_generated/server";
import type { Doc } from "./_generated/dataModel";
import {
  assertCount,
  insertKey,
  keyById,
  keyRow,
  keyRowOf,
  keyWithTenantRow,
  listCursor,
  nullable,
  orderBy,
  tenantById,
} from "./model";

/** The live (non-revoked) keys with this lookup value, each with its tenant's status. */
export const byLookup = internalQuery({
  args: { lookup: v.string() },
  returns: v.array(keyWithTenantRow),
  handler: async (ctx, { lookup }) => {
    const keys = await ctx.db
      .query("apiKeys")
      .withIndex("by_lookup", (q) => q.eq("lookup", lookup).eq("revokedAt", null))
      .collect();
    const tenants = new Map<string, Doc<"tenants"> | null>();
    const rows = [];
    for (const key of keys) {
      if (!tenants.has(key.tenantId)) tenants.set(key.tenantId, await tenantById(ctx.db, key.tenantId));
      const tenant = tenants.get(key.tenantId);
      if (tenant) rows.push({ ...keyRowOf(key), tenantStatus: tenant.status });
    }
    return rows;
  },
});

/**
 * Up to `limit` of a tenant's keys (revoked ones too) after `after` (the last row of the
 * previous page), newest first, then by id ascending. The index runs by createdAt then id, so
 * read backwards it has ids descending within one createdAt: a page is the rest of the cursor's
 * createdAt (ascending), then older keys backwards, whose last createdAt (which the page may
 * cut short) is read again ascending. Three index ranges at most.
 */
export const listForTenant = internalQuery({
  args: { tenantId: v.string(), after: v.optional(nullable(listCursor)), limit: v.number() },
  returns: v.array(keyRow),
  handler: async (ctx, { tenantId, after = null, limit }) => {
    assertCount(limit, "limit", 0);
    const keys = () => ctx.db.query("apiKeys");
    const page: Doc<"apiKeys">[] = [];
    if (after !== null && limit > 0) {
      page.push(
        ...(await keys()
          .withIndex("by_tenant", (q) =>
            q.eq("tenantId", tenantId).eq("createdAt", after.createdAt).gt("id", after.id),
          )
          .take(limit)),
      );
    }
    if (page.length < limit) {
      const older = await keys()
        .withIndex("by_tenant", (q) =>
          after === null
            ? q.eq("tenantId", tenantId)
            : q.eq("tenantId", tenantId).lt("createdAt", after.createdAt),
        )
        .order("desc")
        .take(limit - page.length);
      const last = older.at(-1)?.createdAt;
      const whole = older.filter((k) => k.createdAt !== last);
      page.push(...orderBy(whole, [(k) => k.createdAt, "desc"], [(k) => k.id, "asc"]));
      if (last !== undefined) {
        page.push(
          ...(await keys()
            .withIndex("by_tenant", (q) => q.eq("tenantId", tenantId).eq("createdAt", last))
            .take(limit - page.length)),
        );
      }
    }
    return page.map(keyRowOf);
  },
});

/** Stores a key (its tenant must exist, and its agent, if any, must be that tenant's). */
export const create = internalMutation({
  args: { key: keyRow },
  returns: v.null(),
  handler: async (ctx, { key }) => {
    await insertKey(ctx.db, key);
    return null;
  },
});

/** Revokes a tenant's live key; false unless that tenant has that key, not yet revoked. */
export const revoke = internalMutation({
  args: { tenantId: v.string(), keyId: v.string(), now: v.number() },
  returns: v.boolean(),
  handler: async (ctx, { tenantId, keyId, now }) => {
    const key = await keyById(ctx.db, keyId);
    if (key === null || key.tenantId !== tenantId || key.revokedAt !== null) return false;
    await ctx.db.patch("apiKeys", key._id, { revokedAt: now });
    return true;
  },
});
