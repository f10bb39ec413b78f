import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, menuItem, signup } from './support/fixtures.ts';
import { httpClient } from './support/test-app.ts';
import { createTestDatabase, onRealPostgres, type TestDatabase } from './support/test-database.ts';
import { freePort } from './support/free-port.ts';

const root = fileURLToPath(new URL('..', import.meta.url));


/** Starts `npm start`'s entry point as a real child process and waits for /ready. */
async function startServer(env: Record<string, string>): Promise<{ child: ChildProcess; api: ReturnType<typeof httpClient> }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', 'src/server.ts'], {
    cwd: root,
    env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'warn', PORT: String(port), METRICS_PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const api = httpClient(`http://127.0.0.1:${port}`);
  await eventually(async () => expect((await api.get('/ready')).status).toBe(200), 30_000, 100);
  return { child, api };
}

const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;
const killed = (child: ChildProcess) => new Promise<void>((resolve) => (exited(child) ? resolve() : child.once('exit', () => resolve())));

describe.skipIf(!onRealPostgres())('crash safety: events survive a SIGKILL between commit and handling', () => {
  let db: TestDatabase;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    for (const c of children) if (!exited(c)) c.kill('SIGKILL');
    await Promise.all(children.map(killed));
    await db?.drop();
  });

  it('orders placed, process killed before delivery, restarted: report totals equal the orders exactly', async () => {
    const env = { DATABASE_URL: (db.config as { url: string }).url, JWT_SECRET: 'crash-test-secret-that-is-long-enough-123' };

    // 1. Delivery paused: orders commit with their events in the outbox, no handler runs.
    const first = await startServer({ ...env, EVENT_DELIVERY: 'off' });
    children.push(first.child);
    const owner = await signup(first.api, { taxRateBps: 1000 });
    const item = await menuItem(first.api, owner.token, { price: 995 });
    const placed = [];
    for (let i = 0; i < 12; i++) {
      const res = await first.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 + (i % 4) }], payment: { method: 'cash', tendered: 100_000 } }, { token: owner.token });
      expect(res.status).toBe(201);
      placed.push(res.body);
    }
    const cancelled = await first.api.post(`/api/v1/orders/${placed[0].id}/cancel`, undefined, { token: owner.token });
    expect(cancelled.status).toBe(200);
    const before = await first.api.get('/api/v1/reports/sales', { token: owner.token });
    expect(before.body.totals.orders).toBe(0); // nothing delivered yet

    // 2. Crash: SIGKILL, no graceful shutdown.
    first.child.kill('SIGKILL');
    await killed(first.child);

    // 3. Restart with delivery on: the outbox is drained.
    const second = await startServer(env);
    children.push(second.child);
    const gross = placed.reduce((s, o) => s + o.total, 0);
    const tax = placed.reduce((s, o) => s + o.tax, 0);
    const refunds = placed[0].total;
    const report = await eventually(async () => {
      const r = await second.api.get('/api/v1/reports/sales', { token: owner.token });
      expect(r.body.totals).toEqual({ orders: 12, gross, tax, refunds, net: gross - refunds });
      return r.body;
    }, 10_000, 100);
    console.log(`crash test: ${placed.length} orders (+1 cancel) placed before SIGKILL; after restart report gross ${report.totals.gross} = orders ${gross}, refunds ${refunds}`);

    // Nothing is counted twice, even given time for redeliveries.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await second.api.get('/api/v1/reports/sales', { token: owner.token })).body.totals).toEqual(report.totals);
    second.child.kill('SIGTERM');
    await killed(second.child);
    expect(second.child.exitCode).toBe(0);
  }, 60_000);
});

describe.skipIf(!onRealPostgres())('crash safety: events an instance had claimed when it died', () => {
  let db: TestDatabase;
  let sql: postgres.Sql;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    db = await createTestDatabase();
    sql = postgres((db.config as { url: string }).url, { max: 2, onnotice: () => {} });
  });
  afterAll(async () => {
    for (const c of children) if (!exited(c)) c.kill('SIGKILL');
    await Promise.all(children.map(killed));
    await sql?.end({ timeout: 1 });
    await db?.drop();
  });

  it('are handled by another instance within 30 s of a SIGKILL (not after the 15-minute expiry)', async () => {
    const env = { DATABASE_URL: (db.config as { url: string }).url, JWT_SECRET: 'crash-test-secret-that-is-long-enough-123' };
    const a = await startServer(env);
    children.push(a.child);
    const owner = await signup(a.api, { taxRateBps: 0 });
    const item = await menuItem(a.api, owner.token, { price: 1250 });

    // Hold every handler at its first write (the inbox insert) so that A claims the event and is
    // still handling it when it dies. SHARE mode blocks inserts, not another instance's start.
    const blocker = await sql.reserve();
    await blocker`begin`;
    await blocker`lock table kernel.inbox in share mode`;
    let held = true;
    try {
      const order = await a.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 2 }], payment: { method: 'cash', tendered: 5000 } }, { token: owner.token });
      expect(order.status).toBe(201);
      await eventually(async () => {
        const [job] = await sql`select count(*)::int as n from pgboss.job where name = 'reporting.events' and state = 'active'`;
        expect(job!.n).toBe(1);
        const [waiting] = await sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query ilike '%kernel%inbox%'`;
        expect(waiting!.n).toBeGreaterThan(0);
      }, 10_000, 50);

      // B is up and polling before A dies; A's claimed job is invisible to it.
      const b = await startServer(env);
      children.push(b.child);

      a.child.kill('SIGKILL');
      await killed(a.child);
      const diedAt = Date.now();
      await blocker`commit`;
      held = false;

      const report = await eventually(async () => {
        const r = await b.api.get('/api/v1/reports/sales', { token: owner.token });
        expect(r.body.totals.orders).toBe(1);
        return r.body;
      }, 30_000, 200);
      const seconds = (Date.now() - diedAt) / 1000;
      console.log(`crash test: order claimed by a SIGKILLed instance reported by another instance ${seconds.toFixed(1)} s after the kill`);
      expect(report.totals.gross).toBe(order.body.total);
      expect(seconds).toBeLessThan(30);
    } finally {
      if (held) await blocker`rollback`.catch(() => {});
      blocker.release();
    }
  }, 90_000);
});
