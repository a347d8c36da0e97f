/** Tenants: the operator's customers. Internal functions only (the worker calls them with the deploy key). */
import { v } from "convex/values";
import { internalMutation, internalQuery } from "./_generated/server";
import {
  assertCount,
  fail,
  insertKey,
  keyRow,
  listCursor,
  newTenant,
  nullable,
  secretName,
  tenantById,
  tenantRow,
  tenantRowOf,
  tenantUpdate,
} from "./model";

/** Creates a tenant with its secrets and its first key, in one transaction. */
export const create = internalMutation({
  args: {
    tenant: newTenant,
    identitySecret: v.string(),
    signingSecret: v.string(),
    key: keyRow,
  },
  returns: v.null(),
  handler: async (ctx, { tenant, identitySecret, signingSecret, key }) => {
    if ((await tenantById(ctx.db, tenant.id)) !== null) {
      fail("Conflict", `Tenant ${tenant.id} exists`);
    }
    if (key.tenantId !== tenant.id) {
      fail("Mismatch", `The key belongs to tenant ${key.tenantId}, not ${tenant.id}`);
    }
    await ctx.db.insert("tenants", { ...tenant, identitySecret, signingSecret });
    await insertKey(ctx.db, key);
    return null;
  },
});

/**
 * Up to `limit` tenants after `after` (the last row of the previous page), oldest first (by
 * createdAt, then id: the index order, so a page is at most two index ranges).
 */
export const list = internalQuery({
  args: { after: v.optional(nullable(listCursor)), limit: v.number() },
  returns: v.array(tenantRow),
  handler: async (ctx, { after = null, limit }) => {
    assertCount(limit, "limit", 0);
    if (limit === 0) return [];
    const tenants = () => ctx.db.query("tenants");
    const page =
      after === null
        ? await tenants().withIndex("by_created").take(limit)
        : await tenants()
            .withIndex("by_created", (q) => q.eq("createdAt", after.createdAt).gt("id", after.id))
            .take(limit);
    if (after !== null && page.length < limit) {
      page.push(
        ...(await tenants()
          .withIndex("by_created", (q) => q.gt("createdAt", after.createdAt))
          .take(limit - page.length)),
      );
    }
    return page.map(tenantRowOf);
  },
});

/** One tenant, or null. */
export const get = internalQuery({
  args: { tenantId: v.string() },
  returns: v.union(v.null(), tenantRow),
  handler: async (ctx, { tenantId }) => {
    const tenant = await tenantById(ctx.db, tenantId);
    return tenant === null ? null : tenantRowOf(tenant);
  },
});

/** Saves a tenant's name, status and monthly spend cap. */
export const update = internalMutation({
  args: { tenant: tenantUpdate },
  returns: v.null(),
  handler: async (ctx, { tenant }) => {
    const stored = await tenantById(ctx.db, tenant.id);
    if (stored === null) fail("NotFound", `Tenant ${tenant.id} does not exist`);
    await ctx.db.patch("tenants", stored._id, {
      name: tenant.name,
      status: tenant.status,
      monthlySpendCap: tenant.monthlySpendCap,
    });
    return null;
  },
});

/** Replaces the tenant's identity or webhook-signing secret. */
export const setSecret = internalMutation({
  args: { tenantId: v.string(), which: secretName, value: v.string() },
  returns: v.null(),
  handler: async (ctx, { tenantId, which, value }) => {
    const stored = await tenantById(ctx.db, tenantId);
    if (stored === null) fail("NotFound", `Tenant ${tenantId} does not exist`);
    await ctx.db.patch(
      "tenants",
      stored._id,
      which === "identity" ? { identitySecret: value } : { signingSecret: value },
    );
    return null;
  },
});
