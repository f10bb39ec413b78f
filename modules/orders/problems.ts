import { z } from 'zod';
import { defineProblem } from '../../shared/problem-details.ts';
import { MAX_ORDER_SUBTOTAL } from './pricing.ts';

/** Problems of the orders module: thrown by its service, documented by its routes. */
export const orderProblems = {
  unknownMenuItem: defineProblem({
    id: 'UnknownMenuItemProblem',
    status: 422,
    slug: 'unknown-menu-item',
    title: 'Unknown menu item',
    description: "A line names a menu item that does not exist (or is another restaurant's): no order was made.",
    extensions: { menuItemId: z.uuid(), path: z.string().describe('The line: `body.items.<index>.menuItemId`') },
  }),
  menuItemUnavailable: defineProblem({
    id: 'MenuItemUnavailableProblem',
    status: 422,
    slug: 'menu-item-unavailable',
    title: 'Menu item unavailable',
    description: 'A line names a menu item that is not available (or archived): no order was made.',
    extensions: { menuItemId: z.uuid() },
  }),
  orderTooLarge: defineProblem({
    id: 'OrderTooLargeProblem',
    status: 422,
    slug: 'order-too-large',
    title: 'Order too large',
    description: `The subtotal is over ${MAX_ORDER_SUBTOTAL} minor units: no order was made.`,
  }),
  orderAlreadyCancelled: defineProblem({
    id: 'OrderAlreadyCancelledProblem',
    status: 409,
    slug: 'order-already-cancelled',
    title: 'Order already cancelled',
    description: 'The order was already cancelled (and its payment refunded).',
  }),
};
