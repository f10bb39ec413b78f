/**
 * Fault drill (issue "database faults"): measures what two app instances do when their
 * PostgreSQL restarts, loses its connections, or runs out of them. Bounded in time.
 *
 *   npm run fault:drill -- [--restarts 5] [--kills 5] [--concurrency 8] [--app-dir <checkout>] [--superuser]
 *
 * It creates a private PostgreSQL cluster (initdb + pg_ctl in a temp dir, a free port,
 * max_connections=20; never the machine's shared cluster), the documented roles (app login
 * `pos_api`, not a superuser; migrations as `postgres` through DATABASE_ADMIN_URL), starts two
 * instances of `src/server.ts` from `--app-dir` (default: this checkout; point it at a checkout of
 * an older commit to measure the code before a fix), drives orders against both, and then:
 *   1. restarts the database `--restarts` times (pg_ctl stop -m fast / immediate alternately),
 *   2. terminates every app connection `--kills` times (pg_terminate_backend),
 *   3. exhausts connections: a burst of 40 orders on instance A, then orders on instance B.
 * A crashed instance is counted and started again (as a supervisor would).
 *
 * Prints, per phase: instance crashes, requests without an answer within 15 s, answers by status,
 * seconds from the database being back until each instance's first successful order, and for
 * phase 3 the share of failed orders on B and the seconds until B succeeds again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import postgres from 'postgres';
import { createPrivateCluster, freePort, type PrivateCluster } from '../test/support/private-cluster.ts';
import { REPO_ROOT } from './repo-root.ts';

const { values: args } = parseArgs({
  options: {
    restarts: { type: 'string', default: '5' },
    kills: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '8' },
    'app-dir': { type: 'string' },
    // The code before the fix had no DATABASE_ADMIN_URL and had to log in as a superuser.
    superuser: { type: 'boolean', default: false },
  },
});
const RESTARTS = Number(args.restarts);
const KILLS = Number(args.kills);
const CONCURRENCY = Number(args.concurrency);
const APP_DIR = resolve(args['app-dir'] ?? REPO_ROOT);
const REQUEST_DEADLINE_MS = 15_000;
const APP_PASSWORD = 'pos-api-drill';

interface Instance {
  name: string;
  port: number;
  child?: ChildProcess;
  crashes: number;
  lastExit?: string;
  tail: string[];
}

type Tally = { sent: number; unanswered: number; refused: number; byStatus: Record<string, number> };
const newTally = (): Tally => ({ sent: 0, unanswered: 0, refused: 0, byStatus: {} });
let tally = newTally();
let stopping = false;

async function main() {
  const started = Date.now();
  console.log(`fault drill: app from ${APP_DIR} as ${args.superuser ? 'superuser postgres' : 'pos_api'}; ${RESTARTS} restarts, ${KILLS} kills, ${CONCURRENCY} concurrent order loops`);
  const cluster = await createPrivateCluster({ max_connections: '20' });
  const instances: Instance[] = [];
  let admin: postgres.Sql | undefined;
  try {
    await cluster.start();
    await createRoles(cluster);
    // Connected before the apps start (they may take every slot, superuser ones included).
    admin = postgres(cluster.url(), { max: 1, onnotice: () => {}, idle_timeout: 0, max_lifetime: 0 });
    await admin`select 1`;
    const env = {
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      JWT_SECRET: 'fault-drill-secret-that-is-long-enough-1234',
      DATABASE_URL: args.superuser ? cluster.url() : cluster.url({ user: 'pos_api', password: APP_PASSWORD }),
      DATABASE_ADMIN_URL: cluster.url(),
    };
    for (const name of ['A', 'B']) instances.push({ name, port: await freePort(), crashes: 0, tail: [] });
    for (const instance of instances) {
      spawnInstance(instance, env);
      await waitReady(instance, 60_000);
    }
    const shop = await setUpShop(instances[0]!);

    const loops = Array.from({ length: CONCURRENCY }, (_, i) => orderLoop(instances[i % 2]!, shop));
    await sleep(2000);
    report('warm-up (2 s, no fault)', tally, instances, []);

    // Phase 1: restarts.
    tally = newTally();
    const crashesBefore = instances.map((i) => i.crashes);
    const recoveries: number[] = [];
    for (let r = 0; r < RESTARTS; r++) {
      const mode = r % 2 === 0 ? 'fast' : 'immediate';
      await cluster.stop(mode);
      await sleep(1000);
      await cluster.start();
      const back = Date.now();
      recoveries.push(...(await Promise.all(instances.map((i) => untilOrderSucceeds(i, shop, back, 60_000)))));
      await sleep(1000);
    }
    report(`phase 1: ${RESTARTS} database restarts (pg_ctl stop -m fast/immediate, 1 s down)`, tally, instances, recoveries, crashesBefore);

    // Phase 2: backend kills.
    tally = newTally();
    const crashesBefore2 = instances.map((i) => i.crashes);
    const recoveries2: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      // The apps may hold every slot (a superuser's reserved ones too): retry for up to 10 s.
      for (let attempt = 0; ; attempt++) {
        try {
          await admin!`select pg_terminate_backend(pid) from pg_stat_activity where application_name like 'pos-api%'`;
          break;
        } catch (error) {
          if (attempt >= 20) {
            console.log(`  could not terminate backends: ${(error as Error).message} (the apps hold every connection slot)`);
            break;
          }
          await sleep(500);
        }
      }
      const back = Date.now();
      recoveries2.push(...(await Promise.all(instances.map((i) => untilOrderSucceeds(i, shop, back, 60_000)))));
      await sleep(1000);
    }
    report(`phase 2: ${KILLS} times every app connection terminated (pg_terminate_backend)`, tally, instances, recoveries2, crashesBefore2);

    // Phase 3: connection exhaustion.
    stopping = true;
    await Promise.all(loops);
    stopping = false;
    tally = newTally();
    const [a, b] = instances as [Instance, Instance];
    const crashesBefore3 = instances.map((i) => i.crashes);
    await Promise.all(Array.from({ length: 40 }, () => placeOrder(a, shop)));
    const burstDone = Date.now();
    const onB = newTally();
    let bRecoveredAt: number | undefined;
    while (Date.now() - burstDone < 45_000) {
      const results = await Promise.all(Array.from({ length: 4 }, () => placeOrder(b, shop, onB)));
      if (results.every((s) => s === 201)) {
        bRecoveredAt = Date.now();
        break;
      }
      await sleep(500);
    }
    const failedOnB = onB.sent - (onB.byStatus['201'] ?? 0);
    report('phase 3: burst of 40 orders on A (pool 10 each, max_connections=20), then orders on B', tally, instances, [], crashesBefore3);
    console.log(
      `  B: ${failedOnB}/${onB.sent} orders failed (${pct(failedOnB, onB.sent)}), statuses ${JSON.stringify(onB.byStatus)}; ` +
        (bRecoveredAt ? `all succeed ${((bRecoveredAt - burstDone) / 1000).toFixed(1)} s after the burst` : 'NOT recovered within 45 s'),
    );
    console.log(`figure exhaustion_b_failed_share=${pct(failedOnB, onB.sent)} exhaustion_b_recovery_s=${bRecoveredAt ? ((bRecoveredAt - burstDone) / 1000).toFixed(1) : 'never(>45)'}`);
    console.log(`total crashes: ${instances.map((i) => `${i.name}=${i.crashes}${i.lastExit ? ` (last: ${i.lastExit})` : ''}`).join(', ')}; drill took ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    stopping = true;
    for (const i of instances) i.child?.kill('SIGKILL');
    await admin?.end({ timeout: 1 }).catch(() => {});
    await cluster.destroy();
  }
}

async function createRoles(cluster: PrivateCluster) {
  const admin = postgres(cluster.url(), { max: 1, onnotice: () => {} });
  await admin.unsafe('create role pos_app nologin nosuperuser nobypassrls nocreatedb nocreaterole');
  await admin.unsafe(`create role pos_api login password '${APP_PASSWORD}' nosuperuser nocreatedb nocreaterole in role pos_app`);
  await admin.unsafe('grant create on database postgres to pos_api');
  await admin.end();
}

function spawnInstance(instance: Instance, env: Record<string, string>) {
  const child = spawn(resolve(APP_DIR, 'node_modules/.bin/node'), ['--disable-warning=ExperimentalWarning', 'src/server.ts'], {
    cwd: APP_DIR,
    env: { ...process.env, ...env, PORT: String(instance.port), METRICS_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (d: Buffer) => {
    instance.tail.push(...d.toString().split('\n').filter(Boolean));
    instance.tail.splice(0, Math.max(0, instance.tail.length - 20));
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  child.once('exit', (code, signal) => {
    if (stopping && signal === 'SIGKILL') return;
    instance.crashes++;
    instance.lastExit = `exit ${code ?? signal}: ${instance.tail.find((l) => /TypeError|Error:/.test(l))?.slice(0, 160) ?? instance.tail.at(-1)?.slice(0, 160)}`;
    // Supervisor: start it again (as systemd/Kubernetes would), unless the drill is over.
    setTimeout(() => spawnInstance(instance, env), 500);
  });
  instance.child = child;
}

async function waitReady(instance: Instance, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`http://127.0.0.1:${instance.port}/ready`, { signal: AbortSignal.timeout(2000) })).status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`instance ${instance.name} not ready within ${timeoutMs} ms:\n${instance.tail.join('\n')}`);
}

async function setUpShop(instance: Instance) {
  const base = `http://127.0.0.1:${instance.port}/api/v1`;
  const post = async (path: string, body: unknown, token?: string, method = 'POST') => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<any>;
  };
  const signup = await post('/auth/signup', { restaurantName: `Drill ${Date.now()}`, currency: 'USD', email: 'drill@example.com', password: 'correct horse battery' });
  const item = await post('/restaurant/menu-items', { name: 'Drill pizza', price: 1000 }, signup.accessToken);
  await post(`/inventory/items/${item.id}`, { onHand: 1_000_000 }, signup.accessToken, 'PUT');
  return { token: signup.accessToken as string, itemId: item.id as string };
}

/** One order; returns its status, 0 for no answer within the deadline, -1 for a refused connection. */
async function placeOrder(instance: Instance, shop: { token: string; itemId: string }, extra?: Tally): Promise<number> {
  let status: number;
  try {
    const res = await fetch(`http://127.0.0.1:${instance.port}/api/v1/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${shop.token}`, 'idempotency-key': crypto.randomUUID() },
      body: JSON.stringify({ items: [{ menuItemId: shop.itemId, quantity: 1 }], payment: { method: 'cash', tendered: 5000 } }),
      signal: AbortSignal.timeout(REQUEST_DEADLINE_MS),
    });
    await res.arrayBuffer();
    status = res.status;
  } catch (error) {
    status = (error as Error).name === 'TimeoutError' ? 0 : -1;
  }
  for (const t of extra ? [tally, extra] : [tally]) {
    t.sent++;
    if (status === 0) t.unanswered++;
    else if (status === -1) t.refused++;
    else t.byStatus[status] = (t.byStatus[status] ?? 0) + 1;
  }
  return status;
}

async function orderLoop(instance: Instance, shop: { token: string; itemId: string }) {
  while (!stopping) {
    const status = await placeOrder(instance, shop);
    if (status !== 201) await sleep(100);
  }
}

/** Seconds from `since` until an order on `instance` succeeds (polling every 100 ms), or the timeout. */
async function untilOrderSucceeds(instance: Instance, shop: { token: string; itemId: string }, since: number, timeoutMs: number): Promise<number> {
  while (Date.now() - since < timeoutMs) {
    if ((await placeOrder(instance, shop)) === 201) return (Date.now() - since) / 1000;
    await sleep(100);
  }
  return Number.POSITIVE_INFINITY;
}

function report(title: string, t: Tally, instances: Instance[], recoveries: number[], crashesBefore?: number[]) {
  const crashes = crashesBefore ? instances.reduce((n, i, k) => n + i.crashes - crashesBefore[k]!, 0) : 0;
  const sorted = [...recoveries].sort((x, y) => x - y);
  const fmt = (x: number | undefined) => (x === undefined ? '-' : Number.isFinite(x) ? x.toFixed(1) : '>60');
  console.log(`\n${title}`);
  console.log(`  orders sent ${t.sent}: ${JSON.stringify(t.byStatus)}; unanswered within ${REQUEST_DEADLINE_MS / 1000} s: ${t.unanswered}; connection refused (instance down): ${t.refused}`);
  console.log(`  instance crashes: ${crashes}`);
  if (sorted.length > 0) {
    console.log(`  seconds until orders succeed after the database is back: median ${fmt(sorted[Math.floor(sorted.length / 2)])}, max ${fmt(sorted.at(-1))} (${sorted.length} samples)`);
  }
  const key = title.split(':')[0]!.replace(/\W+/g, '_');
  console.log(`figure ${key} crashes=${crashes} unanswered=${t.unanswered} http500=${t.byStatus['500'] ?? 0} http503=${t.byStatus['503'] ?? 0} recovery_max_s=${fmt(sorted.at(-1))}`);
}

const pct = (n: number, d: number) => (d === 0 ? '0%' : `${Math.round((100 * n) / d)}%`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
