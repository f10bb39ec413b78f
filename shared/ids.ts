import { getRandomValues } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';

/** UUIDs' worth of random bytes drawn from the system at once (16 bytes each). */
const POOL_UUIDS = 256;
const pool = new Uint8Array(16 * POOL_UUIDS);
let nextByte = pool.length;
/** The last id's millisecond and counter (RFC 9562 §6.2, method 1: a counter seeded at random each millisecond). */
const last = { msecs: -Infinity, seq: 0 };

/**
 * A new UUIDv7 (RFC 9562): time-ordered, so ids sort by creation and serve as pagination cursors
 * and as b-tree friendly primary keys. Ids made by this process are strictly increasing, also
 * within one millisecond (a 31-bit counter seeded at random each millisecond; on overflow the
 * millisecond moves on), as `uuid`'s own `v7()` makes them.
 *
 * The random bytes come from a pool refilled {@link POOL_UUIDS} ids at a time: `uuid`'s `v7()`
 * asks the system for 16 bytes per id (`crypto.getRandomValues`, through OpenSSL), which was
 * about 3 % of the app's CPU under the order load (six ids per order; `npm run bench --
 * --profile`). Node's own `crypto.randomUUID()` buffers its randomness the same way.
 */
export function newId(): string {
  if (nextByte === pool.length) {
    getRandomValues(pool);
    nextByte = 0;
  }
  const random = pool.subarray(nextByte, (nextByte += 16));
  const now = Date.now();
  if (now > last.msecs) {
    last.msecs = now;
    last.seq = ((random[6]! & 0x7f) << 24) | (random[7]! << 16) | (random[8]! << 8) | random[9]!;
  } else {
    last.seq = (last.seq + 1) | 0;
    if (last.seq === 0) last.msecs++;
  }
  return uuidv7({ random, msecs: last.msecs, seq: last.seq });
}
