import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import postgres from 'postgres';
const port = 18124;
const admin = postgres('postgres://postgres@127.0.0.1:5432/postgres', { max: 1, onnotice: () => {} });
await admin.unsafe('drop database if exists pos_prof with (force)'); await admin.unsafe('create database pos_prof');
const prof = process.env.PROF === '1' ? ['--cpu-prof', '--cpu-prof-dir', '/tmp/op'] : [];
const child = spawn(process.execPath, [...prof, 'src/server.ts'], { env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/pos_prof', JWT_SECRET: 'x'.repeat(40), LOG_LEVEL: 'warn', NODE_ENV: 'production' }, stdio: 'inherit' });
const base = `http://127.0.0.1:${port}`;
for (;;) { try { if ((await fetch(base + '/ready')).ok) break; } catch {} await new Promise(r => setTimeout(r, 200)); }
const api = async (m: string, p: string, b?: unknown, t?: string) => (await fetch(base + p, { method: m, headers: { 'content-type': 'application/json', ...(t ? { authorization: `Bearer ${t}` } : {}) }, body: b ? JSON.stringify(b) : undefined })).json() as any;
const s = await api('POST', '/api/v1/auth/signup', { restaurantName: 'P', currency: 'USD', email: 'o@p.example', password: 'bench-password', taxRateBps: 825 });
const ids = [];
for (let i = 0; i < 2; i++) { const it = await api('POST', '/api/v1/restaurant/menu-items', { name: `Dish ${i}`, price: 500 + i }, s.accessToken); await api('PUT', `/api/v1/inventory/items/${it.id}`, { onHand: 1000000 }, s.accessToken); ids.push(it.id); }
const body = JSON.stringify({ items: [{ menuItemId: ids[0], quantity: 1 }, { menuItemId: ids[1], quantity: 2 }], payment: { method: 'cash', tendered: 100000 } });
const opts = { url: base + '/api/v1/orders', method: 'POST' as const, body, connections: Number(process.env.C ?? 16), headers: { 'content-type': 'application/json', authorization: `Bearer ${s.accessToken}` } };
await autocannon({ ...opts, duration: 3 });
const r = await autocannon({ ...opts, duration: 10 });
console.log('orders/s', r['2xx'] / 10, 'p50', r.latency.p50, 'p99', r.latency.p99, 'non2xx', r.non2xx);
child.kill('SIGTERM');
await new Promise(r => child.once('exit', r));
await admin.unsafe('drop database if exists pos_prof with (force)'); await admin.end();
