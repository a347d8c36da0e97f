// D1 results as JSON text: for each statement `[rowsJson, changes]`. Rust parses the rows with
// serde_json, the same way it reads Convex answers, so each row type has one deserializer in
// the wasm (and no field-by-field crossing of the wasm boundary).

/** Runs the statements (one alone, several as one atomic batch). */
export async function queryJson(db, statements) {
  const results = statements.length === 1 ? [await statements[0].all()] : await db.batch(statements);
  return results.map((r) => [JSON.stringify(r.results ?? []), r.meta?.changes ?? 0]);
}
