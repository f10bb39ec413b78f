import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { sql as query } from 'drizzle-orm';
import postgres from 'postgres';
import type { StockLevelChanged } from '../modules/inventory/gateway.ts';
import type { OrderPaid } from '../modules/orders/gateway.ts';
import type { QueuedEvents } from '../shared/event-bus.ts';
import { eventually, menuItem, setStock, signup, type TenantFixture } from './support/fixtures.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';
import { createTestDatabase, onRealPostgres, type TestDatabase } from './support/test-database.ts';

const cash = { method: 'cash', tendered: 100_000 };

describe('a failing handler is retried with backoff, then parked; it blocks nobody', () => {
  let t: TestApp;
  let owner: TenantFixture;
  const attempts: Array<{ eventId: string; at: number }> = [];
  const flaky = new Map<string, number>();
  let flakyEffects = 0;

  beforeAll(async () => {
    t = await startTestApp({
      env: { EVENT_RETRY_LIMIT: '2', EVENT_RETRY_DELAY_SECONDS: '1' },
      build: {
        beforeReady: (app: FastifyInstance) => {
          app.events.subscribe<OrderPaid>('OrderPaid', 'always-fails', async (_uow, event) => {
            attempts.push({ eventId: event.id, at: Date.now() });
            throw new Error('simulated handler bug');
          });
          app.events.subscribe<OrderPaid>('OrderPaid', 'fails-once', async (_uow, event) => {
            const n = (flaky.get(event.id) ?? 0) + 1;
            flaky.set(event.id, n);
            if (n === 1) throw new Error('transient failure');
            flakyEffects++;
          });
        },
      },
    });
    owner = await signup(t.api);
  });
  afterAll(() => t?.close());

  it('retries 1 + retryLimit times with growing delays, parks the event, and reporting still gets it', async () => {
    const item = await menuItem(t.api, owner.token, { price: 1500 });
    const order = await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 }], payment: cash }, { token: owner.token });
    expect(order.status).toBe(201);

    // The other subscriber of the same event is not blocked.
    await eventually(async () => expect((await t.api.get('/api/v1/reports/sales', { token: owner.token })).body.totals.gross).toBe(1500), 3000);

    const parked = await eventually(async () => {
      const jobs = await t.app.events.boss.findJobs<{ id: string }>('always-fails.events.parked');
      expect(jobs).toHaveLength(1);
      return jobs;
    }, 20_000, 200);
    expect(parked[0]!.data.id).toBe(attempts[0]!.eventId);
    expect(attempts).toHaveLength(3);
    const gaps = attempts.slice(1).map((a, i) => a.at - attempts[i]!.at);
    expect(gaps[0]).toBeGreaterThanOrEqual(900); // backoff: about 1 s, then longer
    expect(gaps[1]).toBeGreaterThanOrEqual(900);

    // A transient failure is retried and then handled exactly once.
    expect(flakyEffects).toBe(1);
  }, 30_000);

  it("pg-boss's retention keeps a parked event however long it waits, and deletes a handled one's job after an hour", async () => {
    const boss = t.app.events.boss;
    const run = async (sql: string) => (await boss.getDb().executeSql(sql, [])).rows as Array<{ n: number }>;
    const count = async (where: string) => (await run(`select count(*)::int as n from pgboss.job where ${where}`))[0]!.n;
    const parkedQueue = 'always-fails.events.parked';
    expect(await count(`name = '${parkedQueue}'`)).toBe(1);
    expect(await count(`name = 'reporting.events' and state = 'completed'`)).toBeGreaterThan(0);
    if (onRealPostgres()) {
      // Parked by an earlier version, with pg-boss's deadline (14 days after its start): an
      // instance of this version starting on the database moves it.
      await run(`update pgboss.job set keep_until = start_after + interval '14 days' where name = '${parkedQueue}'`);
      const upgraded = await startTestApp({
        database: t.db,
        env: { EVENT_DELIVERY: 'off' },
        build: { beforeReady: (app: FastifyInstance) => app.events.subscribe<OrderPaid>('OrderPaid', 'always-fails', async () => {}) },
      });
      await upgraded.close();
    }
    // 15 days pass for the parked event (pg-boss's default deletes a job waiting 14), two hours
    // for the handled ones (its default keeps them 7 days).
    await run(`update pgboss.job set created_on = created_on - interval '15 days', start_after = start_after - interval '15 days', keep_until = keep_until - interval '15 days' where name = '${parkedQueue}'`);
    await run(`update pgboss.job set completed_on = completed_on - interval '2 hours' where name = 'reporting.events' and state = 'completed'`);
    // Due for maintenance now (pg-boss claims a queue's sweep at most once per interval).
    await run(`update pgboss.queue set maintain_on = null where name in ('${parkedQueue}', 'reporting.events')`);
    await boss.supervise(parkedQueue);
    await boss.supervise('reporting.events');
    expect(await count(`name = '${parkedQueue}'`)).toBe(1);
    expect(await count(`name = 'reporting.events' and state = 'completed'`)).toBe(0);
  });
});

describe.skipIf(!onRealPostgres())('several app instances on one database', () => {
  let db: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  let sql: postgres.Sql;
  beforeAll(async () => {
    db = await createTestDatabase();
    a = await startTestApp({ database: db });
    b = await startTestApp({ database: db, build: { skipMigrations: true } });
    sql = postgres((db.config as { url: string }).url, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await sql?.end();
    await a?.close();
    await b?.close();
    await db?.drop();
  });

  it('handle each event once per subscriber, and the report equals the orders to the cent', async () => {
    const owner = await signup(a.api, { taxRateBps: 875 });
    const item = await menuItem(a.api, owner.token, { price: 1234 });
    await setStock(a.api, owner.token, item.id, 1000);
    const orders = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? a.api : b.api).post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 + (i % 3) }], payment: cash }, { token: owner.token })),
    );
    const expected = orders.reduce((s, o) => s + o.body.total, 0);
    const report = await eventually(async () => {
      const r = await b.api.get('/api/v1/reports/sales', { token: owner.token });
      expect(r.body.totals.orders).toBe(40);
      return r.body;
    }, 5000);
    expect(report.totals.gross).toBe(expected);

    const [handled] = await sql`select count(*)::int as n, count(distinct event_id)::int as d from kernel.inbox where subscriber = 'reporting' and event_type = 'OrderPaid' and tenant_id = ${owner.tenant.id}`;
    expect(handled).toEqual({ n: 40, d: 40 });
    // Both instances did work (jobs are shared out, not copied).
    // Each order's StockLevelChanged and OrderPaid travel as one job (an EventBatch), in the
    // order the transaction published them.
    const [jobs] = await sql`select count(*)::int as n, count(*) filter (where data->'events'->0->>'type' = 'StockLevelChanged' and data->'events'->1->>'type' = 'OrderPaid')::int as batches from pgboss.job where name = 'reporting.events' and state = 'completed' and data->>'tenantId' = ${owner.tenant.id} and data ? 'events'`;
    expect(jobs).toEqual({ n: 40, batches: 40 });
  });
});

/**
 * A producer app on a database of its own with delivery off (its events pile up, so they reach
 * the consumer as one batch), and `startConsumer` for the app that then delivers them; both have
 * `probe` subscribed and retry once, after 1 s (the queue takes that when created).
 */
function withBacklog(probe: (app: FastifyInstance) => void, consumerEnv: Record<string, string> = {}) {
  const retry = { EVENT_RETRY_LIMIT: '1', EVENT_RETRY_DELAY_SECONDS: '1' };
  const apps: { db?: TestDatabase; producer?: TestApp; consumer?: TestApp } = {};
  beforeAll(async () => {
    apps.db = await createTestDatabase();
    apps.producer = await startTestApp({ database: apps.db, env: { EVENT_DELIVERY: 'off', ...retry }, build: { beforeReady: probe } });
  });
  afterAll(async () => {
    await apps.consumer?.close();
    await apps.producer?.close();
    await apps.db?.drop();
  });
  return {
    producer: () => apps.producer!,
    db: () => apps.db!,
    startConsumer: async () => (apps.consumer = await startTestApp({ database: apps.db!, env: { ...retry, ...consumerEnv }, build: { skipMigrations: true, beforeReady: probe } })),
  };
}

describe.skipIf(!onRealPostgres())('a batch of one tenant\'s events with one bad event in it', () => {
  const attempts = new Map<number, number>();
  const committed: number[] = [];
  const probe = (app: FastifyInstance) =>
    app.events.subscribe<OrderPaid>('OrderPaid', 'batch-probe', async (uow, event) => {
      const n = event.payload.number;
      attempts.set(n, (attempts.get(n) ?? 0) + 1);
      if (n === 3) throw new Error('simulated bug for order #3');
      uow.afterCommit(() => void committed.push(n));
    });
  const { producer: producerApp, db: database, startConsumer } = withBacklog(probe);

  it('the good events commit exactly once, the bad one alone is retried and parked', async () => {
    const [producer, db] = [producerApp(), database()];
    const owner = await signup(producer.api);
    const item = await menuItem(producer.api, owner.token, { price: 900 });
    for (let i = 0; i < 6; i++) {
      expect((await producer.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 }], payment: cash }, { token: owner.token })).status).toBe(201);
    }
    const consumer = await startConsumer();
    const parked = await eventually(async () => {
      const jobs = await consumer.app.events.boss.findJobs<{ payload: { number: number } }>('batch-probe.events.parked');
      expect(jobs).toHaveLength(1);
      return jobs;
    }, 15_000, 200);
    expect(parked[0]!.data.payload.number).toBe(3);
    expect(committed.sort((x, y) => x - y)).toEqual([1, 2, 4, 5, 6]);
    expect(attempts.get(3)).toBe(2); // 1 + retry limit: the batch attempt counts as one, no extra call
    // A good event batched with #3 ran once in the batch (rolled back with it), then alone.
    for (const n of [1, 2, 4, 5, 6]) expect(attempts.get(n)).toBeLessThanOrEqual(2);
    const sql = postgres((db.config as { url: string }).url, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql`select count(*)::int as n from kernel.inbox where subscriber = 'batch-probe' and tenant_id = ${owner.tenant.id}`;
      expect(row!.n).toBe(5);
    } finally {
      await sql.end();
    }
  }, 30_000);
});

describe.skipIf(!onRealPostgres())("one transaction's events in one job, one of them bad", () => {
  const paid = new Map<number, number>();
  const stockSeen: number[] = [];
  const committedPaid: number[] = [];
  const probe = (app: FastifyInstance) => {
    app.events.subscribe<OrderPaid>('OrderPaid', 'job-probe', async (uow, event) => {
      const n = event.payload.number;
      paid.set(n, (paid.get(n) ?? 0) + 1);
      if (n === 2) throw new Error('simulated bug for order #2');
      uow.afterCommit(() => void committedPaid.push(n));
    });
    app.events.subscribe<StockLevelChanged>('StockLevelChanged', 'job-probe', async (uow, event) => {
      uow.afterCommit(() => void stockSeen.push(event.payload.onHand));
    });
  };
  const { producer: producerApp, db: database, startConsumer } = withBacklog(probe);

  it("the bad event's job is parked with both events; its good neighbour in the job is handled once, as are the other orders", async () => {
    const [producer, db] = [producerApp(), database()];
    const owner = await signup(producer.api);
    const item = await menuItem(producer.api, owner.token, { price: 900 });
    await setStock(producer.api, owner.token, item.id, 100);
    for (let i = 0; i < 3; i++) {
      expect((await producer.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 }], payment: cash }, { token: owner.token })).status).toBe(201);
    }
    const consumer = await startConsumer();
    const parked = await eventually(async () => {
      const jobs = await consumer.app.events.boss.findJobs<QueuedEvents>('job-probe.events.parked');
      expect(jobs).toHaveLength(1);
      return jobs;
    }, 15_000, 200);
    const data = parked[0]!.data as { events: Array<{ type: string; payload: { number?: number; onHand?: number } }> };
    expect(data.events.map((e) => e.type)).toEqual(['StockLevelChanged', 'OrderPaid']);
    expect(data.events[1]!.payload.number).toBe(2);
    // The metric counts the parked events (two), not the parked job.
    const gauge = (await consumer.app.metrics.registry.getSingleMetric('pos_events_parked')!.get()).values;
    expect(gauge.find((v) => v.labels.queue === 'job-probe.events')?.value).toBe(2);
    expect(committedPaid.sort()).toEqual([1, 3]);
    expect(paid.get(2)).toBe(2); // 1 + retry limit
    // Stock: the count (100), then 99, 98 (order #2's, though its job parked) and 97, each once.
    expect(stockSeen.sort((a, b) => b - a)).toEqual([100, 99, 98, 97]);
    const sql = postgres((db.config as { url: string }).url, { max: 1, onnotice: () => {} });
    try {
      const rows = await sql`select event_type, count(*)::int as n from kernel.inbox where subscriber = 'job-probe' and tenant_id = ${owner.tenant.id} group by event_type order by event_type`;
      expect(rows.map((r) => [r.event_type, r.n])).toEqual([
        ['OrderPaid', 2],
        ['StockLevelChanged', 4],
      ]);
    } finally {
      await sql.end();
    }
  }, 30_000);
});

describe.skipIf(!onRealPostgres())("a batch of several restaurants' events", () => {
  const attempts = new Map<string, number>();
  const committed: string[] = [];
  /** Per handled event: the tenant PostgreSQL's row-level security saw while its handler ran. */
  const tenantSeen = new Map<string, string>();
  let badTenant = '';
  const probe = (app: FastifyInstance) =>
    app.events.subscribe<OrderPaid>('OrderPaid', 'tenants-probe', async (uow, event) => {
      attempts.set(event.id, (attempts.get(event.id) ?? 0) + 1);
      const [row] = (await uow.tx.execute(query`select kernel.current_tenant_id()::text as tenant`)) as unknown as Array<{ tenant: string }>;
      tenantSeen.set(event.id, row!.tenant);
      if (event.tenantId === badTenant && event.payload.number === 2) throw new Error('simulated bug for one restaurant\'s order #2');
      uow.afterCommit(() => void committed.push(event.id));
    });
  // One worker: the whole backlog comes in one fetch.
  const { producer: producerApp, db: database, startConsumer } = withBacklog(probe, { EVENT_WORKERS: '1' });

  it("are handled in ONE transaction, each restaurant's under its own tenant; one restaurant's bad event fails nobody else", async () => {
    const [producer, db] = [producerApp(), database()];
    const owners = [await signup(producer.api), await signup(producer.api), await signup(producer.api)];
    badTenant = owners[1]!.tenant.id;
    const totals = new Map<string, number>();
    for (const [i, owner] of owners.entries()) {
      const item = await menuItem(producer.api, owner.token, { price: 1000 + 100 * i });
      for (let n = 0; n < 2; n++) {
        const order = await producer.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 + n }], payment: cash }, { token: owner.token });
        expect(order.status).toBe(201);
        totals.set(owner.tenant.id, (totals.get(owner.tenant.id) ?? 0) + order.body.total);
      }
    }
    const consumer = await startConsumer();
    // Each restaurant's report holds its own two orders, to the cent (and nobody else's).
    for (const owner of owners) {
      await eventually(async () => {
        const report = (await consumer.api.get('/api/v1/reports/sales', { token: owner.token })).body;
        expect(report.totals).toMatchObject({ orders: 2, gross: totals.get(owner.tenant.id) });
      }, 10_000);
    }
    const parked = await eventually(async () => {
      const jobs = await consumer.app.events.boss.findJobs<{ tenantId: string; payload: { number: number } }>('tenants-probe.events.parked');
      expect(jobs).toHaveLength(1);
      return jobs;
    }, 15_000, 200);
    expect(parked[0]!.data).toMatchObject({ tenantId: badTenant, payload: { number: 2 } });

    const admin = postgres((db.config as { url: string }).url, { max: 1, onnotice: () => {} });
    try {
      // handled_at is the handling transaction's start (now()): the three restaurants' reporting
      // events share one value, one transaction (before: one transaction per restaurant).
      const [reporting] = await admin`select count(*)::int as events, count(distinct handled_at)::int as transactions, count(distinct tenant_id)::int as tenants from kernel.inbox where subscriber = 'reporting' and event_type = 'OrderPaid' and tenant_id = any(${owners.map((o) => o.tenant.id)})`;
      expect(reporting).toEqual({ events: 6, transactions: 1, tenants: 3 });
      // The probe: every good event committed once (its inbox row too), the bad one never.
      const probed = await admin`select tenant_id::text as tenant, count(*)::int as n from kernel.inbox where subscriber = 'tenants-probe' group by tenant_id`;
      expect(Object.fromEntries(probed.map((r) => [r.tenant, r.n]))).toEqual(Object.fromEntries(owners.map((o) => [o.tenant.id, o.tenant.id === badTenant ? 1 : 2])));
    } finally {
      await admin.end();
    }
    expect(committed).toHaveLength(5);
    expect(new Set(committed).size).toBe(5);
    // Every handler ran under its event's own tenant, also inside the shared transaction.
    expect(tenantSeen.size).toBe(6);
    const eventTenants = await consumer.app.events.boss.getDb().executeSql(`select data->>'id' as id, data->>'tenantId' as tenant from pgboss.job where name like 'tenants-probe.events%'`, []);
    for (const { id, tenant } of eventTenants.rows as Array<{ id: string; tenant: string }>) expect(tenantSeen.get(id)).toBe(tenant);
    // The bad event: the shared attempt and the retry (1 + EVENT_RETRY_LIMIT), no extra call.
    const bad = parked[0]!.data as unknown as { id: string };
    expect(attempts.get(bad.id)).toBe(2);
  }, 40_000);
});

describe('one queue per subscriber', () => {
  let t: TestApp;
  beforeAll(async () => {
    // One worker per queue: two could each fetch one of an order's events at the same instant.
    t = await startTestApp({ env: { EVENT_WORKERS: '1' } });
  });
  afterAll(() => t?.close());

  /** Rows of `sql` through the event bus's own connection (PostgreSQL or PGlite alike). */
  const rows = async <R>(sql: string, values: unknown[]) => (await t.app.events.boss.getDb().executeSql(sql, values)).rows as R[];

  it("an order's events for reporting are jobs of one queue, handled in ONE transaction (one worker)", async () => {
    const owner = await signup(t.api);
    const item = await menuItem(t.api, owner.token, { price: 700 });
    await setStock(t.api, owner.token, item.id, 50);
    const inbox = (tenantId: string) =>
      rows<{ at: string; types: string }>(
        `select handled_at::text as at, string_agg(event_type, ',' order by event_type) as types from kernel.inbox where tenant_id = $1 and subscriber = 'reporting' group by handled_at order by handled_at`,
        [tenantId],
      );
    await eventually(async () => expect(await inbox(owner.tenant.id)).toHaveLength(1)); // the stock count's event

    const order = await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 2 }], payment: cash }, { token: owner.token });
    expect(order.status).toBe(201);
    // handled_at is the handling transaction's start (now()): one value, one transaction.
    const groups = await eventually(async () => {
      const g = await inbox(owner.tenant.id);
      expect(g).toHaveLength(2);
      return g;
    }, 10_000);
    expect(groups[1]!.types).toBe('OrderPaid,StockLevelChanged');
    // Every reporting job of this restaurant is in the one queue (other subscribers have their
    // own): the stock count's event alone, then the order's two events as ONE job.
    const jobs = await rows<{ name: string; types: string }>(
      `select name, coalesce((select string_agg(e->>'type', ',' order by e->>'type') from jsonb_array_elements(data->'events') e), data->>'type') as types from pgboss.job where data->>'tenantId' = $1 and name like 'reporting.%' order by created_on`,
      [owner.tenant.id],
    );
    expect(jobs).toEqual([
      { name: 'reporting.events', types: 'StockLevelChanged' },
      { name: 'reporting.events', types: 'OrderPaid,StockLevelChanged' },
    ]);
    expect(t.app.events.queues().find((q) => q.subscriber === 'reporting')).toMatchObject({ queue: 'reporting.events', parked: 'reporting.events.parked' });
  });

  it.skipIf(!onRealPostgres())('events still waiting in a queue of the earlier layout (<subscriber>.<type>) are delivered after an upgrade', async () => {
    const db = await createTestDatabase();
    try {
      // An instance that queues but does not deliver, as an older version's queue left behind.
      const before = await startTestApp({ database: db, env: { EVENT_DELIVERY: 'off' } });
      const owner = await signup(before.api);
      const item = await menuItem(before.api, owner.token, { price: 1500 });
      expect((await before.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 }], payment: cash }, { token: owner.token })).status).toBe(201);
      const boss = before.app.events.boss;
      const [job] = await boss.findJobs<Record<string, unknown>>('reporting.events', { data: { type: 'OrderPaid', tenantId: owner.tenant.id } });
      expect(job).toBeDefined();
      await boss.createQueue('reporting.OrderPaid');
      await boss.send('reporting.OrderPaid', job!.data);
      await boss.deleteJob('reporting.events', job!.id);
      await before.close();

      const after = await startTestApp({ database: db, build: { skipMigrations: true } });
      try {
        expect(after.app.events.queues()).toContainEqual({ queue: 'reporting.OrderPaid', parked: 'reporting.OrderPaid.parked', subscriber: 'reporting', types: ['OrderPaid'], legacy: true });
        await eventually(async () => expect((await after.api.get('/api/v1/reports/sales', { token: owner.token })).body.totals.gross).toBe(1500), 10_000);
      } finally {
        await after.close();
      }
    } finally {
      await db.drop();
    }
  });
});

describe.skipIf(!onRealPostgres())('the event bus keeps to EVENT_POOL_MAX connections', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { EVENT_POOL_MAX: '1', EVENT_WORKERS: '2' } });
  });
  afterAll(() => t?.close());

  it('with EVENT_POOL_MAX=1, one pg-boss connection carries every queue while orders flow, and every event is handled', async () => {
    const owner = await signup(t.api);
    const item = await menuItem(t.api, owner.token, { price: 300 });
    await setStock(t.api, owner.token, item.id, 500);
    const database = new URL((t.db.config as { url: string }).url).pathname.slice(1);
    const admin = postgres(process.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
    try {
      let most = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const [row] = await admin<[{ n: number }]>`select count(*)::int as n from pg_stat_activity where datname = ${database} and application_name = 'pos-api-events'`;
          most = Math.max(most, row!.n);
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })();
      const orders = await Promise.all(
        Array.from({ length: 30 }, () => t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 }], payment: cash }, { token: owner.token })),
      );
      expect(orders.map((o) => o.status)).toEqual(Array.from({ length: 30 }, () => 201));
      // Reporting handled all 30 orders (its sales total), through the one connection.
      await eventually(async () => {
        const day = 86_400_000;
        const period = `from=${new Date(Date.now() - day).toISOString()}&to=${new Date(Date.now() + day).toISOString()}`;
        const sales = await t.api.get(`/api/v1/reports/sales?${period}`, { token: owner.token });
        expect(sales.status).toBe(200);
        expect(sales.body.totals.orders).toBe(30);
      }, 15_000);
      sampling = false;
      await sampler;
      expect(most).toBe(1);
    } finally {
      await admin.end();
    }
  });
});
