import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { jsonResponse } from '../shared/http-schemas.ts';
import { DATABASE_RETRY_AFTER_SECONDS, defineProblem, problemResponses, RetryAfterHeader, sendProblem } from '../shared/problem-details.ts';

/** Options of {@link serviceRoutes}. */
export interface ServiceRoutesOptions {
  /** False when event delivery is switched off (EVENT_DELIVERY=off): readiness then reports `off`, not a failure. */
  eventDelivery: boolean;
}

const CheckSchema = z.enum(['ok', 'failing', 'off']);
const ChecksSchema = z
  .object({
    database: CheckSchema.describe('answers `select 1` on the readiness connection (not the request pool) within 2 s'),
    migrations: CheckSchema.describe('every migration of drizzle/ is recorded as applied'),
    events: CheckSchema.describe('the event bus (pg-boss) is running; `off` when EVENT_DELIVERY=off'),
  })
  .meta({ id: 'ReadinessChecks' });

/** 503 of `/ready`: which checks fail. */
const notReady = defineProblem({
  id: 'NotReadyProblem',
  status: 503,
  slug: 'service-unavailable',
  title: 'Service Unavailable',
  description: 'This instance is not ready: `checks` names the failing ones. Retry after `Retry-After` seconds (or route traffic elsewhere).',
  extensions: { checks: ChecksSchema },
  headers: { 'Retry-After': RetryAfterHeader },
});

/**
 * `GET /health` (liveness, no database) and `GET /ready` (readiness: database reachable on its own
 * connection, migrations applied, event workers running; each check reported in the body).
 */
export const serviceRoutes: FastifyPluginAsyncZod<ServiceRoutesOptions> = async (app, opts) => {
  let eventsRunning = true;
  app.addHook('onReady', async () => {
    app.events.boss.on('stopped', () => void (eventsRunning = false));
  });

  app.get(
    '/health',
    {
      schema: {
        operationId: 'getHealth',
        tags: ['service'],
        summary: 'Liveness: the process serves HTTP',
        response: { 200: jsonResponse(z.object({ status: z.literal('ok') }), { description: 'The process is alive (the database is not checked)' }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );
  app.get(
    '/ready',
    {
      schema: {
        operationId: 'getReadiness',
        tags: ['service'],
        summary: 'Readiness: database reachable, migrations applied, event workers running',
        description:
          'The database is checked on a dedicated connection, so a saturated request pool does not make a healthy instance unready. ' +
          '503 (with `Retry-After`) names the failing checks in `checks`.',
        response: {
          200: jsonResponse(z.object({ status: z.literal('ready'), database: z.enum(['postgres', 'pglite']), checks: ChecksSchema }), { description: 'Ready to serve' }),
          ...problemResponses(notReady),
        },
      },
    },
    async (request, reply) => {
      const [database, migrations] = await Promise.all([app.database.ping(2000), app.database.migrationsApplied(2000)]);
      const checks = {
        database: database ? 'ok' : 'failing',
        migrations: migrations ? 'ok' : 'failing',
        events: !opts.eventDelivery ? 'off' : eventsRunning ? 'ok' : 'failing',
      } as const;
      if (Object.values(checks).every((c) => c !== 'failing')) return { status: 'ready' as const, database: app.database.kind, checks };
      reply.header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS));
      return sendProblem(reply, {
        type: 'urn:problem:pos:service-unavailable',
        title: 'Service Unavailable',
        status: 503,
        detail: `Not ready: ${Object.entries(checks)
          .filter(([, c]) => c === 'failing')
          .map(([name]) => name)
          .join(', ')} failing.`,
        requestId: request.id,
        checks,
      });
    },
  );
};
