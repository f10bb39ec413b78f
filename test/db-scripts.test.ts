import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '../scripts/db-seed.ts';
import { eventually } from './support/fixtures.ts';
import { PAYMENTS_WIRING, startTestApp, type TestApp } from './support/test-app.ts';
import { createTestDatabase, type TestDatabase } from './support/test-database.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');

/** Runs an npm script's entry point on this Node (24) the way `npm run` does, with `env` added. */
const script = (file: string, env: Record<string, string>) =>
  run(process.execPath, ['--disable-warning=ExperimentalWarning', file], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'warn', ...env }, timeout: 120_000 });

describe('npm run db:migrate and npm run db:seed, on a fresh database', () => {
  let db: TestDatabase;
  let dataDir: string | undefined;
  let env: Record<string, string>;
  let t: TestApp | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
    if (db.config.kind === 'postgres') env = { DATABASE_URL: db.config.url };
    else {
      dataDir = mkdtempSync(join(tmpdir(), 'pos-seed-'));
      env = { DATABASE_URL: '', PGLITE_DATA_DIR: dataDir };
    }
  });
  afterAll(async () => {
    await t?.close();
    await db?.drop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('db:migrate applies every migration, and running it again changes nothing', async () => {
    const first = await script('scripts/db-migrate.ts', env);
    expect(first.stdout).toMatch(/db:migrate: \d+ migrations in drizzle\/.*\ndb:migrate: up to date \(last: \d{4}_/);
    const second = await script('scripts/db-migrate.ts', env);
    expect(second.stdout).toContain('db:migrate: up to date');
  }, 120_000);

  // The seed writes through the in-process app, so its payments live in this database: a
  // monolith wired to a payments service would not find them (moving them over is the data step
  // of an extraction, README "Extracting a module").
  it.skipIf(PAYMENTS_WIRING === 'remote')('db:seed makes a demo restaurant with staff, menu, stock and orders, prints the logins, and is a no-op the second time', async () => {
    const first = await script('scripts/db-seed.ts', env);
    expect(first.stdout).toContain('db:seed: done.');
    for (const who of [DEMO.owner, DEMO.manager, DEMO.cashier]) expect(first.stdout).toContain(who);
    const second = await script('scripts/db-seed.ts', env);
    expect(second.stdout).toContain('the demo restaurant exists already; nothing changed.');

    // What a newcomer sees after `npm start`: log in as printed, the menu, stock and reports.
    t = await startTestApp(db.config.kind === 'postgres' ? { database: db } : { env: { PGLITE_DATA_DIR: dataDir! }, database: { ...db, config: { kind: 'pglite', dataDir: dataDir! } } });
    const login = await t.api.post('/api/v1/auth/login', { tenant: DEMO.slug, email: DEMO.manager, password: DEMO.password });
    expect(login.status).toBe(200);
    const token = login.body.accessToken as string;
    const menu = await t.api.get('/api/v1/restaurant/menu-items?limit=100', { token });
    expect(menu.body.items).toHaveLength(8);
    const stock = await t.api.get('/api/v1/inventory/items', { token });
    expect(stock.body.items).toHaveLength(2);
    const orders = await t.api.get('/api/v1/orders?limit=100', { token });
    expect(orders.body.items).toHaveLength(12);
    expect(orders.body.items.filter((o: { status: string }) => o.status === 'cancelled')).toHaveLength(1);
    await eventually(async () => {
      const sales = await t!.api.get('/api/v1/reports/sales', { token });
      expect(sales.body.totals.orders).toBe(12);
      expect(sales.body.totals.refunds).toBeGreaterThan(0);
    }, 20_000);
  }, 180_000);
});
