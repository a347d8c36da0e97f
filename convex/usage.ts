/** Daily usage and spend, for the spend caps and the usage report. Internal functions only. */
import { v } from "convex/values";
import { internalMutation, internalQuery } from "./_generated/server";
import {
  addEmbeddingTokens,
  addUsage,
  assertDay,
  assertMonth,
  fail,
  monthlyRow,
  monthlySpendOf,
  nullable,
  orderBy,
  spendOf,
  spendRow,
  TENANT_TOTAL,
  tenantById,
  usageAmount,
  usageRow,
  usageRowOf,
} from "./model";

/**
 * Records the usage of a turn that stores no answer (a stateless call): adds it to the agent's
 * row of `day` and to the month's totals of the agent and the tenant, in one transaction.
 * Not deduplicated: call it once per turn.
 */
export const record = internalMutation({
  args: {
    tenantId: v.string(),
    agentId: v.string(),
    day: v.string(),
    usage: usageAmount,
    embeddingTokens: v.optional(v.number()),
  },
  returns: v.null(),
  handler: async (ctx, { tenantId, agentId, day, usage, embeddingTokens }) => {
    if ((await tenantById(ctx.db, tenantId)) === null) {
      fail("NotFound", `Tenant ${tenantId} does not exist`);
    }
    await addUsage(ctx.db, tenantId, agentId, day, usage);
    await addEmbeddingTokens(ctx.db, tenantId, day, embeddingTokens);
    return null;
  },
});

/**
 * Spend in `month` (`YYYY-MM`) of the tenant and of one agent (0 when `agentId` is null), from
 * the running monthly totals: at most two reads whatever the number of agents and days.
 */
export const monthSpend = internalQuery({
  args: { tenantId: v.string(), agentId: nullable(v.string()), month: v.string() },
  returns: spendRow,
  handler: async (ctx, { tenantId, agentId, month }) => {
    assertMonth(month, "month");
    if (agentId === null) {
      const tenant = await monthlyRow(ctx.db, tenantId, TENANT_TOTAL, month);
      return { tenant: tenant?.cost ?? 0, agent: 0 };
    }
    return monthlySpendOf(ctx.db, tenantId, agentId, month);
  },
});

/**
 * Spend since `sinceDay` (inclusive) of the tenant and of one agent (0 when `agentId` is null),
 * summed from the daily rows (agents × days reads; the worker reads `monthSpend`).
 */
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

/**
 * Recomputes a tenant's monthly totals of `month` from its daily rows, replacing what is there
 * (so it can be rerun). For deployments with usage from before the monthly totals existed:
 * `npx convex run usage:rebuildMonthly '{"tenantId":"…","month":"2026-11"}'` for each tenant
 * (the current month is the one spend caps read). Reads the tenant's daily rows of the month
 * (agents × days), so it is bounded by Convex's per-transaction limits (about 1,000 agents).
 * Returns how many agents had usage.
 */
export const rebuildMonthly = internalMutation({
  args: { tenantId: v.string(), month: v.string() },
  returns: v.number(),
  handler: async (ctx, { tenantId, month }) => {
    assertMonth(month, "month");
    const days = await ctx.db
      .query("usageDaily")
      .withIndex("by_tenant_day", (q) =>
        q.eq("tenantId", tenantId).gte("day", `${month}-01`).lte("day", `${month}-31`),
      )
      .collect();
    const totals = new Map<string, { messages: number; inputTokens: number; outputTokens: number; cost: number }>();
    for (const day of days) {
      for (const who of [day.agentId, TENANT_TOTAL]) {
        const total = totals.get(who) ?? { messages: 0, inputTokens: 0, outputTokens: 0, cost: 0 };
        total.messages += day.messages;
        total.inputTokens += day.inputTokens;
        total.outputTokens += day.outputTokens;
        total.cost += day.cost;
        totals.set(who, total);
      }
    }
    const stale = await ctx.db
      .query("usageMonthly")
      .withIndex("by_tenant_month", (q) => q.eq("tenantId", tenantId).eq("month", month))
      .collect();
    for (const row of stale) await ctx.db.delete("usageMonthly", row._id);
    for (const [agentId, total] of totals) {
      await ctx.db.insert("usageMonthly", { tenantId, agentId, month, ...total });
    }
    return Math.max(0, totals.size - 1);
  },
});
