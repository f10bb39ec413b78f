import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { LRUCache } from 'lru-cache';
import { ListenUnavailable, sql } from './database.ts';
import type { UnitOfWork } from './unit-of-work.ts';

/**
 * A per-tenant cache of read results in this process, kept coherent with the database and with
 * every other instance of the app (cache-aside with invalidation on write):
 *
 * - `get` answers from the cache, or runs `load` (a read in its own unit of work) and keeps the
 *   result, unless a write to this cache's data committed while `load` ran: then the result may
 *   predate that write and is returned but not kept.
 * - a use case that changes the cached data calls `invalidate(uow)` inside its unit of work: the
 *   same COMMIT sends `NOTIFY pos_read_cache` (transactional: only if it commits), on which every
 *   instance drops the tenant's entries; this instance also drops them right after its commit,
 *   so a client reads its own writes.
 * - the moment the listening connection is lost, everything is dropped and nothing is cached or
 *   served from the cache until it is back (notifications in between are lost); if LISTEN never
 *   delivers (e.g. through PgBouncer in transaction mode), the cache keeps nothing.
 *   `READ_CACHE_TTL_SECONDS` bounds the age of any entry in any case.
 *
 * Entries are per tenant (the key never crosses tenants) and bounded by memory: their estimated
 * size ({@link estimateBytes}, or the cache's `sizeOf`) stays under `READ_CACHE_MAX_BYTES`, the
 * least recently used tenants' entries going first; also at most `maxTenants` tenants and
 * `maxKeysPerTenant` keys each.
 */
export interface TenantReadCache<V> {
  get(tenantId: string, key: string, load: () => Promise<V>): Promise<V>;
  invalidate(uow: Pick<UnitOfWork, 'tx' | 'tenantId' | 'pipeline' | 'afterCommit'>): void;
}

/** Options of one read cache; the byte cap is the app's (`READ_CACHE_MAX_BYTES`). */
export interface ReadCacheOptions<V> {
  maxTenants?: number;
  maxKeysPerTenant?: number;
  /** Estimated bytes one cached value takes in memory; default {@link estimateBytes}. */
  sizeOf?: (value: V) => number;
}

/**
 * What one read cache holds now: its estimated `bytes` (≤ `maxBytes`), its entries and tenants;
 * and since the app started, the reads it answered (`hits`) and those that went to the database
 * (`misses`, including every read while the cache is off or not coherent).
 */
export interface ReadCacheStats {
  bytes: number;
  maxBytes: number;
  entries: number;
  tenants: number;
  hits: number;
  misses: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Creates the {@link TenantReadCache} named `name` (unique in the app; it names the
     * invalidation messages). With `READ_CACHE_TTL_SECONDS=0` the cache keeps nothing.
     */
    createReadCache<V>(name: string, options?: ReadCacheOptions<V>): TenantReadCache<V>;
    /** Size and fill of every read cache of the app, by name (for tests and monitoring). */
    readCacheStats(): Record<string, ReadCacheStats>;
  }
}

/**
 * A rough upper estimate of the bytes `value` takes in V8's heap: a string 16 bytes of header
 * plus 1 byte per character (2 when it has any character beyond Latin-1), a number or boolean
 * 8, an object or array 16 plus, per member, 8 for the slot and its key and value. Shared
 * sub-objects are counted once; it is an estimate for cache budgets, not an exact measure.
 */
function estimateBytes(value: unknown, seen = new Set<object>()): number {
  switch (typeof value) {
    case 'string':
      return 16 + (/[^\u0000-\u00ff]/.test(value) ? 2 : 1) * value.length;
    case 'number':
    case 'boolean':
    case 'bigint':
      return 8;
    case 'object': {
      if (value === null || seen.has(value)) return 8;
      seen.add(value);
      let bytes = 16;
      if (value instanceof Map) for (const [k, v] of value) bytes += 8 + estimateBytes(k, seen) + estimateBytes(v, seen);
      else if (ArrayBuffer.isView(value)) bytes += value.byteLength;
      else if (Array.isArray(value)) for (const v of value) bytes += 8 + estimateBytes(v, seen);
      else for (const [k, v] of Object.entries(value)) bytes += 8 + estimateBytes(k, seen) + estimateBytes(v, seen);
      return bytes;
    }
    default:
      return 8;
  }
}

/** Bytes counted per cached entry beyond its key and value (the Map slot and the expiry). */
const ENTRY_OVERHEAD_BYTES = 64;

/** The NOTIFY channel every read cache of every instance shares; payload `<cache name>:<tenant id>`. */
const READ_CACHE_CHANNEL = 'pos_read_cache';

interface Entry<V> {
  value: V;
  expiresAt: number;
  /** Estimated bytes of `value`. */
  size: number;
}

/** Kernel plugin: `app.createReadCache` and the one LISTEN that keeps every cache coherent. */
export const readCachePlugin = fp(
  async (app: FastifyInstance, opts: { ttlSeconds: number; maxBytes: number }) => {
    const ttlMs = opts.ttlSeconds * 1000;
    const caches = new Map<string, { drop(tenantId: string): void; clear(): void; stats(): ReadCacheStats }>();
    // Entries are served and kept only while invalidations can reach this instance: the LISTEN
    // is up and was proven to deliver (a probe). Until then, and from the moment it is lost until
    // it is back, every read goes to the database.
    const listener = { up: false, proven: false };
    const coherent = () => listener.up && listener.proven;

    app.decorate('readCacheStats', () => Object.fromEntries([...caches].map(([name, cache]) => [name, cache.stats()])));
    app.decorate('createReadCache', function <V>(name: string, options: ReadCacheOptions<V> = {}): TenantReadCache<V> {
      if (caches.has(name)) throw new Error(`read cache "${name}" exists already`);
      if (name.includes(':')) throw new Error(`read cache name "${name}" may not contain ':'`);
      const maxKeysPerTenant = options.maxKeysPerTenant ?? 64;
      const sizeOf = options.sizeOf ?? ((value: V) => estimateBytes(value));
      // A tenant's entries are one LRU item, sized when set: so its Map is never changed in
      // place, but replaced (see `get`), and lru-cache recounts it. A tenant whose pages alone
      // exceed the cap is not kept (lru-cache's maxEntrySize defaults to maxSize).
      const tenants = new LRUCache<string, Map<string, Entry<V>>>({
        max: options.maxTenants ?? 2000,
        maxSize: opts.maxBytes,
        sizeCalculation: (entries, tenantId) => {
          let bytes = estimateBytes(tenantId);
          for (const [key, entry] of entries) bytes += ENTRY_OVERHEAD_BYTES + estimateBytes(key) + entry.size;
          return Math.max(1, bytes);
        },
      });
      // Bumped by every invalidation: a load that saw it change may hold pre-write data.
      let epoch = 0;
      let hits = 0;
      let misses = 0;
      const drop = (tenantId: string) => {
        epoch++;
        tenants.delete(tenantId);
      };
      caches.set(name, {
        drop,
        clear: () => {
          epoch++;
          tenants.clear();
        },
        stats: () => {
          let entries = 0;
          for (const map of tenants.values()) entries += map.size;
          return { bytes: tenants.calculatedSize, maxBytes: opts.maxBytes, entries, tenants: tenants.size, hits, misses };
        },
      });
      return {
        async get(tenantId, key, load) {
          const now = Date.now();
          const hit = coherent() ? tenants.get(tenantId)?.get(key) : undefined;
          if (hit && hit.expiresAt > now) {
            hits++;
            return hit.value;
          }
          misses++;
          const started = epoch;
          const value = await load();
          if (ttlMs > 0 && epoch === started && coherent()) {
            const entries = new Map(tenants.get(tenantId));
            entries.delete(key);
            if (entries.size >= maxKeysPerTenant) entries.delete(entries.keys().next().value!);
            entries.set(key, { value, expiresAt: now + ttlMs, size: sizeOf(value) });
            tenants.set(tenantId, entries);
          }
          return value;
        },
        invalidate(uow) {
          uow.pipeline(uow.tx.execute(sql`select pg_notify(${READ_CACHE_CHANNEL}, ${`${name}:${uow.tenantId}`})`));
          uow.afterCommit(() => drop(uow.tenantId));
        },
      };
    });

    app.addHook('onReady', async () => {
      if (ttlMs === 0 || caches.size === 0) return;
      const clearAll = () => {
        for (const cache of caches.values()) cache.clear();
      };
      try {
        await app.database.listen(READ_CACHE_CHANNEL, {
          onNotify: (payload) => {
            const at = payload.indexOf(':');
            caches.get(payload.slice(0, at))?.drop(payload.slice(at + 1));
          },
          // (Re)listening: whatever was notified while not listening is lost; start afresh.
          onListen: () => {
            clearAll();
            listener.up = true;
          },
          // From now on invalidations are missed: nothing cached may be served.
          onLost: () => {
            listener.up = false;
            clearAll();
            app.log.warn('read cache: LISTEN connection lost; serving reads from the database until it is back');
          },
          onVerified: () => {
            clearAll();
            listener.proven = true;
          },
        });
      } catch (error) {
        if (!(error instanceof ListenUnavailable)) throw error;
        app.log.error({ err: error }, 'read cache off: invalidations do not arrive; serving reads from the database (probing again every 10 s)');
      }
    });
  },
  { name: 'read-cache', dependencies: ['database'] },
);
