import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { StockLevelChanged, StockTrackingStopped } from '../inventory/gateway.ts';
import type { OrderCancelled, OrderPaid } from '../orders/gateway.ts';
import { loadTimeZoneCatalog } from '../../shared/time-zones.ts';
import { reportingRoutes } from './routes.ts';
import { createReportingService, reportingHandlers } from './service.ts';

/**
 * The reporting module: a read model built only from domain events (it never reads another
 * module's tables), served to owners and managers under `/api/v1/reports`.
 */
export default fp(
  async (app: FastifyInstance) => {
    app.events.subscribe<OrderPaid>('OrderPaid', 'reporting', reportingHandlers.orderPaid);
    app.events.subscribe<OrderCancelled>('OrderCancelled', 'reporting', reportingHandlers.orderCancelled);
    app.events.subscribe<StockLevelChanged>('StockLevelChanged', 'reporting', reportingHandlers.stockLevelChanged);
    app.events.subscribe<StockTrackingStopped>('StockTrackingStopped', 'reporting', reportingHandlers.stockTrackingStopped);
    const zones = await loadTimeZoneCatalog(app.database.db);
    await app.register(reportingRoutes, { prefix: '/api/v1/reports', service: createReportingService(app, zones) });
  },
  { name: 'reporting', dependencies: ['database', 'auth-guard', 'event-bus', 'auth'] },
);
