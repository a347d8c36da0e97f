/** Messages: answers and their ratings. Internal functions only. */
import { v } from "convex/values";
import { internalMutation } from "./_generated/server";
import {
  appendMessage,
  assertDay,
  conversationById,
  fail,
  messageById,
  newMessage,
  nullable,
  rating,
} from "./model";

/**
 * Stores an answer in one transaction: appends it with the next `seq`, sets the conversation's
 * `updatedAt` to its `createdAt`, and adds it to the agent's usage of `day` (one more message,
 * its tokens and cost; the row is created when missing).
 *
 * Safe to retry: an answer whose id the conversation already holds changes nothing, so usage is
 * never counted twice.
 */
export const appendAnswer = internalMutation({
  args: { message: newMessage, agentId: v.string(), day: v.string() },
  returns: v.null(),
  handler: async (ctx, { message, agentId, day }) => {
    assertDay(day, "day");
    if (message.role !== "assistant") fail("Invalid", "An answer must have role assistant");
    const conversation = await conversationById(ctx.db, message.conversationId);
    if (conversation === null) {
      fail("NotFound", `Conversation ${message.conversationId} does not exist`);
    }
    if (conversation.tenantId !== message.tenantId || conversation.agentId !== agentId) {
      fail("Mismatch", `Conversation ${conversation.id} is not of agent ${agentId}`);
    }
    if (!(await appendMessage(ctx.db, message))) return null;
    await ctx.db.patch("conversations", conversation._id, { updatedAt: message.createdAt });

    const usage = await ctx.db
      .query("usageDaily")
      .withIndex("by_key", (q) =>
        q.eq("tenantId", message.tenantId).eq("agentId", agentId).eq("day", day),
      )
      .unique();
    if (usage === null) {
      await ctx.db.insert("usageDaily", {
        tenantId: message.tenantId,
        agentId,
        day,
        messages: 1,
        inputTokens: message.inputTokens,
        outputTokens: message.outputTokens,
        cost: message.cost,
      });
    } else {
      await ctx.db.patch("usageDaily", usage._id, {
        messages: usage.messages + 1,
        inputTokens: usage.inputTokens + message.inputTokens,
        outputTokens: usage.outputTokens + message.outputTokens,
        cost: usage.cost + message.cost,
      });
    }
    return null;
  },
});

/** Rates an answer (or clears the rating); false unless it is an assistant message there. */
export const setFeedback = internalMutation({
  args: {
    conversationId: v.string(),
    messageId: v.string(),
    rating: nullable(rating),
    now: v.number(),
  },
  returns: v.boolean(),
  handler: async (ctx, { conversationId, messageId, rating, now }) => {
    const message = await messageById(ctx.db, conversationId, messageId);
    if (message === null || message.role !== "assistant") return false;
    await ctx.db.patch("messages", message._id, { feedback: rating, feedbackAt: now });
    return true;
  },
});
