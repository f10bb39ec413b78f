import { z } from 'zod';
import { problems, type ResponseHeader } from './problem-details.ts';

/** Largest amount accepted in minor units (10^11: one billion in a two-decimal currency). */
export const MAX_MINOR_UNITS = 100_000_000_000;

/** An amount of money: a non-negative integer in the tenant currency's minor units (e.g. cents). */
export const MinorUnits = z
  .number()
  .int('must be an integer amount in minor units')
  .min(0, 'must not be negative')
  .max(MAX_MINOR_UNITS)
  .describe('Integer amount in minor units of the currency (e.g. cents)');

/** Largest integer a JSON number carries exactly (2^53 - 1): the bound of sums and counts in reports. */
export const MAX_EXACT_INTEGER = Number.MAX_SAFE_INTEGER;

/**
 * An amount of money in a response, in minor units of the response's `currency`: a non-negative
 * integer up to `max` (the limit the API enforces for that amount).
 */
export function Money(max: number) {
  return z.number().int().min(0).max(max).describe('Integer amount in minor units of `currency` (e.g. cents)');
}

/** A count in a response (orders, units): a non-negative integer up to `max`. */
export function Count(max: number = MAX_EXACT_INTEGER) {
  return z.number().int().min(0).max(max);
}

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

/**
 * Every string a request may carry: any Unicode text except NUL (U+0000), which PostgreSQL
 * cannot store in `text` (SQLSTATE 22021). Request schemas use this (or a format such as
 * `z.uuid()`, `z.email()`, an enum) instead of a bare `z.string()`; OpenAPI shows the pattern,
 * and test/bad-input.property.test.ts fails on a request string that lacks one.
 */
export const Text = z.string().regex(/^[^\u0000]*$/, 'must not contain the NUL character (\\u0000)');

/**
 * A non-negative integer query parameter written in decimal digits only (`16`, `016`): `0x10`,
 * `1e2`, `+5`, ` 5` and `5.0` are refused, as careful public APIs do. Parsed to a number and
 * checked against `min..max`.
 */
export function QueryInt(min: number, max: number) {
  return z
    .string()
    .regex(/^[0-9]{1,15}$/, 'must be an integer written in decimal digits')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
}

/** Earliest instant a request may name: 1970-01-01T00:00:00Z. */
const MIN_INSTANT = new Date('1970-01-01T00:00:00Z');
/** Latest instant a request may name: 9999-12-31T00:00:00Z (a day of margin for local-time arithmetic). */
const MAX_INSTANT = new Date('9999-12-31T00:00:00Z');

/**
 * An ISO 8601 date-time with `Z` or an offset, naming an instant between {@link MIN_INSTANT} and
 * {@link MAX_INSTANT} once converted to UTC. JavaScript's `Date` accepts year 0 (and an offset can
 * push year 1 or 9999 across the edge), but PostgreSQL's `timestamptz` refuses year 0 (22008),
 * and report periods subtract days from these instants: the bounds keep every derived value
 * storable. Stays a string; convert with `new Date(value)`.
 */
export const Instant = z.iso
  .datetime({ offset: true })
  .refine((v) => {
    const ms = Date.parse(v);
    return ms >= MIN_INSTANT.getTime() && ms <= MAX_INSTANT.getTime();
  }, `must be between ${MIN_INSTANT.toISOString()} and ${MAX_INSTANT.toISOString()}`);

/** `limit` and `cursor` of every list endpoint: limit 1..100 in decimal digits, default 20. */
export const PageQuery = z.object({
  limit: QueryInt(1, 100).default(20).describe('Page size, 1..100 in decimal digits (default 20)'),
  cursor: Text.min(1).max(200).optional().describe('Opaque cursor from a previous page\'s `nextCursor`'),
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

/** Media type of every successful JSON body. */
const JSON_CONTENT_TYPE = 'application/json';

/** A named example of a request or response body (OpenAPI Example Object). */
export interface BodyExample {
  summary: string;
  value: unknown;
}

/**
 * A documented JSON response for a route's `schema.response[status]`, in the per-content-type
 * form that Fastify (serialisation) and fastify-type-provider-zod (types, OpenAPI) both read.
 * `headers` and `examples` are for the API docs only (src/api-docs.ts puts them in OpenAPI).
 */
export function jsonResponse<T extends z.ZodType>(
  schema: T,
  doc: { description: string; headers?: Record<string, ResponseHeader>; examples?: Record<string, BodyExample> },
) {
  return {
    description: doc.description,
    ...(doc.headers ? { headers: doc.headers } : {}),
    content: { [JSON_CONTENT_TYPE]: { schema, ...(doc.examples ? { examples: doc.examples } : {}) } } as { [JSON_CONTENT_TYPE]: { schema: T; examples?: Record<string, BodyExample> } },
  };
}

const emptyResponseHeaders = new WeakMap<z.ZodType, Record<string, ResponseHeader>>();

/**
 * A response without a body (204, 304) for a route's `schema.response[status]`: no content, so
 * no content type in OpenAPI. `headers` are documented by the API docs ({@link headersOfEmptyResponse}).
 */
export function emptyResponse(description: string, headers?: Record<string, ResponseHeader>): z.ZodUndefined {
  const schema = z.undefined().describe(description);
  if (headers) emptyResponseHeaders.set(schema, headers);
  return schema;
}

/** The headers documented with an {@link emptyResponse} (undefined for any other schema). */
export function headersOfEmptyResponse(schema: unknown): Record<string, ResponseHeader> | undefined {
  return schema instanceof z.ZodType ? emptyResponseHeaders.get(schema) : undefined;
}

/** Response headers of the read cache's validators (restaurant module, RFC 9110 §8.8.3). */
export const ETagHeader: ResponseHeader = {
  description: 'Entity tag of the body; send it back as `If-None-Match` to get 304 while it is unchanged',
  schema: { type: 'string', maxLength: 100 },
};
