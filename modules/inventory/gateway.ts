/**
 * Public contract of the inventory module (bounded context: stock).
 * The only file of this module that other modules may import.
 */
import { z } from 'zod';
import type { DomainEvent } from '../../shared/event-bus.ts';
import { defineProblem } from '../../shared/problem-details.ts';
import type { UnitOfWork } from '../../shared/unit-of-work.ts';

/**
 * Most units of one item that a count or an adjustment may leave on hand (one million). Keeps
 * `on_hand` (int4, at most 2,147,483,647) far from overflowing; only a cancellation may restore
 * stock above it (what its order took), and that is capped at the int4 maximum.
 */
export const MAX_ON_HAND = 1_000_000;

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

/**
 * Problems the inventory gateway throws (`takeStock`: insufficient stock), for callers to
 * document. Defined here, not in the module's internals: a gateway is self-contained, so a module
 * that uses it loads (and is tested alone) with this file only.
 */
export const inventoryGatewayProblems = {
  insufficientStock: defineProblem({
    id: 'InsufficientStockProblem',
    status: 409,
    slug: 'insufficient-stock',
    title: 'Insufficient stock',
    description: 'Not enough stock of a tracked menu item: nothing was changed.',
    extensions: {
      menuItemId: z.uuid().describe('The item short of stock'),
      onHand: z.number().int().min(0).max(MAX_ON_HAND).describe('Units on hand now'),
      requested: z.number().int().min(1).optional().describe('Units an order asked for (orders only)'),
    },
  }),
};
