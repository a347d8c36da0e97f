/** Agents: a tenant's configured chat agents. Internal functions only. */
import { v } from "convex/values";
import { internalMutation, internalQuery } from "./_generated/server";
import {
  agentById,
  agentRow,
  agentRowOf,
  agentUpdate,
  assertCount,
  assertJson,
  DELETE_BATCH,
  deleteConversationSome,
  deleteStep,
  fail,
  listCursor,
  newAgent,
  nullable,
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

/**
 * Up to `limit` of a tenant's agents after `after` (the last row of the previous page), oldest
 * first (by createdAt, then id: the index order, so a page is at most two index ranges).
 * Each row's publishable keys are one indexed range per agent: reads inside this one query, not
 * round trips, and bounded by the page size (a tenant-wide read of its publishable keys would
 * grow with the tenant instead).
 */
export const listForTenant = internalQuery({
  args: { tenantId: v.string(), after: v.optional(nullable(listCursor)), limit: v.number() },
  returns: v.array(agentRow),
  handler: async (ctx, { tenantId, after = null, limit }) => {
    assertCount(limit, "limit", 0);
    const tenant = await tenantById(ctx.db, tenantId);
    if (tenant === null || limit === 0) return [];
    const agents = () => ctx.db.query("agents");
    const page =
      after === null
        ? await agents()
            .withIndex("by_tenant", (q) => q.eq("tenantId", tenantId))
            .take(limit)
        : await agents()
            .withIndex("by_tenant", (q) =>
              q.eq("tenantId", tenantId).eq("createdAt", after.createdAt).gt("id", after.id),
            )
            .take(limit);
    if (after !== null && page.length < limit) {
      page.push(
        ...(await agents()
          .withIndex("by_tenant", (q) => q.eq("tenantId", tenantId).gt("createdAt", after.createdAt))
          .take(limit - page.length)),
      );
    }
    return await Promise.all(page.map((a) => agentRowOf(ctx.db, a, tenant)));
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
 * stay, as in D1), at most `DELETE_BATCH` documents per call, so one agent never meets Convex's
 * per-transaction limits: "more" asks the caller to call again, "done" when the agent is gone,
 * "missing" unless that tenant owns it. The first call switches the agent off, so chats refuse
 * it at once; its row goes last, so a delete that stops part way leaves it (switched off) in
 * the list, and deleting it again finishes.
 */
export const remove = internalMutation({
  args: { tenantId: v.string(), agentId: v.string() },
  returns: deleteStep,
  handler: async (ctx, { tenantId, agentId }) => {
    const agent = await agentById(ctx.db, agentId);
    if (agent === null || agent.tenantId !== tenantId) return "missing";
    if (agent.enabled) await ctx.db.patch("agents", agent._id, { enabled: false });
    let budget = DELETE_BATCH;
    while (budget > 0) {
      const conversation = await ctx.db
        .query("conversations")
        .withIndex("by_agent", (q) => q.eq("tenantId", tenantId).eq("agentId", agentId))
        .first();
      if (conversation === null) break;
      const { deleted, done } = await deleteConversationSome(ctx.db, conversation, budget);
      budget -= deleted;
      if (!done) return "more";
    }
    if (budget === 0) return "more";
    const keys = await ctx.db
      .query("apiKeys")
      .withIndex("by_agent", (q) => q.eq("agentId", agentId))
      .take(budget);
    for (const key of keys) await ctx.db.delete("apiKeys", key._id);
    if (keys.length === budget) return "more";
    await ctx.db.delete("agents", agent._id);
    return "done";
  },
});
