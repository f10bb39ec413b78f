/**
 * Public contract of the orders module (bounded context: the point of sale).
 * The only file of this module that other modules may import.
 */
import type { UnitOfWork } from '../../shared/unit-of-work.ts';

/** Sales of one period; money in minor units. `net = gross - refunds`. */
export interface SalesFigures {
  /** Orders paid in the period. */
  orders: number;
  /** Sum of totals (tax included) of orders paid in the period. */
  gross: number;
  /** Sum of tax of orders paid in the period. */
  tax: number;
  /** Sum of amounts refunded in the period. */
  refunds: number;
  net: number;
}

/** Calls other modules may make into orders. */
export interface OrdersGateway {
  /**
   * Sales between `from` (inclusive) and `to` (exclusive), bucketed by local day or hour in
   * `timeZone` (IANA). Buckets with no activity are left out; `start` is the bucket's start
   * as an ISO 8601 UTC instant.
   */
  salesSummary(
    uow: UnitOfWork,
    query: { from: Date; to: Date; groupBy: 'day' | 'hour'; timeZone: string },
  ): Promise<{ buckets: Array<SalesFigures & { start: string }>; totals: SalesFigures }>;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The orders module's gateway, decorated by its plugin. */
    orders: OrdersGateway;
  }
}
