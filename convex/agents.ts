/** Agents: a tenant's configured chat agents. Internal functions only. */
import { v } from "convex/values";
import { internalMutation, internalQuery } from "./_generated/server";
import {
  agentById,
  agentRow,
  agentRowOf,
  agentUpdate,
  assertJson,
  deleteConversation,
  fail,
  newAgent,
  nullable,
  orderBy,
  tenantById,
  versionOf,
} from "./model";

/** An agent with its tenant's standing, secrets and cap and its live publishable keys, or null. */
export const get = internalQuery({
  args: { agentId: v.string() },
  returns: v.union(v.null(), agentRow),
  handler: async (ctx, { agentId }) => {
    const agent = await agentById(ctx.db, agentId);
    if (agent === null) return null;
    const tenant = await tenantById(ctx.db, agent.tenantId);
    return tenant === null ? null : await agentRowOf(ctx.db, agent, tenant);
  },
});

/** A tenant's agents, oldest first. */
export const listForTenant = internalQuery({
  args: { tenantId: v.string() },
  returns: v.array(agentRow),
  handler: async (ctx, { tenantId }) => {
    const tenant = await tenantById(ctx.db, tenantId);
    if (tenant === null) return [];
    const agents = await ctx.db
      .query("agents")
      .withIndex("by_tenant", (q) => q.eq("tenantId", tenantId))
      .collect();
    const rows = await Promise.all(agents.map((a) => agentRowOf(ctx.db, a, tenant)));
    return orderBy(rows, [(a) => a.createdAt, "asc"], [(a) => a.id, "asc"]);
  },
});

/** Creates an agent; false when the id is taken (in any tenant). */
export const create = internalMutation({
  args: { agent: newAgent },
  returns: v.boolean(),
  handler: async (ctx, { agent }) => {
    if ((await agentById(ctx.db, agent.id)) !== null) return false;
    if ((await tenantById(ctx.db, agent.tenantId)) === null) {
      fail("NotFound", `Tenant ${agent.tenantId} does not exist`);
    }
    assertJson(agent.config, "Agent config");
    await ctx.db.insert("agents", { ...agent, version: 1 });
    return true;
  },
});

/**
 * Saves a tenant's agent (config, enabled, updatedAt) and adds 1 to its `version`; false unless
 * that tenant owns it (a missing agent too). With `expectedVersion` (the `version` the caller
 * loaded), an agent changed since then is not written: a `Stale` error. The counter is the
 * store's own, so two saves in the same millisecond (or from clocks that disagree) still
 * differ.
 */
export const update = internalMutation({
  args: { agent: agentUpdate, expectedVersion: v.optional(nullable(v.number())) },
  returns: v.boolean(),
  handler: async (ctx, { agent, expectedVersion }) => {
    const stored = await agentById(ctx.db, agent.id);
    if (stored === null || stored.tenantId !== agent.tenantId) return false;
    if (expectedVersion != null && expectedVersion !== versionOf(stored)) {
      fail("Stale", "The agent was changed since you loaded it.");
    }
    assertJson(agent.config, "Agent config");
    await ctx.db.patch("agents", stored._id, {
      config: agent.config,
      enabled: agent.enabled,
      updatedAt: agent.updatedAt,
      version: versionOf(stored) + 1,
    });
    return true;
  },
});

/**
 * Deletes a tenant's agent with its conversations, their messages, and its keys (usage rows
 * stay, as in D1); false unless that tenant owns it. One transaction, so it is bounded by
 * Convex's per-transaction write limit (16,000 documents).
 */
export const remove = internalMutation({
  args: { tenantId: v.string(), agentId: v.string() },
  returns: v.boolean(),
  handler: async (ctx, { tenantId, agentId }) => {
    const agent = await agentById(ctx.db, agentId);
    if (agent === null || agent.tenantId !== tenantId) return false;
    const conversations = await ctx.db
      .query("conversations")
      .withIndex("by_agent", (q) => q.eq("tenantId", tenantId).eq("agentId", agentId))
      .collect();
    for (const conversation of conversations) await deleteConversation(ctx.db, conversation);
    const keys = await ctx.db
      .query("apiKeys")
      .withIndex("by_agent", (q) => q.eq("agentId", agentId))
      .collect();
    for (const key of keys) await ctx.db.delete("apiKeys", key._id);
    await ctx.db.delete("agents", agent._id);
    return true;
  },
});
