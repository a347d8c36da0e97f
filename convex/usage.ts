/** Daily usage and spend, for the spend caps and the usage report. Internal functions only. */
import { v } from "convex/values";
import { internalQuery } from "./_generated/server";
import { assertDay, nullable, orderBy, spendOf, spendRow, usageRow, usageRowOf } from "./model";

/** Spend since `sinceDay` (inclusive) of the tenant and of one agent (0 when `agentId` is null). */
export const spend = internalQuery({
  args: { tenantId: v.string(), agentId: nullable(v.string()), sinceDay: v.string() },
  returns: spendRow,
  handler: async (ctx, { tenantId, agentId, sinceDay }) => {
    assertDay(sinceDay, "sinceDay");
    return spendOf(ctx.db, tenantId, agentId, sinceDay);
  },
});

/** The tenant's usage rows since `sinceDay` (inclusive), by day then agent. */
export const list = internalQuery({
  args: { tenantId: v.string(), sinceDay: v.string() },
  returns: v.array(usageRow),
  handler: async (ctx, { tenantId, sinceDay }) => {
    assertDay(sinceDay, "sinceDay");
    const days = await ctx.db
      .query("usageDaily")
      .withIndex("by_tenant_day", (q) => q.eq("tenantId", tenantId).gte("day", sinceDay))
      .collect();
    return orderBy(days.map(usageRowOf), [(u) => u.day, "asc"], [(u) => u.agentId, "asc"]);
  },
});
