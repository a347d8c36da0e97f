/** A tenant's integrations (twilio, later langfuse and otlp). Internal functions only. */
import { v } from "convex/values";
import { internalMutation, internalQuery } from "./_generated/server";
import type { DatabaseReader } from "./_generated/server";
import { assertJson, integrationDoc, nullable } from "./model";

const row = integrationDoc;

async function find(db: DatabaseReader, tenantId: string, name: string) {
  return await db
    .query("integrations")
    .withIndex("by_tenant_name", (q) => q.eq("tenantId", tenantId).eq("name", name))
    .unique();
}

/** One integration of a tenant, or null. */
export const get = internalQuery({
  args: { tenantId: v.string(), name: v.string() },
  returns: nullable(row),
  handler: async (ctx, { tenantId, name }) => {
    const doc = await find(ctx.db, tenantId, name);
    if (doc === null) return null;
    return {
      tenantId: doc.tenantId,
      name: doc.name,
      settings: doc.settings,
      secrets: doc.secrets,
      updatedAt: doc.updatedAt,
    };
  },
});

/** Creates or replaces a tenant's integration. */
export const put = internalMutation({
  args: { integration: row },
  returns: v.null(),
  handler: async (ctx, { integration }) => {
    assertJson(integration.settings, "Integration settings");
    assertJson(integration.secrets, "Integration secrets");
    const existing = await find(ctx.db, integration.tenantId, integration.name);
    if (existing === null) await ctx.db.insert("integrations", integration);
    else await ctx.db.replace("integrations", existing._id, integration);
    return null;
  },
});

/** Removes a tenant's integration; false when it had none by that name. */
export const remove = internalMutation({
  args: { tenantId: v.string(), name: v.string() },
  returns: v.boolean(),
  handler: async (ctx, { tenantId, name }) => {
    const existing = await find(ctx.db, tenantId, name);
    if (existing === null) return false;
    await ctx.db.delete("integrations", existing._id);
    return true;
  },
});
