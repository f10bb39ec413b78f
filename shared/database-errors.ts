/**
 * Which database errors are about availability (the database, or a connection to it, was not
 * there or could not take the work right now) rather than about the work itself. The one place
 * that decides it: the event bus retries these without using up an event's attempts, and the
 * HTTP layer may answer them with 503 + Retry-After instead of 500.
 */

/**
 * SQLSTATEs that say "try again later", not "this request is wrong":
 * - class 08: connection exceptions (connection failure, does not exist, rejected…);
 * - 53300 too_many_connections (the server's `max_connections` or a role's limit);
 * - 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up,
 *   shutting down, recovery), 57P05 idle_session_timeout;
 * - 57014 query_canceled (our statement_timeout) and 25P03 idle_in_transaction_session_timeout:
 *   the database did not get the work done in the bounded time;
 * - 40001 serialization_failure, 40P01 deadlock_detected: the transaction lost a race and may
 *   simply be run again (PostgreSQL manual, "Serialization Failure Handling").
 * Source: PostgreSQL 15 manual, Appendix A "PostgreSQL Error Codes".
 */
const UNAVAILABLE_SQLSTATES = new Set(['53300', '57P01', '57P02', '57P03', '57P05', '57014', '25P03']);
/** Lost a race: run the same work again (not an outage, so never a 503). */
const RETRY_SQLSTATES = new Set(['40001', '40P01']);

/**
 * Error codes of the Node.js socket layer and of postgres.js (3.x) for a connection that could
 * not be made or was lost (`CONNECTION_CLOSED`, `CONNECTION_DESTROYED`, `CONNECTION_ENDED`,
 * `CONNECT_TIMEOUT` are postgres.js's own).
 */
const TRANSIENT_CONNECTION_CODES = new Set([
  'DATABASE_UNAVAILABLE', // DatabaseUnavailable (shared/database.ts): no connection in time, or it was lost
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECTION_ENDED',
  'CONNECT_TIMEOUT',
]);

/** Walks `error`, its `cause` chain and an `AggregateError`'s `errors`, as drizzle and Node wrap them. */
function someError(error: unknown, test: (code: string) => boolean): boolean {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0) {
    const e = queue.shift();
    if (!e || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && test(code)) return true;
    queue.push((e as { cause?: unknown }).cause);
    const nested = (e as { errors?: unknown }).errors;
    if (Array.isArray(nested)) queue.push(...nested);
  }
  return false;
}

const unavailable = (code: string) => UNAVAILABLE_SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code) || TRANSIENT_CONNECTION_CODES.has(code);

/**
 * True when `error` (or an error it wraps) means the database could not serve the work for now:
 * a refused, lost or timed-out connection, no pooled connection in time, too many connections, a
 * server shutting down or starting, a statement or idle-in-transaction timeout. The HTTP layer
 * answers these 503 + Retry-After (shared/problem-details.ts); startup waits on them.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  return someError(error, unavailable);
}

/**
 * True when `error` is worth redelivering unchanged later: {@link isDatabaseUnavailable}, or a
 * serialization failure/deadlock. The event bus retries these without using up an event's
 * attempts; any other error (constraint violations, bad SQL, a handler's own bug) is false.
 */
export function isTransientDatabaseError(error: unknown): boolean {
  return someError(error, (code) => unavailable(code) || RETRY_SQLSTATES.has(code));
}
