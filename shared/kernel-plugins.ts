import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { DatabaseHandle } from './database.ts';
import type { Tracer } from '@opentelemetry/api';
import { traceUnitsOfWork } from './telemetry.ts';
import { createUnitOfWorkRunner, type RunInTenant } from './unit-of-work.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The open database (drizzle handle, ping, close). */
    database: DatabaseHandle;
    /** Opens a tenant-scoped unit of work; see `createUnitOfWorkRunner`. */
    runInTenant: RunInTenant;
  }
}

/**
 * Kernel plugin: exposes the database and the unit-of-work runner to every module, and closes
 * the database when the app closes. Given a `tracer` (tracing on), every unit of work is a span.
 */
export const databasePlugin = fp(
  async (app: FastifyInstance, opts: { database: DatabaseHandle; tracer?: Tracer }) => {
    app.decorate('database', opts.database);
    const runInTenant = createUnitOfWorkRunner(opts.database, (error) => app.log.error({ err: error }, 'unit-of-work hook failed'));
    app.decorate('runInTenant', opts.tracer ? traceUnitsOfWork(runInTenant, opts.tracer) : runInTenant);
  },
  { name: 'database' },
);
