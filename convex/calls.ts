/** Phone calls, one per phone conversation. Internal functions only. */
import { v } from "convex/values";
import { internalMutation, internalQuery } from "./_generated/server";
import type { DatabaseReader } from "./_generated/server";
import { assertJson, callDoc, conversationById, nullable } from "./model";

const row = callDoc;

async function find(db: DatabaseReader, conversationId: string) {
  return await db
    .query("calls")
    .withIndex("by_conversation", (q) => q.eq("conversationId", conversationId))
    .unique();
}

/** The call a tenant's conversation is, or null. */
export const get = internalQuery({
  args: { tenantId: v.string(), conversationId: v.string() },
  returns: nullable(row),
  handler: async (ctx, { tenantId, conversationId }) => {
    const doc = await find(ctx.db, conversationId);
    if (doc === null || doc.tenantId !== tenantId) return null;
    const { _id, _creationTime, ...call } = doc;
    return call;
  },
});

/**
 * Creates the call, or updates how it ended; false when the tenant has no such conversation
 * (nothing is written). Who called and when it started are kept from the first save.
 */
export const save = internalMutation({
  args: { call: row },
  returns: v.boolean(),
  handler: async (ctx, { call }) => {
    assertJson(call.details, "Call details");
    const conversation = await conversationById(ctx.db, call.conversationId);
    if (conversation === null || conversation.tenantId !== call.tenantId) return false;
    const existing = await find(ctx.db, call.conversationId);
    if (existing === null) await ctx.db.insert("calls", call);
    else await ctx.db.patch("calls", existing._id, { endedAt: call.endedAt, outcome: call.outcome, details: call.details });
    return true;
  },
});
