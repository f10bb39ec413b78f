/**
 * Event delivery latency: from an order's commit (the event's occurredAt) to the reporting
 * handler's commit (inbox.handled_at), on the local PostgreSQL (DATABASE_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres) in a scratch database that is dropped afterwards.
 *
 *   npm run bench:events [-- --orders 300 --concurrency 4]
 */
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { loadConfig } from '../shared/config.ts';
import { buildApp } from '../src/app.ts';

const { values } = parseArgs({ options: { orders: { type: 'string', default: '300' }, concurrency: { type: 'string', default: '4' } } });
const orders = Number(values.orders);
const concurrency = Number(values.concurrency);
const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const dbName = `pos_bench_events_${process.pid}`;
const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database ${dbName}`);
const url = new URL(adminUrl);
url.pathname = `/${dbName}`;

const config = loadConfig({ ...process.env, DATABASE_URL: url.toString(), LOG_LEVEL: 'warn', JWT_SECRET: 'bench-secret-bench-secret-bench-secret-00' });
const app = await buildApp(config);
await app.listen({ host: '127.0.0.1', port: 0 });
const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/api/v1`;
const post = async (path: string, body: unknown, token?: string) => {
  const res = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
};
try {
  const signup = await post('/auth/signup', { restaurantName: 'Bench', currency: 'USD', email: 'bench@example.com', password: 'bench-password' });
  const token = signup.body.accessToken as string;
  const item = await post('/restaurant/menu-items', { name: 'Coffee', price: 350 }, token);
  console.log(`placing ${orders} orders at concurrency ${concurrency}…`);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < orders) {
        next++;
        const res = await post('/orders', { items: [{ menuItemId: item.body.id, quantity: 1 }], payment: { method: 'cash', tendered: 1000 } }, token);
        if (res.status !== 201) throw new Error(`order failed: ${res.status}`);
      }
    }),
  );
  const sql = postgres(url.toString(), { max: 1, onnotice: () => {} });
  for (let waited = 0; waited < 30_000; waited += 100) {
    const [row] = await sql`select count(*)::int as n from kernel.inbox where event_type = 'OrderPaid'`;
    if (row!.n >= orders) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const [stats] = await sql`
    select count(*)::int as n,
           percentile_cont(0.5) within group (order by extract(epoch from handled_at - occurred_at)) * 1000 as p50,
           percentile_cont(0.99) within group (order by extract(epoch from handled_at - occurred_at)) * 1000 as p99,
           max(extract(epoch from handled_at - occurred_at)) * 1000 as max
    from kernel.inbox where event_type = 'OrderPaid'`;
  await sql.end();
  const fmt = (v: unknown) => Number(v).toFixed(1);
  console.log(`events delivered: ${stats!.n} of ${orders}`);
  console.log(`delivery latency (occurredAt → handled): p50 ${fmt(stats!.p50)} ms, p99 ${fmt(stats!.p99)} ms, max ${fmt(stats!.max)} ms`);
} finally {
  await app.close();
  await admin.unsafe(`drop database if exists ${dbName} with (force)`);
  await admin.end();
}
