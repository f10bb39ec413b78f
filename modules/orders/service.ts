import type { FastifyInstance } from 'fastify';
import type { AuthGateway } from '../auth/gateway.ts';
import type { InventoryGateway } from '../inventory/gateway.ts';
import type { PaymentInstruction, PaymentsGateway, PaymentView } from '../payments/gateway.ts';
import type { RestaurantGateway } from '../restaurant/gateway.ts';
import type { ModuleEventPort } from '../../shared/module.ts';
import type { Principal } from '../../shared/auth-guard.ts';
import { encodeCursor } from '../../shared/http-schemas.ts';
import { newId } from '../../shared/ids.ts';
import { problems } from '../../shared/problem-details.ts';
import { orderProblems } from './problems.ts';
import type { IdempotencyGuard } from '../../shared/idempotency.ts';
import type { UnitOfWork } from '../../shared/unit-of-work.ts';
import { domainEvent } from '../../shared/event-bus.ts';
import type { OrderCancelled, OrderPaid } from './gateway.ts';
import { MAX_ORDER_SUBTOTAL, taxFor } from './pricing.ts';
import { ordersRepository as repo, type OrderLineRow, type OrderRow } from './repository.ts';
import type { OrderView } from './views.ts';


/** Body of `POST /orders`. */
export interface PlaceOrderInput {
  items: Array<{ menuItemId: string; quantity: number }>;
  payment: PaymentInstruction;
  note?: string | undefined;
}

const toView = (order: OrderRow, lines: OrderLineRow[], payment: PaymentView): OrderView => ({
  id: order.id,
  number: order.number,
  status: order.status,
  currency: order.currency,
  lines: lines.map((l) => ({ menuItemId: l.menuItemId, name: l.name, unitPrice: l.unitPrice, quantity: l.quantity, lineTotal: l.lineTotal })),
  subtotal: order.subtotal,
  tax: order.tax,
  total: order.total,
  payment: {
    id: payment.id,
    method: payment.method,
    amount: payment.amount,
    status: payment.status,
    ...(payment.change !== undefined ? { change: payment.change } : {}),
    ...(payment.refundedAt ? { refundedAt: payment.refundedAt } : {}),
  },
  note: order.note,
  createdAt: order.createdAt.toISOString(),
  cancelledAt: order.cancelledAt?.toISOString() ?? null,
});

/** Sums quantities per menu item, for stock (an item may appear on several lines). */
function stockLines(lines: ReadonlyArray<{ menuItemId: string; quantity: number }>) {
  const byItem = new Map<string, number>();
  for (const l of lines) byItem.set(l.menuItemId, (byItem.get(l.menuItemId) ?? 0) + l.quantity);
  return [...byItem].map(([menuItemId, quantity]) => ({ menuItemId, quantity }));
}

const notFound = () => problems.notFound('No such order.');

/** The gateways the orders module uses (its declared `uses`). */
export interface OrdersDependencies {
  auth: AuthGateway;
  restaurant: RestaurantGateway;
  inventory: InventoryGateway;
  payments: PaymentsGateway;
}

/** Use cases of the orders module: the point of sale. */
export function createOrdersService(app: FastifyInstance, deps: OrdersDependencies, events: ModuleEventPort) {
  const load = async (uow: UnitOfWork, order: OrderRow): Promise<OrderView> => {
    const [lines, payment] = await Promise.all([repo.linesOf(uow.tx, uow.tenantId, [order.id]), deps.payments.find(uow, order.paymentId)]);
    return toView(order, lines, payment!);
  };

  return {
    /**
     * Rings up an order in one unit of work: prices are read and snapshotted, the payment
     * collected (a card authorised before any stock row is locked), stock taken, the order
     * numbered and written. Any failure rolls all of it back.
     * @throws ProblemError 422 unknown/unavailable menu item, 422 insufficient-tender or
     *   invalid-card-token, 402 card-declined, 409 insufficient-stock.
     * `idempotency` (the request's Idempotency-Key) is entered first, before any effect, and
     * completed with the result in the same transaction.
     */
    place(principal: Principal, input: PlaceOrderInput, idempotency?: IdempotencyGuard): Promise<OrderView> {
      return app.runInTenant(principal.tenantId, async (uow) => {
        const ids = [...new Set(input.items.map((i) => i.menuItemId))];
        // The key's lock and the price read share one round trip (with BEGIN); both are plain
        // reads, and nothing happens (no card authorised) unless the key is ours.
        const [, tenant, menu] = await Promise.all([idempotency?.enter(uow), deps.auth.getTenant(uow), deps.restaurant.findMenuItems(uow, ids)]);
        const lines = input.items.map((item, index) => {
          const quote = menu.get(item.menuItemId);
          if (!quote) {
            throw orderProblems.unknownMenuItem.create(`Menu item ${item.menuItemId} does not exist.`, {
              menuItemId: item.menuItemId,
              path: `body.items.${index}.menuItemId`,
            });
          }
          if (!quote.available) {
            throw orderProblems.menuItemUnavailable.create(`Menu item "${quote.name}" is not available.`, {
              menuItemId: item.menuItemId,
            });
          }
          return { lineNo: index + 1, menuItemId: quote.id, name: quote.name, unitPrice: quote.price, quantity: item.quantity, lineTotal: quote.price * item.quantity };
        });
        const subtotal = lines.reduce((sum, l) => sum + l.lineTotal, 0);
        if (subtotal > MAX_ORDER_SUBTOTAL) {
          throw orderProblems.orderTooLarge.create(`The subtotal may not exceed ${MAX_ORDER_SUBTOTAL} minor units.`, {});
        }
        const tax = taxFor(subtotal, tenant.taxRateBps);
        const total = subtotal + tax;
        const orderId = newId();

        const payment = await deps.payments.collect(uow, { orderId, amount: total, currency: tenant.currency, instruction: input.payment });
        // Stock, then the number: the rows every order of a tenant contends for are locked last,
        // in a fixed order (stock by item id, then the counter), and both calls are sent in one
        // write (pipelined), so they stay locked for as few round trips as possible. If stock
        // runs short, the 409 rolls the order insert back with everything else.
        const takingStock = deps.inventory.takeStock(uow, stockLines(lines), { orderId, userId: principal.userId });
        const numbering = repo.insertNumbered(
          uow.tx,
          {
            tenantId: uow.tenantId,
            id: orderId,
            status: 'paid',
            currency: tenant.currency,
            subtotal,
            tax,
            total,
            note: input.note ?? null,
            paymentId: payment.id,
            createdBy: principal.userId,
          },
          lines.map((l) => ({ ...l, tenantId: uow.tenantId, orderId })),
        );
        const [, order] = await Promise.all([takingStock, numbering]);
        const number = order.number;
        const view = toView(order, lines.map((l) => ({ ...l, tenantId: uow.tenantId, orderId })), payment);
        await events.publish(
          uow,
          domainEvent<OrderPaid>(uow, 'OrderPaid', {
            orderId,
            number,
            currency: view.currency,
            subtotal,
            tax,
            total,
            paymentMethod: payment.method,
            lines: view.lines,
            paidAt: view.createdAt,
          }),
        );
        await idempotency?.complete(uow, view);
        return view;
      });
    },

    /** @throws ProblemError 404. */
    get(principal: Principal, id: string): Promise<OrderView> {
      return app.runInTenant(principal.tenantId, async (uow) => {
        const order = await repo.byId(uow.tx, uow.tenantId, id);
        if (!order) throw notFound();
        return load(uow, order);
      });
    },

    list(principal: Principal, opts: { limit: number; afterId?: string | undefined; status?: OrderRow['status'] | undefined; from?: Date | undefined; to?: Date | undefined }) {
      return app.runInTenant(principal.tenantId, async (uow) => {
        const rows = await repo.list(uow.tx, uow.tenantId, { ...opts, limit: opts.limit + 1 });
        const page = rows.slice(0, opts.limit);
        const lines = await repo.linesOf(uow.tx, uow.tenantId, page.map((o) => o.id));
        const payments = await deps.payments.findMany(uow, page.map((o) => o.paymentId));
        const views = page.map((o) => toView(o, lines.filter((l) => l.orderId === o.id), payments.get(o.paymentId)!));
        return { items: views, nextCursor: rows.length > opts.limit ? encodeCursor(page.at(-1)!.id) : null };
      });
    },

    /**
     * Cancels a paid order: refunds its payment and gives back the stock its sale took (the
     * inventory's `sale` movements of the order, never more), atomically.
     * @throws ProblemError 404, 409 `order-already-cancelled`.
     */
    cancel(principal: Principal, id: string, idempotency?: IdempotencyGuard): Promise<OrderView> {
      return app.runInTenant(principal.tenantId, async (uow) => {
        // Awaited alone: a retry must get its 409 at once, not wait for the order row's lock.
        await idempotency?.enter(uow);
        const order = await repo.byId(uow.tx, uow.tenantId, id, true);
        if (!order) throw notFound();
        if (order.status === 'cancelled') {
          throw orderProblems.orderAlreadyCancelled.create(`Order #${order.number} was already cancelled.`, {});
        }
        const lines = await repo.linesOf(uow.tx, uow.tenantId, [order.id]);
        const payment = await deps.payments.refund(uow, order.paymentId);
        // Exactly what the sale took (its stock movements), not the lines: an item tracked only
        // after the sale gets nothing back.
        await deps.inventory.restoreStock(uow, { orderId: order.id, userId: principal.userId });
        const cancelled = await repo.markCancelled(uow.tx, uow.tenantId, order.id);
        const view = toView(cancelled, lines, payment);
        await events.publish(
          uow,
          domainEvent<OrderCancelled>(uow, 'OrderCancelled', {
            orderId: order.id,
            number: order.number,
            currency: order.currency,
            refundAmount: payment.amount,
            paymentMethod: payment.method,
            cancelledAt: view.cancelledAt!,
          }),
        );
        await idempotency?.complete(uow, view);
        return view;
      });
    },

    referencesMenuItem: (uow: UnitOfWork, menuItemId: string) => repo.referencesMenuItem(uow.tx, uow.tenantId, menuItemId),
  };
}

export type OrdersService = ReturnType<typeof createOrdersService>;
