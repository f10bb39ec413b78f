import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrderPaid } from '../modules/orders/gateway.ts';
import { isTransientDatabaseError } from '../shared/database-errors.ts';
import { eventually, menuItem, signup, type TenantFixture } from './support/fixtures.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

const cash = { method: 'cash', tendered: 100_000 };

/** An error as postgres.js raises it for a server answer with SQLSTATE `code`, wrapped by drizzle. */
const sqlStateError = (code: string, message: string) => {
  const cause = Object.assign(new Error(message), { name: 'PostgresError', code, severity: 'FATAL' });
  return new Error('Failed query: insert into …', { cause });
};

describe('isTransientDatabaseError: availability faults vs everything else', () => {
  it.each([
    ['too many connections (53300)', sqlStateError('53300', 'sorry, too many clients already')],
    ['admin shutdown (57P01)', sqlStateError('57P01', 'terminating connection due to administrator command')],
    ['starting up (57P03)', sqlStateError('57P03', 'the database system is starting up')],
    ['serialization failure (40001)', sqlStateError('40001', 'could not serialize access')],
    ['deadlock (40P01)', sqlStateError('40P01', 'deadlock detected')],
    ['connection failure (08006)', sqlStateError('08006', 'connection failure')],
    ['connection refused', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    ['refused on every address (AggregateError)', new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })], 'connect failed')],
    ['postgres.js lost connection', Object.assign(new Error('write CONNECTION_CLOSED'), { code: 'CONNECTION_CLOSED' })],
  ])('%s is transient', (_, error) => expect(isTransientDatabaseError(error)).toBe(true));

  it.each([
    ['a plain Error', new Error('bug')],
    ['unique violation (23505)', sqlStateError('23505', 'duplicate key')],
    ['check violation (23514)', sqlStateError('23514', 'violates check constraint')],
    ['syntax error (42601)', sqlStateError('42601', 'syntax error')],
    ['not an error', 'ECONNREFUSED'],
    ['null', null],
  ])('%s is not', (_, error) => expect(isTransientDatabaseError(error)).toBe(false));
});

describe('an event whose handler hits database availability faults is not parked', () => {
  let t: TestApp;
  let owner: TenantFixture;
  // Retry limit 1: two failures of any kind would park the event before the change.
  const env = { EVENT_RETRY_LIMIT: '1', EVENT_RETRY_DELAY_SECONDS: '1' };
  const FAULTS = 3; // more than 1 + the retry limit
  const calls = { tooMany: 0, refused: 0, bug: 0 };
  let handledTooMany = 0;
  let handledRefused = 0;
  let seenBookkeeping = false;

  beforeAll(async () => {
    t = await startTestApp({
      env,
      build: {
        beforeReady: (app) => {
          app.events.subscribe<OrderPaid>('OrderPaid', 'too-many-clients', async (_uow, event) => {
            seenBookkeeping ||= 'transientRetries' in event;
            if (++calls.tooMany <= FAULTS) throw sqlStateError('53300', 'sorry, too many clients already');
            handledTooMany++;
          });
          app.events.subscribe<OrderPaid>('OrderPaid', 'db-refused', async () => {
            if (++calls.refused <= FAULTS) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
            handledRefused++;
          });
          app.events.subscribe<OrderPaid>('OrderPaid', 'handler-bug', async () => {
            calls.bug++;
            throw new Error('simulated handler bug');
          });
        },
      },
    });
    owner = await signup(t.api);
  });
  afterAll(() => t?.close());

  it('availability faults are redelivered until the handler succeeds, once; a handler bug is parked after the limit', async () => {
    const item = await menuItem(t.api, owner.token, { price: 700 });
    const order = await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 }], payment: cash }, { token: owner.token });
    expect(order.status).toBe(201);

    // Delays 1 + 2 + 4 s (doubling), then success.
    await eventually(async () => {
      expect(handledTooMany).toBe(1);
      expect(handledRefused).toBe(1);
    }, 25_000, 100);
    expect(calls.tooMany).toBe(FAULTS + 1);
    expect(calls.refused).toBe(FAULTS + 1);
    expect(seenBookkeeping).toBe(false); // handlers see the event only
    for (const subscriber of ['too-many-clients', 'db-refused']) {
      expect(await t.app.events.boss.findJobs(`${subscriber}.events.parked`)).toHaveLength(0);
    }

    // The handler's own fault: 1 + retry limit attempts, then parked.
    const parked = await eventually(async () => {
      const jobs = await t.app.events.boss.findJobs<{ id: string }>('handler-bug.events.parked');
      expect(jobs).toHaveLength(1);
      return jobs;
    }, 10_000, 100);
    expect(calls.bug).toBe(2);
    expect(parked[0]!.data).not.toHaveProperty('transientRetries');

    // Handled once, given time for any redelivery.
    await new Promise((r) => setTimeout(r, 1500));
    expect(handledTooMany).toBe(1);
    expect(handledRefused).toBe(1);
  }, 40_000);
});
