/** Tenants: the operator's customers. Internal functions only (the worker calls them with the deploy key). */
import { v } from "convex/values";
import { internalMutation, internalQuery } from "./_generated/server";
import {
  fail,
  insertKey,
  keyRow,
  newTenant,
  orderBy,
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

/** Every tenant, oldest first. */
export const list = internalQuery({
  args: {},
  returns: v.array(tenantRow),
  handler: async (ctx) => {
    const tenants = await ctx.db.query("tenants").collect();
    return orderBy(tenants.map(tenantRowOf), [(t) => t.createdAt, "asc"], [(t) => t.id, "asc"]);
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
