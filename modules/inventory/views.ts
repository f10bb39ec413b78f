import { z } from 'zod';
import { Timestamp } from '../../shared/http-schemas.ts';
import { MAX_ON_HAND } from './gateway.ts';

/** Response shapes of the inventory module: the zod schema serialises and documents, the type is derived from it. */
/** Stock of a tracked item as the API shows it (units, never negative). */
export const StockLevel = z
  .object({
    menuItemId: z.uuid(),
    onHand: z.number().int().min(0).max(MAX_ON_HAND),
    lowStockThreshold: z.number().int().min(0).max(MAX_ON_HAND),
    lowStock: z.boolean().describe('onHand <= lowStockThreshold'),
    updatedAt: Timestamp,
  })
  .meta({ id: 'StockLevel' });
export type StockLevelView = z.output<typeof StockLevel>;
