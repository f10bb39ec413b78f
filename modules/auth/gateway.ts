/**
 * Public contract of the auth module (bounded context: tenants = restaurants, and their staff).
 * The only file of this module that other modules may import.
 */
import type { UnitOfWork } from '../../shared/unit-of-work.ts';

/** What other modules may know of a tenant. Money of this tenant is in `currency` minor units. */
export interface TenantProfile {
  id: string;
  slug: string;
  name: string;
  /** ISO 4217 code; fixed at signup. */
  currency: string;
  /** Sales tax in basis points (1 bps = 0.01 %), 0..10000. */
  taxRateBps: number;
  /** IANA time zone used by reports; `UTC` by default. */
  timeZone: string;
}

/** Calls other modules may make into auth. */
export interface AuthGateway {
  /**
   * The tenant of the unit of work. Served from a per-instance cache for up to 30 s.
   * @throws ProblemError 404 when the tenant does not exist (e.g. deleted after the token was issued).
   */
  getTenant(uow: UnitOfWork): Promise<TenantProfile>;
  /** Ids of every tenant, for maintenance jobs that visit each tenant (data retention). */
  tenantIds(): Promise<string[]>;
}
