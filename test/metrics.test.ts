import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../shared/database.ts';
import { eventually, menuItem, signup, type TenantFixture } from './support/fixtures.ts';
import { freePort } from './support/free-port.ts';
import { httpClient } from './support/test-app.ts';
import { createTestDatabase, onRealPostgres, type TestDatabase } from './support/test-database.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const cash = { method: 'cash', tendered: 100_000 };
/**
 * These tests start `src/server.ts` as a child process; on PGlite it applies every migration to a
 * fresh data directory first, which takes tens of seconds on a loaded 2-core machine.
 */
const SERVER_TEST_TIMEOUT = 120_000;

/** One sample of a Prometheus text exposition: metric name, labels, value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (no escapes in our label values). */
function parseMetrics(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!m) throw new Error(`not a sample line: ${line}`);
      const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
      return { name: m[1]!, labels, value: Number(m[3]) };
    });
}

/** The value of the sample of `name` whose labels include `labels`; undefined when absent. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

/** Inodes of the TCP sockets in LISTEN state (st 0A) owned by process `pid` (Linux /proc). */
function listeningSockets(pid: number): number {
  const inodes = new Set(
    readdirSync(`/proc/${pid}/fd`)
      .map((fd) => {
        try {
          return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        } catch {
          return undefined; // closed meanwhile
        }
      })
      .filter((inode): inode is string => inode !== undefined),
  );
  let listening = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === '0A' && inodes.has(cols[9]!)) listening++;
    }
  }
  return listening;
}

/** The process entry (`npm start`), as a child process on a free port; resolves once /ready. */
async function startServer(env: Record<string, string>) {
  const port = await freePort();
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', 'src/server.ts'], {
    cwd: root,
    env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'warn', PORT: String(port), HOST: '127.0.0.1', JWT_SECRET: 'metrics-test-secret-that-is-long-enough-1', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const api = httpClient(`http://127.0.0.1:${port}`);
  await eventually(async () => expect((await api.get('/ready')).status).toBe(200), 60_000, 100);
  return { child, api };
}
const stop = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });

describe('metrics: Prometheus text on a listener of its own (METRICS_PORT)', () => {
  let db: TestDatabase | undefined;
  const dataDirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'pos-metrics-'));
    dataDirs.push(dir);
    return dir;
  };
  let databaseEnv: Record<string, string>;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    if (onRealPostgres()) {
      db = await createTestDatabase();
      databaseEnv = { DATABASE_URL: (db.config as { url: string }).url, DATABASE_POOL_MAX: '7' };
    } else {
      databaseEnv = { PGLITE_DATA_DIR: tempDir() };
    }
  });
  afterAll(async () => {
    await Promise.all(children.map(stop));
    await db?.drop();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });

  it('serves request durations, rate-limit rejections, pool, event backlog and read-cache figures, and they move', { timeout: SERVER_TEST_TIMEOUT }, async () => {
    const metricsPort = await freePort();
    // Delivery off: the orders' events stay queued, so the backlog shows them.
    const { child, api } = await startServer({ ...databaseEnv, METRICS_PORT: String(metricsPort), EVENT_DELIVERY: 'off', LOGIN_RATE_LIMIT_PER_ACCOUNT: '2' });
    children.push(child);
    const scrape = async () => {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      return parseMetrics(await res.text());
    };

    // Readiness names its checks in the body (event workers `off`: EVENT_DELIVERY=off).
    expect((await api.get('/ready')).body.checks).toEqual({ database: 'ok', migrations: 'ok', events: 'off' });
    // Not on the public port; and the metrics listener serves nothing else.
    expect((await api.get('/metrics')).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/docs`)).status).toBe(404);
    if (existsSync('/proc/net/tcp')) expect(listeningSockets(child.pid!)).toBe(2); // API + metrics

    const before = await scrape();
    const loginRoute = { route: '/api/v1/auth/login' };
    expect(value(before, 'pos_rate_limit_rejections_total', loginRoute) ?? 0).toBe(0);
    expect(value(before, 'pos_db_pool_max_connections')).toBe(onRealPostgres() ? 7 : 1);
    expect(value(before, 'pos_db_pool_connections_in_use')).toBe(0);
    expect(value(before, 'pos_db_pool_waiting_transactions')).toBe(0);
    expect(value(before, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);

    const owner: TenantFixture = await signup(api);
    const item = await menuItem(api, owner.token, { price: 1250 });
    for (let i = 0; i < 3; i++) {
      expect((await api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 }], payment: cash }, { token: owner.token })).status).toBe(201);
    }
    // 4xx: an unknown order (a route), an unknown URL (no route).
    expect((await api.get(`/api/v1/orders/${crypto.randomUUID()}`, { token: owner.token })).status).toBe(404);
    expect((await api.get('/no/such/page')).status).toBe(404);
    // Login: 2 wrong passwords allowed per account and minute, the third is rate-limited.
    const wrong = { tenant: owner.tenant.slug, email: owner.user.email, password: 'not the password at all' };
    expect((await api.post('/api/v1/auth/login', wrong)).status).toBe(401);
    expect((await api.post('/api/v1/auth/login', wrong)).status).toBe(401);
    expect((await api.post('/api/v1/auth/login', wrong)).status).toBe(429);
    // The menu, read twice or more: a miss, then hits once the cache is coherent (LISTEN proven).
    await eventually(async () => {
      expect((await api.get('/api/v1/restaurant/menu-items', { token: owner.token })).status).toBe(200);
      expect(value(await scrape(), 'pos_read_cache_requests_total', { cache: 'restaurant.menu-pages', result: 'hit' })).toBeGreaterThan(0);
    }, 15_000, 200);

    const after = await scrape();
    const count = (labels: Record<string, string>) => value(after, 'http_server_request_duration_seconds_count', labels);
    expect(count({ method: 'POST', route: '/api/v1/orders', status_code: '201' })).toBe(3);
    expect(count({ method: 'GET', route: '/api/v1/orders/:id', status_code: '404' })).toBe(1);
    expect(count({ method: 'GET', route: 'unmatched', status_code: '404' })).toBe(2); // /no/such/page and the public /metrics
    expect(count({ method: 'POST', route: '/api/v1/auth/login', status_code: '401' })).toBe(2);
    expect(count({ method: 'POST', route: '/api/v1/auth/login', status_code: '429' })).toBe(1);
    expect(value(after, 'http_server_request_duration_seconds_sum', { method: 'POST', route: '/api/v1/orders', status_code: '201' })).toBeGreaterThan(0);
    // A bucket below the slowest: the histogram has buckets per route and status.
    expect(value(after, 'http_server_request_duration_seconds_bucket', { method: 'POST', route: '/api/v1/orders', status_code: '201', le: '+Inf' })).toBe(3);
    expect(value(after, 'pos_rate_limit_rejections_total', loginRoute)).toBe(1);
    expect(value(after, 'pos_read_cache_requests_total', { cache: 'restaurant.menu-pages', result: 'miss' })).toBeGreaterThan(0);
    const ratio = value(after, 'pos_read_cache_hit_ratio', { cache: 'restaurant.menu-pages' })!;
    expect(ratio).toBeGreaterThan(0);
    expect(ratio).toBeLessThan(1);
    expect(value(after, 'pos_read_cache_bytes', { cache: 'restaurant.menu-pages' })).toBeGreaterThan(0);
    // Nothing parked; the queue exists and reports.
    expect(value(after, 'pos_events_parked', { queue: 'reporting.events' })).toBe(0);

    // The event backlog (pg-boss counts, refreshed by its monitor every few seconds; cached 5 s here).
    await eventually(async () => expect(value(await scrape(), 'pos_event_queue_jobs', { queue: 'reporting.events', state: 'ready' })).toBe(3), 30_000, 500);
  });

  it.skipIf(!existsSync('/proc/net/tcp'))('METRICS_PORT=0 opens no metrics listener (counted from /proc)', { timeout: SERVER_TEST_TIMEOUT }, async () => {
    // PGlite allows one process per data directory, and the first test's server holds its own.
    const ownData = onRealPostgres() ? databaseEnv : { PGLITE_DATA_DIR: tempDir() };
    const { child, api } = await startServer({ ...ownData, METRICS_PORT: '0' });
    children.push(child);
    expect((await api.get('/ready')).status).toBe(200);
    expect(listeningSockets(child.pid!)).toBe(1); // the API only
    expect((await api.get('/metrics')).status).toBe(404);
  });
});

describe.skipIf(!onRealPostgres())('pool figures: connections held by transactions and transactions waiting', () => {
  it('counts a held connection as in use and a queued transaction as waiting, and both return to 0', async () => {
    const db = await createTestDatabase();
    const database = await openDatabase({ ...(db.config as { kind: 'postgres'; url: string }), poolMax: 1 });
    try {
      await database.migrate();
      expect(database.poolStats()).toEqual({ max: 1, inUse: 0, waiting: 0 });
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const first = database.transaction({}, async () => held);
      await eventually(async () => expect(database.poolStats().inUse).toBe(1));
      const second = database.transaction({}, async () => {});
      await eventually(async () => expect(database.poolStats()).toEqual({ max: 1, inUse: 1, waiting: 1 }));
      release();
      await Promise.all([first, second]);
      expect(database.poolStats()).toEqual({ max: 1, inUse: 0, waiting: 0 });
    } finally {
      await database.close();
      await db.drop();
    }
  });
});
