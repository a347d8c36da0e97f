/** Tenants: the operator's customers. Internal functions only (the worker calls them with the deploy key). */
import { v } from "convex/values";
import { internalMutation, internalQuery } from "./_generated/server";
import {
  assertCount,
  assertRetentionDays,
  DAY_MS,
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
  type TenantRow,
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
    assertRetentionDays(tenant.retentionDays ?? null);
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

/**
 * Saves a tenant's name, status, monthly spend cap and, when given, its retention setting
 * (absent: unchanged; null: keep conversations forever).
 */
export const update = internalMutation({
  args: { tenant: tenantUpdate },
  returns: v.null(),
  handler: async (ctx, { tenant }) => {
    const stored = await tenantById(ctx.db, tenant.id);
    if (stored === null) fail("NotFound", `Tenant ${tenant.id} does not exist`);
    if (tenant.retentionDays !== undefined) assertRetentionDays(tenant.retentionDays);
    await ctx.db.patch("tenants", stored._id, {
      name: tenant.name,
      status: tenant.status,
      monthlySpendCap: tenant.monthlySpendCap,
      ...(tenant.retentionDays !== undefined ? { retentionDays: tenant.retentionDays } : {}),
    });
    return null;
  },
});

/**
 * Up to `limit` tenants with a retention setting that hold a conversation inactive for longer
 * than it at `now` (its `updatedAt` before `now - retentionDays` days), oldest tenant first:
 * the scheduled sweep's work list. Reads each tenant once and, for those with a setting, one
 * document of their oldest conversations (`by_tenant` starts at the oldest `updatedAt`).
 */
export const retentionDue = internalQuery({
  args: { now: v.number(), limit: v.number() },
  returns: v.array(tenantRow),
  handler: async (ctx, { now, limit }) => {
    assertCount(limit, "limit", 0);
    const due: TenantRow[] = [];
    if (limit === 0) return due;
    for await (const tenant of ctx.db.query("tenants").withIndex("by_created")) {
      const days = tenant.retentionDays ?? null;
      if (days === null) continue;
      const before = now - days * DAY_MS;
      const oldest = await ctx.db
        .query("conversations")
        .withIndex("by_tenant", (q) => q.eq("tenantId", tenant.id).lt("updatedAt", before))
        .first();
      if (oldest === null) continue;
      due.push(tenantRowOf(tenant));
      if (due.length === limit) break;
    }
    return due;
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
