import { z } from 'zod';
import { MAX_MINOR_UNITS, Money, Timestamp } from '../../shared/http-schemas.ts';

/** Response shapes of the restaurant module: the zod schema serialises and documents, the type is derived from it. */
/** A menu item as the API shows it; `price` in minor units of `currency`. */
export const MenuItem = z
  .object({
    id: z.uuid(),
    name: z.string(),
    sku: z.string().nullable(),
    price: Money(MAX_MINOR_UNITS),
    currency: z.string(),
    category: z.string().nullable(),
    available: z.boolean(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .meta({ id: 'MenuItem' });
export type MenuItemView = z.output<typeof MenuItem>;
