import { sql, type SQL } from 'drizzle-orm';
import { queryRows, type Database } from './database.ts';

/**
 * A fixed UTC offset as ISO 8601 writes it, `±HH:MM` from -15:59 to +15:59 (`-03:00` is three
 * hours behind UTC). PostgreSQL would read the same text in `AT TIME ZONE '-03:00'` as a POSIX
 * zone with the sign inverted (three hours *ahead*), so offsets are passed as an `interval`.
 */
const UTC_OFFSET = /^[+-](0\d|1[0-5]):[0-5]\d$/;

/** The zone used when a stored one is not usable (see {@link TimeZoneCatalog.usable}). */
const FALLBACK_TIME_ZONE = 'UTC';

/**
 * The time zones this PostgreSQL server knows (`pg_timezone_names`), read once. `Intl` accepts
 * names PostgreSQL lacks (e.g. `US/Pacific-New`, dropped from tzdata in 2020), and a name
 * PostgreSQL does not know makes every `AT TIME ZONE` with it fail (SQLSTATE 22023), so zones
 * are validated against this list, not against `Intl`.
 */
export interface TimeZoneCatalog {
  /** True for a name in `pg_timezone_names` (exact spelling) or a {@link UTC_OFFSET}. */
  isKnown(zone: string): boolean;
  /** `zone` when {@link isKnown}, else {@link FALLBACK_TIME_ZONE} (for data stored before validation). */
  usable(zone: string): string;
  /**
   * The SQL operand of `AT TIME ZONE` for a usable zone: an `interval` for a UTC offset (ISO sign),
   * the name otherwise. Pass the result of {@link usable}.
   */
  atTimeZone(zone: string): SQL;
}

const catalogs = new WeakMap<object, Promise<TimeZoneCatalog>>();

/**
 * Reads `pg_timezone_names` (about 60 ms on PostgreSQL 15) and returns the catalog; read once per
 * database handle, however many modules ask (a failed read is asked again next time).
 */
export function loadTimeZoneCatalog(db: Pick<Database, 'execute'>): Promise<TimeZoneCatalog> {
  let catalog = catalogs.get(db);
  if (!catalog) {
    catalog = readTimeZoneCatalog(db);
    catalogs.set(db, catalog);
    catalog.catch(() => catalogs.delete(db));
  }
  return catalog;
}

async function readTimeZoneCatalog(db: Pick<Database, 'execute'>): Promise<TimeZoneCatalog> {
  const rows = await queryRows<{ name: string }>(db, sql`select name from pg_timezone_names`);
  const names = new Set(rows.map((r) => r.name));
  names.add(FALLBACK_TIME_ZONE);
  const isKnown = (zone: string) => names.has(zone) || UTC_OFFSET.test(zone);
  return {
    isKnown,
    usable: (zone) => (isKnown(zone) ? zone : FALLBACK_TIME_ZONE),
    atTimeZone: (zone) => (UTC_OFFSET.test(zone) ? sql`${zone}::interval` : sql`${zone}::text`),
  };
}
