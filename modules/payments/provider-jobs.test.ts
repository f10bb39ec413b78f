import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, menuItem, signup, type TenantFixture } from '../../test/support/fixtures.ts';
import { startTestApp, type TestApp } from '../../test/support/test-app.ts';
import { createTestPaymentProvider, type PaymentProvider } from './payment-provider.ts';

/**
 * Card capture (after an order commits) and refund (after a cancel commits) are durable jobs:
 * written in the business transaction, retried with backoff when the provider fails, parked when
 * it keeps failing. The database and the provider cannot drift apart silently.
 */

type Call = { op: 'capture' | 'refund'; reference: string; idempotencyKey: string | undefined; ok: boolean };

/** The test provider, with provider outages scripted per authorisation. */
function scriptedProvider() {
  const inner = createTestPaymentProvider();
  const calls: Call[] = [];
  /** Failures the next authorisations' capture and refund will suffer before succeeding. */
  const next = { captureFailures: 0, refundFailures: 0 };
  const remaining = new Map<string, { capture: number; refund: number }>();
  const attempt = async (op: 'capture' | 'refund', reference: string, options: unknown, call: () => Promise<void>) => {
    const left = remaining.get(reference)!;
    const idempotencyKey = (options as { idempotencyKey?: string } | undefined)?.idempotencyKey;
    if (left[op] > 0) {
      left[op]--;
      calls.push({ op, reference, idempotencyKey, ok: false });
      throw new Error(`provider unavailable (${op})`);
    }
    calls.push({ op, reference, idempotencyKey, ok: true });
    await call();
  };
  const provider: PaymentProvider = {
    name: inner.name,
    async authorise(input) {
      const result = await inner.authorise(input);
      if (result.approved) remaining.set(result.reference, { capture: next.captureFailures, refund: next.refundFailures });
      return result;
    },
    capture: (reference: string, ...rest: unknown[]) => attempt('capture', reference, rest[0], () => (inner.capture as (...a: unknown[]) => Promise<void>)(reference, ...rest)),
    void: (...args: Parameters<PaymentProvider['void']>) => inner.void(...args),
    refund: (reference: string, ...rest: unknown[]) => attempt('refund', reference, rest[1], () => (inner.refund as (...a: unknown[]) => Promise<void>)(reference, ...rest)),
  } as PaymentProvider;
  return { provider, calls, next, ledger: inner.ledger };
}

describe('card capture and refund are outbox jobs: retried, then parked', () => {
  let t: TestApp;
  let owner: TenantFixture;
  const card = scriptedProvider();

  beforeAll(async () => {
    t = await startTestApp({ env: { EVENT_RETRY_LIMIT: '2', EVENT_RETRY_DELAY_SECONDS: '1' }, build: { payments: { provider: card.provider } } });
    owner = await signup(t.api);
  });
  afterAll(() => t?.close());

  const cardOrder = async () => {
    const item = await menuItem(t.api, owner.token, { price: 2500 });
    const res = await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 }], payment: { method: 'card', token: 'tok_visa' } }, { token: owner.token });
    expect(res.status).toBe(201);
    const reference = [...card.ledger.keys()].at(-1)!;
    return { order: res.body, reference };
  };
  const callsOf = (op: Call['op'], reference: string) => card.calls.filter((c) => c.op === op && c.reference === reference);

  it('a capture that fails twice is retried with backoff and captured exactly once, under one idempotency key', async () => {
    card.next.captureFailures = 2;
    const { reference } = await cardOrder();
    card.next.captureFailures = 0;
    await eventually(async () => expect(card.ledger.get(reference)!.state).toBe('captured'), 20_000, 100);
    const captures = callsOf('capture', reference);
    expect(captures.map((c) => c.ok)).toEqual([false, false, true]);
    expect(captures[0]!.idempotencyKey).toEqual(expect.any(String));
    expect(new Set(captures.map((c) => c.idempotencyKey)).size).toBe(1);
  });

  it('a capture that always fails is parked and listed for operators (npm run events:parked)', async () => {
    card.next.captureFailures = Number.POSITIVE_INFINITY;
    const { order, reference } = await cardOrder();
    card.next.captureFailures = 0;
    // The app that runs the provider jobs: this one, or the payments service (TEST_PAYMENTS_WIRING=remote).
    const events = (t.paymentsService?.app ?? t.app).events;
    const queue = events.queues().find((q) => q.subscriber === 'payments' && !q.legacy);
    expect(queue).toBeDefined();
    const parked = await eventually(async () => {
      const jobs = await events.boss.findJobs<{ payload: { paymentId: string } }>(queue!.parked);
      const mine = jobs.filter((j) => j.data.payload.paymentId === order.payment.id);
      expect(mine).toHaveLength(1);
      return mine;
    }, 20_000, 200);
    expect(parked[0]!.data.payload.paymentId).toBe(order.payment.id);
    expect(callsOf('capture', reference)).toHaveLength(3); // the first attempt and 2 retries
    expect(card.ledger.get(reference)!.state).toBe('authorised');
  });

  it('a refund that fails once is retried and refunded exactly once', async () => {
    card.next.refundFailures = 1;
    const { order, reference } = await cardOrder();
    card.next.refundFailures = 0;
    await eventually(async () => expect(card.ledger.get(reference)!.state).toBe('captured'), 10_000, 50);
    const cancelled = await t.api.post(`/api/v1/orders/${order.id}/cancel`, undefined, { token: owner.token });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.payment.status).toBe('refunded');
    await eventually(async () => expect(card.ledger.get(reference)!.state).toBe('refunded'), 20_000, 100);
    const refunds = callsOf('refund', reference);
    expect(refunds.map((c) => c.ok)).toEqual([false, true]);
    expect(refunds[0]!.idempotencyKey).toEqual(expect.any(String));
    expect(refunds[1]!.idempotencyKey).toBe(refunds[0]!.idempotencyKey);
  });
});
