// Unit tests of the Convex functions: `npm run test:convex` (vitest + convex-test, in the
// edge-runtime environment Convex functions run in). Tests live in convex/*.test.ts.
import { defineConfig } from "vitest/config";

export default defineConfig({
  root: new URL(".", import.meta.url).pathname,
  // Keep Vite's cache with the repository's other dependencies, not in convex/.
  cacheDir: new URL("../node_modules/.vite", import.meta.url).pathname,
  test: {
    environment: "edge-runtime",
    include: ["**/*.test.ts"],
    server: { deps: { inline: ["convex-test"] } },
  },
});
