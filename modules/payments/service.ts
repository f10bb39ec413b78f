import type { FastifyInstance } from 'fastify';
import type { ModuleEventPort } from '../../shared/module.ts';
import type { Principal } from '../../shared/auth-guard.ts';
import { toPage } from '../../shared/http-schemas.ts';
import { newId } from '../../shared/ids.ts';
import { problems } from '../../shared/problem-details.ts';
import { domainEvent } from '../../shared/event-bus.ts';
import type { UnitOfWork } from '../../shared/unit-of-work.ts';
import { paymentProblems, type CardPaymentCollected, type CardPaymentRefunded, type PaymentInstruction, type PaymentView } from './gateway.ts';
import type { PaymentProvider } from './payment-provider.ts';
import { paymentsRepository as repo, type PaymentRow } from './repository.ts';

const toPaymentView = (r: PaymentRow): PaymentView => ({
  id: r.id,
  orderId: r.orderId,
  method: r.method,
  amount: r.amount,
  currency: r.currency,
  status: r.status,
  ...(r.change !== null ? { change: r.change } : {}),
  createdAt: r.createdAt.toISOString(),
  ...(r.refundedAt ? { refundedAt: r.refundedAt.toISOString() } : {}),
});

const declined = (reason: 'declined' | 'insufficient_funds') =>
  paymentProblems.cardDeclined.create(`The card was declined (${reason}).`, { declineCode: reason });

/** Use cases of the payments module. */
export function createPaymentsService(app: FastifyInstance, provider: PaymentProvider, events: ModuleEventPort) {
  return {
    /** Gateway: see `PaymentsGateway.collect`. */
    async collect(uow: UnitOfWork, input: { orderId: string; amount: number; currency: string; instruction: PaymentInstruction }): Promise<PaymentView> {
      const { instruction, amount } = input;
      const id = newId();
      if (instruction.method === 'cash') {
        if (instruction.tendered < amount) {
          throw paymentProblems.insufficientTender.create(`Tendered ${instruction.tendered} is less than the total ${amount}.`, {
            tendered: instruction.tendered,
            total: amount,
          });
        }
        const row = repo.insert(uow, {
          tenantId: uow.tenantId,
          id,
          orderId: input.orderId,
          method: 'cash',
          amount,
          currency: input.currency,
          status: 'captured',
          tendered: instruction.tendered,
          change: instruction.tendered - amount,
        });
        return toPaymentView(row);
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
        status: 'captured',
        provider: provider.name,
        providerRef: result.reference,
      });
      // Captured by a job that commits with the payment row (see the gateway's notes).
      await events.publish(
        uow,
        domainEvent<CardPaymentCollected>(uow, 'CardPaymentCollected', { paymentId: id, orderId: input.orderId, provider: provider.name, reference: result.reference, amount, currency: input.currency }),
      );
      return toPaymentView(row);
    },

    /** Gateway: see `PaymentsGateway.refund`. */
    async refund(uow: UnitOfWork, paymentId: string): Promise<PaymentView> {
      const row = await repo.markRefunded(uow.tx, uow.tenantId, paymentId);
      if (!row) {
        const existing = await repo.byId(uow.tx, uow.tenantId, paymentId);
        if (!existing) throw problems.notFound('No such payment.');
        throw paymentProblems.alreadyRefunded.create('This payment was already refunded.', {});
      }
      if (row.method === 'card' && row.providerRef) {
        await events.publish(
          uow,
          domainEvent<CardPaymentRefunded>(uow, 'CardPaymentRefunded', {
            paymentId: row.id,
            orderId: row.orderId,
            provider: row.provider ?? provider.name,
            reference: row.providerRef,
            amount: row.amount,
            currency: row.currency,
          }),
        );
      }
      return toPaymentView(row);
    },

    async find(uow: UnitOfWork, paymentId: string): Promise<PaymentView | undefined> {
      const row = await repo.byId(uow.tx, uow.tenantId, paymentId);
      return row ? toPaymentView(row) : undefined;
    },

    async findMany(uow: UnitOfWork, paymentIds: readonly string[]): Promise<Map<string, PaymentView>> {
      const rows = await repo.byIds(uow.tx, uow.tenantId, paymentIds);
      return new Map(rows.map((r) => [r.id, toPaymentView(r)]));
    },

    /** @throws ProblemError 404. */
    get(principal: Principal, id: string) {
      return app.runInTenant(principal.tenantId, async ({ tx, tenantId }) => {
        const row = await repo.byId(tx, tenantId, id);
        if (!row) throw problems.notFound('No such payment.');
        return toPaymentView(row);
      });
    },

    list(principal: Principal, opts: { limit: number; afterId?: string | undefined; orderId?: string | undefined }) {
      return app.runInTenant(principal.tenantId, async ({ tx, tenantId }) => {
        const rows = await repo.list(tx, tenantId, { ...opts, limit: opts.limit + 1 });
        return toPage(rows.map(toPaymentView), opts.limit);
      });
    },
  };
}

export type PaymentsService = ReturnType<typeof createPaymentsService>;
