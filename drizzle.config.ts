import { defineConfig } from "drizzle-kit";

// Generates SQL migrations from src/db/schema.ts; wrangler applies them (`wrangler d1 migrations apply DB`).
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema.ts",
  out: "./migrations",
});
