// drizzle-kit: `bun run db:generate` writes SQL migrations to drizzle/ from src/persistence/schema.ts.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./src/persistence/schema.ts",
  out: "./drizzle",
});
