/**
 * `npm run bench`: the POS API measured against its ceilings, in one run, on the local
 * PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres; a scratch
 * database is created and dropped).
 *
 * 1. POST /api/v1/orders (2 tracked lines, cash) with autocannon at each concurrency: orders/s,
 *    p50/p99 latency.
 * 2. The ceiling for the same work: pgbench replaying, at the same concurrency, the very SQL
 *    transaction the app issues for one order (captured from the app itself through drizzle's
 *    logger: same statements, role switch and RLS included, outbox inserts included).
 * 3. GET /api/v1/restaurant/menu-items (20 items) against a bare Fastify route serving the same
 *    20 items from memory.
 * 4. Logins per second (argon2id bound) and the app's peak RSS (VmHWM) under load.
 * 5. p99 of orders at half the peak rate.
 * Prints each figure, then `ratio name=value` lines, and writes bench/results/<time>.json.
 *
 *   npm run bench [-- --duration 10 --connections 16,64 --profile]
 *
 * `--profile` runs the app with `--cpu-prof` and writes its CPU profile (whole run) to
 * bench/profiles/; summarise it with `node scripts/cpu-profile-top.ts <file>`.
 */
import autocannon from 'autocannon';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { loadConfig } from '../shared/config.ts';
import { openDatabase } from '../shared/database.ts';
import { buildApp } from '../src/app.ts';
import { REPO_ROOT } from './repo-root.ts';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '16,64' },
    'log-level': { type: 'string', default: 'warn' },
    profile: { type: 'boolean', default: false },
  },
});
const duration = Number(args.duration);
const connectionsList = args.connections.split(',').map(Number);
const root = REPO_ROOT;
const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const dbName = `pos_bench_${process.pid}`;
const dbUrl = Object.assign(new URL(adminUrl), { pathname: `/${dbName}` }).toString();
const JWT_SECRET = 'bench-secret-bench-secret-bench-secret-42';
const results: Record<string, unknown> = { startedAt: new Date().toISOString(), duration, node: process.version };
const children: ChildProcess[] = [];

const log = (line: string) => console.log(line);
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(url: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not become ready`);
}

async function startChild(script: string, env: Record<string, string>, readyPath: string) {
  const port = await freePort();
  const profiling = args.profile && script === 'src/server.ts' ? ['--cpu-prof', '--cpu-prof-dir', join(root, 'bench', 'profiles')] : [];
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', ...profiling, script], {
    cwd: root,
    env: { ...process.env, PORT: String(port), METRICS_PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.push(child);
  const base = `http://127.0.0.1:${port}`;
  await waitFor(base + readyPath);
  return { child, base };
}

function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  return round(kb / 1024);
}

type Load = { url: string; connections: number; method?: 'GET' | 'POST'; body?: string; headers?: Record<string, string>; overallRate?: number; duration?: number };
async function load(opts: Load) {
  const result = await autocannon({
    url: opts.url,
    connections: opts.connections,
    duration: opts.duration ?? duration,
    method: opts.method ?? 'GET',
    headers: { 'content-type': 'application/json', ...opts.headers },
    ...(opts.body ? { body: opts.body } : {}),
    ...(opts.overallRate ? { overallRate: opts.overallRate } : {}),
  });
  const ok = result['2xx'];
  return {
    rps: round(ok / (result.duration || opts.duration || duration)),
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

/**
 * Open-loop load: one request every 1/rate seconds whatever the answers, so latency is measured
 * at that arrival rate without coordinated omission (a closed-loop tool like autocannon sends in
 * lockstep bursts when rate-limited). Returns p50/p99 in ms.
 */
async function openLoop(opts: { url: string; body: string; headers: Record<string, string>; rate: number; seconds: number }) {
  const latencies: number[] = [];
  let failures = 0;
  const total = Math.floor(opts.rate * opts.seconds);
  const start = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / opts.rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inFlight.push(
      fetch(opts.url, { method: 'POST', headers: { 'content-type': 'application/json', ...opts.headers }, body: opts.body }).then(
        async (res) => {
          await res.arrayBuffer();
          if (res.status >= 300) failures++;
          latencies.push(performance.now() - due);
        },
        () => void failures++,
      ),
    );
  }
  await Promise.all(inFlight);
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => round(latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN);
  return { rate: opts.rate, sent: total, failures, p50: pct(50), p99: pct(99) };
}

async function api(base: string, method: string, path: string, body?: unknown, token?: string) {
  const res = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json().catch(() => undefined)) as any;
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** SQL literal for a captured parameter. */
function literal(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  // pgbench would read `:23` in a timestamp as a variable: spell colons as chr(58).
  const quoted = `'${String(v).replaceAll("'", "''").replaceAll(':', "' || chr(58) || '")}'`;
  if (!quoted.includes('chr(58)')) return quoted;
  // A concatenation is text: give timestamps (the only typed values with colons) their type back.
  return /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(String(v)) ? `(${quoted})::timestamptz` : `(${quoted})`;
}

/**
 * Captures the statements of one order as the app sends them (through drizzle's logger, with
 * delivery off so that no event handler interleaves), and turns them into a pgbench script:
 * ids made during the order become per-transaction expressions so that each replay inserts new
 * rows, and the order number comes from the counter the transaction just bumped.
 */
async function capturePgbenchScript(seed: { tenantId: string; token: string; itemA: string; itemB: string; userId: string }) {
  // Statements logged in the same event-loop turn leave in one write (postgres.js flushes its
  // queue on setImmediate): the app pipelines them, so the replay pipelines them too.
  const statements: Array<{ query: string; params: unknown[]; turn: number }> = [];
  let capturing = false;
  let turn = 0;
  let turnScheduled = false;
  const onQuery = (query: string, params: unknown[]) => {
    if (!capturing) return;
    if (!turnScheduled) {
      turnScheduled = true;
      setImmediate(() => {
        turn++;
        turnScheduled = false;
      });
    }
    statements.push({ query, params, turn });
  };
  const database = await openDatabase({ kind: 'postgres', url: dbUrl, poolMax: 2 }, { onQuery });
  const app = await buildApp({ ...loadConfig({ DATABASE_URL: dbUrl, LOG_LEVEL: 'warn', JWT_SECRET, EVENT_DELIVERY: 'off' }) }, { database, skipMigrations: true });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const body = { items: [{ menuItemId: seed.itemA, quantity: 1 }, { menuItemId: seed.itemB, quantity: 2 }], payment: { method: 'cash', tendered: 100_000 } };
  await api(base, 'POST', '/api/v1/orders', body, seed.token); // warm caches, as in the measured app
  capturing = true;
  const order = await api(base, 'POST', '/api/v1/orders', body, seed.token);
  capturing = false;
  await app.close();
  await database.close();

  const known = new Set([seed.tenantId, seed.itemA, seed.itemB, seed.userId]);
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  const fresh = new Map<string, string>();
  // BEGIN and the tenant settings are sent by the unit of work itself (not through drizzle), in
  // the same write as the first statements; COMMIT in the same write as the last ones.
  const lines = ['\\set r random(1, 1000000000000)'];
  const byTurn = new Map<number, string[]>();
  for (const { query, params, turn: t } of statements) {
    const isOrderInsert = /^insert into "orders"\."orders"/.test(query);
    const sqlText = query.replace(/\$(\d+)/g, (_m, n: string) => {
      const v = params[Number(n) - 1];
      if (typeof v === 'string' && uuid.test(v) && !known.has(v)) {
        if (!fresh.has(v)) fresh.set(v, `md5(:r::text || '-' || :client_id::text || '-${fresh.size}')::uuid`);
        return fresh.get(v)!;
      }
      if (isOrderInsert && v === order.number) return `(select last_number from orders.order_counters where tenant_id = '${seed.tenantId}')`;
      return literal(v);
    });
    byTurn.set(t, [...(byTurn.get(t) ?? []), `${sqlText.replace(/\s+/g, ' ').trim()};`]);
  }
  const groups = [...byTurn.values()];
  groups[0]!.unshift('BEGIN;', `select set_config('app.tenant_id', '${seed.tenantId}', true), set_config('role', 'pos_app', true);`);
  groups.at(-1)!.push('COMMIT;');
  for (const group of groups) lines.push('\\startpipeline', ...group, '\\endpipeline');
  return { script: lines.join('\n') + '\n', statements: statements.length + 1, roundTrips: groups.length };
}

function pgbench(scriptPath: string, connections: number) {
  const bin = ['/usr/lib/postgresql', ...(existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql') : [])]
    .slice(1)
    .map((v) => `/usr/lib/postgresql/${v}/bin/pgbench`)
    .find((p) => existsSync(p)) ?? 'pgbench';
  const url = new URL(dbUrl);
  const out = spawnSync(
    bin,
    ['-n', '-c', String(connections), '-j', '2', '-T', String(duration), '-M', 'prepared', '-f', scriptPath, '-h', url.hostname, '-p', url.port || '5432', '-U', url.username || 'postgres', dbName],
    { encoding: 'utf8' },
  );
  if (out.status !== 0) throw new Error(`pgbench failed: ${out.stderr || out.stdout}`);
  const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(out.stdout)?.[1]);
  const latency = Number(/latency average = ([\d.]+) ms/.exec(out.stdout)?.[1]);
  const failed = Number(/number of failed transactions: (\d+)/.exec(out.stdout)?.[1] ?? 0);
  return { tps: round(tps), latencyAvgMs: latency, failed };
}

async function main() {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${dbName}`);
  try {
    log(`bench: ${duration} s per run, connections ${connectionsList.join(', ')}, app log level ${args['log-level']}, database ${dbName}`);
    const env = { DATABASE_URL: dbUrl, JWT_SECRET, LOG_LEVEL: args['log-level'], NODE_ENV: 'production', LOGIN_RATE_LIMIT_PER_IP: '100000', LOGIN_RATE_LIMIT_PER_ACCOUNT: '100000', SIGNUP_RATE_LIMIT_PER_IP: '100000' };
    const app = await startChild('src/server.ts', env, '/ready');

    // Seed: a tenant with a 20-item menu; the two ordered items are tracked with ample stock.
    const signup = await api(app.base, 'POST', '/api/v1/auth/signup', { restaurantName: 'Bench Bistro', currency: 'USD', email: 'owner@bench.example', password: 'bench-password', taxRateBps: 825 });
    const token = signup.accessToken as string;
    const items = [];
    for (let i = 0; i < 20; i++) items.push(await api(app.base, 'POST', '/api/v1/restaurant/menu-items', { name: `Dish ${i + 1}`, sku: `SKU-${i + 1}`, price: 500 + i * 25, category: i < 10 ? 'mains' : 'drinks' }, token));
    for (const item of items.slice(0, 2)) await api(app.base, 'PUT', `/api/v1/inventory/items/${item.id}`, { onHand: 1_000_000, lowStockThreshold: 10 }, token);
    const [itemA, itemB] = [items[0].id as string, items[1].id as string];
    const orderBody = JSON.stringify({ items: [{ menuItemId: itemA, quantity: 1 }, { menuItemId: itemB, quantity: 2 }], payment: { method: 'cash', tendered: 100_000 } });
    const auth = { authorization: `Bearer ${token}` };

    // 1. Orders
    await load({ url: `${app.base}/api/v1/orders`, method: 'POST', body: orderBody, headers: auth, connections: 8, duration: 3 }); // warm-up
    const orders: Record<number, Awaited<ReturnType<typeof load>>> = {};
    for (const c of connectionsList) {
      orders[c] = await load({ url: `${app.base}/api/v1/orders`, method: 'POST', body: orderBody, headers: auth, connections: c });
      log(`orders c=${c}: ${orders[c]!.rps} orders/s, p50 ${orders[c]!.p50} ms, p99 ${orders[c]!.p99} ms, non-2xx ${orders[c]!.non2xx}, errors ${orders[c]!.errors}`);
    }
    const peak = Math.max(...Object.values(orders).map((o) => o.rps));
    // Each order leaves events for the reporting handlers; measure the next phases only once the
    // backlog the load phases built up is handled (steady state), and report how long that took.
    const benchDb = postgres(dbUrl, { max: 1, onnotice: () => {} });
    const drainEvents = async () => {
      const started = Date.now();
      const [{ queued }] = (await benchDb`select count(*)::int as queued from pgboss.job where state in ('created', 'retry', 'active') and name like 'reporting.%'`) as unknown as [{ queued: number }];
      for (;;) {
        const [row] = (await benchDb`select count(*)::int as n from pgboss.job where state in ('created', 'retry', 'active') and name like 'reporting.%'`) as unknown as [{ n: number }];
        if (row.n === 0) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      return { queued, seconds: round((Date.now() - started) / 1000) };
    };
    const drained = await drainEvents();
    log(`event backlog after the load phases: ${drained.queued} jobs, handled in ${drained.seconds} s`);

    // The same orders spread over 16 restaurants: what one instance does when tenants do not
    // contend for the same stock and counter rows (a figure for context; no ceiling run for it).
    const tenants: Array<{ token: string; body: string }> = [];
    for (let i = 0; i < 16; i++) {
      const t = await api(app.base, 'POST', '/api/v1/auth/signup', { restaurantName: `Bench ${i}`, currency: 'USD', email: `owner${i}@bench.example`, password: 'bench-password', taxRateBps: 825 });
      const ids = [];
      for (let k = 0; k < 2; k++) {
        const item = await api(app.base, 'POST', '/api/v1/restaurant/menu-items', { name: `Dish ${k}`, price: 500 + k * 25 }, t.accessToken);
        await api(app.base, 'PUT', `/api/v1/inventory/items/${item.id}`, { onHand: 1_000_000 }, t.accessToken);
        ids.push(item.id as string);
      }
      tenants.push({ token: t.accessToken, body: JSON.stringify({ items: [{ menuItemId: ids[0], quantity: 1 }, { menuItemId: ids[1], quantity: 2 }], payment: { method: 'cash', tendered: 100_000 } }) });
    }
    let nextTenant = 0;
    const spread = await autocannon({
      url: app.base,
      connections: connectionsList[0]!,
      duration,
      requests: [
        {
          method: 'POST',
          path: '/api/v1/orders',
          setupRequest: (req) => {
            const t = tenants[nextTenant++ % tenants.length]!;
            return { ...req, headers: { ...req.headers, 'content-type': 'application/json', authorization: `Bearer ${t.token}` }, body: t.body };
          },
        },
      ],
    });
    const multiTenant = { rps: round(spread['2xx'] / (spread.duration || duration)), p50: spread.latency.p50, p99: spread.latency.p99, non2xx: spread.non2xx };
    log(`orders over 16 tenants c=${connectionsList[0]}: ${multiTenant.rps} orders/s, p50 ${multiTenant.p50} ms, p99 ${multiTenant.p99} ms, non-2xx ${multiTenant.non2xx}`);
    await drainEvents();
    const half = await openLoop({ url: `${app.base}/api/v1/orders`, body: orderBody, headers: auth, rate: Math.max(1, Math.floor(peak / 2)), seconds: duration });
    log(`orders at half the peak rate (open loop, ${half.rate}/s, ${half.sent} sent, ${half.failures} failed): p50 ${half.p50} ms, p99 ${half.p99} ms`);
    await drainEvents();
    await benchDb.end();

    // 3. Menu reads vs bare Fastify
    const menuUrl = `${app.base}/api/v1/restaurant/menu-items`;
    const menuPage = await api(app.base, 'GET', '/api/v1/restaurant/menu-items', undefined, token);
    if (menuPage.items.length !== 20) throw new Error(`expected 20 menu items, got ${menuPage.items.length}`);
    const fixture = join(tmpdir(), `bench-menu-${process.pid}.json`);
    writeFileSync(fixture, JSON.stringify(menuPage));
    const bare = await startChild('scripts/bench-bare-server.ts', { BENCH_FIXTURE: fixture }, '/health');
    const menuConnections = connectionsList[0]!;
    await load({ url: menuUrl, headers: auth, connections: menuConnections, duration: 2 });
    const menu = await load({ url: menuUrl, headers: auth, connections: menuConnections });
    log(`menu reads c=${menuConnections}: ${menu.rps} req/s, p50 ${menu.p50} ms, p99 ${menu.p99} ms`);
    await load({ url: `${bare.base}/menu-items`, connections: menuConnections, duration: 2 });
    const bareMenu = await load({ url: `${bare.base}/menu-items`, connections: menuConnections });
    log(`bare Fastify, same 20 items from memory c=${menuConnections}: ${bareMenu.rps} req/s, p50 ${bareMenu.p50} ms, p99 ${bareMenu.p99} ms`);
    bare.child.kill('SIGTERM');

    // 4. Logins (argon2id, m=19 MiB t=2 p=1, on libuv's 4 threads)
    const logins = await load({
      url: `${app.base}/api/v1/auth/login`,
      method: 'POST',
      body: JSON.stringify({ tenant: signup.tenant.slug, email: 'owner@bench.example', password: 'bench-password' }),
      connections: 8,
    });
    log(`logins c=8: ${logins.rps} logins/s, p50 ${logins.p50} ms, p99 ${logins.p99} ms`);
    const rss = peakRssMiB(app.child.pid!);
    log(`app peak RSS under load: ${rss} MiB`);
    app.child.kill('SIGTERM');
    await new Promise((r) => app.child.once('exit', r));

    // 2. The pgbench ceiling for the same transaction
    const captured = await capturePgbenchScript({ tenantId: signup.tenant.id, token, itemA, itemB, userId: signup.user.id });
    const scriptPath = join(tmpdir(), `bench-order-${process.pid}.sql`);
    writeFileSync(scriptPath, captured.script);
    const ceiling: Record<number, ReturnType<typeof pgbench>> = {};
    for (const c of connectionsList) {
      ceiling[c] = pgbench(scriptPath, c);
      log(`pgbench, the app's order transaction (${captured.statements} statements + BEGIN/COMMIT in ${captured.roundTrips} round trips) c=${c}: ${ceiling[c]!.tps} tps, avg ${ceiling[c]!.latencyAvgMs} ms, failed ${ceiling[c]!.failed}`);
    }

    const ratios: Record<string, number> = {};
    for (const c of connectionsList) ratios[`orders_vs_pgbench_c${c}`] = round(orders[c]!.rps / ceiling[c]!.tps, 2);
    ratios.orders_vs_pgbench = Math.min(...connectionsList.map((c) => ratios[`orders_vs_pgbench_c${c}`]!));
    ratios.menu_vs_bare = round(menu.rps / bareMenu.rps, 2);
    log('');
    for (const [name, value] of Object.entries(ratios)) log(`ratio ${name}=${value}`);
    log(`goal: p99 at half peak < 25 ms: ${half.p99} ms ${half.p99 < 25 ? 'met' : 'NOT met'}`);

    Object.assign(results, { orders, ordersOver16Tenants: multiTenant, eventBacklog: drained, ordersAtHalfPeak: half, pgbench: ceiling, pgbenchStatements: captured.statements, menu, bareMenu, logins, peakRssMiB: rss, ratios });
    const dir = join(root, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, JSON.stringify(results, null, 2));
    writeFileSync(join(root, 'bench', 'pgbench-order.sql'), captured.script);
    log(`results: ${file}`);
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    await admin.unsafe(`drop database if exists ${dbName} with (force)`);
    await admin.end();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  for (const c of children) c.kill('SIGKILL');
  process.exit(1);
});
