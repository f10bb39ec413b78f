import { lt, sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { inbox } from './event-bus.ts';
import { IDEMPOTENCY_TTL_HOURS, idempotencyKeys } from './idempotency.ts';
import type { UnitOfWork } from './unit-of-work.ts';

/**
 * One kind of expired data and how to delete it, in one tenant's unit of work (row-level
 * security applies as for any request). Returns the number of rows removed.
 */
export interface RetentionTask {
  /** `<module or kernel>.<what>`, e.g. `auth.expired-refresh-tokens`; names the task in logs and results. */
  name: string;
  purge(uow: UnitOfWork): Promise<number>;
}

/** The ids of every tenant, asked once per run (the auth module knows them; the composition root wires it). */
export type TenantDirectory = () => Promise<readonly string[]>;

/** Options of {@link retentionPlugin} (from RETENTION_* variables). */
export interface RetentionOptions {
  /** When the job runs: a cron expression (UTC), e.g. `17 * * * *` = hourly at minute 17. */
  cron: string;
  /** Days a handled event's inbox row is kept (redeliveries older than that are not expected). */
  inboxDays: number;
  /** Whether to schedule the job (false when event delivery is off: no pg-boss workers run). */
  scheduled: boolean;
}

/** The pg-boss queue (and schedule) of the retention job. */
export const RETENTION_QUEUE = 'kernel.retention';

/** Data retention: registers tasks, wires the tenant directory, runs now (tests, operators). */
export interface Retention {
  /** Adds a task; call it while plugins load. */
  register(task: RetentionTask): void;
  /** Where the tenant ids come from; the composition root calls it once auth is registered. */
  useTenantDirectory(directory: TenantDirectory): void;
  /**
   * Runs every task for every tenant now; returns rows removed per task. A tenant whose purge
   * fails is logged and skipped (the next run tries again).
   * @throws Error when no tenant directory was wired.
   */
  runNow(): Promise<Record<string, number>>;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Scheduled deletion of expired data (see shared/retention.ts). */
    retention: Retention;
  }
}

/**
 * Kernel plugin: a scheduled job (pg-boss cron, one run per tick across all instances) that deletes
 * expired data: the kernel's inbox rows older than `inboxDays` and idempotency keys past their 24 h,
 * plus whatever the modules register (auth: expired refresh tokens). It runs per tenant, in that
 * tenant's unit of work, so row-level security holds for maintenance too.
 */
export const retentionPlugin = fp(
  async (app: FastifyInstance, opts: RetentionOptions) => {
    const tasks: RetentionTask[] = [
      {
        name: 'kernel.inbox',
        purge: async (uow) =>
          (await uow.tx.delete(inbox).where(lt(inbox.handledAt, sql`now() - make_interval(days => ${opts.inboxDays})`)).returning({ id: inbox.eventId })).length,
      },
      {
        name: 'kernel.idempotency-keys',
        purge: async (uow) =>
          (
            await uow.tx
              .delete(idempotencyKeys)
              .where(lt(idempotencyKeys.createdAt, sql`now() - make_interval(hours => ${IDEMPOTENCY_TTL_HOURS})`))
              .returning({ key: idempotencyKeys.key })
          ).length,
      },
    ];
    let directory: TenantDirectory | undefined;

    const retention: Retention = {
      register: (task) => void tasks.push(task),
      useTenantDirectory: (d) => void (directory = d),
      async runNow() {
        if (!directory) throw new Error('retention: no tenant directory; the composition root must call app.retention.useTenantDirectory()');
        const removed = Object.fromEntries(tasks.map((t) => [t.name, 0]));
        const started = Date.now();
        const tenants = await directory();
        for (const tenantId of tenants) {
          try {
            await app.runInTenant(tenantId, async (uow) => {
              for (const task of tasks) removed[task.name]! += await task.purge(uow);
            });
          } catch (error) {
            app.log.warn({ err: error, tenantId }, 'retention: purge failed for a tenant; the next run tries again');
          }
        }
        app.log.info({ removed, tenants: tenants.length, ms: Date.now() - started }, 'retention: expired data deleted');
        return removed;
      },
    };
    app.decorate('retention', retention);

    if (!opts.scheduled) return;
    app.addHook('onReady', async () => {
      const boss = app.events.boss;
      await boss.createQueue(RETENTION_QUEUE, { retryLimit: 0 });
      await boss.schedule(RETENTION_QUEUE, opts.cron, null, { tz: 'UTC' });
      await boss.work(RETENTION_QUEUE, async () => {
        await retention.runNow();
      });
    });
  },
  { name: 'retention', dependencies: ['database', 'event-bus'] },
);
