/**
 * Prometheus metrics of one app instance (prom-client), served in the Prometheus text format at
 * `/metrics` on a listener of its own (`METRICS_PORT`, see {@link MetricsPort.listen}), never on
 * the public API port.
 *
 * | metric | type | labels | what |
 * | --- | --- | --- | --- |
 * | `http_server_request_duration_seconds` | histogram | `method`, `route`, `status_code` | time from request received to response sent; `route` is the route pattern (`/api/v1/orders/:id`), `unmatched` for unknown URLs |
 * | `pos_rate_limit_rejections_total` | counter | `route` | requests answered 429 by a rate limit (login, refresh, signup) |
 * | `pos_db_pool_max_connections` / `pos_db_pool_connections_in_use` / `pos_db_pool_waiting_transactions` | gauge | — | the request pool (`DatabaseHandle.poolStats`) |
 * | `pos_event_queue_jobs` | gauge | `queue`, `state` (`ready`, `deferred`, `active`) | event backlog per subscriber queue |
 * | `pos_events_parked` | gauge | `queue` | events parked after the retry limit (`<queue>.parked`) |
 * | `pos_read_cache_requests_total` | counter | `cache`, `result` (`hit`, `miss`) | reads asked of each read cache |
 * | `pos_read_cache_hit_ratio` | gauge | `cache` | hits / requests since start (prefer a `rate()` of the counter) |
 * | `pos_read_cache_bytes` | gauge | `cache` | estimated bytes held |
 * | `process_*`, `nodejs_*` | | | prom-client's default process metrics (CPU, memory, event loop lag, GC) |
 *
 * Queue figures are read on scrape with pg-boss `getQueues()` (its counters, refreshed by its
 * monitor every `EVENT_HEARTBEAT_SECONDS / 2`) and kept for {@link EVENT_BACKLOG_CACHE_MS}, so
 * frequent scrapes do not add database load.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** How long queue figures read from pg-boss are reused between scrapes, in milliseconds. */
const EVENT_BACKLOG_CACHE_MS = 5000;

/** The app's metrics: its registry, and the listener that serves it. */
export interface MetricsPort {
  /** This app's registry (not prom-client's global one, so several apps in one process stay apart). */
  readonly registry: Registry;
  /**
   * Serves `GET /metrics` (Prometheus text format 0.0.4) on a listener of its own at `host`:`port`
   * (every other path: 404), closed when the app closes. `port` 0 opens nothing (METRICS_PORT=0
   * turns metrics serving off) and resolves `undefined`; else resolves the bound address.
   * @throws Error when the port cannot be bound (e.g. EADDRINUSE).
   */
  listen(options: { host: string; port: number }): Promise<AddressInfo | undefined>;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Prometheus metrics of this instance (shared/metrics.ts). */
    metrics: MetricsPort;
  }
}

/**
 * Kernel plugin: the metrics registry, the HTTP duration and rate-limit hooks, and the collectors
 * read on scrape (database pool, event queues, read caches). Register it after the database,
 * event bus and read cache plugins and before any route.
 */
export const metricsPlugin = fp(
  async (app: FastifyInstance) => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const registers = [registry];

    const duration = new Histogram({
      name: 'http_server_request_duration_seconds',
      help: 'Duration of HTTP requests, from received to response sent, by route pattern and status.',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    const rateLimited = new Counter({
      name: 'pos_rate_limit_rejections_total',
      help: 'Requests rejected with 429 by a rate limit (login, refresh, signup), by route.',
      labelNames: ['route'] as const,
      registers,
    });
    // A callback hook, not an async one: no promise and microtask per request.
    app.addHook('onResponse', (request, reply, done) => {
      // The route pattern, never the raw URL: unknown URLs share one label value.
      const route = request.routeOptions.url ?? 'unmatched';
      duration.observe({ method: request.method, route, status_code: reply.statusCode }, reply.elapsedTime / 1000);
      if (reply.statusCode === 429) rateLimited.inc({ route });
      done();
    });

    new Gauge({
      name: 'pos_db_pool_max_connections',
      help: 'Connections the request pool may open (DATABASE_POOL_MAX; 1 on PGlite).',
      registers,
      collect() {
        this.set(app.database.poolStats().max);
      },
    });
    new Gauge({
      name: 'pos_db_pool_connections_in_use',
      help: 'Request-pool connections held by a transaction (unit of work) now.',
      registers,
      collect() {
        this.set(app.database.poolStats().inUse);
      },
    });
    new Gauge({
      name: 'pos_db_pool_waiting_transactions',
      help: 'Transactions waiting for a free request-pool connection now.',
      registers,
      collect() {
        this.set(app.database.poolStats().waiting);
      },
    });

    const readBacklog = cachedRead(EVENT_BACKLOG_CACHE_MS, async () => {
      const names = app.events.queues().map((q) => q.queue);
      const queues = names.length === 0 ? [] : await app.events.boss.getQueues(names);
      return new Map(queues.map((q) => [q.name, { ready: q.readyCount, deferred: q.deferredCount, active: q.activeCount }]));
    });
    // Events, not jobs: a job holds the events one transaction published to the subscriber, and
    // `npm run events:parked` lists each of them.
    const readParked = cachedRead(EVENT_BACKLOG_CACHE_MS, async () => {
      const parked = app.events.queues().map((q) => q.parked);
      const { rows } = await app.events.boss
        .getDb()
        .executeSql(
          `select name, sum(case when jsonb_typeof(data->'events') = 'array' then jsonb_array_length(data->'events') else 1 end)::int as events from pgboss.job where name = any($1::text[]) and state in ('created', 'retry') group by name`,
          [parked],
        );
      return new Map((rows as Array<{ name: string; events: number }>).map((r) => [r.name, Number(r.events)]));
    });
    new Gauge({
      name: 'pos_event_queue_jobs',
      help: 'Events waiting in or being handled from each subscriber queue (as of pg-boss\'s last monitor pass).',
      labelNames: ['queue', 'state'] as const,
      registers,
      async collect() {
        this.reset();
        const figures = await readBacklog().catch(() => undefined);
        if (!figures) return;
        for (const { queue } of app.events.queues()) {
          const f = figures.get(queue);
          if (!f) continue;
          this.set({ queue, state: 'ready' }, f.ready);
          this.set({ queue, state: 'deferred' }, f.deferred);
          this.set({ queue, state: 'active' }, f.active);
        }
      },
    });
    new Gauge({
      name: 'pos_events_parked',
      help: 'Events parked after the retry limit, per subscriber queue (the events of the jobs in <queue>.parked).',
      labelNames: ['queue'] as const,
      registers,
      async collect() {
        this.reset();
        const figures = await readParked().catch(() => undefined);
        if (!figures) return;
        for (const { queue, parked } of app.events.queues()) this.set({ queue }, figures.get(parked) ?? 0);
      },
    });

    new Counter({
      name: 'pos_read_cache_requests_total',
      help: 'Reads asked of each read cache: hit (answered from memory) or miss (read from the database).',
      labelNames: ['cache', 'result'] as const,
      registers,
      collect() {
        this.reset();
        for (const [cache, stats] of Object.entries(app.readCacheStats())) {
          this.inc({ cache, result: 'hit' }, stats.hits);
          this.inc({ cache, result: 'miss' }, stats.misses);
        }
      },
    });
    new Gauge({
      name: 'pos_read_cache_hit_ratio',
      help: 'Hits / requests of each read cache since the process started (for recent figures use rate() of pos_read_cache_requests_total).',
      labelNames: ['cache'] as const,
      registers,
      collect() {
        this.reset();
        for (const [cache, stats] of Object.entries(app.readCacheStats())) {
          const asked = stats.hits + stats.misses;
          if (asked > 0) this.set({ cache }, stats.hits / asked);
        }
      },
    });
    new Gauge({
      name: 'pos_read_cache_bytes',
      help: 'Estimated bytes each read cache holds (bounded by READ_CACHE_MAX_BYTES).',
      labelNames: ['cache'] as const,
      registers,
      collect() {
        this.reset();
        for (const [cache, stats] of Object.entries(app.readCacheStats())) this.set({ cache }, stats.bytes);
      },
    });

    const servers: Server[] = [];
    app.decorate('metrics', {
      registry,
      async listen({ host, port }) {
        if (port === 0) return undefined;
        const server = createServer((request, response) => {
          const path = (request.url ?? '/').split('?')[0];
          if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
            response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found: metrics are at GET /metrics\n');
            return;
          }
          registry.metrics().then(
            (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(request.method === 'HEAD' ? undefined : text),
            (error: unknown) => {
              app.log.error({ err: error }, 'metrics: collecting failed');
              response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics collection failed\n');
            },
          );
        });
        // Scrapes are short; an idle scraper connection is not kept for long.
        server.keepAliveTimeout = 5000;
        server.requestTimeout = 10_000;
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, host, () => {
            server.off('error', reject);
            resolve();
          });
        });
        servers.push(server);
        return server.address() as AddressInfo;
      },
    } satisfies MetricsPort);
    app.addHook('onClose', async () => {
      await Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.close(() => resolve());
              server.closeAllConnections();
            }),
        ),
      );
    });
  },
  { name: 'metrics', dependencies: ['database', 'event-bus', 'read-cache'] },
);

/**
 * `read`, answered from its last result for `ms` milliseconds (several scrapers, one query). A
 * failed read is not kept: the next call asks again.
 */
function cachedRead<T>(ms: number, read: () => Promise<T>): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    if (!last || Date.now() - last.at > ms) {
      const current = { at: Date.now(), value: read() };
      last = current;
      current.value.catch(() => {
        if (last === current) last = undefined;
      });
    }
    return last.value;
  };
}
