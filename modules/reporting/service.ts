import type { FastifyInstance } from 'fastify';
import type { AuthGateway } from '../auth/gateway.ts';
import type { StockLevelChanged, StockTrackingStopped } from '../inventory/gateway.ts';
import type { OrderCancelled, OrderPaid } from '../orders/gateway.ts';
import type { Principal } from '../../shared/auth-guard.ts';
import type { EventHandler } from '../../shared/event-bus.ts';
import { toPage } from '../../shared/http-schemas.ts';
import { problems } from '../../shared/problem-details.ts';
import type { TimeZoneCatalog } from '../../shared/time-zones.ts';
import { reportingRepository as repo } from './repository.ts';

const DAY_MS = 86_400_000;
/** Longest period one report may cover, to bound the work of a request. */
export const MAX_REPORT_DAYS = 400;

/** A report period: `[from, to)`; by default the last 30 days up to now. */
export interface PeriodQuery {
  from?: Date | undefined;
  to?: Date | undefined;
}

/** @throws ProblemError 400 when `from` is not before `to` or the period is longer than {@link MAX_REPORT_DAYS}. */
function resolvePeriod(q: PeriodQuery): { from: Date; to: Date } {
  const to = q.to ?? new Date();
  const from = q.from ?? new Date(to.getTime() - 30 * DAY_MS);
  if (from >= to) throw problems.badRequest('`from` must be before `to`.', [{ path: 'querystring.from', message: 'must be before `to`' }]);
  if (to.getTime() - from.getTime() > MAX_REPORT_DAYS * DAY_MS) {
    throw problems.badRequest(`A report may cover at most ${MAX_REPORT_DAYS} days.`, [{ path: 'querystring.from', message: 'period too long' }]);
  }
  return { from, to };
}

/** Event handlers that build the read model; each runs in the event's unit of work. */
export const reportingHandlers = {
  orderPaid: (async (uow, e) => repo.recordPaid(uow, e.payload)) satisfies EventHandler<OrderPaid>,
  orderCancelled: (async (uow, e) => repo.recordCancelled(uow, e.payload)) satisfies EventHandler<OrderCancelled>,
  stockLevelChanged: (async (uow, e) => repo.recordStock(uow, e.payload, new Date(e.occurredAt))) satisfies EventHandler<StockLevelChanged>,
  stockTrackingStopped: (async (uow, e) => repo.forgetStock(uow, e.payload.menuItemId)) satisfies EventHandler<StockTrackingStopped>,
};

/** The gateways the reporting module uses (its declared `uses`). */
export interface ReportingDependencies {
  auth: AuthGateway;
}

/**
 * Report queries of the reporting module (owners and managers). Money in minor units. `zones`
 * turns the tenant's time zone into what PostgreSQL reads right (offsets, unknown names).
 */
export function createReportingService(app: FastifyInstance, deps: ReportingDependencies, zones: TimeZoneCatalog) {
  const withTenant = <T>(principal: Principal, work: (ctx: Parameters<Parameters<typeof app.runInTenant>[1]>[0], tenant: Awaited<ReturnType<typeof deps.auth.getTenant>>) => Promise<T>) =>
    app.runInTenant(principal.tenantId, async (uow) => work(uow, await deps.auth.getTenant(uow)));

  return {
    /** Sales by day or hour in the tenant's time zone; see `GET /reports/sales`. */
    sales(principal: Principal, q: PeriodQuery & { groupBy: 'day' | 'hour' }) {
      const period = resolvePeriod(q);
      return withTenant(principal, async (uow, tenant) => {
        // A zone stored before signup checked it against PostgreSQL falls back to UTC (and says so).
        const timeZone = zones.usable(tenant.timeZone);
        const rows = await repo.salesBuckets(uow.tx, uow.tenantId, { ...period, groupBy: q.groupBy, atTimeZone: zones.atTimeZone(timeZone) });
        const buckets = rows.map((b) => ({ ...b, net: b.gross - b.refunds }));
        const totals = buckets.reduce(
          (t, b) => ({ orders: t.orders + b.orders, gross: t.gross + b.gross, tax: t.tax + b.tax, refunds: t.refunds + b.refunds, net: t.net + b.net }),
          { orders: 0, gross: 0, tax: 0, refunds: 0, net: 0 },
        );
        return { currency: tenant.currency, timeZone, from: period.from.toISOString(), to: period.to.toISOString(), buckets, totals };
      });
    },

    topItems(principal: Principal, q: PeriodQuery & { limit: number }) {
      const period = resolvePeriod(q);
      return withTenant(principal, async (uow, tenant) => ({
        currency: tenant.currency,
        from: period.from.toISOString(),
        to: period.to.toISOString(),
        items: await repo.topItems(uow.tx, uow.tenantId, { ...period, limit: q.limit }),
      }));
    },

    paymentMix(principal: Principal, q: PeriodQuery) {
      const period = resolvePeriod(q);
      return withTenant(principal, async (uow, tenant) => ({
        currency: tenant.currency,
        from: period.from.toISOString(),
        to: period.to.toISOString(),
        methods: await repo.paymentMix(uow.tx, uow.tenantId, period),
      }));
    },

    lowStock(principal: Principal, q: { limit: number; afterId?: string | undefined }) {
      return app.runInTenant(principal.tenantId, async (uow) => {
        const rows = await repo.lowStock(uow.tx, uow.tenantId, q.limit + 1, q.afterId);
        return toPage(
          rows.map((r) => ({ menuItemId: r.menuItemId, onHand: r.onHand, lowStockThreshold: r.lowStockThreshold, updatedAt: r.updatedAt.toISOString() })),
          q.limit,
          (r) => r.menuItemId,
        );
      });
    },
  };
}

export type ReportingService = ReturnType<typeof createReportingService>;
