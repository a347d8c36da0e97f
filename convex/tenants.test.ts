import { expect, test } from "vitest";
import { internal } from "./_generated/api";
import { errorData, keyRow, seedTenant, setup, T0, tenantRow, walkPages } from "./test.helpers";

test("create stores the tenant, its secrets and its first key; get and list read it back", async () => {
  const t = setup();
  await seedTenant(t, "t1", { monthlySpendCap: 25 });
  expect(await t.query(internal.tenants.get, { tenantId: "t1" })).toEqual({
    id: "t1",
    name: "Tenant t1",
    status: "active",
    monthlySpendCap: 25,
    createdAt: T0,
    retentionDays: null,
  });
  const stored = await t.run((ctx) => ctx.db.query("tenants").collect());
  expect(stored).toMatchObject([{ identitySecret: "idsec-t1", signingSecret: "whsec-t1" }]);
  expect(await t.query(internal.keys.listForTenant, { tenantId: "t1", limit: 100 })).toEqual([keyRow("k-t1", "t1")]);
  expect(await t.query(internal.tenants.get, { tenantId: "nope" })).toBeNull();
});

test("create refuses a taken id and a key of another tenant", async () => {
  const t = setup();
  await seedTenant(t, "t1");
  expect(await errorData(seedTenant(t, "t1"))).toMatchObject({ code: "Conflict" });
  expect(
    await errorData(
      t.mutation(internal.tenants.create, {
        tenant: tenantRow("t2"),
        identitySecret: "i",
        signingSecret: "s",
        key: keyRow("k2", "t1"),
      }),
    ),
  ).toMatchObject({ code: "Mismatch" });
  expect(await t.query(internal.tenants.get, { tenantId: "t2" })).toBeNull();
});

test("list returns every tenant oldest first, rows without Convex fields", async () => {
  const t = setup();
  await seedTenant(t, "b", { createdAt: T0 + 2 });
  await seedTenant(t, "c", { createdAt: T0 + 1 });
  await seedTenant(t, "a", { createdAt: T0 + 2 });
  const list = await t.query(internal.tenants.list, { limit: 100 });
  expect(list.map((x) => x.id)).toEqual(["c", "a", "b"]);
  for (const row of list) {
    expect(Object.keys(row).sort()).toEqual(["createdAt", "id", "monthlySpendCap", "name", "retentionDays", "status"]);
  }
});

test("list pages oldest first, then by id, across tenants that share a time", async () => {
  const t = setup();
  for (const [id, at] of [["d", 1], ["b", 1], ["e", 2], ["a", 0], ["c", 1]] as const) {
    await seedTenant(t, id, { createdAt: T0 + at });
  }
  for (const limit of [1, 2, 3, 5, 6]) {
    const ids = await walkPages((after, n) => t.query(internal.tenants.list, { after, limit: n }), limit);
    expect(ids, `limit ${limit}`).toEqual(["a", "b", "c", "d", "e"]);
  }
});

test("update saves name, status and cap of that tenant only", async () => {
  const t = setup();
  await seedTenant(t, "t1");
  await seedTenant(t, "t2");
  await t.mutation(internal.tenants.update, {
    tenant: { id: "t1", name: "Renamed", status: "suspended", monthlySpendCap: 9.5 },
  });
  expect(await t.query(internal.tenants.get, { tenantId: "t1" })).toMatchObject({
    name: "Renamed",
    status: "suspended",
    monthlySpendCap: 9.5,
    createdAt: T0,
  });
  expect(await t.query(internal.tenants.get, { tenantId: "t2" })).toEqual(tenantRow("t2"));
  expect(
    await errorData(
      t.mutation(internal.tenants.update, {
        tenant: { id: "ghost", name: "x", status: "active", monthlySpendCap: null },
      }),
    ),
  ).toMatchObject({ code: "NotFound" });
});

test("setSecret replaces one secret of one tenant", async () => {
  const t = setup();
  await seedTenant(t, "t1");
  await seedTenant(t, "t2");
  await t.mutation(internal.tenants.setSecret, { tenantId: "t1", which: "identity", value: "new-id" });
  await t.mutation(internal.tenants.setSecret, { tenantId: "t1", which: "signing", value: "new-wh" });
  const docs = await t.run((ctx) => ctx.db.query("tenants").collect());
  expect(docs.find((d) => d.id === "t1")).toMatchObject({ identitySecret: "new-id", signingSecret: "new-wh" });
  expect(docs.find((d) => d.id === "t2")).toMatchObject({ identitySecret: "idsec-t2", signingSecret: "whsec-t2" });
  expect(
    await errorData(t.mutation(internal.tenants.setSecret, { tenantId: "x", which: "signing", value: "v" })),
  ).toMatchObject({ code: "NotFound" });
});

test("arguments are validated (no missing or extra fields, no wrong types)", async () => {
  const t = setup();
  await expect(
    t.mutation(internal.tenants.update, {
      tenant: { id: "t1", name: "x", status: "gone", monthlySpendCap: null },
    } as never),
  ).rejects.toThrow(/Validator error/);
  await expect(t.query(internal.tenants.get, { tenantId: "t1", extra: 1 } as never)).rejects.toThrow(
    /Unexpected field `extra`/,
  );
});
