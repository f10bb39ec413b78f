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
 * - 40001 serialization_failure, 40P01 deadlock_detected: the transaction lost a race and may
 *   simply be run again (PostgreSQL manual, "Serialization Failure Handling").
 * Source: PostgreSQL 15 manual, Appendix A "PostgreSQL Error Codes".
 */
const TRANSIENT_SQLSTATES = new Set(['53300', '57P01', '57P02', '57P03', '57P05', '40001', '40P01']);

/**
 * Error codes of the Node.js socket layer and of postgres.js (3.x) for a connection that could
 * not be made or was lost (`CONNECTION_CLOSED`, `CONNECTION_DESTROYED`, `CONNECTION_ENDED`,
 * `CONNECT_TIMEOUT` are postgres.js's own).
 */
const TRANSIENT_CONNECTION_CODES = new Set([
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

/**
 * True when `error` (or any error in its `cause` chain, or in an `AggregateError`'s `errors`, as
 * drizzle and Node's happy-eyeballs connect wrap them) is a database *availability* fault: a
 * refused, lost or timed-out connection, too many connections, a server shutting down or
 * starting, or a serialization failure/deadlock. Such work may succeed unchanged later; any
 * other error (constraint violations, bad SQL, a handler's own bug) is false.
 */
export function isTransientDatabaseError(error: unknown): boolean {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0) {
    const e = queue.shift();
    if (!e || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (TRANSIENT_SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code)) return true;
      if (TRANSIENT_CONNECTION_CODES.has(code)) return true;
    }
    queue.push((e as { cause?: unknown }).cause);
    const nested = (e as { errors?: unknown }).errors;
    if (Array.isArray(nested)) queue.push(...nested);
  }
  return false;
}
