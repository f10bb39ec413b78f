import { z } from 'zod';
import { defineProblem } from '../../shared/problem-details.ts';

/** Problems of the restaurant module: thrown by its service, documented by its routes. */
export const restaurantProblems = {
  duplicateSku: defineProblem({
    id: 'DuplicateSkuProblem',
    status: 409,
    slug: 'duplicate-sku',
    title: 'Duplicate SKU',
    description: 'Another menu item of this restaurant already has this SKU.',
    extensions: { sku: z.string().describe('The SKU already taken') },
  }),
};
