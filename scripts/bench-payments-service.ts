/**
 * `npm run bench:payments-service`: what extracting the payments module costs an order.
 *
 * Starts, in the same run, the API in-process (`npm start`) and the API with `PAYMENTS_URL`
 * pointing at the payments service (`npm run start:service -- payments`, its own database), each
 * as child processes on fresh databases of the local PostgreSQL (DATABASE_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres). For each wiring, alternating, `--rounds` times:
 * `--orders` card orders one after another (latency of one order with nothing else going on),
 * then the same number from `--concurrency` clients at once (throughput). Prints p50/p99 per
 * wiring (median of the rounds, with the spread) and the ratios remote ÷ in-process.
 *
 * Options: --orders 200, --rounds 3, --concurrency 8, --warmup 30.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { freePort } from '../test/support/free-port.ts';
import { REPO_ROOT } from './repo-root.ts';

const { values: args } = parseArgs({
  options: {
    orders: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '30' },
  },
});
const ORDERS = Number(args.orders);
const ROUNDS = Number(args.rounds);
const CONCURRENCY = Number(args.concurrency);
const WARMUP = Number(args.warmup);
const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const SERVICE_TOKEN = `bench-${randomUUID()}-service-token`;
const JWT_SECRET = `bench-${randomUUID()}-jwt-secret`;

const children: ChildProcess[] = [];
const databases: string[] = [];
const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });

const dbUrl = (name: string) => {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
};

async function freshDatabase(label: string): Promise<string> {
  const name = `bench_pay_${label}_${Date.now().toString(36)}`;
  await admin.unsafe(`create database ${name}`);
  databases.push(name);
  return dbUrl(name);
}

async function start(script: string, argv: string[], env: Record<string, string>, port: number): Promise<string> {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', script, ...argv], {
    cwd: REPO_ROOT,
    env: { ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: String(port), METRICS_PORT: '0', JWT_SECRET, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${script} exited with ${child.exitCode}`);
    const ok = await fetch(`${base}/ready`).then((r) => r.ok, () => false);
    if (ok) return base;
    if (Date.now() > deadline) throw new Error(`${script} not ready after 120 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function call(base: string, method: string, path: string, body: unknown, token?: string) {
  const res = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** A restaurant with one menu item, ready to take orders. */
async function setUp(base: string) {
  const signup = await call(base, 'POST', '/api/v1/auth/signup', {
    restaurantName: `Bench ${randomUUID().slice(0, 8)}`,
    currency: 'USD',
    email: `bench-${randomUUID()}@example.com`,
    password: 'correct horse battery',
  });
  const token = signup.accessToken as string;
  const item = await call(base, 'POST', '/api/v1/restaurant/menu-items', { name: 'Espresso', price: 350 }, token);
  const order = JSON.stringify({ items: [{ menuItemId: item.id, quantity: 2 }], payment: { method: 'card', token: 'tok_visa' } });
  return async () => {
    const t0 = performance.now();
    const res = await fetch(`${base}/api/v1/orders`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: order });
    await res.arrayBuffer();
    if (res.status !== 201) throw new Error(`order: ${res.status}`);
    return performance.now() - t0;
  };
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const r1 = (n: number) => Math.round(n * 10) / 10;

async function measure(order: () => Promise<number>) {
  for (let i = 0; i < WARMUP; i++) await order();
  const sequential: number[] = [];
  for (let i = 0; i < ORDERS; i++) sequential.push(await order());
  sequential.sort((a, b) => a - b);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < ORDERS) await order();
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return { p50: quantile(sequential, 0.5), p99: quantile(sequential, 0.99), ordersPerSecond: ORDERS / seconds };
}

async function main() {
  const [inProcessPort, remotePort, servicePort] = [await freePort(), await freePort(), await freePort()];
  console.log(`bench:payments-service: ${ORDERS} card orders sequentially, then ${ORDERS} from ${CONCURRENCY} clients; ${ROUNDS} rounds, alternating`);
  const inProcess = await start('src/server.ts', [], { DATABASE_URL: await freshDatabase('inproc') }, inProcessPort);
  const service = `http://127.0.0.1:${servicePort}`;
  await start('src/service-server.ts', ['payments'], { DATABASE_URL: await freshDatabase('service'), SERVICE_TOKEN }, servicePort);
  const remote = await start('src/server.ts', [], { DATABASE_URL: await freshDatabase('remote'), PAYMENTS_URL: service, SERVICE_TOKEN }, remotePort);
  const wirings = { 'in-process': await setUp(inProcess), remote: await setUp(remote) };
  const results: Record<string, Array<Awaited<ReturnType<typeof measure>>>> = { 'in-process': [], remote: [] };
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [name, order] of Object.entries(wirings)) {
      const r = await measure(order);
      results[name]!.push(r);
      console.log(`round ${round} ${name.padEnd(10)} p50 ${r1(r.p50)} ms  p99 ${r1(r.p99)} ms  ${r1(r.ordersPerSecond)} orders/s at c=${CONCURRENCY}`);
    }
  }
  const summary = (name: string, key: 'p50' | 'p99' | 'ordersPerSecond') => {
    const values = results[name]!.map((r) => r[key]);
    return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
  };
  for (const name of Object.keys(wirings)) {
    const [p50, p99, tput] = (['p50', 'p99', 'ordersPerSecond'] as const).map((k) => summary(name, k));
    console.log(
      `${name}: p50 ${r1(p50!.median)} ms (${r1(p50!.min)}..${r1(p50!.max)}), p99 ${r1(p99!.median)} ms (${r1(p99!.min)}..${r1(p99!.max)}), ${r1(tput!.median)} orders/s (${r1(tput!.min)}..${r1(tput!.max)})`,
    );
  }
  console.log(`ratio remote_vs_in_process_p50=${r1(summary('remote', 'p50').median / summary('in-process', 'p50').median)}`);
  console.log(`ratio remote_vs_in_process_p99=${r1(summary('remote', 'p99').median / summary('in-process', 'p99').median)}`);
  console.log(`ratio remote_vs_in_process_throughput=${r1(summary('remote', 'ordersPerSecond').median / summary('in-process', 'ordersPerSecond').median)}`);
}

async function cleanUp() {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  await Promise.all(children.filter((c) => c.exitCode === null && c.signalCode === null).map((c) => new Promise((r) => c.once('exit', r))));
  for (const name of databases) await admin.unsafe(`drop database if exists ${name} with (force)`).catch(() => {});
  await admin.end({ timeout: 5 });
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(cleanUp);
