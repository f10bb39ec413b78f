/**
 * Public contract of the payments module (bounded context: money taken and given back).
 * The only file of this module that other modules may import.
 */
import type { UnitOfWork } from '../../shared/unit-of-work.ts';

/** How the customer pays: cash with the amount handed over, or a card token from the terminal. */
export type PaymentInstruction = { method: 'cash'; tendered: number } | { method: 'card'; token: string };

/** A payment as other modules and the API see it; amounts in minor units of `currency`. */
export interface PaymentView {
  id: string;
  orderId: string;
  method: 'cash' | 'card';
  amount: number;
  currency: string;
  status: 'captured' | 'refunded';
  /** Cash only: tendered minus amount. */
  change?: number;
  createdAt: string;
  refundedAt?: string;
}

/**
 * Calls other modules may make into payments. Both join the caller's unit of work.
 *
 * Where the card provider's calls sit relative to the database transaction: the card is
 * **authorised** inside `collect`, which the orders module calls before it locks any stock row,
 * so no row lock is held across the provider call; the authorisation is **captured after the
 * commit** (`uow.afterCommit`) and **voided on rollback** (`uow.onRollback`), so a failed order
 * never leaves money taken. A refund is recorded in the transaction and sent to the provider
 * after the commit. (With a real provider, a capture or refund that fails after commit must be
 * retried from a durable record: that is the outbox's job.)
 */
export interface PaymentsGateway {
  /**
   * Takes `amount` for `orderId`.
   * @throws ProblemError 422 `insufficient-tender` (cash tendered < amount), 402 `card-declined`,
   *   422 `invalid-card-token`.
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

declare module 'fastify' {
  interface FastifyInstance {
    /** The payments module's gateway, decorated by its plugin. */
    payments: PaymentsGateway;
  }
}
