import type { FastifyInstance } from 'fastify';
import type { Principal } from '../../shared/auth-guard.ts';
import { problems } from '../../shared/problem-details.ts';

const DAY_MS = 86_400_000;
/** Longest period one report may cover, to bound the work of a request. */
export const MAX_REPORT_DAYS = 400;

/** Use cases of the reporting module. */
export function createReportingService(app: FastifyInstance) {
  return {
    /**
     * Sales in `[from, to)` bucketed by day or hour in the tenant's time zone; the default period
     * is the last 30 days up to now. Money in minor units of the tenant currency.
     * @throws ProblemError 400 when `from` is not before `to` or the period is too long.
     */
    sales(principal: Principal, q: { from?: Date | undefined; to?: Date | undefined; groupBy: 'day' | 'hour' }) {
      const to = q.to ?? new Date();
      const from = q.from ?? new Date(to.getTime() - 30 * DAY_MS);
      if (from >= to) throw problems.badRequest('`from` must be before `to`.', [{ path: 'querystring.from', message: 'must be before `to`' }]);
      if (to.getTime() - from.getTime() > MAX_REPORT_DAYS * DAY_MS) {
        throw problems.badRequest(`A report may cover at most ${MAX_REPORT_DAYS} days.`, [{ path: 'querystring.from', message: 'period too long' }]);
      }
      return app.runInTenant(principal.tenantId, async (uow) => {
        const tenant = await app.auth.getTenant(uow);
        const summary = await app.orders.salesSummary(uow, { from, to, groupBy: q.groupBy, timeZone: tenant.timeZone });
        return { currency: tenant.currency, timeZone: tenant.timeZone, from: from.toISOString(), to: to.toISOString(), ...summary };
      });
    },
  };
}

export type ReportingService = ReturnType<typeof createReportingService>;
