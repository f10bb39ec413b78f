import { z } from 'zod';
import { defineProblem } from '../../shared/problem-details.ts';
import { MAX_ON_HAND } from './schema.ts';

const Units = z.number().int().min(0).max(MAX_ON_HAND);

/** Problems of the inventory module: thrown by its service and gateway, documented by its routes and (through the gateway) by orders. */
export const inventoryProblems = {
  insufficientStock: defineProblem({
    id: 'InsufficientStockProblem',
    status: 409,
    slug: 'insufficient-stock',
    title: 'Insufficient stock',
    description: 'Not enough stock of a tracked menu item: nothing was changed.',
    extensions: {
      menuItemId: z.uuid().describe('The item short of stock'),
      onHand: Units.describe('Units on hand now'),
      requested: z.number().int().min(1).optional().describe('Units an order asked for (orders only)'),
    },
  }),
  stockLimitExceeded: defineProblem({
    id: 'StockLimitExceededProblem',
    status: 409,
    slug: 'stock-limit-exceeded',
    title: 'Stock limit exceeded',
    description: `The adjustment would take stock over ${MAX_ON_HAND} units: nothing was changed.`,
    extensions: { menuItemId: z.uuid(), onHand: Units, limit: z.literal(MAX_ON_HAND) },
  }),
};
