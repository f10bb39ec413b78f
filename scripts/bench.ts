/**
 * `npm run bench`: the POS API measured where it matters, against floors measured in the same
 * run, on the local PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres;
 * a scratch database is created and dropped).
 *
 * Workload: `--tenants` restaurants (default 200), each with 5 menu items (3 with tracked stock);
 * every order goes to a random restaurant, with 1-3 lines of its items, paid cash or card (half
 * each); event delivery runs (the reporting module handles every order's events).
 *
 * Measured, each `--reps` times (default 3; median and spread min..max):
 * 1. Peak orders/s, closed loop at each of `--connections` (default 16,64), over all tenants; and
 *    over ONE tenant at the first concurrency (every order then contends for the same rows).
 * 2. p50/p99 at half the peak rate, open loop (one order every 1/rate s whatever the answers).
 * 3. CPU per order during that open-loop run, until the events it caused are handled: app
 *    process, PostgreSQL (every `postgres` process), load generator (this process), from the
 *    utime+stime of /proc (µs per order).
 *    Every run ends with VACUUM (ANALYZE) of the bench database, outside the CPU windows, so
 *    that on a server with `autovacuum = off` a run does not pay for the bloat of the ones
 *    before (with autovacuum on, its workers' CPU during a window is counted).
 * 4. Floors: pgbench replaying the app's own order transactions (captured from the app, one cash
 *    and one card order of 2 lines) over the same tenants at the same rate (PostgreSQL CPU per
 *    transaction) and closed loop; a bare Fastify server's CPU per request for an order-sized
 *    POST and for the same menu page; menu reads vs bare Fastify.
 * Then prints `ratio name=value` lines (orders_vs_ceiling, app_cpu_vs_bare, menu_vs_bare,
 * single_vs_many) and `p99_half_peak_ms=`, and writes bench/results/<time>.json.
 *
 *   npm run bench [-- --duration 10 --reps 3 --tenants 200 --connections 16,64 --quick --smoke --profile --no-delivery --rate 150]
 *
 * `--rate <orders/s>`: the open-loop runs (2, 3 and the pgbench replay) at that rate instead of half
 * the measured peak, so that two builds' CPU per order compare at the same load (the peak, and so
 * half of it, moves from run to run on a shared machine); `p99_half_peak_ms` is then at that rate.
 * `--no-delivery`: event delivery off (the events are still written, nobody handles them): the
 * order path's own cost, to split CPU per order into the order and its event work.
 * `--quick`: 5 s runs, 1 rep, 50 tenants. `--smoke`: 2 s runs, 1 rep, 5 tenants (checks that the
 * bench works, figures meaningless). `--profile` runs the app with `--cpu-prof` (whole run) into
 * bench/profiles/; summarise with `node scripts/cpu-profile-top.ts <file>`.
 *
 * The floor CPU per order is PostgreSQL's CPU for the order transaction's SQL (pgbench replay)
 * plus bare Fastify's CPU for one order-sized request; it leaves out the SQL of event delivery
 * (outbox fetch/complete, inbox, reporting writes), so `orders_vs_ceiling` is a strict ratio.
 */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
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
    duration: { type: 'string' },
    reps: { type: 'string' },
    tenants: { type: 'string' },
    connections: { type: 'string', default: '16,64' },
    'log-level': { type: 'string', default: 'warn' },
    quick: { type: 'boolean', default: false },
    smoke: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'no-delivery': { type: 'boolean', default: false },
    rate: { type: 'string' },
  },
});
const preset = args.smoke ? { duration: 2, reps: 1, tenants: 5 } : args.quick ? { duration: 5, reps: 1, tenants: 50 } : { duration: 10, reps: 3, tenants: 200 };
const duration = Number(args.duration ?? preset.duration);
const reps = Number(args.reps ?? preset.reps);
const tenantCount = Number(args.tenants ?? preset.tenants);
const connectionsList = args.connections.split(',').map(Number);
const fixedRate = args.rate === undefined ? undefined : Number(args.rate);
for (const [option, value] of Object.entries({ duration, reps, tenants: tenantCount, rate: fixedRate ?? 1 })) {
  if (!(Number.isFinite(value) && value > 0)) {
    console.error(`bench: --${option} must be a positive number (got ${JSON.stringify(args[option as keyof typeof args])})`);
    process.exit(2);
  }
}
const root = REPO_ROOT;
const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const dbName = `pos_bench_${process.pid}`;
const dbUrl = Object.assign(new URL(adminUrl), { pathname: `/${dbName}` }).toString();
const JWT_SECRET = 'bench-secret-bench-secret-bench-secret-42';
const results: Record<string, unknown> = { startedAt: new Date().toISOString(), duration, reps, tenants: tenantCount, node: process.version };
const children: ChildProcess[] = [];

const log = (line: string) => console.log(line);
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

/** Median and spread of repeated figures. */
function stats(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median = sorted.length % 2 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median: round(median), min: round(sorted[0]!), max: round(sorted.at(-1)!), runs: values.map((v) => round(v)) };
}
const show = (s: ReturnType<typeof stats>, unit = '') => `${s.median}${unit} (${s.min}..${s.max}${unit}, ${s.runs.length} runs)`;

// ------------------------------------------------------------------------- CPU from /proc
/** utime+stime of a process (all its threads) in clock ticks (USER_HZ = 100 on Linux), or undefined once gone. */
function cpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}
const TICK_US = 10_000;
const postgresPids = () =>
  readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .map(Number)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres';
      } catch {
        return false;
      }
    });

/**
 * CPU used from `start()` to `stop()` by the app process, every PostgreSQL process (backends that
 * start and exit meanwhile included: sampled every 100 ms) and this process (the load generator),
 * in microseconds.
 */
function cpuMeter(appPid?: number) {
  const base = new Map<number, number>();
  const last = new Map<number, number>();
  let appBase = 0;
  let self = process.cpuUsage();
  let timer: NodeJS.Timeout | undefined;
  const sample = () => {
    for (const pid of postgresPids()) {
      const t = cpuTicks(pid);
      if (t === undefined) continue;
      if (!base.has(pid)) base.set(pid, timer ? 0 : t);
      last.set(pid, t);
    }
  };
  return {
    start() {
      base.clear();
      last.clear();
      timer = undefined;
      sample();
      appBase = appPid ? (cpuTicks(appPid) ?? 0) : 0;
      self = process.cpuUsage();
      timer = setInterval(sample, 100);
    },
    stop() {
      sample();
      clearInterval(timer);
      const own = process.cpuUsage(self);
      let pg = 0;
      for (const [pid, t] of last) pg += t - (base.get(pid) ?? 0);
      return { appUs: appPid ? ((cpuTicks(appPid) ?? appBase) - appBase) * TICK_US : 0, pgUs: pg * TICK_US, loadgenUs: own.user + own.system };
    },
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(url: string, timeoutMs = 120_000) {
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

/** The node flags `npm start` runs the app with (package.json), so the bench runs it the same way. */
const START_FLAGS = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start.split(/\s+/).filter((word) => word.startsWith('--'));

async function startChild(script: string, env: Record<string, string>, readyPath: string) {
  const port = await freePort();
  const profiling = args.profile && script === 'src/server.ts' ? ['--cpu-prof', '--cpu-prof-dir', join(root, 'bench', 'profiles')] : [];
  const child = spawn(process.execPath, [...(script === 'src/server.ts' ? START_FLAGS : ['--disable-warning=ExperimentalWarning']), ...profiling, script], {
    cwd: root,
    env: { ...process.env, PORT: String(port), METRICS_PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.push(child);
  const base = `http://127.0.0.1:${port}`;
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`${script} exited (code ${code}) before it was ready`))));
  await Promise.race([waitFor(base + readyPath), exited]);
  exited.catch(() => {});
  return { child, base };
}

async function stopChild(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  return round(kb / 1024);
}

/** A request of the workload: path, body and headers (e.g. a random tenant's order). */
type Req = { method: 'GET' | 'POST'; path: string; body?: string; headers: Record<string, string> };

/** Closed loop: `connections` clients, each sending the next request when the last one answered. */
async function closedLoop(base: string, connections: number, next: () => Req, seconds = duration) {
  const result = await autocannon({
    url: base,
    connections,
    duration: seconds,
    requests: [
      {
        setupRequest: (req) => {
          const r = next();
          return { ...req, method: r.method, path: r.path, headers: { ...req.headers, 'content-type': 'application/json', ...r.headers }, ...(r.body ? { body: r.body } : {}) };
        },
      },
    ],
  });
  return { rps: round(result['2xx'] / (result.duration || seconds)), ok: result['2xx'], p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors + result.timeouts };
}

/**
 * Open-loop load: one request every 1/rate seconds whatever the answers, so latency is measured
 * at that arrival rate without coordinated omission. Returns p50/p99 in ms and the 2xx count.
 */
async function openLoop(base: string, next: () => Req, rate: number, seconds = duration) {
  const latencies: number[] = [];
  let failures = 0;
  const total = Math.floor(rate * seconds);
  const start = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const r = next();
    inFlight.push(
      fetch(base + r.path, { method: r.method, headers: { 'content-type': 'application/json', ...r.headers }, ...(r.body ? { body: r.body } : {}) }).then(
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
  return { rate, sent: total, ok: total - failures, failures, p50: pct(50), p99: pct(99) };
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

/** Runs `work` on `items`, `concurrency` at a time. */
async function inParallel<T>(items: T[], concurrency: number, work: (item: T, index: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const i = next++;
        await work(items[i]!, i);
      }
    }),
  );
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

/** One seeded restaurant: its owner, its items (the first 3 tracked) and its row in the pgbench map. */
interface Tenant {
  n: number;
  id: string;
  userId: string;
  token: string;
  items: string[];
}

/**
 * Captures the statements of one order as the app sends them (through drizzle's logger, with
 * delivery off so that no event handler interleaves), and turns them into a pgbench script over
 * every tenant: the tenant, its owner and its two ordered items come from `bench_map` row `:n`
 * (random per transaction), ids made during the order become per-transaction expressions so that
 * each replay inserts new rows, and the order number comes from the counter the transaction bumped.
 */
async function capturePgbenchScript(tenant: Tenant, payment: 'cash' | 'card') {
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
  const [itemA, itemB] = [tenant.items[0]!, tenant.items[1]!];
  const body = { items: [{ menuItemId: itemA, quantity: 1 }, { menuItemId: itemB, quantity: 2 }], payment: payment === 'cash' ? { method: 'cash', tendered: 100_000 } : { method: 'card', token: 'tok_visa' } };
  await api(base, 'POST', '/api/v1/orders', body, tenant.token); // warm caches, as in the measured app
  capturing = true;
  const order = await api(base, 'POST', '/api/v1/orders', body, tenant.token);
  capturing = false;
  await app.close();
  await database.close();

  const known = new Map([
    [tenant.id, ':tid'],
    [itemA, ':ia'],
    [itemB, ':ib'],
    [tenant.userId, ':uid'],
  ]);
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  const fresh = new Map<string, string>();
  const lines = ['\\set r random(1, 1000000000000)', `\\set n random(1, ${tenantCount})`, 'select tid, ia, ib, uid from bench_map where n = :n \\gset'];
  const byTurn = new Map<number, string[]>();
  for (const { query, params, turn: t } of statements) {
    const isOrderInsert = /^insert into "orders"\."orders"/.test(query);
    const sqlText = query.replace(/\$(\d+)/g, (_m, n: string) => {
      const v = params[Number(n) - 1];
      if (typeof v === 'string' && known.has(v)) return `${known.get(v)}::uuid`;
      if (typeof v === 'string' && uuid.test(v)) {
        if (!fresh.has(v)) fresh.set(v, `md5(:r::text || '-' || :client_id::text || '-${fresh.size}')::uuid`);
        return fresh.get(v)!;
      }
      if (isOrderInsert && v === order.number) return `(select last_number from orders.order_counters where tenant_id = :tid::uuid)`;
      return literal(v);
    });
    byTurn.set(t, [...(byTurn.get(t) ?? []), `${sqlText.replace(/\s+/g, ' ').trim()};`]);
  }
  const groups = [...byTurn.values()];
  // BEGIN and the tenant settings are sent by the unit of work itself (not through drizzle), in
  // the same write as the first statements; COMMIT in the same write as the last ones.
  groups[0]!.unshift('BEGIN;', `select set_config('app.tenant_id', :tid, true), set_config('role', 'pos_app', true);`);
  groups.at(-1)!.push('COMMIT;');
  for (const group of groups) lines.push('\\startpipeline', ...group, '\\endpipeline');
  return { script: lines.join('\n') + '\n', statements: statements.length + 1, roundTrips: groups.length };
}

/** pgbench over `scripts` (equal weights); `rate` (tx/s) makes it an open loop at that rate. Async, so CPU sampling goes on meanwhile. */
async function pgbench(scripts: string[], connections: number, opts: { rate?: number; seconds?: number } = {}) {
  const bin =
    ['/usr/lib/postgresql', ...(existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql') : [])]
      .slice(1)
      .map((v) => `/usr/lib/postgresql/${v}/bin/pgbench`)
      .find((p) => existsSync(p)) ?? 'pgbench';
  const url = new URL(dbUrl);
  const child = spawn(
    bin,
    [
      '-n', '-c', String(connections), '-j', '2', '-T', String(opts.seconds ?? duration), '-M', 'prepared',
      ...(opts.rate ? ['-R', String(opts.rate)] : []),
      ...scripts.flatMap((s) => ['-f', `${s}@1`]),
      '-h', url.hostname, '-p', url.port || '5432', '-U', url.username || 'postgres', dbName,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  if (code !== 0) throw new Error(`pgbench failed: ${stderr || stdout}`);
  const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1]);
  const processed = Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1] ?? 0);
  const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0);
  return { tps: round(tps), processed, failed, pid: child.pid };
}

async function main() {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${dbName}`);
  const benchDb = postgres(dbUrl, { max: 1, onnotice: () => {} });
  try {
    log(`bench: ${tenantCount} tenants, ${duration} s per run, ${reps} rep(s), connections ${connectionsList.join(', ')}, database ${dbName}`);
    const env = { DATABASE_URL: dbUrl, JWT_SECRET, LOG_LEVEL: args['log-level'], NODE_ENV: 'production', ...(args['no-delivery'] ? { EVENT_DELIVERY: 'off' } : {}), LOGIN_RATE_LIMIT_PER_IP: '100000', LOGIN_RATE_LIMIT_PER_ACCOUNT: '100000', SIGNUP_RATE_LIMIT_PER_IP: '100000' };
    const app = await startChild('src/server.ts', env, '/ready');

    // Seed: every restaurant gets 5 menu items, the first 3 tracked with ample stock.
    const seedStarted = Date.now();
    const tenants: Tenant[] = [];
    await inParallel(
      Array.from({ length: tenantCount }, (_, i) => i),
      4,
      async (i) => {
        const s = await api(app.base, 'POST', '/api/v1/auth/signup', { restaurantName: `Bench ${i}`, currency: 'USD', email: `owner${i}@bench.example`, password: 'bench-password', taxRateBps: 825 });
        const items: string[] = [];
        for (let k = 0; k < 5; k++) {
          const item = await api(app.base, 'POST', '/api/v1/restaurant/menu-items', { name: `Dish ${k + 1}`, sku: `SKU-${k + 1}`, price: 500 + k * 25, category: k < 3 ? 'mains' : 'drinks' }, s.accessToken);
          if (k < 3) await api(app.base, 'PUT', `/api/v1/inventory/items/${item.id}`, { onHand: 1_000_000, lowStockThreshold: 10 }, s.accessToken);
          items.push(item.id as string);
        }
        tenants[i] = { n: i + 1, id: s.tenant.id, userId: s.user.id, token: s.accessToken, items };
        if ((i + 1) % 50 === 0) log(`  seeded ${i + 1}/${tenantCount} restaurants`);
      },
    );
    log(`seeded ${tenantCount} restaurants (5 items, 3 tracked) in ${round((Date.now() - seedStarted) / 1000)} s`);

    let seq = 0;
    const rand = (n: number) => Math.floor(Math.random() * n);
    const orderFor = (t: Tenant): Req => {
      const lines = 1 + rand(3);
      const start = rand(5);
      const items = Array.from({ length: lines }, (_, k) => ({ menuItemId: t.items[(start + k) % 5]!, quantity: 1 + rand(2) }));
      const payment = seq++ % 2 === 0 ? { method: 'cash', tendered: 100_000 } : { method: 'card', token: 'tok_visa' };
      return { method: 'POST', path: '/api/v1/orders', body: JSON.stringify({ items, payment }), headers: { authorization: `Bearer ${t.token}` } };
    };
    const anyTenantOrder = () => orderFor(tenants[rand(tenants.length)]!);
    const oneTenantOrder = () => orderFor(tenants[0]!);
    const menuRead = (): Req => ({ method: 'GET', path: '/api/v1/restaurant/menu-items', headers: { authorization: `Bearer ${tenants[rand(tenants.length)]!.token}` } });

    // Each order leaves events for the reporting handlers: wait until they are handled (steady
    // state) before the next phase, and count that time's CPU where it is measured.
    const backlog = async () => {
      const [row] = (await benchDb`select count(*)::int as n from pgboss.job where state in ('created', 'retry', 'active')`) as unknown as [{ n: number }];
      return row.n;
    };
    const drainEvents = async (timeoutMs = 300_000) => {
      const started = Date.now();
      if (args['no-delivery']) return { queued: 0, seconds: 0 };
      const queued = await backlog();
      while ((await backlog()) > 0 && Date.now() - started < timeoutMs) await new Promise((r) => setTimeout(r, 100));
      return { queued, seconds: round((Date.now() - started) / 1000) };
    };

    // Every run leaves dead row versions (each outbox job is inserted, claimed and completed;
    // stock levels and counters are updated per order). A server's autovacuum removes them as
    // it goes; on a server without it (`autovacuum = off`, as on some CI machines) the tables
    // and indexes bloat from run to run and every later run pays for the earlier ones (measured:
    // PostgreSQL CPU per order 3.7 ms with autovacuum off vs 2.6 ms on; see README). So each run
    // ends with VACUUM (ANALYZE) of the scratch database, outside the CPU windows: a whole
    // database's VACUUM (every index of every table with dead rows scanned in full) after each
    // 10 s window would charge an order far more than autovacuum does when it wakes at 20 % dead
    // rows. With autovacuum on, its workers' CPU during a window is counted as any PostgreSQL
    // process's.
    const [{ autovacuum }] = (await benchDb`select current_setting('autovacuum') as autovacuum`) as unknown as [{ autovacuum: string }];
    results.serverAutovacuum = autovacuum;
    log(`server autovacuum: ${autovacuum}; every run ends with VACUUM (ANALYZE) of the bench database (not counted in CPU per order)`);
    const vacuum = async () => {
      const started = Date.now();
      await benchDb.unsafe('vacuum (analyze)');
      return round((Date.now() - started) / 1000);
    };
    /** Events handled, then the dead rows vacuumed: the state every run starts from. */
    const settle = async () => ({ ...(await drainEvents()), vacuumSeconds: await vacuum() });

    // 1. Peak orders/s, closed loop
    await closedLoop(app.base, connectionsList[0]!, anyTenantOrder, Math.min(3, duration)); // warm-up
    await settle();
    const peak: Record<string, ReturnType<typeof stats>> = {};
    const raw: Record<string, unknown[]> = {};
    for (const c of connectionsList) {
      const runs = [];
      for (let r = 0; r < reps; r++) {
        runs.push(await closedLoop(app.base, c, anyTenantOrder));
        await settle();
      }
      raw[`orders_c${c}`] = runs;
      peak[`c${c}`] = stats(runs.map((x) => x.rps));
      log(`orders over ${tenantCount} tenants c=${c}: ${show(peak[`c${c}`]!, '/s')}; p99 ${stats(runs.map((x) => x.p99)).median} ms; non-2xx ${runs.reduce((a, x) => a + x.non2xx, 0)}`);
    }
    const singleRuns = [];
    for (let r = 0; r < reps; r++) {
      singleRuns.push(await closedLoop(app.base, connectionsList[0]!, oneTenantOrder));
      await settle();
    }
    const single = stats(singleRuns.map((x) => x.rps));
    log(`orders to ONE tenant c=${connectionsList[0]}: ${show(single, '/s')}`);
    const peakRate = Math.max(...Object.values(peak).map((s) => s.median));

    // 2+3. Half the peak, open loop: latency, and CPU per order until its events are handled
    // `--rate`: a fixed rate instead, so that two builds' CPU per order compare at the same load.
    const halfRate = fixedRate ?? Math.max(1, Math.floor(peakRate / 2));
    const meter = cpuMeter(app.child.pid);
    const halfRuns = [];
    for (let r = 0; r < reps; r++) {
      meter.start();
      const run = await openLoop(app.base, anyTenantOrder, halfRate);
      const drained = await drainEvents();
      const cpu = meter.stop();
      const vacuumSeconds = await vacuum();
      const per = (us: number) => round(us / Math.max(1, run.ok), 0);
      halfRuns.push({ ...run, drainSeconds: drained.seconds, vacuumSeconds, appUsPerOrder: per(cpu.appUs), pgUsPerOrder: per(cpu.pgUs), loadgenUsPerOrder: per(cpu.loadgenUs) });
    }
    raw.half = halfRuns;
    const p50 = stats(halfRuns.map((x) => x.p50));
    const p99 = stats(halfRuns.map((x) => x.p99));
    const appCpu = stats(halfRuns.map((x) => x.appUsPerOrder));
    const pgCpu = stats(halfRuns.map((x) => x.pgUsPerOrder));
    const genCpu = stats(halfRuns.map((x) => x.loadgenUsPerOrder));
    log(`orders at ${fixedRate ? 'the fixed rate' : 'half the peak'} (open loop, ${halfRate}/s): p50 ${show(p50, ' ms')}, p99 ${show(p99, ' ms')}, failures ${halfRuns.reduce((a, x) => a + x.failures, 0)}`);
    log(`CPU per order (events handled included): app ${show(appCpu, ' µs')}, PostgreSQL ${show(pgCpu, ' µs')}, load generator ${show(genCpu, ' µs')}`);
    log(`  machine CPU per order (app + PostgreSQL): ${round((appCpu.median + pgCpu.median) / 1000, 2)} ms`);

    // Menu reads (cached per tenant) vs bare Fastify
    const menuPage = await api(app.base, 'GET', '/api/v1/restaurant/menu-items', undefined, tenants[0]!.token);
    await closedLoop(app.base, connectionsList[0]!, menuRead, Math.min(2, duration));
    const menuRuns = [];
    for (let r = 0; r < reps; r++) menuRuns.push(await closedLoop(app.base, connectionsList[0]!, menuRead));
    const menu = stats(menuRuns.map((x) => x.rps));
    log(`menu reads over ${tenantCount} tenants c=${connectionsList[0]}: ${show(menu, '/s')}`);

    // The app's peak memory under all of that
    const rss = peakRssMiB(app.child.pid!);
    log(`app peak RSS: ${rss} MiB`);
    await stopChild(app.child);

    // Floors. Bare Fastify: CPU per order-sized POST and per menu page, from memory.
    const sampleOrder = {
      id: '0b9f4c1e-6a3d-4e8b-9f2a-5c7d1e3b8a40', number: 1, status: 'paid', currency: 'USD',
      lines: [
        { menuItemId: tenants[0]!.items[0], name: 'Dish 1', unitPrice: 500, quantity: 2, lineTotal: 1000 },
        { menuItemId: tenants[0]!.items[1], name: 'Dish 2', unitPrice: 525, quantity: 1, lineTotal: 525 },
      ],
      subtotal: 1525, tax: 126, total: 1651,
      payment: { id: '0b9f4c1e-6a3d-4e8b-9f2a-5c7d1e3b8a41', method: 'cash', amount: 1651, status: 'captured', change: 98349 },
      createdAt: new Date().toISOString(),
    };
    const menuFixture = join(tmpdir(), `bench-menu-${process.pid}.json`);
    const orderFixture = join(tmpdir(), `bench-order-${process.pid}.json`);
    writeFileSync(menuFixture, JSON.stringify(menuPage));
    writeFileSync(orderFixture, JSON.stringify(sampleOrder));
    const bare = await startChild('scripts/bench-bare-server.ts', { BENCH_FIXTURE: menuFixture, BENCH_ORDER_FIXTURE: orderFixture }, '/health');
    const bareMeter = cpuMeter(bare.child.pid);
    const bareOrder = (): Req => ({ ...anyTenantOrder(), path: '/orders' });
    await closedLoop(bare.base, connectionsList[0]!, bareOrder, Math.min(2, duration));
    const bareOrderRuns = [];
    for (let r = 0; r < reps; r++) {
      bareMeter.start();
      const run = await closedLoop(bare.base, connectionsList[0]!, bareOrder);
      bareOrderRuns.push({ ...run, usPerRequest: round(bareMeter.stop().appUs / Math.max(1, run.ok), 1) });
    }
    const bareCpu = stats(bareOrderRuns.map((x) => x.usPerRequest));
    log(`bare Fastify, order-sized POST c=${connectionsList[0]}: ${show(stats(bareOrderRuns.map((x) => x.rps)), '/s')}, CPU ${show(bareCpu, ' µs')} per request`);
    const bareMenuRuns = [];
    for (let r = 0; r < reps; r++) bareMenuRuns.push(await closedLoop(bare.base, connectionsList[0]!, () => ({ method: 'GET', path: '/menu-items', headers: {} })));
    const bareMenu = stats(bareMenuRuns.map((x) => x.rps));
    log(`bare Fastify, the same menu page from memory c=${connectionsList[0]}: ${show(bareMenu, '/s')}`);
    await stopChild(bare.child);

    // pgbench: the app's own order transactions over the same tenants
    await benchDb.unsafe('create table bench_map (n int primary key, tid uuid not null, ia uuid not null, ib uuid not null, uid uuid not null)');
    for (const t of tenants) await benchDb`insert into bench_map values (${t.n}, ${t.id}, ${t.items[0]!}, ${t.items[1]!}, ${t.userId})`;
    const scripts = [];
    let statementsPerOrder = 0;
    for (const payment of ['cash', 'card'] as const) {
      const captured = await capturePgbenchScript(tenants[0]!, payment);
      const path = join(tmpdir(), `bench-order-${payment}-${process.pid}.sql`);
      writeFileSync(path, captured.script);
      mkdirSync(join(root, 'bench'), { recursive: true });
      writeFileSync(join(root, 'bench', `pgbench-order-${payment}.sql`), captured.script);
      scripts.push(path);
      statementsPerOrder = Math.max(statementsPerOrder, captured.statements);
      log(`pgbench script, a 2-line ${payment} order: ${captured.statements} statements + BEGIN/COMMIT in ${captured.roundTrips} round trips`);
    }
    const pgMeter = cpuMeter();
    const replayRuns = [];
    for (let r = 0; r < reps; r++) {
      pgMeter.start();
      const run = await pgbench(scripts, connectionsList[0]!, { rate: halfRate });
      const cpu = pgMeter.stop();
      await vacuum();
      replayRuns.push({ ...run, pgUsPerTx: round(cpu.pgUs / Math.max(1, run.processed), 0) });
    }
    const replayCpu = stats(replayRuns.map((x) => x.pgUsPerTx));
    log(`pgbench replay at ${halfRate}/s over ${tenantCount} tenants: PostgreSQL CPU ${show(replayCpu, ' µs')} per order transaction`);
    const replayPeakRuns = [];
    for (let r = 0; r < reps; r++) {
      replayPeakRuns.push(await pgbench(scripts, connectionsList[0]!));
      await vacuum();
    }
    const replayPeak = stats(replayPeakRuns.map((x) => x.tps));
    log(`pgbench replay closed loop c=${connectionsList[0]}: ${show(replayPeak, ' tps')}`);

    // Ratios
    const floorUs = replayCpu.median + bareCpu.median;
    const ceiling = (2 * 1e6) / floorUs;
    const ratios = {
      orders_vs_ceiling: round(peakRate / ceiling, 2),
      app_cpu_vs_bare: round(appCpu.median / bareCpu.median, 1),
      menu_vs_bare: round(menu.median / bareMenu.median, 2),
      single_vs_many: round(single.median / peak[`c${connectionsList[0]}`]!.median, 2),
    };
    log('');
    log(`floor CPU per order: PostgreSQL ${replayCpu.median} µs (replayed order SQL) + bare Fastify ${bareCpu.median} µs = ${round(floorUs, 0)} µs; ceiling on 2 cores ${round(ceiling, 0)} orders/s`);
    for (const [name, value] of Object.entries(ratios)) log(`ratio ${name}=${value}`);
    log(`p99_half_peak_ms=${p99.median}`);
    log(`machine_cpu_per_order_ms=${round((appCpu.median + pgCpu.median) / 1000, 2)}`);

    Object.assign(results, {
      peak,
      single,
      half: { rate: halfRate, p50, p99 },
      cpuPerOrderUs: { app: appCpu, postgres: pgCpu, loadGenerator: genCpu },
      menu,
      bareMenu,
      bareCpuPerOrderRequestUs: bareCpu,
      pgbenchReplay: { cpuPerTxUs: replayCpu, closedLoopTps: replayPeak, statementsPerOrder },
      floorUs,
      ceiling: round(ceiling, 0),
      peakRssMiB: rss,
      ratios,
      p99HalfPeakMs: p99.median,
      raw,
    });
    const dir = join(root, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, JSON.stringify(results, null, 2));
    log(`results: ${file}`);
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await benchDb.end();
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
