// Knowledge on Convex: chunks become searchable only when their generation is committed, the
// old generation is pruned in batches, searches stay in the tenant and the named bases, and
// deletes run in batches.
import { expect, test } from "vitest";
import { internal } from "./_generated/api";
import { setup, T0, type T } from "./test.helpers";

const base = (id: string, tenantId: string) => ({ id, tenantId, name: `Base ${id}`, createdAt: T0, updatedAt: T0 });
const source = (id: string, tenantId: string, baseId: string) => ({
  id, tenantId, baseId, kind: "text" as const, title: "Doc", url: null, content: "x", maxPages: null,
  status: "queued" as const, progress: 0, chunkCount: 0, error: null, contentHash: null, createdAt: T0, updatedAt: T0,
});
const update = (now: number, chunkCount: number) => ({ status: "ready" as const, progress: 100, chunkCount, error: null, contentHash: "h", title: null, now });
/** A 384-dimension vector pointing mostly along axis `i`. */
const axis = (i: number) => Array.from({ length: 384 }, (_, j) => (j === i ? 1 : 0.01));
const chunk = (id: string, text: string, dir: number) => ({ id, title: "Doc", url: null, heading: "", text, vector: axis(dir) });

async function seed(t: T) {
  await t.mutation(internal.knowledge.createBase, { base: base("kb_a", "t1") });
  await t.mutation(internal.knowledge.createBase, { base: base("kb_b", "t2") });
  await t.mutation(internal.knowledge.createSource, { source: source("s1", "t1", "kb_a") });
  await t.mutation(internal.knowledge.createSource, { source: source("s2", "t2", "kb_b") });
}

const search = (t: T, tenantId: string, baseIds: string[], words: string, dir: number | null) =>
  t.action(internal.knowledge.search, { tenantId, baseIds, words, vector: dir === null ? null : axis(dir), candidates: 20, topK: 5 });

test("chunks are searchable only once committed, and a new generation replaces the old at once", async () => {
  const t = setup();
  await seed(t);
  await t.mutation(internal.knowledge.putChunks, { tenantId: "t1", sourceId: "s1", generation: T0 + 1, chunks: [chunk("c1", "refunds take five days", 1)] });
  expect(await search(t, "t1", ["kb_a"], "refunds", 1)).toEqual([]);
  await t.mutation(internal.knowledge.commitChunks, { tenantId: "t1", sourceId: "s1", generation: T0 + 1, update: update(T0 + 1, 1) });
  const hits = await search(t, "t1", ["kb_a"], "refunds", 1);
  expect(hits.map((h) => h.id)).toEqual(["c1"]);
  expect(hits[0].score).toBeCloseTo(1, 5);
  expect(hits[0].bestRank).toBe(1);
  // A re-ingestion writes generation 2; until it commits, searches still see generation 1.
  await t.mutation(internal.knowledge.putChunks, { tenantId: "t1", sourceId: "s1", generation: T0 + 2, chunks: [chunk("c2", "refunds take ten days", 2)] });
  expect((await search(t, "t1", ["kb_a"], "refunds", null)).map((h) => h.id)).toEqual(["c1"]);
  expect(await t.mutation(internal.knowledge.commitChunks, { tenantId: "t1", sourceId: "s1", generation: T0 + 2, update: update(T0 + 2, 1) })).toBe(true);
  expect((await search(t, "t1", ["kb_a"], "refunds", null)).map((h) => h.id)).toEqual(["c2"]);
  expect(await t.mutation(internal.knowledge.pruneChunks, { tenantId: "t1", sourceId: "s1" })).toBe("done");
  const left = await t.run((ctx) => ctx.db.query("knowledgeChunks").collect());
  expect(left.map((c) => c.id)).toEqual(["c2"]);
  // An older generation cannot be written over a newer one.
  await expect(t.mutation(internal.knowledge.putChunks, { tenantId: "t1", sourceId: "s1", generation: T0, chunks: [] })).rejects.toThrow();
});

test("searches stay in the tenant and the named bases", async () => {
  const t = setup();
  await seed(t);
  for (const [tenantId, sourceId, id] of [["t1", "s1", "ca"], ["t2", "s2", "cb"]]) {
    await t.mutation(internal.knowledge.putChunks, { tenantId, sourceId, generation: T0 + 1, chunks: [chunk(id, `secret plan of ${tenantId}`, 3)] });
    await t.mutation(internal.knowledge.commitChunks, { tenantId, sourceId, generation: T0 + 1, update: update(T0 + 1, 1) });
  }
  expect((await search(t, "t1", ["kb_a", "kb_b"], "secret plan", 3)).map((h) => h.id)).toEqual(["ca"]);
  expect(await search(t, "t1", ["kb_b"], "secret plan", 3)).toEqual([]);
  expect(await t.query(internal.knowledge.getBase, { tenantId: "t1", baseId: "kb_b" })).toBeNull();
  expect(await t.query(internal.knowledge.getSource, { tenantId: "t1", sourceId: "s2" })).toBeNull();
  expect(await t.mutation(internal.knowledge.removeSource, { tenantId: "t1", sourceId: "s2" })).toBe("missing");
});

test("vectors of an unsupported size are refused; bases page and delete in batches", async () => {
  const t = setup();
  await seed(t);
  await expect(
    t.mutation(internal.knowledge.putChunks, { tenantId: "t1", sourceId: "s1", generation: T0 + 1, chunks: [{ ...chunk("c", "x", 1), vector: [1, 2, 3] }] }),
  ).rejects.toThrow(/not supported/);
  for (let i = 0; i < 3; i++) await t.mutation(internal.knowledge.createBase, { base: { ...base(`kb_p${i}`, "t1"), createdAt: T0 + 10 + i } });
  const first = await t.query(internal.knowledge.listBases, { tenantId: "t1", limit: 2 });
  expect(first.map((b) => b.id)).toEqual(["kb_a", "kb_p0"]);
  const next = await t.query(internal.knowledge.listBases, { tenantId: "t1", after: { createdAt: first[1].createdAt, id: first[1].id }, limit: 5 });
  expect(next.map((b) => b.id)).toEqual(["kb_p1", "kb_p2"]);
  await t.run(async (ctx) => {
    for (let i = 0; i < 1005; i++) {
      await ctx.db.insert("knowledgeChunks", { id: `bulk${i}`, tenantId: "t1", baseId: "kb_a", sourceId: "s1", generation: 1, kind: "text", title: "t", url: null, heading: "", text: "x", body: "x" });
    }
  });
  expect(await t.mutation(internal.knowledge.removeBase, { tenantId: "t1", baseId: "kb_a" })).toBe("more");
  expect(await t.mutation(internal.knowledge.removeBase, { tenantId: "t1", baseId: "kb_a" })).toBe("done");
  expect(await t.query(internal.knowledge.getBase, { tenantId: "t1", baseId: "kb_a" })).toBeNull();
  expect(await t.run((ctx) => ctx.db.query("knowledgeChunks").collect())).toEqual([]);
});

test("an export carries a source's live chunks only, and an import makes them searchable again", async () => {
  const t = setup();
  await seed(t);
  await t.mutation(internal.knowledge.putChunks, { tenantId: "t1", sourceId: "s1", generation: T0 + 1, chunks: [chunk("c1", "refunds take five days", 1)] });
  await t.mutation(internal.knowledge.commitChunks, { tenantId: "t1", sourceId: "s1", generation: T0 + 1, update: update(T0 + 1, 1) });
  // A re-ingestion still being written is not what searches see, so it is not exported.
  await t.mutation(internal.knowledge.putChunks, { tenantId: "t1", sourceId: "s1", generation: T0 + 2, chunks: [chunk("c2", "refunds take ten days", 2)] });
  const exported = async (target: T, table: "knowledgeBases" | "knowledgeSources" | "knowledgeChunks") =>
    (await target.query(internal.transfer.exportTable, { table, cursor: null, limit: 100 })).rows as Record<string, unknown>[];
  const chunks = await exported(t, "knowledgeChunks");
  expect(chunks.map((c) => c.id)).toEqual(["c1"]);
  expect(chunks[0]).toEqual({ id: "c1", tenantId: "t1", baseId: "kb_a", sourceId: "s1", kind: "text", title: "Doc", url: null, heading: "", text: "refunds take five days", vector: axis(1) });
  const sources = await exported(t, "knowledgeSources");
  expect(sources.find((s) => s.id === "s1")).toMatchObject({ status: "ready", maxDepth: null });
  expect(sources.every((s) => !("generation" in s))).toBe(true);

  const moved = setup();
  for (const table of ["knowledgeBases", "knowledgeSources", "knowledgeChunks"] as const) {
    await moved.mutation(internal.transfer.importRows, { table, rows: (await exported(t, table)) as never });
  }
  const hits = await search(moved, "t1", ["kb_a"], "refunds", 1);
  expect(hits.map((h) => h.id)).toEqual(["c1"]);
  expect(hits[0].bestRank).toBe(1);
  expect(await moved.mutation(internal.transfer.importRows, { table: "knowledgeChunks", rows: chunks as never })).toBe(0);
  // A chunk must name a source of its own tenant.
  await expect(
    moved.mutation(internal.transfer.importRows, { table: "knowledgeChunks", rows: [{ ...chunks[0], id: "c9", tenantId: "t2" }] as never }),
  ).rejects.toThrow(/names no source of its tenant/);
});
