import { z } from 'zod';
import { defineProblem } from '../../shared/problem-details.ts';
import { inventoryGatewayProblems, MAX_ON_HAND } from './gateway.ts';

const Units = z.number().int().min(0).max(MAX_ON_HAND);

/**
 * Problems of the inventory module: thrown by its service and gateway, documented by its routes.
 * Those the gateway throws are defined in gateway.ts (orders documents them too).
 */
export const inventoryProblems = {
  ...inventoryGatewayProblems,
  stockLimitExceeded: defineProblem({
    id: 'StockLimitExceededProblem',
    status: 409,
    slug: 'stock-limit-exceeded',
    title: 'Stock limit exceeded',
    description: `The adjustment would take stock over ${MAX_ON_HAND} units: nothing was changed.`,
    extensions: { menuItemId: z.uuid(), onHand: Units, limit: z.literal(MAX_ON_HAND) },
  }),
};
