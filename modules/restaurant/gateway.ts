/**
 * Public contract of the restaurant module (bounded context: the menu).
 * The only file of this module that other modules may import.
 */
import type { UnitOfWork } from '../../shared/unit-of-work.ts';

/** A menu item as other modules see it; `price` in minor units of `currency`. */
export interface MenuItemQuote {
  id: string;
  name: string;
  price: number;
  currency: string;
  /** False when switched off or archived: it cannot be ordered. */
  available: boolean;
}

/**
 * Answers whether another module still references a menu item (e.g. order lines). Registered by
 * that module, so the dependency points from it to restaurant and never back.
 */
export type MenuItemReferenceCheck = (uow: UnitOfWork, menuItemId: string) => Promise<boolean>;

/**
 * Told, inside the deleting unit of work, that a menu item was hard-deleted (not archived), so a
 * module can drop what it keeps per item (e.g. its stock record). Registered by that module.
 */
export type MenuItemDeletionHook = (uow: UnitOfWork, menuItemId: string) => Promise<void>;

/** Calls other modules may make into restaurant. */
export interface RestaurantGateway {
  /**
   * Current name, price and availability of `ids` in the unit of work's tenant. Ids that do not
   * exist there (or belong to another tenant) are absent from the map.
   */
  findMenuItems(uow: UnitOfWork, ids: readonly string[]): Promise<Map<string, MenuItemQuote>>;
  /** Lets a module veto hard deletion: referenced items are archived instead. */
  registerReferenceCheck(check: MenuItemReferenceCheck): void;
  /** Runs `hook` in the same transaction whenever a menu item is hard-deleted. */
  registerDeletionHook(hook: MenuItemDeletionHook): void;
}
