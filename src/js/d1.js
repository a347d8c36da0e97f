// D1 results as JSON text, one string per statement: `{"rows":[…],"changes":n}`. Rust parses
// them with serde_json, the same way it reads Convex answers, so each row type has one
// deserializer in the wasm (and no field-by-field crossing of the wasm boundary).

/** Runs the statements (one alone, several as one atomic batch). */
export async function queryJson(db, statements) {
  const results = statements.length === 1 ? [await statements[0].all()] : await db.batch(statements);
  return results.map((r) => JSON.stringify({ rows: r.results ?? [], changes: r.meta?.changes ?? 0 }));
}
