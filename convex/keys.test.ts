import { expect, test } from "vitest";
import { internal } from "./_generated/api";
import { errorData, keyRow, seedAgent, seedTenant, setup, T0, walkPages } from "./test.helpers";

test("byLookup returns live keys with their tenant's status, never revoked ones", async () => {
  const t = setup();
  await seedTenant(t, "t1");
  await seedTenant(t, "t2", { status: "suspended" });
  await t.mutation(internal.keys.create, { key: keyRow("x1", "t1", { lookup: "shared" }) });
  await t.mutation(internal.keys.create, { key: keyRow("x2", "t2", { lookup: "shared" }) });
  await t.mutation(internal.keys.create, { key: keyRow("x3", "t1", { lookup: "shared" }) });
  await t.mutation(internal.keys.revoke, { tenantId: "t1", keyId: "x3", now: T0 + 1 });

  const found = await t.query(internal.keys.byLookup, { lookup: "shared" });
  expect(found).toEqual([
    { ...keyRow("x1", "t1", { lookup: "shared" }), tenantStatus: "active" },
    { ...keyRow("x2", "t2", { lookup: "shared" }), tenantStatus: "suspended" },
  ]);
  expect(await t.query(internal.keys.byLookup, { lookup: "none" })).toEqual([]);
});

test("listForTenant returns that tenant's keys, revoked too, newest first", async () => {
  const t = setup();
  await seedTenant(t, "t1");
  await seedTenant(t, "t2");
  await t.mutation(internal.keys.create, { key: keyRow("b", "t1", { createdAt: T0 + 2 }) });
  await t.mutation(internal.keys.create, { key: keyRow("a", "t1", { createdAt: T0 + 2 }) });
  await t.mutation(internal.keys.create, { key: keyRow("c", "t1", { createdAt: T0 + 5 }) });
  await t.mutation(internal.keys.create, { key: keyRow("z", "t2", { createdAt: T0 + 9 }) });
  await t.mutation(internal.keys.revoke, { tenantId: "t1", keyId: "c", now: T0 + 6 });
  const list = await t.query(internal.keys.listForTenant, { tenantId: "t1", limit: 100 });
  expect(list.map((k) => k.id)).toEqual(["c", "a", "b", "k-t1"]);
  expect(list[0]).toEqual(keyRow("c", "t1", { createdAt: T0 + 5, revokedAt: T0 + 6 }));
});

test("create checks the tenant, the agent's tenant and the id", async () => {
  const t = setup();
  await seedTenant(t, "t1");
  await seedTenant(t, "t2");
  await seedAgent(t, "b1", "t2");
  expect(await errorData(t.mutation(internal.keys.create, { key: keyRow("n", "ghost") }))).toMatchObject({
    code: "NotFound",
  });
  expect(
    await errorData(t.mutation(internal.keys.create, { key: keyRow("n", "t1", { agentId: "b1" }) })),
  ).toMatchObject({ code: "NotFound" });
  expect(await errorData(t.mutation(internal.keys.create, { key: keyRow("k-t2", "t1") }))).toMatchObject({
    code: "Conflict",
  });
  await t.mutation(internal.keys.create, { key: keyRow("n", "t2", { agentId: "b1", kind: "publishable" }) });
  expect((await t.query(internal.keys.listForTenant, { tenantId: "t2", limit: 100 })).map((k) => k.id)).toContain("n");
  expect((await t.query(internal.keys.listForTenant, { tenantId: "t1", limit: 100 })).map((k) => k.id)).toEqual(["k-t1"]);
});

test("revoke only a live key of that tenant", async () => {
  const t = setup();
  await seedTenant(t, "t1");
  await seedTenant(t, "t2");
  expect(await t.mutation(internal.keys.revoke, { tenantId: "t2", keyId: "k-t1", now: T0 + 1 })).toBe(false);
  expect(await t.query(internal.keys.byLookup, { lookup: "sk_k-t1" })).toHaveLength(1);
  expect(await t.mutation(internal.keys.revoke, { tenantId: "t1", keyId: "k-t1", now: T0 + 1 })).toBe(true);
  expect(await t.mutation(internal.keys.revoke, { tenantId: "t1", keyId: "k-t1", now: T0 + 2 })).toBe(false);
  expect(await t.mutation(internal.keys.revoke, { tenantId: "t1", keyId: "nope", now: T0 + 2 })).toBe(false);
  expect(await t.query(internal.keys.byLookup, { lookup: "sk_k-t1" })).toEqual([]);
  expect((await t.query(internal.keys.listForTenant, { tenantId: "t1", limit: 100 }))[0].revokedAt).toBe(T0 + 1);
  expect((await t.query(internal.keys.listForTenant, { tenantId: "t2", limit: 100 }))[0].revokedAt).toBeNull();
});

test("listForTenant pages newest first, then by id, across keys that share a time", async () => {
  const t = setup();
  await seedTenant(t, "t1");
  await seedTenant(t, "t2");
  // Times repeat, and ids within a time are created out of order.
  const made: Array<[string, number]> = [
    ["e", 3], ["a", 3], ["c", 3], ["f", 1], ["b", 7], ["g", 3], ["d", 1], ["h", 0],
  ];
  for (const [id, at] of made) {
    await t.mutation(internal.keys.create, { key: keyRow(id, "t1", { createdAt: T0 + at }) });
  }
  await t.mutation(internal.keys.create, { key: keyRow("other", "t2", { createdAt: T0 + 3 }) });
  const expected = ["b", "a", "c", "e", "g", "d", "f", "h", "k-t1"];
  for (const limit of [1, 2, 3, 4, 9, 10]) {
    const ids = await walkPages(
      (after, n) => t.query(internal.keys.listForTenant, { tenantId: "t1", after, limit: n }),
      limit,
    );
    expect(ids, `limit ${limit}`).toEqual(expected);
  }
});

test("API keys keep their scope: the agents they may call, browser use and their own limit", async () => {
  const t = setup();
  await seedTenant(t, "t1");
  await seedAgent(t, "a1", "t1");
  const scoped = keyRow("api1", "t1", { kind: "api", lookup: "ak_live_api1", scopeAgents: ["a1"], browser: true, perMinute: 30 });
  await t.mutation(internal.keys.create, { key: scoped });
  await t.mutation(internal.keys.create, { key: keyRow("api2", "t1", { kind: "api", lookup: "ak_live_api2" }) });
  expect(await t.query(internal.keys.byLookup, { lookup: "ak_live_api1" })).toEqual([{ ...scoped, tenantStatus: "active" }]);
  const [wide] = await t.query(internal.keys.byLookup, { lookup: "ak_live_api2" });
  expect(wide).toMatchObject({ kind: "api", scopeAgents: null, browser: false, perMinute: null });
  // A key stored before scopes existed reads as having none.
  await t.run(async (ctx) => {
    const { scopeAgents, browser, perMinute, ...old } = keyRow("old", "t1", { lookup: "sk_old" });
    await ctx.db.insert("apiKeys", old);
  });
  expect((await t.query(internal.keys.byLookup, { lookup: "sk_old" }))[0]).toMatchObject({ scopeAgents: null, browser: false, perMinute: null });
});

test("a key whose hash is not a SHA-256 digest is refused, whatever its kind", async () => {
  const t = setup();
  await seedTenant(t, "t1");
  for (const kind of ["secret", "api"] as const) {
    for (const hash of ["", "ak_live_the_key_itself", "A".repeat(64)]) {
      expect(await errorData(t.mutation(internal.keys.create, { key: keyRow(`bad-${kind}`, "t1", { kind, hash }) }))).toMatchObject({
        code: "Invalid",
      });
    }
  }
});
