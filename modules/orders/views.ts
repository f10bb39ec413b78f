import { z } from 'zod';
import { MAX_MINOR_UNITS, Money, Timestamp } from '../../shared/http-schemas.ts';
import { MAX_ORDER_SUBTOTAL } from './pricing.ts';
import { ORDER_STATUSES } from './schema.ts';

/** Response shapes of the orders module: the zod schema serialises and documents, the types are derived from it. */

/** Tax is at most 100 % of the subtotal (taxRateBps ≤ 10000), so a total is at most twice the subtotal cap. */
const MAX_ORDER_TOTAL = 2 * MAX_ORDER_SUBTOTAL;
export const MAX_QUANTITY = 999;

/** An order as the API shows it; money in minor units of `currency`. */
export const OrderSchema = z
  .object({
    id: z.uuid(),
    number: z.number().int().min(1).max(2_147_483_647).describe('Counts up per tenant from 1'),
    status: z.enum(ORDER_STATUSES),
    currency: z.string(),
    lines: z.array(
      z.object({
        menuItemId: z.uuid(),
        name: z.string(),
        unitPrice: Money(MAX_MINOR_UNITS).describe('Price of one unit when the order was placed, minor units'),
        quantity: z.number().int().min(1).max(MAX_QUANTITY),
        lineTotal: Money(MAX_ORDER_SUBTOTAL),
      }),
    ),
    subtotal: Money(MAX_ORDER_SUBTOTAL).describe(`Sum of the line totals, minor units; at most ${MAX_ORDER_SUBTOTAL}`),
    tax: Money(MAX_ORDER_SUBTOTAL).describe('round(subtotal × taxRateBps / 10000), half away from zero'),
    total: Money(MAX_ORDER_TOTAL).describe('subtotal + tax'),
    payment: z.object({
      id: z.uuid(),
      method: z.enum(['cash', 'card']),
      amount: Money(MAX_ORDER_TOTAL),
      status: z.enum(['captured', 'refunded']),
      change: Money(MAX_MINOR_UNITS).optional().describe('Cash only: tendered minus total'),
      refundedAt: Timestamp.optional(),
    }),
    note: z.string().nullable(),
    createdAt: Timestamp,
    cancelledAt: Timestamp.nullable(),
  })
  .meta({ id: 'Order' });
export type OrderView = z.output<typeof OrderSchema>;
/** One line of an order in the API; money in minor units. */
export type OrderLineView = OrderView['lines'][number];
