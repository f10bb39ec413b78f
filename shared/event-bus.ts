import { sql } from 'drizzle-orm';
import { primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { fromDrizzle, fromPglite, PgBoss, type DrizzleTransactionLike, type JobWithMetadata } from 'pg-boss';
import type { AppConfig } from './config.ts';
import { isTransientDatabaseError } from './database-errors.ts';
import { newId } from './ids.ts';
import { kernelSchema } from './idempotency.ts';
import { currentTraceContext, inSpan, spanContextOf, type EventTraceContext } from './telemetry.ts';
import { TENANT_ROLE, type UnitOfWork } from './unit-of-work.ts';
import { SpanKind, type Link, type Tracer } from '@opentelemetry/api';

/**
 * A domain event: something that happened in one module that others may react to. Declared with
 * a typed payload in the publishing module's `gateway.ts`. Money in payloads is in minor units.
 */
export interface DomainEvent<TType extends string = string, TPayload = unknown> {
  /** Unique id (UUIDv7); handlers use it to ignore redeliveries. */
  id: string;
  type: TType;
  tenantId: string;
  /** ISO 8601 UTC instant at which the change was made. */
  occurredAt: string;
  payload: TPayload;
  /**
   * W3C trace context of the span that published the event (set by the event bus when tracing
   * is on): the handler's span links to it. Absent on events published with tracing off, and on
   * events written before this field existed; both are handled the same.
   */
  trace?: EventTraceContext;
}

/** The event of a queued job, without the queue's own bookkeeping. */
function eventOf({ transientRetries: _, ...event }: DomainEvent & { transientRetries?: number }): DomainEvent {
  return event;
}

/** Builds an event of the unit of work's tenant, with a new id and the current time. */
export function domainEvent<E extends DomainEvent>(uow: Pick<UnitOfWork, 'tenantId'>, type: E['type'], payload: E['payload']): E {
  return { id: newId(), type, tenantId: uow.tenantId, occurredAt: new Date().toISOString(), payload } as E;
}

/** Reacts to one event inside its own unit of work (tenant = the event's tenant). */
export type EventHandler<E extends DomainEvent> = (uow: UnitOfWork, event: E) => Promise<void>;

/**
 * Publish/subscribe between modules with a transactional outbox.
 *
 * - `publish` writes the events as jobs in the caller's transaction (pg-boss `insert` through its
 *   drizzle adapter, just before COMMIT): they exist if and only if the change that caused them
 *   commits.
 * - Each subscriber has one pg-boss queue, `<subscriber>.events`, holding one job per event of
 *   every type it subscribed to, so every subscriber gets every event at least once, and with
 *   several app instances each event is handled by one of them (`SKIP LOCKED`). The events one
 *   transaction publishes to a subscriber are written with one statement and, fetched together,
 *   handled in one unit of work per tenant (one order's `OrderPaid` and `StockLevelChanged`: one
 *   transaction of the reporting module, not one per event type). The inbox table (`kernel.inbox`) makes handling effectively once: the
 *   handler's writes and the inbox row commit together, a redelivery finds the row and skips.
 * - A failing handler is retried with exponential backoff; after the retry limit the event is
 *   parked in `<queue>.parked` (pg-boss dead letter queue) and logged, never dropped.
 *
 * Sources: the transactional outbox and idempotent consumer patterns (microservices.io), and
 * Spring Modulith's event publication registry.
 */
export interface EventBus {
  publish(uow: UnitOfWork, ...events: DomainEvent[]): Promise<void>;
  /** Registers a handler; call it while plugins load (before the app is ready). */
  subscribe<E extends DomainEvent>(type: E['type'], subscriber: string, handler: EventHandler<E>): void;
  /**
   * Every subscriber's queue and parked queue with the event types it handles, for operators;
   * plus, flagged `legacy`, queues of the earlier layout (one per subscriber and event type)
   * found at start, whose waiting events are still delivered and whose parked ones stay there.
   */
  queues(): EventQueue[];
  /** The pg-boss instance (started), for operator tools and tests. */
  readonly boss: PgBoss;
}

/** Event ids each subscriber has handled (the idempotent consumer's memory). */
export const inbox = kernelSchema.table(
  'inbox',
  {
    tenantId: uuid('tenant_id').notNull(),
    subscriber: text('subscriber').notNull(),
    eventId: uuid('event_id').notNull(),
    eventType: text('event_type').notNull(),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull(),
    handledAt: timestamp('handled_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: 'inbox_pk', columns: [t.tenantId, t.subscriber, t.eventId] })],
);

/** A subscriber's queue, see {@link EventBus.queues}. */
export interface EventQueue {
  queue: string;
  parked: string;
  subscriber: string;
  types: string[];
  legacy?: true;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Domain events between modules (transactional outbox on pg-boss). */
    events: EventBus;
  }
}

/** Span links to the publishers of `events` (those that carry a trace context). */
function linksTo(events: DomainEvent[]): Link[] {
  return events.flatMap((event) => {
    const context = spanContextOf(event.trace);
    return context ? [{ context, attributes: { 'messaging.message.id': event.id } }] : [];
  });
}

/** Attributes of an event handler's span (OpenTelemetry messaging conventions where they fit). */
function eventAttributes(queue: string, event: DomainEvent) {
  return {
    'messaging.system': 'pg-boss',
    'messaging.operation.type': 'process',
    'messaging.destination.name': queue,
    'messaging.message.id': event.id,
    'pos.event.type': event.type,
    'pos.tenant_id': event.tenantId,
  };
}

/** The queue of a subscriber's events. */
export const queueName = (subscriber: string) => `${subscriber}.events`;
/** The queue of the earlier layout, one per subscriber and event type (drained, not written). */
const legacyQueueName = (subscriber: string, type: string) => `${subscriber}.${type}`;

/** A subscriber's handlers, by event type, and its queue. */
interface Subscription {
  subscriber: string;
  queue: string;
  handlers: Map<string, EventHandler<DomainEvent>>;
}

/**
 * How often pg-boss's supervisor looks for jobs whose claimant stopped beating (a crashed
 * instance): every half heartbeat, so such a job is back in the queue at most 1.5 heartbeats
 * after its last beat (pg-boss's defaults, 60 s checks and a 900 s expiry, left a crashed
 * instance's events waiting 15 minutes). A pass needs both timers, so both are set.
 */
const supervision = (heartbeatSeconds: number) => {
  const every = Math.max(1, Math.floor(heartbeatSeconds / 2));
  return { superviseIntervalSeconds: every, monitorIntervalSeconds: every };
};

/**
 * Redeliveries of one event after availability faults ({@link isTransientDatabaseError}) before
 * such a fault counts as a failed attempt like any other: with delays doubling from
 * `EVENT_RETRY_DELAY_SECONDS` up to {@link TRANSIENT_RETRY_MAX_DELAY_SECONDS}, about 25 minutes
 * at the default settings, enough to ride out a database restart or failover.
 */
export const TRANSIENT_RETRY_LIMIT = 30;
/** Longest delay between two redeliveries after availability faults, in seconds. */
export const TRANSIENT_RETRY_MAX_DELAY_SECONDS = 60;

/**
 * What a queue's job carries: the event, plus how many times it was already put back after
 * availability faults (absent = never). Handlers only ever see the event.
 */
type QueuedEvent = DomainEvent & { transientRetries?: number };

/** Delay between a commit that published events and the local workers' fetch (see `wake`). */
export const WAKE_AFTER_MS = 100;

/**
 * Kernel plugin: the {@link EventBus} on pg-boss, in the application's own database (PostgreSQL
 * or PGlite). Subscriptions made while plugins load get their queues and workers on `onReady`;
 * workers start only when `config.events.delivery` is on.
 */
export const eventBusPlugin = fp(
  async (app: FastifyInstance, opts: { events: AppConfig['events']; tracer?: Tracer }) => {
    const { tracer } = opts;
    const driver = app.database.driver;
    const boss =
      driver.kind === 'postgres'
        ? new PgBoss({ connectionString: driver.url, max: 4, useListenNotify: false, application_name: 'pos-api-events', schedule: true, ...supervision(opts.events.heartbeatSeconds) })
        : new PgBoss({ db: fromPglite(driver.client), backend: 'pglite', schedule: true, supervise: true, ...supervision(opts.events.heartbeatSeconds) });
    boss.on('error', (error) => app.log.error({ err: error }, 'event bus error'));
    boss.on('warning', (warning) => app.log.warn({ warning }, 'event bus warning'));

    /** Subscriptions by subscriber, and by event type (the routes of `publish`). */
    const subscriptions = new Map<string, Subscription>();
    const routes = new Map<string, Subscription[]>();
    const legacyQueues: EventQueue[] = [];
    const workerIds = new Map<string, string[]>();
    const wakeTimers = new Map<string, NodeJS.Timeout>();
    /**
     * Wakes this instance's workers of `queue` {@link WAKE_AFTER_MS} after a commit that wrote to
     * it; commits in the meantime share the wake-up, so under load each fetch takes a batch
     * instead of one job per order.
     */
    const wake = (queue: string) => {
      if (wakeTimers.has(queue) || !workerIds.has(queue)) return;
      const timer = setTimeout(() => {
        wakeTimers.delete(queue);
        for (const id of workerIds.get(queue) ?? []) boss.notifyWorker(id);
      }, WAKE_AFTER_MS);
      timer.unref();
      wakeTimers.set(queue, timer);
    };
    const pending = new WeakMap<UnitOfWork, DomainEvent[]>();
    let started = false;

    /**
     * Handles events of one tenant in one unit of work: their inbox rows are claimed with one
     * statement, redeliveries (rows already there) are skipped, and the others are handled in
     * order. A handler that throws rolls back the whole group; `onHandlerError` learns which
     * event it was.
     */
    const handleGroup = async (queue: string, { subscriber, handlers }: Subscription, tenantId: string, events: DomainEvent[], onHandlerError: (event: DomainEvent) => void) => {
      const handleAll = () =>
        app.runInTenant(tenantId, async (uow) => {
          const fresh = await uow.tx
            .insert(inbox)
            .values(events.map((event) => ({ tenantId, subscriber, eventId: event.id, eventType: event.type, occurredAt: new Date(event.occurredAt) })))
            .onConflictDoNothing()
            .returning({ eventId: inbox.eventId });
          const claimed = new Set(fresh.map((row) => row.eventId));
          for (const event of events) {
            if (!claimed.has(event.id)) continue; // already handled: a redelivery
            const handler = handlers.get(event.type);
            if (!handler) {
              // Queued before this version dropped the subscription: nothing handles it any more.
              app.log.warn({ queue, eventId: event.id, eventType: event.type }, `${subscriber} no longer subscribes to ${event.type}; event skipped`);
              continue;
            }
            try {
              if (tracer) {
                await inSpan(tracer, `${subscriber} handles ${event.type}`, { links: linksTo([event]), attributes: eventAttributes(queue, event) }, () => handler(uow, event));
              } else {
                await handler(uow, event);
              }
            } catch (error) {
              onHandlerError(event);
              throw error;
            }
          }
        });
      // Tracing: each batch starts a trace of its own (root CONSUMER span), linked to the traces
      // that published its events; each handled event gets a span linked to its publisher.
      if (!tracer) return handleAll();
      return inSpan(tracer, `process ${queue}`, { root: true, kind: SpanKind.CONSUMER, links: linksTo(events), attributes: { 'messaging.system': 'pg-boss', 'messaging.operation.type': 'process', 'messaging.destination.name': queue, 'messaging.batch.message_count': events.length, 'pos.tenant_id': tenantId } }, handleAll);
    };

    type JobResult = { id: string; status: 'completed' } | { id: string; status: 'failed'; output: { message: string } };
    /**
     * Handles a batch fetched from one queue: per tenant, all its events in one transaction (two
     * round trips for the lot). When that fails, the event whose handler threw is failed (pg-boss
     * retries it with backoff, then parks it) and the others are handled one by one, so one bad
     * event never holds back or fails its neighbours. An availability fault (see
     * {@link isTransientDatabaseError}) does not use up an attempt: the job is completed and a
     * copy queued after a growing delay, up to {@link TRANSIENT_RETRY_LIMIT} times.
     */
    const handleBatch = async (queue: string, subscription: Subscription, jobs: JobWithMetadata<QueuedEvent>[]): Promise<JobResult[]> => {
      const results = new Map<string, JobResult>();
      const fail = async (job: JobWithMetadata<QueuedEvent>, error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        const transientRetries = job.data.transientRetries ?? 0;
        if (isTransientDatabaseError(error) && transientRetries < TRANSIENT_RETRY_LIMIT) {
          const delaySeconds = Math.min(TRANSIENT_RETRY_MAX_DELAY_SECONDS, opts.events.retryDelaySeconds * 2 ** transientRetries);
          try {
            // Put back first, then complete: a crash in between leaves two copies, and the inbox
            // makes the second a no-op. If the copy cannot be written, it is an ordinary failure.
            await boss.insert(queue, [{ data: { ...eventOf(job.data), transientRetries: transientRetries + 1 }, startAfter: new Date(Date.now() + delaySeconds * 1000) }]);
            app.log.warn(
              { err: error, queue, eventId: job.data.id, eventType: job.data.type, transientRetries: transientRetries + 1, delaySeconds },
              'event handler hit a database availability fault; redelivering later without using up an attempt',
            );
            results.set(job.id, { id: job.id, status: 'completed' });
            return;
          } catch (insertError) {
            app.log.warn({ err: insertError, queue, eventId: job.data.id }, 'could not queue the event again; failing this attempt instead');
          }
        }
        const last = job.retryCount >= job.retryLimit;
        app.log[last ? 'error' : 'warn'](
          { err: error, queue, eventId: job.data.id, eventType: job.data.type, attempt: job.retryCount + 1 },
          last ? `event handler failed for good: event parked in ${queue}.parked` : 'event handler failed; will retry with backoff',
        );
        results.set(job.id, { id: job.id, status: 'failed', output: { message } });
      };
      const byTenant = new Map<string, JobWithMetadata<QueuedEvent>[]>();
      for (const job of jobs) byTenant.set(job.data.tenantId, [...(byTenant.get(job.data.tenantId) ?? []), job]);
      for (const [tenantId, group] of byTenant) {
        let culprit: DomainEvent | undefined;
        try {
          await handleGroup(queue, subscription, tenantId, group.map((job) => eventOf(job.data)), (event) => void (culprit = event));
          for (const job of group) results.set(job.id, { id: job.id, status: 'completed' });
          continue;
        } catch (error) {
          const failed = group.length === 1 ? group[0] : group.find((job) => job.data.id === culprit?.id);
          if (failed) await fail(failed, error);
          if (group.length === 1) continue;
        }
        for (const job of group) {
          if (results.has(job.id)) continue;
          try {
            await handleGroup(queue, subscription, tenantId, [eventOf(job.data)], () => {});
            results.set(job.id, { id: job.id, status: 'completed' });
          } catch (error) {
            await fail(job, error);
          }
        }
      }
      return jobs.map((job) => results.get(job.id)!);
    };

    const bus: EventBus = {
      boss,
      async publish(uow, ...events) {
        // Buffered per unit of work and written just before COMMIT, all queues at once
        // (pipelined): still inside the transaction, so the outbox guarantee holds.
        let buffer = pending.get(uow);
        if (!buffer) {
          const created: DomainEvent[] = [];
          buffer = created;
          pending.set(uow, created);
          uow.beforeCommit(async () => {
            const byQueue = new Map<string, DomainEvent[]>();
            for (const event of created) {
              for (const { queue } of routes.get(event.type) ?? []) byQueue.set(queue, [...(byQueue.get(queue) ?? []), event]);
            }
            // pg-boss needs no answer from its insert (no returnId): queue it on the unit of work's
            // pipeline so that it leaves with COMMIT, in one write; a failure still rolls back.
            const direct = fromDrizzle(uow.tx as unknown as DrizzleTransactionLike, sql);
            const db = {
              executeSql(text: string, values: unknown[]) {
                uow.pipeline(direct.executeSql(text, values));
                return Promise.resolve({ rows: [] });
              },
            };
            await Promise.all([...byQueue].map(([queue, batch]) => boss.insert(queue, batch.map((data) => ({ data })), { db })));
            uow.afterCommit(() => {
              for (const queue of byQueue.keys()) wake(queue);
            });
          });
        }
        if (tracer) {
          const trace = currentTraceContext();
          buffer.push(...(trace ? events.map((event) => (event.trace ? event : { ...event, trace })) : events));
        } else {
          buffer.push(...events);
        }
      },
      subscribe(type, subscriber, handler) {
        if (started) throw new Error(`subscribe(${type}, ${subscriber}) after the event bus started`);
        let subscription = subscriptions.get(subscriber);
        if (!subscription) {
          subscription = { subscriber, queue: queueName(subscriber), handlers: new Map() };
          subscriptions.set(subscriber, subscription);
        }
        if (subscription.handlers.has(type)) throw new Error(`${subscriber} subscribes to ${type} twice`);
        subscription.handlers.set(type, handler as EventHandler<DomainEvent>);
        routes.set(type, [...(routes.get(type) ?? []), subscription]);
      },
      queues: () => [
        ...[...subscriptions.values()].map(({ subscriber, queue, handlers }) => ({ queue, parked: `${queue}.parked`, subscriber, types: [...handlers.keys()] })),
        ...legacyQueues,
      ],
    };
    app.decorate('events', bus);

    app.addHook('onReady', async () => {
      started = true;
      await boss.start();
      // Tenant transactions run as the tenant role and insert jobs (the outbox) into pg-boss's tables.
      const grantQueueAccess = async () => {
        for (let attempt = 1; ; attempt++) {
          try {
            for (const statement of [
              `grant usage on schema pgboss to ${TENANT_ROLE}`,
              `grant select, insert, update on all tables in schema pgboss to ${TENANT_ROLE}`,
              `grant usage on all sequences in schema pgboss to ${TENANT_ROLE}`,
              `grant execute on all functions in schema pgboss to ${TENANT_ROLE}`,
            ]) {
              await app.database.db.execute(sql.raw(statement));
            }
            return;
          } catch (error) {
            if (attempt >= 5) throw error; // e.g. "tuple concurrently updated" when instances start together
            await new Promise((r) => setTimeout(r, 100 * attempt));
          }
        }
      };
      const retry = { retryLimit: opts.events.retryLimit, retryDelay: opts.events.retryDelaySeconds, retryBackoff: true, retryDelayMax: 300 };
      for (const { queue } of subscriptions.values()) {
        const parked = `${queue}.parked`;
        await boss.createQueue(parked, { retryLimit: 0 });
        await boss.createQueue(queue, { ...retry, deadLetter: parked, notify: false, heartbeatSeconds: opts.events.heartbeatSeconds });
        // Queues made by earlier versions had NOTIFY on (every job insert then sent a pg_notify,
        // which serialises all committing transactions, and woke the workers per order) and no
        // heartbeat (a crashed instance's claimed jobs then waited out the 15-minute expiry).
        await boss.updateQueue(queue, { notify: false, heartbeatSeconds: opts.events.heartbeatSeconds });
      }
      // The earlier layout (a queue per subscriber and event type): events still waiting there
      // are delivered by a worker of their own; its parked events stay listed for operators.
      const drain: Array<{ queue: string; subscription: Subscription }> = [];
      legacyQueues.length = 0;
      for (const subscription of subscriptions.values()) {
        for (const type of subscription.handlers.keys()) {
          const queue = legacyQueueName(subscription.subscriber, type);
          if (!(await boss.getQueue(queue))) continue;
          legacyQueues.push({ queue, parked: `${queue}.parked`, subscriber: subscription.subscriber, types: [type], legacy: true });
          const waiting = await boss.getDb().executeSql(`select 1 from pgboss.job where name = $1 and state in ('created', 'retry', 'active') limit 1`, [queue]);
          if (waiting.rows.length > 0) drain.push({ queue, subscription });
        }
      }
      await grantQueueAccess();
      if (!opts.events.delivery) return;
      const workers = [...[...subscriptions.values()].flatMap((subscription) => [{ queue: subscription.queue, subscription }, { queue: subscription.queue, subscription }]), ...drain];
      for (const { queue, subscription } of workers) {
        // Two workers per subscriber queue (one per legacy queue still holding events). Each polls
        // every 0.5 s (pg-boss's minimum: how soon another instance's events are picked up), is
        // woken by `wake` after a local commit, and keeps fetching while batches come back full.
        const id = await boss.work<QueuedEvent>(
          queue,
          { batchSize: 20, burstWhenBatchFull: true, includeMetadata: true, perJobResults: true, pollingIntervalSeconds: 0.5 },
          async (batch) => handleBatch(queue, subscription, batch as JobWithMetadata<QueuedEvent>[]), // includeMetadata: true
        );
        workerIds.set(queue, [...(workerIds.get(queue) ?? []), id]);
      }
    });
    app.addHook('onClose', async () => {
      for (const timer of wakeTimers.values()) clearTimeout(timer);
      if (started) await boss.stop({ graceful: true, timeout: 5000 });
    });
  },
  { name: 'event-bus', dependencies: ['database'] },
);
