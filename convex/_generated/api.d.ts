/* eslint-disable */
/**
 * Generated `api` utility.
 *
 * THIS CODE IS AUTOMATICALLY GENERATED.
 *
 * To regenerate, run `npx convex dev`.
 * @module
 */

import type * as agents from "../agents.js";
import type * as calls from "../calls.js";
import type * as conversations from "../conversations.js";
import type * as integrations from "../integrations.js";
import type * as keys from "../keys.js";
import type * as knowledge from "../knowledge.js";
import type * as knowledgeModel from "../knowledgeModel.js";
import type * as messages from "../messages.js";
import type * as model from "../model.js";
import type * as tenants from "../tenants.js";
import type * as transfer from "../transfer.js";
import type * as usage from "../usage.js";

import type {
  ApiFromModules,
  FilterApi,
  FunctionReference,
} from "convex/server";

declare const fullApi: ApiFromModules<{
  agents: typeof agents;
  calls: typeof calls;
  conversations: typeof conversations;
  integrations: typeof integrations;
  keys: typeof keys;
  knowledge: typeof knowledge;
  knowledgeModel: typeof knowledgeModel;
  messages: typeof messages;
  model: typeof model;
  tenants: typeof tenants;
  transfer: typeof transfer;
  usage: typeof usage;
}>;

/**
 * A utility for referencing Convex functions in your app's public API.
 *
 * Usage:
 * ```js
 * const myFunctionReference = api.myModule.myFunction;
 * ```
 */
export declare const api: FilterApi<
  typeof fullApi,
  FunctionReference<any, "public">
>;

/**
 * A utility for referencing Convex functions in your app's internal API.
 *
 * Usage:
 * ```js
 * const myFunctionReference = internal.myModule.myFunction;
 * ```
 */
export declare const internal: FilterApi<
  typeof fullApi,
  FunctionReference<any, "internal">
>;

export declare const components: {};
