/**
 * Public contract of the orders module (bounded context: the point of sale).
 * The only file of this module that other modules may import.
 */
import type { DomainEvent, MinorUnitAmount } from '../../shared/event-bus.ts';

/** A line of a paid order, as carried by {@link OrderPaid}; money in minor units. */
export interface OrderLineSnapshot {
  menuItemId: string;
  name: string;
  unitPrice: MinorUnitAmount;
  quantity: number;
  lineTotal: MinorUnitAmount;
}

/** Published in the order's transaction when an order is paid. Money in minor units of `currency`. */
export type OrderPaid = DomainEvent<
  'OrderPaid',
  {
    orderId: string;
    number: number;
    currency: string;
    subtotal: MinorUnitAmount;
    tax: MinorUnitAmount;
    total: MinorUnitAmount;
    paymentMethod: 'cash' | 'card';
    lines: OrderLineSnapshot[];
    paidAt: string;
  }
>;

/** Published in the cancel's transaction: the payment was refunded in full and stock restored. */
export type OrderCancelled = DomainEvent<
  'OrderCancelled',
  {
    orderId: string;
    number: number;
    currency: string;
    /** Amount refunded, minor units (the order total). */
    refundAmount: MinorUnitAmount;
    paymentMethod: 'cash' | 'card';
    cancelledAt: string;
  }
>;
