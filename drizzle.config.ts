import { defineConfig } from 'drizzle-kit';

// Each module owns its PostgreSQL schema in modules/<name>/schema.ts; migrations are generated
// into drizzle/ with `npm run db:generate` and applied at start.
export default defineConfig({
  dialect: 'postgresql',
  schema: ['./modules/*/schema.ts', './shared/idempotency.ts', './shared/event-bus.ts'],
  out: './drizzle',
});
