import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { reportingRoutes } from './routes.ts';
import { createReportingService } from './service.ts';

/** The reporting module: sales reports for owners and managers, under `/api/v1/reports`. */
export default fp(
  async (app: FastifyInstance) => {
    await app.register(reportingRoutes, { prefix: '/api/v1/reports', service: createReportingService(app) });
  },
  { name: 'reporting', dependencies: ['database', 'auth-guard', 'auth', 'orders'] },
);
