/** API keys: secret keys (stored hashed) and publishable keys. Internal functions only. */
import { v } from "convex/values";
import { internalMutation, internalQuery } from "./_generated/server";
import type { Doc } from "./_generated/dataModel";
import {
  insertKey,
  keyById,
  keyRow,
  keyRowOf,
  keyWithTenantRow,
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

/** A tenant's keys (revoked ones too), newest first. */
export const listForTenant = internalQuery({
  args: { tenantId: v.string() },
  returns: v.array(keyRow),
  handler: async (ctx, { tenantId }) => {
    const keys = await ctx.db
      .query("apiKeys")
      .withIndex("by_tenant", (q) => q.eq("tenantId", tenantId))
      .order("desc")
      .collect();
    return orderBy(keys.map(keyRowOf), [(k) => k.createdAt, "desc"], [(k) => k.id, "asc"]);
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
