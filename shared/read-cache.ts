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
 * Entries are per tenant (the key never crosses tenants) and bounded: at most `maxTenants`
 * tenants (least recently used go first) and `maxKeysPerTenant` keys each.
 */
export interface TenantReadCache<V> {
  get(tenantId: string, key: string, load: () => Promise<V>): Promise<V>;
  invalidate(uow: Pick<UnitOfWork, 'tx' | 'tenantId' | 'pipeline' | 'afterCommit'>): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Creates the {@link TenantReadCache} named `name` (unique in the app; it names the
     * invalidation messages). With `READ_CACHE_TTL_SECONDS=0` the cache keeps nothing.
     */
    createReadCache<V>(name: string, options?: { maxTenants?: number; maxKeysPerTenant?: number }): TenantReadCache<V>;
  }
}

/** The NOTIFY channel every read cache of every instance shares; payload `<cache name>:<tenant id>`. */
export const READ_CACHE_CHANNEL = 'pos_read_cache';

interface Entry<V> {
  value: V;
  expiresAt: number;
}

/** Kernel plugin: `app.createReadCache` and the one LISTEN that keeps every cache coherent. */
export const readCachePlugin = fp(
  async (app: FastifyInstance, opts: { ttlSeconds: number }) => {
    const ttlMs = opts.ttlSeconds * 1000;
    const caches = new Map<string, { drop(tenantId: string): void; clear(): void }>();
    // Entries are served and kept only while invalidations can reach this instance: the LISTEN
    // is up and was proven to deliver (a probe). Until then, and from the moment it is lost until
    // it is back, every read goes to the database.
    const listener = { up: false, proven: false };
    const coherent = () => listener.up && listener.proven;

    app.decorate('createReadCache', function <V>(name: string, options: { maxTenants?: number; maxKeysPerTenant?: number } = {}): TenantReadCache<V> {
      if (caches.has(name)) throw new Error(`read cache "${name}" exists already`);
      if (name.includes(':')) throw new Error(`read cache name "${name}" may not contain ':'`);
      const maxKeysPerTenant = options.maxKeysPerTenant ?? 64;
      const tenants = new LRUCache<string, Map<string, Entry<V>>>({ max: options.maxTenants ?? 2000 });
      // Bumped by every invalidation: a load that saw it change may hold pre-write data.
      let epoch = 0;
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
      });
      return {
        async get(tenantId, key, load) {
          const now = Date.now();
          const hit = coherent() ? tenants.get(tenantId)?.get(key) : undefined;
          if (hit && hit.expiresAt > now) return hit.value;
          const started = epoch;
          const value = await load();
          if (ttlMs > 0 && epoch === started && coherent()) {
            let entries = tenants.get(tenantId);
            if (!entries) tenants.set(tenantId, (entries = new Map()));
            if (entries.size >= maxKeysPerTenant) entries.delete(entries.keys().next().value!);
            entries.set(key, { value, expiresAt: now + ttlMs });
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
