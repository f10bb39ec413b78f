import type { EventHandler } from '../../shared/event-bus.ts';
import type { CardPaymentCollected, CardPaymentRefunded } from './gateway.ts';
import type { PaymentProvider } from './payment-provider.ts';

/** Idempotency key of the provider call that captures payment `paymentId` (the same on every retry). */
const captureKey = (paymentId: string) => `capture:${paymentId}`;
/** Idempotency key of the provider call that refunds payment `paymentId` (the same on every retry). */
const refundKey = (paymentId: string) => `refund:${paymentId}`;

/**
 * The payments module's reactions to its own card events: the provider calls that must follow a
 * commit. They run as outbox jobs on the event bus (subscriber `payments`): a call that throws is
 * retried with exponential backoff (`EVENT_RETRY_LIMIT`, `EVENT_RETRY_DELAY_SECONDS`), then the
 * job is parked and listed by `npm run events:parked`. A job can run more than once (a retry after
 * a lost answer, a redelivery after a crash), so each call carries an idempotency key derived from
 * the payment id, which the provider applies once. A refund captures first (same capture key), so
 * it never overtakes a capture still waiting for its retry. The event bus keeps the handler's transaction
 * open during the call (its inbox row commits after the call succeeded).
 */
export function providerJobs(provider: PaymentProvider): { capture: EventHandler<CardPaymentCollected>; refund: EventHandler<CardPaymentRefunded> } {
  return {
    async capture(_uow, event) {
      await provider.capture(event.payload.reference, { idempotencyKey: captureKey(event.payload.paymentId) });
    },
    async refund(_uow, event) {
      // A charge is refunded once captured: if its capture job has not run yet (or is being
      // retried), capture it first, under the capture's own key (a no-op when already done).
      await provider.capture(event.payload.reference, { idempotencyKey: captureKey(event.payload.paymentId) });
      await provider.refund(event.payload.reference, event.payload.amount, { idempotencyKey: refundKey(event.payload.paymentId) });
    },
  };
}
