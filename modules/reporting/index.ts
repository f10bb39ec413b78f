import type { StockLevelChanged, StockTrackingStopped } from '../inventory/gateway.ts';
import type { OrderCancelled, OrderPaid } from '../orders/gateway.ts';
import { defineModule } from '../../shared/module.ts';
import { loadTimeZoneCatalog } from '../../shared/time-zones.ts';
import { reportingRoutes } from './routes.ts';
import { createReportingService, reportingHandlers, type ReportingDependencies } from './service.ts';

/**
 * The reporting module: a read model built only from domain events (it never reads another
 * module's tables), served to owners and managers under `/api/v1/reports`. Uses auth (the
 * tenant's time zone and currency).
 */
export default defineModule<ReportingDependencies>({
  name: 'reporting',
  uses: ['auth'],
  events: {
    consumes: {
      orders: ['OrderPaid', 'OrderCancelled'],
      inventory: ['StockLevelChanged', 'StockTrackingStopped'],
    },
  },
  async setup(scope, { deps, events }) {
    events.subscribe<OrderPaid>('OrderPaid', reportingHandlers.orderPaid);
    events.subscribe<OrderCancelled>('OrderCancelled', reportingHandlers.orderCancelled);
    events.subscribe<StockLevelChanged>('StockLevelChanged', reportingHandlers.stockLevelChanged);
    events.subscribe<StockTrackingStopped>('StockTrackingStopped', reportingHandlers.stockTrackingStopped);
    const zones = await loadTimeZoneCatalog(scope.database.db);
    await scope.register(reportingRoutes, { prefix: '/reports', service: createReportingService(scope, deps, zones) });
  },
});
