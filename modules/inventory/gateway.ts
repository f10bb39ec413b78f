/**
 * Public contract of the inventory module (bounded context: stock).
 * The only file of this module that other modules may import.
 */
import type { DomainEvent } from '../../shared/event-bus.ts';
import type { UnitOfWork } from '../../shared/unit-of-work.ts';

/** A quantity of one menu item (a whole number of units). */
export interface StockLine {
  menuItemId: string;
  quantity: number;
}

/** Stock of a tracked item after a change. */
export interface StockLevelChange {
  menuItemId: string;
  onHand: number;
  lowStockThreshold: number;
}

/**
 * Published in the same transaction as every change of a tracked item's stock (orders, cancels,
 * counts, adjustments). `version` increases by one per change of that item, so a consumer can
 * ignore an older event that arrives after a newer one.
 */
export type StockLevelChanged = DomainEvent<
  'StockLevelChanged',
  {
    menuItemId: string;
    onHand: number;
    lowStockThreshold: number;
    /** onHand <= lowStockThreshold */
    lowStock: boolean;
    version: number;
  }
>;

/** Published when a menu item stops being tracked (it was deleted): forget its stock. */
export type StockTrackingStopped = DomainEvent<'StockTrackingStopped', { menuItemId: string }>;

/** The order a sale belongs to, and who rang it up or cancelled it (for the movement log). */
export interface SaleRef {
  orderId: string;
  userId?: string | undefined;
}

/** Calls other modules may make into inventory. All of them join the caller's unit of work. */
export interface InventoryGateway {
  /**
   * Takes stock for `lines` (same item may not repeat) and records what it took as `sale`
   * movements of `sale.orderId` (pipelined with the caller's next statements). Untracked items
   * are skipped (nothing recorded). Rows are locked in menu item id order, so concurrent orders
   * cannot deadlock on each other.
   * @throws ProblemError 409 `insufficient-stock` naming the first item short of stock; the
   *   caller's transaction must then roll back (nothing is taken).
   */
  takeStock(uow: UnitOfWork, lines: readonly StockLine[], sale: SaleRef): Promise<StockLevelChange[]>;
  /**
   * Gives back exactly what the `sale` movements of `sale.orderId` took (e.g. the order was
   * cancelled), recorded as `cancellation` movements: an item that was untracked when sold gets
   * nothing, one no longer tracked is skipped. Never fails on the amount: a level that would
   * pass the int4 maximum is capped there. Call it once per order.
   */
  restoreStock(uow: UnitOfWork, sale: SaleRef): Promise<StockLevelChange[]>;
}

/** Problems the inventory gateway throws (`takeStock`: insufficient stock), for callers to document. */
export { inventoryProblems } from './problems.ts';
