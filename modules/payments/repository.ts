import { and, asc, eq, gt, inArray, ne, notInArray } from 'drizzle-orm';
import type { Transaction } from '../../shared/database.ts';
import { reusableInsert } from '../../shared/statements.ts';
import type { UnitOfWork } from '../../shared/unit-of-work.ts';
import { payments } from './schema.ts';

export type PaymentRow = typeof payments.$inferSelect;

/** A payment row as `insert` writes it (every column), built once (shared/statements.ts). */
const insertPayment = reusableInsert('payments_insert', payments, ['tenantId', 'id', 'orderId', 'method', 'amount', 'currency', 'status', 'tendered', 'change', 'provider', 'providerRef', 'createdAt', 'refundedAt']);

/** Data access of the payments module; every function takes the transaction it runs in. */
export const paymentsRepository = {
  /**
   * Queues the insert of a complete payment row on the unit of work's pipeline (no round trip of
   * its own; a failure rolls the unit of work back) and returns the row as it will be stored.
   */
  insert(uow: Pick<UnitOfWork, 'tx' | 'pipeline'>, row: Omit<PaymentRow, 'createdAt' | 'refundedAt' | 'tendered' | 'change' | 'provider' | 'providerRef'> & Partial<PaymentRow>): PaymentRow {
    const stored: PaymentRow = { tendered: null, change: null, provider: null, providerRef: null, refundedAt: null, createdAt: new Date(), ...row };
    uow.pipeline(insertPayment(uow.tx, [stored]));
    return stored;
  },

  /** The payment, voided ones included (`visible: true` leaves them out). */
  async byId(tx: Transaction, tenantId: string, id: string, { visible = false } = {}): Promise<PaymentRow | undefined> {
    const [row] = await tx
      .select()
      .from(payments)
      .where(and(eq(payments.tenantId, tenantId), eq(payments.id, id), visible ? ne(payments.status, 'voided') : undefined));
    return row;
  },

  /** The payments with these ids, voided ones left out. */
  async byIds(tx: Transaction, tenantId: string, ids: readonly string[]): Promise<PaymentRow[]> {
    if (ids.length === 0) return [];
    return tx.select().from(payments).where(and(eq(payments.tenantId, tenantId), inArray(payments.id, [...ids]), ne(payments.status, 'voided')));
  },

  /**
   * Moves a payment from one of the states `from` to `to` (stamping `refundedAt` for `refunded`);
   * undefined when it is in none of them (or does not exist).
   */
  async transition(
    tx: Transaction,
    tenantId: string,
    id: string,
    from: ReadonlyArray<PaymentRow['status']>,
    to: PaymentRow['status'],
  ): Promise<PaymentRow | undefined> {
    const [row] = await tx
      .update(payments)
      .set({ status: to, ...(to === 'refunded' ? { refundedAt: new Date() } : {}) })
      .where(and(eq(payments.tenantId, tenantId), eq(payments.id, id), inArray(payments.status, [...from])))
      .returning();
    return row;
  },

  async list(tx: Transaction, tenantId: string, opts: { limit: number; afterId?: string | undefined; orderId?: string | undefined }): Promise<PaymentRow[]> {
    return tx
      .select()
      .from(payments)
      .where(
        and(
          eq(payments.tenantId, tenantId),
          // Listed once settled: not released ones, nor ones still waiting for their order's confirmation.
          notInArray(payments.status, ['voided', 'authorised']),
          opts.orderId ? eq(payments.orderId, opts.orderId) : undefined,
          opts.afterId ? gt(payments.id, opts.afterId) : undefined,
        ),
      )
      .orderBy(asc(payments.id))
      .limit(opts.limit);
  },
};
