/**
 * Modules (bounded contexts) and how the composition root wires them.
 *
 * A module is declared once, in its `index.ts`, with {@link defineModule}: its name, the modules
 * whose gateways it calls (`uses`), the domain events it publishes and the ones it handles
 * (`events`). Its `setup` runs in its own encapsulated Fastify scope and receives exactly the
 * gateways it declared, typed by imports of their `gateway.ts`; it returns its own gateway. There is
 * no global `app.<module>` decorator: a module that did not declare another cannot reach it, neither
 * at type level nor at run time. The composition root (`src/app.ts`) registers the modules in
 * dependency order with a {@link ModuleHost} and passes each one the gateways it asked for, so it
 * reads as a table of contents of the application.
 *
 * The declaration is also read statically (scripts/module-declarations.ts) by `lint:arch` (the
 * gateway imports must match `uses`, the graph must be acyclic) and by `arch:graph` (the graph and
 * the per-module canvas), so the picture equals what runs. Keep `name`, `uses` and `events` as
 * literals in the `defineModule({...})` call.
 *
 * Sources: Spring Modulith's `@ApplicationModule(allowedDependencies = …)` (declared module
 * dependencies) and the Fastify docs' advice to prefer explicit plugin options / `getDecorator`
 * over global type augmentation (fastify.dev, "Decorators", TypeScript).
 */
import type { Tracer } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import type { DomainEvent, EventHandler } from './event-bus.ts';
import { traceGateway } from './telemetry.ts';
import type { UnitOfWork } from './unit-of-work.ts';

/** Kebab-case module name: lower-case letters and digits, words joined by single hyphens. */
export const MODULE_NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

/** The events a module declares: the types it publishes, and per publishing module the types it handles. */
export interface ModuleEvents {
  /** Event types this module publishes (each declared as a `DomainEvent` type in its gateway.ts). */
  readonly publishes?: readonly string[];
  /** Event types this module handles, keyed by the module that publishes them (itself included). */
  readonly consumes?: Readonly<Record<string, readonly string[]>>;
  /**
   * Published event types that other systems may rely on: when `NATS_URL` is set they also leave
   * the process through the message broker (shared/broker.ts), and `npm run asyncapi` describes
   * them in docs/asyncapi.json. A subset of `publishes`; changing their payload is an API change.
   */
  readonly external?: readonly string[];
}

/**
 * The module's view of the event bus: publishing and subscribing limited to what it declared, with
 * the module's name as the subscriber (one pg-boss queue per module, `<module>.events`).
 */
export interface ModuleEventPort {
  /**
   * Writes `events` to the outbox in `uow`'s transaction (see `EventBus.publish`).
   * @throws Error when an event's type is not in the module's `events.publishes`.
   */
  publish(uow: UnitOfWork, ...events: DomainEvent[]): Promise<void>;
  /**
   * Handles every event of `type` in its own unit of work, at least once, effectively once (inbox).
   * @throws Error when `type` is not in the module's `events.consumes`, or after the app is ready.
   */
  subscribe<E extends DomainEvent>(type: E['type'], handler: EventHandler<E>): void;
}

/** What `setup` receives besides the module's Fastify scope. */
export interface ModuleContext<Deps, Options> {
  /** The gateways of the modules named in `uses`, exactly those. */
  readonly deps: Deps;
  /** The module's options, as the composition root gave them. */
  readonly options: Options;
  /** Publish and subscribe, limited to the declared events. */
  readonly events: ModuleEventPort;
}

/**
 * A module as the composition root sees it. `Deps` maps each used module's name to its gateway
 * type (imported from that module's gateway.ts); `Gateway` is what this module offers others.
 */
export interface ModuleDefinition<Deps extends object = object, Gateway = unknown, Options = undefined> {
  /** Kebab-case; equals the module's folder under `modules/`. */
  readonly name: string;
  /** Names of the modules whose gateways `setup` receives in `deps` (the keys of `Deps`). */
  readonly uses: readonly (keyof Deps & string)[];
  readonly events?: ModuleEvents;
  /**
   * Builds the module inside its own encapsulated Fastify scope (routes under the API prefix,
   * e.g. `/orders` → `/api/v1/orders`) and returns its gateway.
   */
  readonly setup: (scope: FastifyInstance, context: ModuleContext<Deps, Options>) => Gateway | Promise<Gateway>;
}

/**
 * Declares a module; the identity function with type inference and checks of the declaration's
 * shape (name, no duplicate uses, no self use).
 * @throws Error when the declaration is malformed (a programming error, caught at import time).
 */
export function defineModule<Deps extends object = Record<never, never>, Gateway = void, Options = undefined>(
  definition: ModuleDefinition<Deps, Gateway, Options>,
): ModuleDefinition<Deps, Gateway, Options> {
  const { name, uses } = definition;
  if (!MODULE_NAME.test(name)) throw new Error(`Module name '${name}' is not kebab-case (${MODULE_NAME}).`);
  if (new Set(uses).size !== uses.length) throw new Error(`Module '${name}' lists a module twice in uses: [${uses.join(', ')}].`);
  if ((uses as readonly string[]).includes(name)) throw new Error(`Module '${name}' lists itself in uses.`);
  const unpublished = (definition.events?.external ?? []).filter((type) => !(definition.events?.publishes ?? []).includes(type));
  if (unpublished.length > 0) throw new Error(`Module '${name}' declares external events it does not publish: ${unpublished.join(', ')} (events.external must be a subset of events.publishes).`);
  return definition;
}

/** What the composition root passes for one module: the gateways it uses and its options. */
export type ModuleWiring<Deps, Options> = ([keyof Deps] extends [never] ? { deps?: Deps } : { deps: Deps }) &
  (undefined extends Options ? { options?: Options } : { options: Options });

/** Kernel decorators a module's setup relies on; checked when a module is registered. */
const KERNEL_DECORATORS = ['database', 'runInTenant', 'events', 'requireRole', 'createReadCache', 'idempotent'] as const;

/** One registered module, for tools and tests (the run-time graph). */
export interface RegisteredModule {
  name: string;
  uses: readonly string[];
  events: { publishes: readonly string[]; consumes: Readonly<Record<string, readonly string[]>>; external: readonly string[] };
}

/**
 * Registers modules into an app whose kernel plugins are loaded; see {@link createModuleHost}.
 */
export interface ModuleHost {
  /**
   * Registers `module` in its own scope with the gateways in `wiring.deps`, waits for its setup,
   * and returns its gateway.
   * @throws Error (boot fails) when a declared dependency is missing or undefined in `deps`, when
   *   `deps` holds a module not declared in `uses`, when a module of that name is already
   *   registered, or when a kernel plugin the modules need is not loaded.
   */
  register<Deps extends object, Gateway, Options>(
    module: ModuleDefinition<Deps, Gateway, Options>,
    ...wiring: [keyof Deps] extends [never] ? (undefined extends Options ? [ModuleWiring<Deps, Options>?] : [ModuleWiring<Deps, Options>]) : [ModuleWiring<Deps, Options>]
  ): Promise<Gateway>;
  /** The modules registered so far, in registration order. */
  modules(): readonly RegisteredModule[];
}

/**
 * Creates the host that registers modules into `app` under `prefix` (e.g. `/api/v1`, set once
 * here for every module's routes). Given a `tracer` (tracing on), each gateway a module receives
 * in `deps` is wrapped so that every call opens a span `<caller> → <module>.<method>`
 * (shared/telemetry.ts, `traceGateway`); without one, modules get the gateways themselves.
 */
export function createModuleHost(app: FastifyInstance, { prefix, tracer }: { prefix: string; tracer?: Tracer }): ModuleHost {
  const registered: RegisteredModule[] = [];
  // A module that went around its event port (the kernel's `app.events.subscribe(type, '<its
  // name>', …)`) would handle events it never declared: the boot fails instead.
  app.addHook('onReady', async () => {
    for (const { types, subscriber, legacy } of app.events.queues()) {
      if (legacy) continue;
      const module = registered.find((m) => m.name === subscriber);
      const type = types.find((t) => !Object.values(module?.events.consumes ?? {}).some((declared) => declared.includes(t)));
      if (module && type) {
        throw new Error(`Module '${subscriber}' subscribes to '${type}' without declaring it in events.consumes (index.ts); subscribe through the events port setup receives.`);
      }
    }
  });
  return {
    modules: () => registered,
    async register(module, ...[wiring]) {
      const { name } = module;
      const uses = module.uses as readonly string[];
      const fail = (why: string): never => {
        throw new Error(`Cannot start module '${name}': ${why}`);
      };
      if (registered.some((m) => m.name === name)) fail('a module of this name is already registered.');
      const missingKernel = KERNEL_DECORATORS.filter((d) => !app.hasDecorator(d));
      if (missingKernel.length > 0) fail(`the kernel plugins providing ${missingKernel.join(', ')} are not registered before the modules.`);
      const deps = ((wiring as { deps?: object } | undefined)?.deps ?? {}) as Record<string, unknown>;
      const missing = uses.filter((dep) => deps[dep] === undefined || deps[dep] === null);
      if (missing.length > 0) {
        fail(
          `it declares uses: [${uses.join(', ')}], but the composition root did not give it ${missing.map((m) => `'${m}'`).join(', ')}. ` +
            `Register ${missing.join(', ')} before ${name} and pass the returned gateway${missing.length > 1 ? 's' : ''} in deps.`,
        );
      }
      const undeclared = Object.keys(deps).filter((dep) => !uses.includes(dep));
      if (undeclared.length > 0) fail(`it was given ${undeclared.map((m) => `'${m}'`).join(', ')}, which it does not declare in uses.`);

      const publishes = new Set(module.events?.publishes ?? []);
      const consumes = module.events?.consumes ?? {};
      const consumed = new Set(Object.values(consumes).flat());
      const events: ModuleEventPort = {
        publish(uow, ...list) {
          const undeclaredEvent = list.find((e) => !publishes.has(e.type));
          if (undeclaredEvent) {
            throw new Error(`Module '${name}' published '${undeclaredEvent.type}', which is not in its events.publishes (index.ts).`);
          }
          return app.events.publish(uow, ...list);
        },
        subscribe(type, handler) {
          if (!consumed.has(type)) throw new Error(`Module '${name}' subscribed to '${type}', which is not in its events.consumes (index.ts).`);
          app.events.subscribe(type, name, handler);
        },
      };

      const given = tracer
        ? Object.fromEntries(Object.entries(deps).map(([dep, g]) => [dep, typeof g === 'object' && g !== null ? traceGateway(g, tracer, name, dep) : g]))
        : deps;

      let gateway: unknown;
      await app.register(
        async (scope) => {
          gateway = await module.setup(scope, { deps: given as never, options: (wiring as { options?: unknown } | undefined)?.options as never, events });
        },
        { prefix },
      );
      registered.push({ name, uses, events: { publishes: [...publishes], consumes, external: [...(module.events?.external ?? [])] } });
      return gateway as never;
    },
  };
}
