import { z } from 'zod';
import { problems } from './problem-details.ts';

/** Largest amount accepted in minor units (10^11: one billion in a two-decimal currency). */
export const MAX_MINOR_UNITS = 100_000_000_000;

/** An amount of money: a non-negative integer in the tenant currency's minor units (e.g. cents). */
export const MinorUnits = z
  .number()
  .int('must be an integer amount in minor units')
  .min(0, 'must not be negative')
  .max(MAX_MINOR_UNITS)
  .describe('Integer amount in minor units of the currency (e.g. cents)');

/** An id path or body value (UUID). */
export const Id = z.uuid();

/** ISO 4217 currency code, checked against the codes this Node.js (ICU) knows. */
const KNOWN_CURRENCIES = new Set(Intl.supportedValuesOf('currency'));
export const CurrencyCode = z
  .string()
  .regex(/^[A-Z]{3}$/, 'must be an upper-case ISO 4217 code such as USD')
  .refine((c) => KNOWN_CURRENCIES.has(c), 'is not a known ISO 4217 currency')
  .describe('ISO 4217 currency code');

/** ISO 8601 UTC timestamp in responses. */
export const Timestamp = z.iso.datetime().describe('ISO 8601 timestamp, UTC');

/** `limit` and `cursor` of every list endpoint: limit 1..100, default 20. */
export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20).describe('Page size, 1..100 (default 20)'),
  cursor: z.string().min(1).max(200).optional().describe('Opaque cursor from a previous page\'s `nextCursor`'),
});

/** `{items, nextCursor}`: the envelope of every list response. */
export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}

/** Encodes the id of the last item of a page as an opaque cursor. */
export function encodeCursor(lastId: string): string {
  return Buffer.from(lastId, 'utf8').toString('base64url');
}

/**
 * Decodes a cursor made by {@link encodeCursor}.
 * @throws ProblemError 400 when the cursor was not made by this API.
 */
export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!Id.safeParse(id).success) {
    throw problems.badRequest('The cursor is invalid.', [{ path: 'querystring.cursor', message: 'invalid cursor' }]);
  }
  return id;
}

/**
 * Turns `limit + 1` fetched rows into a page: the extra row only signals that a next page exists.
 * `keyOf` gives the sort key the next page starts after (the `id` by default).
 */
export function toPage<T>(
  rows: T[],
  limit: number,
  keyOf: (item: T) => string = (item) => (item as { id: string }).id,
): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(keyOf(last)) : null };
}
