/**
 * Public contract of the payments module (bounded context: money taken and given back).
 * The only file of this module that other modules may import.
 */
import { z } from 'zod';
import type { DomainEvent } from '../../shared/event-bus.ts';
import { MAX_EXACT_INTEGER, MAX_MINOR_UNITS, Money, Timestamp } from '../../shared/http-schemas.ts';
import { defineProblem } from '../../shared/problem-details.ts';
import type { UnitOfWork } from '../../shared/unit-of-work.ts';

/** Outcome of a card authorisation. */
export type AuthorisationResult =
  | { approved: true; reference: string }
  | { approved: false; reason: 'declined' | 'insufficient_funds' | 'invalid_token' };

/** Options of a provider call that may be retried: the provider applies a key once (Stripe's `Idempotency-Key`). */
export interface ProviderCallOptions {
  /** Derived from the payment id and the operation, the same on every retry (e.g. `capture:<payment id>`). */
  idempotencyKey: string;
}

/**
 * Adapter to a card payment provider (ports and adapters). Amounts are minor units.
 * `capture`, `void` and `refund` are called after the database outcome is known: capture and
 * refund from durable jobs, retried until they succeed (so they must be idempotent under
 * `options.idempotencyKey`), void once after a rollback. A call throws when the provider did not
 * (or may not have) done it. `capture` of a charge that is already captured (or refunded) must
 * resolve: adapters map the provider's "already captured" answer to success, because a refund
 * job captures first and providers forget idempotency keys (Stripe: after 24 h), so a key alone
 * cannot make a late second capture a no-op.
 */
export interface PaymentProvider {
  readonly name: string;
  authorise(input: { token: string; amount: number; currency: string; idempotencyKey: string }): Promise<AuthorisationResult>;
  capture(reference: string, options: ProviderCallOptions): Promise<void>;
  void(reference: string): Promise<void>;
  refund(reference: string, amount: number, options: ProviderCallOptions): Promise<void>;
}

/** How the customer pays: cash with the amount handed over, or a card token from the terminal. */
export type PaymentInstruction = { method: 'cash'; tendered: number } | { method: 'card'; token: string };

/** Payment methods and states as the API shows them (the database columns take theirs from here). */
export const PAYMENT_METHODS = ['cash', 'card'] as const;
export const PAYMENT_STATUSES = ['captured', 'refunded'] as const;
/**
 * Every state a stored payment can be in. Besides {@link PAYMENT_STATUSES}, only the payments
 * service (the module run on its own, README "Extracting a module") stores these two saga states:
 * `authorised`, taken for an order whose transaction has not confirmed it yet (shown as
 * `captured`: the monolith only asks for the payments of committed orders, whose confirmation is
 * already in its outbox), and `voided`, released after the order's transaction rolled back (never
 * shown).
 */
export const PAYMENT_ROW_STATUSES = [...PAYMENT_STATUSES, 'authorised', 'voided'] as const;

/** A payment as other modules and the API see it; amounts in minor units of `currency`. */
export const PaymentSchema = z
  .object({
    id: z.uuid(),
    orderId: z.uuid(),
    method: z.enum(PAYMENT_METHODS),
    amount: Money(MAX_EXACT_INTEGER),
    currency: z.string(),
    status: z.enum(PAYMENT_STATUSES),
    change: Money(MAX_MINOR_UNITS).optional().describe('Cash only: tendered minus amount'),
    createdAt: Timestamp,
    refundedAt: Timestamp.optional(),
  })
  .meta({ id: 'Payment' });

/** A payment as other modules and the API see it (derived from {@link PaymentSchema}). */
export type PaymentView = z.output<typeof PaymentSchema>;

/**
 * A card payment was recorded (committed) for an order: its authorisation is to be captured.
 * The payments module itself captures it at the provider on this event (outbox: retried with
 * backoff, then parked). Amount in minor units of `currency`.
 */
export type CardPaymentCollected = DomainEvent<'CardPaymentCollected', { paymentId: string; orderId: string; provider: string; reference: string; amount: number; currency: string }>;

/**
 * A card payment was refunded in the database: the provider is to refund it. The payments module
 * refunds it at the provider on this event (retried, then parked). Amount in minor units.
 */
export type CardPaymentRefunded = DomainEvent<'CardPaymentRefunded', { paymentId: string; orderId: string; provider: string; reference: string; amount: number; currency: string }>;

/**
 * Saga steps of the remote wiring (payments run as their own service, `PAYMENTS_URL` set),
 * written to the monolith's outbox and sent to the payments service by the payments module's
 * own handler (retried while the service is down, never twice in effect: each step is idempotent
 * there). `RemotePaymentConfirmed` commits with the order; `RemotePaymentReleased` is written
 * just after the order's transaction rolled back; `RemotePaymentRefundRequested` commits with the
 * cancellation. Amounts in minor units of `currency`.
 */
export type RemotePaymentConfirmed = DomainEvent<'RemotePaymentConfirmed', { paymentId: string; orderId: string }>;
export type RemotePaymentReleased = DomainEvent<
  'RemotePaymentReleased',
  { paymentId: string; orderId: string; method: 'cash' | 'card'; amount: number; currency: string }
>;
export type RemotePaymentRefundRequested = DomainEvent<'RemotePaymentRefundRequested', { paymentId: string; orderId: string }>;

/**
 * Calls other modules may make into payments. Both join the caller's unit of work.
 *
 * Where the card provider's calls sit relative to the database transaction: the card is
 * **authorised** inside `collect`, which the orders module calls before it locks any stock row,
 * so no row lock is held across the provider call. **Capture** and **refund** are durable jobs
 * written in the caller's transaction (events `CardPaymentCollected` / `CardPaymentRefunded` on
 * the transactional outbox, handled by this module): they exist if and only if the change
 * commits, are retried with backoff while the provider fails, then parked (`npm run
 * events:parked`), and carry an idempotency key derived from the payment id, so a redelivery never
 * charges or refunds twice. An authorisation whose transaction rolls back is **voided** once,
 * after the rollback (`uow.onRollback`): there is no committed record to hang a job on, and a
 * void that fails only leaves an uncaptured authorisation, which the provider releases when it
 * expires (Stripe: 7 days); the failure is logged.
 *
 * The same contract has two implementations, chosen by the composition root: the module itself
 * (in-process, the payment row is written in the caller's transaction), or, with `PAYMENTS_URL`
 * set, an HTTP client of the payments service (remote-gateway.ts). Remotely the payment row lives
 * in the service's database, so "joins the caller's unit of work" becomes a saga (Garcia-Molina &
 * Salem, "Sagas", 1987): `collect` authorises at the service before the caller writes anything
 * (a `503 service-unavailable` with Retry-After when the service is down or slow; the caller's
 * transaction then rolls back), the confirmation commits with the caller's transaction (outbox),
 * a rollback releases the authorisation (outbox, just after the rollback), and `refund` sends its
 * refund with the caller's commit. The caller's code is the same in both wirings.
 */
export interface PaymentsGateway {
  /**
   * Takes `amount` for `orderId`.
   * @throws ProblemError 422 `insufficient-tender` (cash tendered < amount), 402 `card-declined`,
   *   422 `invalid-card-token`; remote wiring: 503 `service-unavailable` (Retry-After) when the
   *   payments service did not answer in time.
   */
  collect(uow: UnitOfWork, input: { orderId: string; amount: number; currency: string; instruction: PaymentInstruction }): Promise<PaymentView>;
  /**
   * Refunds a captured payment in full.
   * @throws ProblemError 404 unknown payment, 409 `already-refunded`.
   */
  refund(uow: UnitOfWork, paymentId: string): Promise<PaymentView>;
  /** The payment, or undefined. */
  find(uow: UnitOfWork, paymentId: string): Promise<PaymentView | undefined>;
  /** The payments with these ids, keyed by id (unknown ids are absent). */
  findMany(uow: UnitOfWork, paymentIds: readonly string[]): Promise<Map<string, PaymentView>>;
}

/**
 * Problems the payments gateway throws (`collect`: card declined, cash short, bad token;
 * `refund`: already refunded), for callers to document. Defined here, not in the module's
 * internals: a gateway is self-contained, so a module that uses it loads (and is tested alone)
 * with this file only.
 */
export const paymentProblems = {
  cardDeclined: defineProblem({
    id: 'CardDeclinedProblem',
    status: 402,
    slug: 'card-declined',
    title: 'Card declined',
    description: 'The card provider declined the payment: no order was made.',
    extensions: { declineCode: z.enum(['declined', 'insufficient_funds']).describe("The provider's reason (Stripe's decline codes)") },
  }),
  insufficientTender: defineProblem({
    id: 'InsufficientTenderProblem',
    status: 422,
    slug: 'insufficient-tender',
    title: 'Insufficient cash tendered',
    description: 'The cash tendered is less than the order total: no order was made.',
    extensions: {
      tendered: z.number().int().min(0).max(MAX_EXACT_INTEGER).describe('Minor units handed over'),
      total: z.number().int().min(0).max(MAX_EXACT_INTEGER).describe('Minor units due'),
    },
  }),
  invalidCardToken: defineProblem({
    id: 'InvalidCardTokenProblem',
    status: 422,
    slug: 'invalid-card-token',
    title: 'Invalid card token',
    description: 'The card token is not valid for this payment provider (test provider: `tok_visa`, `tok_mastercard` approve).',
  }),
  paymentVoided: defineProblem({
    id: 'PaymentVoidedProblem',
    status: 409,
    slug: 'payment-voided',
    title: 'Payment voided',
    description: 'This payment was released after its order failed: it can no longer be taken, confirmed or refunded.',
  }),
  alreadyRefunded: defineProblem({
    id: 'AlreadyRefundedProblem',
    status: 409,
    slug: 'already-refunded',
    title: 'Already refunded',
    description: 'This payment was already refunded.',
  }),
};
