import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PaymentProvider } from '../modules/payments/gateway.ts';
import { eventually, expectProblem, menuItem, onHand, setStock, signup, type TenantFixture } from './support/fixtures.ts';
import { freePort } from './support/free-port.ts';
import { startTestApp, startTestPaymentsService, type TestApp, type TestPaymentsService } from './support/test-app.ts';
import { createTestDatabase, onRealPostgres, type TestDatabase } from './support/test-database.ts';

/**
 * The payments module extracted as its own service (strangler fig, README "Extracting a
 * module"): `npm run start:service -- payments` as a child process on a database of its own, and
 * the monolith wired to it by PAYMENTS_URL + SERVICE_TOKEN. Real HTTP between them, real
 * PostgreSQL on both sides; money reconciled across the two databases.
 */

const root = fileURLToPath(new URL('..', import.meta.url));
const SERVICE_TOKEN = 'remote-payments-test-token-0123456789abcdef';

/** `npm run start:service -- payments` as a child process on `db`, on a fixed port (so that it can be restarted there). */
function spawnPaymentsService(db: TestDatabase, port: number) {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', 'src/service-server.ts', 'payments'], {
    cwd: root,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: String(port),
      METRICS_PORT: '0',
      DATABASE_URL: (db.config as { url: string }).url,
      SERVICE_TOKEN,
      JWT_SECRET: 'payments-service-test-secret-0123456789',
      EVENT_RETRY_DELAY_SECONDS: '1',
      DATABASE_POOL_MAX: '4',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let errors = '';
  child.stderr.on('data', (d: Buffer) => (errors += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    exited,
    errors: () => errors,
    async ready() {
      await eventually(async () => {
        const res = await fetch(`http://127.0.0.1:${port}/ready`).catch(() => undefined);
        if (res?.status !== 200) throw new Error(`payments service not ready: ${res?.status ?? 'no answer'} ${errors}`);
        return true;
      }, 30_000, 200);
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

const cardOrder = (menuItemId: string, quantity = 1) => ({ items: [{ menuItemId, quantity }], payment: { method: 'card', token: 'tok_visa' } });
const cashOrder = (menuItemId: string, tendered: number) => ({ items: [{ menuItemId, quantity: 1 }], payment: { method: 'cash', tendered } });

/** Every payment row of the service's database, by order id. */
async function servicePayments(sql: postgres.Sql) {
  const rows = await sql<{ id: string; order_id: string; status: string; amount: string; method: string }[]>`
    select id, order_id, status, amount::text, method from payments.payments`;
  return new Map(rows.map((r) => [r.order_id, { ...r, amount: Number(r.amount) }]));
}

describe.skipIf(!onRealPostgres())('payments run as their own service (npm run start:service -- payments, PAYMENTS_URL)', () => {
  let serviceDb: TestDatabase;
  let servicePort: number;
  let service: ReturnType<typeof spawnPaymentsService>;
  let t: TestApp;
  let serviceSql: postgres.Sql;
  let monolithSql: postgres.Sql;
  let owner: TenantFixture;
  let dish: { id: string; price: number };

  beforeAll(async () => {
    serviceDb = await createTestDatabase();
    servicePort = await freePort();
    service = spawnPaymentsService(serviceDb, servicePort);
    await service.ready();
    t = await startTestApp({ env: { PAYMENTS_URL: `http://127.0.0.1:${servicePort}`, SERVICE_TOKEN, SERVICE_TIMEOUT_MS: '2000', EVENT_RETRY_DELAY_SECONDS: '1' } });
    serviceSql = postgres((serviceDb.config as { url: string }).url, { max: 2, onnotice: () => {} });
    monolithSql = postgres((t.db.config as { url: string }).url, { max: 2, onnotice: () => {} });
    owner = await signup(t.api, { taxRateBps: 1000 });
    dish = await menuItem(t.api, owner.token, { price: 1250 });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await service?.kill('SIGTERM');
    await serviceSql?.end({ timeout: 5 });
    await monolithSql?.end({ timeout: 5 });
    await serviceDb?.drop();
  });

  it('serves the same API: orders paid by card and cash, payments read through the gateway, refunds on cancel; the rows live in the service', async () => {
    const card = await t.api.post('/api/v1/orders', cardOrder(dish.id, 2), { token: owner.token });
    expect(card.status, JSON.stringify(card.body)).toBe(201);
    expect(card.body).toMatchObject({ status: 'paid', total: 2750, payment: { method: 'card', amount: 2750, status: 'captured' } });
    const cash = await t.api.post('/api/v1/orders', cashOrder(dish.id, 2000), { token: owner.token });
    expect(cash.status).toBe(201);
    expect(cash.body.payment).toMatchObject({ method: 'cash', amount: 1375, change: 625 });

    // The confirmation reaches the service through the monolith's outbox.
    await eventually(async () => {
      const rows = await servicePayments(serviceSql);
      expect(rows.get(card.body.id)).toMatchObject({ id: card.body.payment.id, status: 'captured', amount: 2750 });
      expect(rows.get(cash.body.id)).toMatchObject({ status: 'captured', amount: 1375 });
      return true;
    }, 10_000);
    const [inMonolith] = await monolithSql<{ n: number }[]>`select count(*)::int as n from payments.payments`;
    expect(inMonolith!.n, 'no payment row in the monolith').toBe(0);

    const payment = await t.api.get(`/api/v1/payments/${card.body.payment.id}`, { token: owner.token });
    expect(payment.status).toBe(200);
    expect(payment.body).toMatchObject({ id: card.body.payment.id, orderId: card.body.id, method: 'card', amount: 2750, currency: 'USD', status: 'captured' });
    const listed = await t.api.get(`/api/v1/payments?orderId=${cash.body.id}`, { token: owner.token });
    expect(listed.body.items.map((p: { id: string }) => p.id)).toEqual([cash.body.payment.id]);
    expect((await t.api.get(`/api/v1/orders/${card.body.id}`, { token: owner.token })).body.payment.status).toBe('captured');
    expectProblem(await t.api.get(`/api/v1/payments/${randomUUID()}`, { token: owner.token }), 404);

    const cancelled = await t.api.post(`/api/v1/orders/${card.body.id}/cancel`, {}, { token: owner.token });
    expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(200);
    expect(cancelled.body.payment).toMatchObject({ status: 'refunded', refundedAt: expect.any(String) });
    expectProblem(await t.api.post(`/api/v1/orders/${card.body.id}/cancel`, {}, { token: owner.token }), 409, 'order-already-cancelled');
    await eventually(async () => {
      expect((await servicePayments(serviceSql)).get(card.body.id)?.status).toBe('refunded');
      return true;
    }, 10_000);
    expect((await t.api.get(`/api/v1/payments/${card.body.payment.id}`, { token: owner.token })).body.status).toBe('refunded');
  });

  it("passes the service's refusals on as the same problems, and they change nothing on either side", async () => {
    const before = await servicePayments(serviceSql);
    const declined = await t.api.post('/api/v1/orders', { ...cardOrder(dish.id), payment: { method: 'card', token: 'tok_chargeDeclined' } }, { token: owner.token });
    expectProblem(declined, 402, 'card-declined');
    expect(declined.body.declineCode).toBe('declined');
    expectProblem(await t.api.post('/api/v1/orders', { ...cardOrder(dish.id), payment: { method: 'card', token: 'tok_nope' } }, { token: owner.token }), 422, 'invalid-card-token');
    const short = await t.api.post('/api/v1/orders', cashOrder(dish.id, 10), { token: owner.token });
    expectProblem(short, 422, 'insufficient-tender');
    expect(short.body).toMatchObject({ tendered: 10, total: 1375 });
    expect((await servicePayments(serviceSql)).size).toBe(before.size);
  });

  it('refuses callers without the service token, and confines each call to the tenant it names (RLS there too)', async () => {
    const base = `http://127.0.0.1:${servicePort}/api/v1/payments`;
    const order = await t.api.post('/api/v1/orders', cashOrder(dish.id, 1375), { token: owner.token });
    const id = order.body.payment.id as string;
    await eventually(async () => (await servicePayments(serviceSql)).get(order.body.id)?.status === 'captured' || Promise.reject(new Error('not confirmed')), 10_000);
    const noToken = await fetch(`${base}/${id}`, { headers: { 'x-tenant-id': owner.tenant.id } });
    expect(noToken.status).toBe(401);
    const staffToken = await fetch(`${base}/${id}`, { headers: { 'x-tenant-id': owner.tenant.id, authorization: `Bearer ${owner.token}` } });
    expect(staffToken.status).toBe(401);
    const own = await fetch(`${base}/${id}`, { headers: { 'x-tenant-id': owner.tenant.id, authorization: `Bearer ${SERVICE_TOKEN}` } });
    expect(own.status).toBe(200);
    const other = await fetch(`${base}/${id}`, { headers: { 'x-tenant-id': randomUUID(), authorization: `Bearer ${SERVICE_TOKEN}` } });
    expect(other.status, 'another tenant does not see it').toBe(404);
    const docs = (await (await fetch(`http://127.0.0.1:${servicePort}/docs/json`)).json()) as { info: { title: string }; paths: Record<string, unknown> };
    expect(docs.info.title).toMatch(/payments service/);
    expect(Object.keys(docs.paths)).toEqual(expect.arrayContaining(['/api/v1/payments/authorisations', '/api/v1/payments/{id}/confirm', '/api/v1/payments/{id}/void', '/api/v1/payments/{id}/refund']));
  });

  it('killed mid-load and restarted: orders get 201 or 503 with Retry-After, and the two databases reconcile to the cent', async () => {
    const tenant = await signup(t.api, { taxRateBps: 825 });
    const items = [await menuItem(t.api, tenant.token, { price: 990 }), await menuItem(t.api, tenant.token, { price: 1475 })];
    await setStock(t.api, tenant.token, items[0]!.id, 10_000);
    const outcomes = { created: 0, unavailable: 0, other: [] as string[] };
    let retryAfterMissing = 0;
    let stop = false;
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const body = i % 3 === 0 ? cashOrder(items[i % 2]!.id, 100_000) : cardOrder(items[(i + w) % 2]!.id, 1 + (i % 3));
        const res = await t.api.post('/api/v1/orders', body, { token: tenant.token });
        if (res.status === 201) outcomes.created++;
        else if (res.status === 503) {
          outcomes.unavailable++;
          if (!res.headers.get('retry-after')) retryAfterMissing++;
          await new Promise((r) => setTimeout(r, 50));
        } else outcomes.other.push(`${res.status} ${JSON.stringify(res.body)}`);
        // Some paid orders are cancelled at once (a refund through the service).
        if (res.status === 201 && i % 5 === 4) {
          const cancel = await t.api.post(`/api/v1/orders/${res.body.id}/cancel`, {}, { token: tenant.token });
          if (cancel.status !== 200 && cancel.status !== 503) outcomes.other.push(`cancel ${cancel.status} ${JSON.stringify(cancel.body)}`);
        }
      }
    };
    const load = Promise.all([0, 1, 2, 3].map(worker));
    try {
      await new Promise((r) => setTimeout(r, 1500));
      await service.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 1500));
      service = spawnPaymentsService(serviceDb, servicePort);
      await service.ready();
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      // Also when the restart failed: no request of the load may outlive the test.
      stop = true;
      await load;
    }
    console.log(`payments service killed mid-load: ${outcomes.created} × 201, ${outcomes.unavailable} × 503, other: ${outcomes.other.length}`);
    expect(outcomes.other).toEqual([]);
    expect(outcomes.created).toBeGreaterThan(10);
    expect(outcomes.unavailable).toBeGreaterThan(0);
    expect(retryAfterMissing).toBe(0);

    // Once both outboxes drained: every paid order has exactly its total captured in the
    // service, every cancelled one its total refunded, and no other payment is taken.
    const orders = await monolithSql<{ id: string; status: string; total: string; payment_id: string }[]>`
      select id, status, total::text, payment_id from orders.orders where tenant_id = ${tenant.tenant.id}`;
    await eventually(async () => {
      const payments = await servicePayments(serviceSql);
      for (const o of orders) {
        const p = payments.get(o.id);
        expect(p, `payment of order ${o.id}`).toBeDefined();
        expect(p).toMatchObject({ id: o.payment_id, amount: Number(o.total), status: o.status === 'paid' ? 'captured' : 'refunded' });
      }
      const orderIds = new Set(orders.map((o) => o.id));
      const [taken] = await serviceSql<{ tenantPayments: number }[]>`
        select count(*)::int as "tenantPayments" from payments.payments where tenant_id = ${tenant.tenant.id} and status in ('captured', 'refunded', 'authorised')`;
      expect(taken!.tenantPayments, 'a payment taken for an order that does not exist').toBe(orderIds.size);
      return true;
    }, 60_000, 250);
    const sum = (rows: Array<{ total: string }>) => rows.reduce((s, r) => s + Number(r.total), 0);
    const [money] = await serviceSql<{ captured: string; refunded: string }[]>`
      select coalesce(sum(amount) filter (where status = 'captured'), 0)::text as captured,
             coalesce(sum(amount) filter (where status = 'refunded'), 0)::text as refunded
      from payments.payments where tenant_id = ${tenant.tenant.id}`;
    expect(Number(money!.captured)).toBe(sum(orders.filter((o) => o.status === 'paid')));
    expect(Number(money!.refunded)).toBe(sum(orders.filter((o) => o.status === 'cancelled')));
    console.log(
      `reconciled: ${orders.length} orders; captured ${money!.captured} = paid totals, refunded ${money!.refunded} = cancelled totals (minor units)`,
    );
  }, 120_000);
});

describe.skipIf(!onRealPostgres())('a payments service that answers too late', () => {
  let serviceDb: TestDatabase;
  let service: TestPaymentsService;
  let t: TestApp;
  const calls = { authorise: 0, void: 0, capture: 0 };
  let delayMs = 0;
  /** Approves every card, after `delayMs`. */
  const slowProvider: PaymentProvider = {
    name: 'slow',
    authorise: async () => {
      calls.authorise++;
      await new Promise((r) => setTimeout(r, delayMs));
      return { approved: true, reference: `ch_${randomUUID()}` };
    },
    capture: async () => void calls.capture++,
    void: async () => void calls.void++,
    refund: async () => {},
  };
  beforeAll(async () => {
    serviceDb = await createTestDatabase();
    service = await startTestPaymentsService({ database: serviceDb, provider: slowProvider, env: { EVENT_RETRY_DELAY_SECONDS: '1' } });
    t = await startTestApp({ env: { ...service.env, SERVICE_TIMEOUT_MS: '300', EVENT_RETRY_DELAY_SECONDS: '1' } });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await service?.close();
    await serviceDb?.drop();
  });

  it('gives 503 with Retry-After, keeps nothing locally, and releases the late authorisation (voided at the provider)', async () => {
    const owner = await signup(t.api);
    const dish = await menuItem(t.api, owner.token, { price: 800 });
    await setStock(t.api, owner.token, dish.id, 5);
    delayMs = 1000;
    const res = await t.api.post('/api/v1/orders', cardOrder(dish.id), { token: owner.token });
    expectProblem(res, 503, 'service-unavailable');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await onHand(t.api, owner.token, dish.id)).toBe(5);
    expect((await t.api.get('/api/v1/orders', { token: owner.token })).body.items).toEqual([]);
    // The service finished the authorisation after the monolith gave up; the release voids it.
    const sql = postgres((serviceDb.config as { url: string }).url, { max: 1, onnotice: () => {} });
    try {
      await eventually(async () => {
        const rows = await sql<{ status: string }[]>`select status from payments.payments where tenant_id = ${owner.tenant.id}`;
        expect(rows.map((r) => r.status)).toEqual(['voided']);
        expect(calls.void).toBe(1);
        return true;
      }, 15_000, 100);
    } finally {
      await sql.end({ timeout: 5 });
    }
    expect(calls.capture).toBe(0);
    // The service is fast again: the same order goes through.
    delayMs = 0;
    expect((await t.api.post('/api/v1/orders', cardOrder(dish.id), { token: owner.token })).status).toBe(201);
    expect(await onHand(t.api, owner.token, dish.id)).toBe(4);
  });
});
