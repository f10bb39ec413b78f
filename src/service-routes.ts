import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ProblemSchema, sendProblem } from '../shared/problem-details.ts';

/** `GET /health` (liveness, no database) and `GET /ready` (the database answers). */
export const serviceRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/health',
    { schema: { tags: ['service'], summary: 'Liveness: the process serves HTTP', response: { 200: z.object({ status: z.literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );
  app.get(
    '/ready',
    {
      schema: {
        tags: ['service'],
        summary: 'Readiness: the database answers',
        response: { 200: z.object({ status: z.literal('ready'), database: z.string() }), 503: ProblemSchema },
      },
    },
    async (request, reply) => {
      if (await app.database.ping()) return { status: 'ready' as const, database: app.database.kind };
      return sendProblem(reply, {
        type: 'about:blank',
        title: 'Service Unavailable',
        status: 503,
        detail: 'The database does not answer.',
        requestId: request.id,
      });
    },
  );
};
