/**
 * `npm run db:migrate`: applies the pending migrations of drizzle/ to the configured database
 * (DATABASE_DIRECT_URL, else DATABASE_URL, else the embedded PGlite in PGLITE_DATA_DIR) and
 * exits: for deploy jobs that migrate once before the new version starts. Safe to run
 * concurrently with itself or with starting instances (migrations take an advisory lock) and to
 * run again (applied migrations are skipped). Exit codes: 0 done, 1 migration failed,
 * 78 invalid environment.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../shared/config.ts';
import { openDatabase } from '../shared/database.ts';
import { REPO_ROOT } from './repo-root.ts';

const journal = JSON.parse(readFileSync(join(REPO_ROOT, 'drizzle', 'meta', '_journal.json'), 'utf8')) as { entries: Array<{ tag: string }> };

let config;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(78);
  }
  throw error;
}
const where = config.database.kind === 'pglite' ? `embedded PGlite in ${config.database.dataDir}` : 'PostgreSQL (DATABASE_URL)';
console.log(`db:migrate: ${journal.entries.length} migrations in drizzle/, applying the pending ones to ${where}…`);
const started = Date.now();
const database = await openDatabase(config.database);
try {
  await database.migrate();
  console.log(`db:migrate: up to date (last: ${journal.entries.at(-1)?.tag}) in ${Date.now() - started} ms`);
} catch (error) {
  console.error(`db:migrate: failed: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await database.close();
}
