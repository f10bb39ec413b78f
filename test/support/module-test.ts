/**
 * Boots ONE module on the shared kernel, for module tests (`modules/<name>/<name>.module.test.ts`,
 * run with `npm run test:module -- <name>`): the module's routes over a real socket, its own tables
 * in a real database, and stubs (or real instances) of the gateways it declares in `uses`.
 *
 * This file imports only src/kernel.ts, shared/* and test/support/* files that do the same, never
 * src/app.ts or a module's index.ts: a module test passes in a copy of the repository where every
 * other module is reduced to its gateway.ts (scripts/test-module.test.ts checks that).
 *
 * Tenants need no row: no module table references `auth.tenants` (only auth's own tables do; see
 * test/support/module-test.test.ts), and what other modules know of a tenant comes from the auth
 * gateway, which a module test stubs. {@link ModuleTest.tenant} only makes an id and signs tokens
 * with the kernel's own signer (`app.issueAccessToken`); the session check accepts every session.
 *
 * Sources: Spring Modulith's `@ApplicationModuleTest` (bootstrap one module, mock the others) and
 * its `Scenario` API (`scenario.publish(event).andWaitForStateChange(…)`,
 * `scenario.stimulate(…).andWaitForEventOfType(…)`); Medusa's per-module test runner.
 */
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { buildKernel, type KernelOptions } from '../../src/kernel.ts';
import type { Role } from '../../shared/auth-guard.ts';
import type { AppConfig } from '../../shared/config.ts';
import { queryRows, sql } from '../../shared/database.ts';
import { domainEvent, type DomainEvent } from '../../shared/event-bus.ts';
import { newId } from '../../shared/ids.ts';
import type { ModuleDefinition } from '../../shared/module.ts';
import type { UnitOfWork } from '../../shared/unit-of-work.ts';
import { httpClient, type HttpClient } from './http-client.ts';
import { testConfig } from './test-config.ts';
import { createTestDatabase, type TestDatabase } from './test-database.ts';

/** Subscriber name of the recorder that sees every event the module under test publishes. */
const EVENT_RECORDER = 'module-test-recorder';

/** Default time a scenario waits for its outcome, milliseconds. */
const SCENARIO_TIMEOUT_MS = 5_000;

/** One pino JSON line as `error event handler failed …: <error message> (queue …)`, for timeout messages. */
function briefLogLine(line: string): string {
  try {
    const entry = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string }; queue?: string; url?: string };
    const level = ({ 40: 'warn', 50: 'error', 60: 'fatal' } as Record<number, string>)[entry.level ?? 0] ?? `level ${entry.level}`;
    const where = entry.queue ? ` (queue ${entry.queue})` : entry.url ? ` (${entry.url})` : '';
    return `  ${level} ${entry.msg ?? ''}${entry.err?.message ? `: ${entry.err.message}` : ''}${where}`;
  } catch {
    return `  ${line}`;
  }
}

/** Options of {@link bootModule}. */
export interface BootModuleOptions<Deps, Options> {
  /** The gateways the module declares in `uses`: stubs ({@link stubGateway}) or real ones. */
  deps?: Deps;
  /** The module's options, or a function of the kernel app that makes them (e.g. from `app.runInTenant`). */
  options?: Options | ((app: FastifyInstance) => Options);
  /** Extra environment for the configuration (see shared/config.ts), e.g. `{ EVENT_RETRY_LIMIT: '0' }`. */
  env?: Record<string, string>;
  /** The guard's session check; default: every session is live. */
  sessionCheck?: KernelOptions['sessionCheck'];
  /** Boot on this database instead of a fresh one (then `close` does not drop it). */
  database?: TestDatabase;
  /** Runs after the module is registered and before the app is ready (e.g. extra event subscribers). */
  beforeReady?: (app: FastifyInstance) => void | Promise<void>;
}

/** A tenant of a module test: an id and tokens of its staff, without the auth module. */
export interface TestTenant {
  /** The tenant id (UUIDv7); no row is written anywhere. */
  id: string;
  /** An owner's bearer token of this tenant. */
  token: string;
  /** The owner's user id (the token's `sub`). */
  userId: string;
  /** A bearer token of a (new, unless `userId` is given) staff member of this tenant with `role`. */
  tokenFor(opts?: { role?: Role; userId?: string }): string;
}

/** What the check of a scenario may return: a truthy value ends the wait (and is returned). */
export type ScenarioCheck<R, T> = (stimulusResult: R) => T | Promise<T>;

/** `T` without its falsy members: what a check returns once the wait is over. */
export type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

/** Options of a scenario's wait. */
export interface WaitOptions {
  /** Give up after this many milliseconds (default {@link SCENARIO_TIMEOUT_MS}). */
  timeoutMs?: number;
  /** Poll every this many milliseconds (default 50). */
  intervalMs?: number;
}

/**
 * A stimulus not yet run: it runs when one of the waits is called (as in Spring Modulith), and the
 * wait's deadline starts after it.
 */
export interface ScenarioWhen<R> {
  /**
   * Runs the stimulus, then polls `check` until it returns a truthy value, which is returned. A
   * check that throws (e.g. a failed `expect`) counts as "not yet".
   * @throws Error on timeout, naming the stimulus, the last result or error of the check, and the
   *   warnings and errors the app logged meanwhile (e.g. a failing event handler).
   */
  andWaitFor<T>(check: ScenarioCheck<R, T>, opts?: WaitOptions): Promise<Truthy<T>>;
  /**
   * Runs the stimulus, then waits until the module under test has published (and committed) an
   * event of `type` that `matching` accepts; returns it.
   * @throws Error when the module does not declare `type` in `events.publishes`, or on timeout.
   */
  andWaitForEvent<E extends DomainEvent>(type: E['type'], matching?: (event: E, stimulusResult: R) => boolean, opts?: WaitOptions): Promise<E>;
}

/** A publishing stimulus: its result is the events sent, and it can also wait until they are handled. */
export interface PublishedScenario extends ScenarioWhen<readonly DomainEvent[]> {
  /**
   * Publishes, then waits until the module under test has handled every event sent (its inbox
   * rows committed with the handler's writes), so a test can then assert the state they left.
   * @throws Error on timeout, e.g. when a handler keeps failing (its error is in the message).
   */
  andWaitUntilHandled(opts?: WaitOptions): Promise<readonly DomainEvent[]>;
}

/** Spring Modulith's Scenario API, for a module booted alone. */
export interface Scenario {
  /**
   * Publishes `event` (or several) through the real event bus (the outbox, in a unit of work of
   * the event's tenant), as the module that declares it would. The module under test must consume
   * its type (`events.consumes`); a type it does not consume would reach no handler.
   * @throws Error (when the wait is called) naming the type and what the module consumes.
   */
  publish(event: DomainEvent | readonly DomainEvent[]): PublishedScenario;
  /** Same, with the events built inside the unit of work of `tenantId` (e.g. with {@link domainEvent}). */
  publish(tenantId: string, build: (uow: UnitOfWork) => DomainEvent | readonly DomainEvent[]): PublishedScenario;
  /** Runs `action` (e.g. an HTTP call or a gateway call) as the stimulus; its result is passed to the checks. */
  stimulate<R>(action: () => R | Promise<R>): ScenarioWhen<Awaited<R>>;
}

/** One module running alone on the kernel; see {@link bootModule}. */
export interface ModuleTest<Gateway> {
  app: FastifyInstance;
  /** HTTP client of the running app (real socket on 127.0.0.1). */
  api: HttpClient;
  /** What the module's setup returned. */
  gateway: Gateway;
  config: AppConfig;
  db: TestDatabase;
  /** A new tenant with an owner token (no database row; see the file comment). */
  tenant(): TestTenant;
  /** A bearer token for `tenantId` (default: a new tenant) with `role` (default owner). */
  tokenFor(opts?: { tenantId?: string; role?: Role; userId?: string }): string;
  scenario: Scenario;
  /** Events of `type` (default all) the module has published so far, as its subscribers got them. */
  published<E extends DomainEvent = DomainEvent>(type?: E['type']): E[];
  /** The warning and error lines the app logged (pino JSON), oldest first; the last 200. */
  logs(): string[];
  /** Stops the app and drops its database (unless it was given one). */
  close(): Promise<void>;
}

/**
 * Boots the shared kernel (src/kernel.ts) and `definition` alone, on a fresh test database
 * (migrated: every module's schema exists, only this module's tables get rows), listening on a
 * random port. Every event type the module publishes gets a recorder subscriber (see
 * {@link ModuleTest.published}). Logs at `warn` and above are kept in memory for the scenario's
 * timeout messages (and printed when `LOG_LEVEL` is set).
 * @throws Error when the module cannot start, e.g. "Cannot start module 'orders': it declares
 *   uses: [...], but the composition root did not give it 'payments'. ..." (shared/module.ts);
 *   the app and database are released first.
 */
export async function bootModule<Deps extends object, Gateway, Options>(
  definition: ModuleDefinition<Deps, Gateway, Options>,
  opts: BootModuleOptions<Deps, Options> = {},
): Promise<ModuleTest<Gateway>> {
  const db = opts.database ?? (await createTestDatabase());
  const lines: string[] = [];
  let linesLogged = 0;
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      const text = String(chunk);
      lines.push(text.trimEnd());
      linesLogged++;
      if (lines.length > 200) lines.shift();
      if (process.env.LOG_LEVEL) process.stdout.write(text);
      done();
    },
  });
  const config = testConfig(db.config, { LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', ...opts.env });
  const recorded: DomainEvent[] = [];
  let app: FastifyInstance | undefined;
  try {
    const kernel = await buildKernel(config, { logStream, sessionCheck: opts.sessionCheck ?? (() => async () => true) });
    app = kernel.app;
    const booted = app;
    const options = typeof opts.options === 'function' ? (opts.options as (app: FastifyInstance) => Options)(booted) : opts.options;
    // The host's wiring type is a tuple that depends on Deps and Options; here both are generic.
    const register = kernel.modules.register as (module: unknown, wiring: unknown) => Promise<Gateway>;
    const gateway = await register(definition, { deps: opts.deps ?? {}, options });
    for (const type of definition.events?.publishes ?? []) {
      booted.events.subscribe(type, EVENT_RECORDER, async (_uow, event) => void recorded.push(event));
    }
    await opts.beforeReady?.(booted);
    await booted.listen({ host: '127.0.0.1', port: 0 });
    const { port } = booted.server.address() as AddressInfo;

    const tokenFor: ModuleTest<Gateway>['tokenFor'] = ({ tenantId = newId(), role = 'owner', userId = newId() } = {}) =>
      booted.issueAccessToken({ tenantId, userId, role, sessionId: newId() }).accessToken;
    const tenant = (): TestTenant => {
      const id = newId();
      const userId = newId();
      return { id, userId, token: tokenFor({ tenantId: id, userId }), tokenFor: ({ role, userId: user } = {}) => tokenFor({ tenantId: id, role, userId: user }) };
    };

    const consumed = new Set(Object.values(definition.events?.consumes ?? {}).flat());
    const published = new Set(definition.events?.publishes ?? []);
    const describeEvents = (events: readonly DomainEvent[]) => events.map((e) => `${e.type} (event ${e.id}, tenant ${e.tenantId})`).join(', ');

    const when = <R>(label: () => string, stimulus: () => Promise<R>) => {
      const waitFor = async <T>(check: ScenarioCheck<R, T>, what: string, { timeoutMs = SCENARIO_TIMEOUT_MS, intervalMs = 50 }: WaitOptions = {}) => {
        const loggedBefore = linesLogged;
        const result = await stimulus();
        const deadline = Date.now() + timeoutMs;
        let last: { value: unknown } | { error: unknown } = { value: undefined };
        for (;;) {
          try {
            const value = await check(result);
            if (value) return value as Truthy<T>;
            last = { value };
          } catch (error) {
            last = { error };
          }
          if (Date.now() >= deadline) break;
          await new Promise((r) => setTimeout(r, intervalMs));
        }
        const outcome =
          'error' in last
            ? `the check last threw: ${last.error instanceof Error ? last.error.message : String(last.error)}`
            : `the check last returned ${JSON.stringify(last.value) ?? String(last.value)}`;
        const meanwhile = lines.slice(lines.length - Math.min(lines.length, linesLogged - loggedBefore));
        throw new Error(
          `Scenario timed out after ${timeoutMs} ms in module '${definition.name}': ${label()}, then waited for ${what}; ${outcome}.` +
            (meanwhile.length > 0 ? `\nWarnings and errors the app logged meanwhile:\n${meanwhile.map(briefLogLine).join('\n')}` : '\nThe app logged no warning or error meanwhile.'),
        );
      };
      const scenarioWhen: ScenarioWhen<R> = {
        andWaitFor: (check, waitOpts) => waitFor(check, 'the expected state (a truthy check)', waitOpts),
        andWaitForEvent: async <E extends DomainEvent>(type: E['type'], matching?: (event: E, result: R) => boolean, waitOpts?: WaitOptions) => {
          if (!published.has(type)) {
            throw new Error(
              `scenario: module '${definition.name}' does not publish '${type}' (events.publishes in its index.ts: [${[...published].join(', ')}]), so no such event can be awaited.`,
            );
          }
          return waitFor(
            (result) => (recorded as E[]).find((event) => event.type === type && (matching?.(event, result) ?? true)),
            `a published ${type}${matching ? ' matching the predicate' : ''}`,
            waitOpts,
          );
        },
      };
      return { ...scenarioWhen, waitFor };
    };

    /** How many of `ids` the module's subscriber has handled (rows of the kernel's inbox). */
    const handledCount = async (ids: readonly string[]) => {
      const [row] = await queryRows<{ n: number }>(
        booted.database.db,
        sql`select count(*)::int as n from kernel.inbox where subscriber = ${definition.name} and event_id in ${ids}`,
      );
      return row!.n;
    };

    const scenario: Scenario = {
      publish(first: DomainEvent | readonly DomainEvent[] | string, build?: (uow: UnitOfWork) => DomainEvent | readonly DomainEvent[]): PublishedScenario {
        let sent: readonly DomainEvent[] = [];
        const pending = when(
          () => `published ${describeEvents(sent)}`,
          async () => {
            const tenantId = typeof first === 'string' ? first : [first].flat()[0]?.tenantId;
            if (!tenantId) throw new Error('scenario.publish: no event to publish.');
            await booted.runInTenant(tenantId, async (uow) => {
              sent = [(typeof first === 'string' ? build!(uow) : first) as DomainEvent | DomainEvent[]].flat();
              for (const event of sent) {
                if (!consumed.has(event.type)) {
                  throw new Error(
                    `scenario.publish: module '${definition.name}' does not consume '${event.type}' (events.consumes in its index.ts: [${[...consumed].join(', ')}]), so the event would reach no handler.`,
                  );
                }
                if (event.tenantId !== tenantId) throw new Error(`scenario.publish: event ${event.id} is of tenant ${event.tenantId}, not ${tenantId}.`);
              }
              await booted.events.publish(uow, ...sent);
            });
            return sent;
          },
        );
        const { waitFor, ...scenarioWhen } = pending;
        return {
          ...scenarioWhen,
          andWaitUntilHandled: (waitOpts) =>
            waitFor(async (events) => (await handledCount(events.map((e) => e.id))) === events.length && events, `module '${definition.name}' to handle them`, waitOpts),
        };
      },
      stimulate<R>(action: () => R | Promise<R>) {
        const { waitFor: _, ...scenarioWhen } = when(() => 'ran the stimulus', async () => await action());
        return scenarioWhen;
      },
    } as Scenario;

    const owned = !opts.database;
    return {
      app: booted,
      api: httpClient(`http://127.0.0.1:${port}`),
      gateway,
      config,
      db,
      tenant,
      tokenFor,
      scenario,
      published: <E extends DomainEvent>(type?: E['type']) => (recorded as E[]).filter((e) => type === undefined || e.type === type),
      logs: () => [...lines],
      async close() {
        await booted.close();
        if (owned) await db.drop();
      },
    };
  } catch (error) {
    await app?.close().catch(() => {});
    if (!opts.database) await db.drop().catch(() => {});
    throw error;
  }
}

/**
 * A stub of `module`'s gateway: the members of `partial` as given; any other method, when called,
 * throws `Error("not stubbed: <module>.<method>")`, so a test sees at once which call it did not
 * expect (in an HTTP test, as a 500 whose cause is in {@link ModuleTest.logs}).
 */
export function stubGateway<T extends object>(module: string, partial: Partial<T> = {}): T {
  return new Proxy(partial as T, {
    get(target, key, receiver) {
      if (Reflect.has(target, key)) return Reflect.get(target, key, receiver);
      // Not a gateway method: lets the stub be awaited, printed or spread without throwing.
      if (typeof key === 'symbol' || key === 'then' || key === 'toJSON') return undefined;
      return () => {
        throw new Error(`not stubbed: ${module}.${key}`);
      };
    },
  });
}

/** Builds a domain event of `tenantId` (new id, now) without a unit of work, for {@link Scenario.publish}. */
export function testEvent<E extends DomainEvent>(tenantId: string, type: E['type'], payload: E['payload']): E {
  return domainEvent<E>({ tenantId }, type, payload);
}
