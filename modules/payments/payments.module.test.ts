import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../shared/ids.ts';
import { expectProblem } from '../../test/support/fixtures.ts';
import { bootModule, testEvent, type ModuleTest, type TestTenant } from '../../test/support/module-test.ts';
import type { CardPaymentCollected, CardPaymentRefunded, PaymentsGateway } from './gateway.ts';
import paymentsModule from './index.ts';
import { createTestPaymentProvider } from './payment-provider.ts';

/**
 * The payments module alone (it uses no other module), with the built-in test provider, whose
 * ledger shows what reached the provider. Orders is played by the tests, through the gateway.
 */

const provider = createTestPaymentProvider();
let t: ModuleTest<PaymentsGateway>;
beforeAll(async () => {
  t = await bootModule(paymentsModule, { options: { provider } });
});
afterAll(() => t?.close());

/** Collects a payment for a new order id of `tenant`, in its own unit of work, as orders does. */
const collect = (tenant: TestTenant, amount: number, instruction: Parameters<PaymentsGateway['collect']>[1]['instruction']) =>
  t.app.runInTenant(tenant.id, (uow) => t.gateway.collect(uow, { orderId: newId(), amount, currency: 'EUR', instruction }));

describe('payments module alone', () => {
  it('captures at the provider, from its own CardPaymentCollected, a card payment that committed', async () => {
    const tenant = t.tenant();
    const captured = await t.scenario
      .stimulate(() => collect(tenant, 1234, { method: 'card', token: 'tok_visa' }))
      // The capture (payments' own handler) and the recorder's copy of the event are two queues:
      // wait for both, so the assertions below do not race the recorder.
      .andWaitFor(() =>
        t.published<CardPaymentCollected>('CardPaymentCollected').some((e) => e.tenantId === tenant.id) &&
        [...provider.ledger.values()].find((entry) => entry.amount === 1234 && entry.state === 'captured'),
      );
    expect(captured).toEqual({ amount: 1234, state: 'captured' });
    const [event] = t.published<CardPaymentCollected>('CardPaymentCollected').filter((e) => e.tenantId === tenant.id);
    expect(event!.payload).toMatchObject({ amount: 1234, currency: 'EUR', provider: 'test' });
    const res = await t.api.get(`/api/v1/payments/${event!.payload.paymentId}`, { token: tenant.tokenFor({ role: 'cashier' }) });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ method: 'card', amount: 1234, currency: 'EUR', status: 'captured' });
  });

  it('a CardPaymentCollected event published into it captures that authorisation', async () => {
    const tenant = t.tenant();
    const auth = await provider.authorise({ token: 'tok_mastercard', amount: 555, currency: 'EUR', idempotencyKey: newId() });
    if (!auth.approved) throw new Error('the test provider should approve tok_mastercard');
    const event = testEvent<CardPaymentCollected>(tenant.id, 'CardPaymentCollected', {
      paymentId: newId(),
      orderId: newId(),
      provider: 'test',
      reference: auth.reference,
      amount: 555,
      currency: 'EUR',
    });
    await t.scenario.publish(event).andWaitFor(() => provider.ledger.get(auth.reference)?.state === 'captured');
  });

  it('a declined card is a 402 problem and records nothing; cash records the change and never reaches the provider', async () => {
    const tenant = t.tenant();
    const entries = provider.ledger.size;
    const declined = await collect(tenant, 800, { method: 'card', token: 'tok_chargeDeclined' }).catch((e: unknown) => e);
    expect(declined).toMatchObject({ status: 402, type: 'urn:problem:pos:card-declined', extensions: { declineCode: 'declined' } });
    expect((await t.api.get('/api/v1/payments', { token: tenant.token })).body.items).toEqual([]);
    const cash = await collect(tenant, 800, { method: 'cash', tendered: 1000 });
    expect(cash).toMatchObject({ method: 'cash', amount: 800, change: 200, status: 'captured' });
    expect(provider.ledger.size).toBe(entries);
    expect((await t.api.get(`/api/v1/payments?orderId=${cash.orderId}`, { token: tenant.token })).body.items).toHaveLength(1);
  });

  it('refunds at the provider from its own CardPaymentRefunded; a second refund is a 409', async () => {
    const tenant = t.tenant();
    const payment = await collect(tenant, 4321, { method: 'card', token: 'tok_visa' });
    const refunded = await t.scenario
      .stimulate(() => t.app.runInTenant(tenant.id, (uow) => t.gateway.refund(uow, payment.id)))
      .andWaitForEvent<CardPaymentRefunded>('CardPaymentRefunded', (e) => e.payload.paymentId === payment.id);
    await t.scenario.stimulate(() => undefined).andWaitFor(() => provider.ledger.get(refunded.payload.reference)?.state === 'refunded');
    const again = await t.app.runInTenant(tenant.id, (uow) => t.gateway.refund(uow, payment.id)).catch((e: unknown) => e);
    expect(again).toMatchObject({ status: 409, type: 'urn:problem:pos:already-refunded' });
    expect((await t.api.get(`/api/v1/payments/${payment.id}`, { token: tenant.token })).body).toMatchObject({ status: 'refunded', refundedAt: expect.any(String) });
    expectProblem(await t.api.get(`/api/v1/payments/${payment.id}`, { token: t.tenant().token }), 404);
  });
});
