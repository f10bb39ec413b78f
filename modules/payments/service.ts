import type { FastifyInstance } from 'fastify';
import type { ModuleEventPort } from '../../shared/module.ts';
import { toPage } from '../../shared/http-schemas.ts';
import { newId } from '../../shared/ids.ts';
import { problems } from '../../shared/problem-details.ts';
import { domainEvent } from '../../shared/event-bus.ts';
import type { UnitOfWork } from '../../shared/unit-of-work.ts';
import { paymentProblems, type CardPaymentCollected, type CardPaymentRefunded, type PaymentInstruction, type PaymentView } from './gateway.ts';
import { internalProblems } from './internal-api.ts';
import type { PaymentProvider } from './payment-provider.ts';
import { paymentsRepository as repo, type PaymentRow } from './repository.ts';

/**
 * A stored payment as the API shows it. `authorised` (the payments service's saga state before
 * the order's confirmation arrives) shows as `captured`; voided payments are never shown.
 */
const toPaymentView = (r: PaymentRow): PaymentView => ({
  id: r.id,
  orderId: r.orderId,
  method: r.method,
  amount: r.amount,
  currency: r.currency,
  status: r.status === 'refunded' ? 'refunded' : 'captured',
  ...(r.change !== null ? { change: r.change } : {}),
  createdAt: r.createdAt.toISOString(),
  ...(r.refundedAt ? { refundedAt: r.refundedAt.toISOString() } : {}),
});

const declined = (reason: 'declined' | 'insufficient_funds') =>
  paymentProblems.cardDeclined.create(`The card was declined (${reason}).`, { declineCode: reason });

/** What taking a payment needs (gateway `collect`), plus, in the service, the caller's payment id. */
interface TakeInput {
  orderId: string;
  amount: number;
  currency: string;
  instruction: PaymentInstruction;
}

/** Use cases of the payments module. */
export function createPaymentsService(app: FastifyInstance, provider: PaymentProvider, events: ModuleEventPort) {
  /**
   * Checks the tender or authorises the card (voided again if `uow` rolls back) and queues the
   * payment row's insert in `uow` with `status`. Card payments stored `captured` also get their
   * capture job (`CardPaymentCollected`) in the same transaction.
   */
  const take = async (uow: UnitOfWork, input: TakeInput, id: string, status: 'captured' | 'authorised'): Promise<PaymentRow> => {
    const { instruction, amount } = input;
    if (instruction.method === 'cash') {
      if (instruction.tendered < amount) {
        throw paymentProblems.insufficientTender.create(`Tendered ${instruction.tendered} is less than the total ${amount}.`, {
          tendered: instruction.tendered,
          total: amount,
        });
      }
      return repo.insert(uow, {
        tenantId: uow.tenantId,
        id,
        orderId: input.orderId,
        method: 'cash',
        amount,
        currency: input.currency,
        status,
        tendered: instruction.tendered,
        change: instruction.tendered - amount,
      });
    }
    const result = await provider.authorise({ token: instruction.token, amount, currency: input.currency, idempotencyKey: id });
    if (!result.approved) {
      if (result.reason === 'invalid_token') {
        throw paymentProblems.invalidCardToken.create('The card token is not valid for this payment provider.', {});
      }
      throw declined(result.reason);
    }
    uow.onRollback(() => provider.void(result.reference));
    const row = repo.insert(uow, {
      tenantId: uow.tenantId,
      id,
      orderId: input.orderId,
      method: 'card',
      amount,
      currency: input.currency,
      status,
      provider: provider.name,
      providerRef: result.reference,
    });
    // Captured by a job that commits with the payment row (see the gateway's notes).
    if (status === 'captured') await publishCapture(uow, row);
    return row;
  };

  /** The provider job's payload of a card payment (capture and refund carry the same). */
  const cardJob = (row: PaymentRow) => ({
    paymentId: row.id,
    orderId: row.orderId,
    provider: row.provider ?? provider.name,
    reference: row.providerRef!,
    amount: row.amount,
    currency: row.currency,
  });
  const publishCapture = (uow: UnitOfWork, row: PaymentRow) => events.publish(uow, domainEvent<CardPaymentCollected>(uow, 'CardPaymentCollected', cardJob(row)));
  const publishRefund = (uow: UnitOfWork, row: PaymentRow) => events.publish(uow, domainEvent<CardPaymentRefunded>(uow, 'CardPaymentRefunded', cardJob(row)));

  const voided = () => paymentProblems.paymentVoided.create('This payment was released after its order failed.', {});

  return {
    /** Gateway: see `PaymentsGateway.collect`. */
    async collect(uow: UnitOfWork, input: TakeInput): Promise<PaymentView> {
      return toPaymentView(await take(uow, input, newId(), 'captured'));
    },

    /** Gateway: see `PaymentsGateway.refund`. */
    async refund(uow: UnitOfWork, paymentId: string): Promise<PaymentView> {
      const row = await repo.transition(uow.tx, uow.tenantId, paymentId, ['captured'], 'refunded');
      if (!row) {
        const existing = await repo.byId(uow.tx, uow.tenantId, paymentId, { visible: true });
        if (!existing) throw problems.notFound('No such payment.');
        throw paymentProblems.alreadyRefunded.create('This payment was already refunded.', {});
      }
      if (row.method === 'card' && row.providerRef) await publishRefund(uow, row);
      return toPaymentView(row);
    },

    /**
     * Service, saga step 1 (`POST /authorisations`): takes the payment as `authorised`, under the
     * caller's `paymentId`. A repeat of the same call answers the stored payment.
     * @throws ProblemError as `collect`; 409 `payment-voided` when the id was released already;
     *   409 `payment-id-conflict` when the id belongs to another order or amount.
     */
    authorise(tenantId: string, input: TakeInput & { paymentId: string }): Promise<PaymentView> {
      return app.runInTenant(tenantId, async (uow) => {
        const existing = await repo.byId(uow.tx, uow.tenantId, input.paymentId);
        if (existing) {
          if (existing.status === 'voided') throw voided();
          if (existing.orderId !== input.orderId || existing.amount !== input.amount || existing.method !== input.instruction.method) {
            throw internalProblems.paymentIdConflict.create('This payment id was used for another order, amount or method.', {});
          }
          return toPaymentView(existing);
        }
        return toPaymentView(await take(uow, input, input.paymentId, 'authorised'));
      });
    },

    /**
     * Service, saga step 2 after the order committed (`POST /:id/confirm`): `authorised` becomes
     * `captured`, and a card's capture job is written. Idempotent: a confirmed (or since refunded)
     * payment is answered as it is.
     * @throws ProblemError 404 unknown payment, 409 `payment-voided`.
     */
    confirm(tenantId: string, paymentId: string): Promise<PaymentView> {
      return app.runInTenant(tenantId, async (uow) => {
        const row = await repo.transition(uow.tx, uow.tenantId, paymentId, ['authorised'], 'captured');
        if (row) {
          if (row.method === 'card') await publishCapture(uow, row);
          return toPaymentView(row);
        }
        const existing = await repo.byId(uow.tx, uow.tenantId, paymentId);
        if (!existing) throw problems.notFound('No such payment.');
        if (existing.status === 'voided') throw voided();
        return toPaymentView(existing);
      });
    },

    /**
     * Service, saga compensation after the order rolled back (`POST /:id/void`): an `authorised`
     * payment becomes `voided` and its card authorisation is voided at the provider after the
     * commit. An unknown id gets a `voided` record (the release overtook its authorisation, which
     * will then be refused). Idempotent.
     * @throws ProblemError 409 `payment-already-confirmed` when the payment was confirmed.
     */
    release(tenantId: string, paymentId: string, input: { orderId: string; method: 'cash' | 'card'; amount: number; currency: string }): Promise<void> {
      return app.runInTenant(tenantId, async (uow) => {
        const row = await repo.transition(uow.tx, uow.tenantId, paymentId, ['authorised'], 'voided');
        if (row) {
          if (row.providerRef) {
            const reference = row.providerRef;
            uow.afterCommit(() => provider.void(reference));
          }
          return;
        }
        const existing = await repo.byId(uow.tx, uow.tenantId, paymentId);
        if (existing?.status === 'voided') return;
        if (existing) throw internalProblems.paymentAlreadyConfirmed.create('This payment was confirmed by its order; refund it instead.', {});
        repo.insert(uow, { tenantId: uow.tenantId, id: paymentId, orderId: input.orderId, method: input.method, amount: input.amount, currency: input.currency, status: 'voided' });
      });
    },

    /**
     * Service, refund of a cancelled order (`POST /:id/refund`), after the cancellation committed:
     * like `refund`, but idempotent (a refunded payment is answered as it is), and a payment whose
     * confirmation has not arrived yet is refunded all the same (the refund job captures first).
     * @throws ProblemError 404 unknown payment, 409 `payment-voided`.
     */
    refundConfirmed(tenantId: string, paymentId: string): Promise<PaymentView> {
      return app.runInTenant(tenantId, async (uow) => {
        const row = await repo.transition(uow.tx, uow.tenantId, paymentId, ['captured', 'authorised'], 'refunded');
        if (row) {
          if (row.method === 'card' && row.providerRef) await publishRefund(uow, row);
          return toPaymentView(row);
        }
        const existing = await repo.byId(uow.tx, uow.tenantId, paymentId);
        if (!existing) throw problems.notFound('No such payment.');
        if (existing.status === 'voided') throw voided();
        return toPaymentView(existing);
      });
    },

    /** Service, gateway `find` and `findMany` over HTTP: visible payments by id, in the tenant's unit of work. */
    lookup(tenantId: string, paymentIds: readonly string[]): Promise<PaymentView[]> {
      return app.runInTenant(tenantId, async (uow) => (await repo.byIds(uow.tx, uow.tenantId, paymentIds)).map(toPaymentView));
    },

    async find(uow: UnitOfWork, paymentId: string): Promise<PaymentView | undefined> {
      const row = await repo.byId(uow.tx, uow.tenantId, paymentId, { visible: true });
      return row ? toPaymentView(row) : undefined;
    },

    async findMany(uow: UnitOfWork, paymentIds: readonly string[]): Promise<Map<string, PaymentView>> {
      const rows = await repo.byIds(uow.tx, uow.tenantId, paymentIds);
      return new Map(rows.map((r) => [r.id, toPaymentView(r)]));
    },

    /** `GET /payments/:id` of tenant `tenantId`. @throws ProblemError 404. */
    get(tenantId: string, id: string): Promise<PaymentView> {
      return app.runInTenant(tenantId, async ({ tx }) => {
        const row = await repo.byId(tx, tenantId, id, { visible: true });
        if (!row) throw problems.notFound('No such payment.');
        return toPaymentView(row);
      });
    },

    /** `GET /payments` of tenant `tenantId`: a page of `limit`, after `afterId`, optionally of one order. */
    list(tenantId: string, opts: PaymentListOptions): Promise<{ items: PaymentView[]; nextCursor: string | null }> {
      return app.runInTenant(tenantId, async ({ tx }) => {
        const rows = await repo.list(tx, tenantId, { ...opts, limit: opts.limit + 1 });
        return toPage(rows.map(toPaymentView), opts.limit);
      });
    },
  };
}

export type PaymentsService = ReturnType<typeof createPaymentsService>;

/** Options of a payments listing. */
export interface PaymentListOptions {
  limit: number;
  afterId?: string | undefined;
  orderId?: string | undefined;
}

/** The reads behind the public `GET /payments` routes: the module's own service, or the payments service's HTTP client. */
export type PaymentQueries = Pick<PaymentsService, 'get' | 'list'>;
