import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildKernel } from '../src/kernel.ts';
import { createTestDatabase, type TestDatabase } from '../test/support/test-database.ts';
import { testConfig } from '../test/support/test-config.ts';
import type { AppConfig } from './config.ts';
import { domainEvent } from './event-bus.ts';
import { defineModule } from './module.ts';

const REPO = join(import.meta.dirname, '..');

interface Greeter {
  greet(name: string): string;
}
const greeter = defineModule<Record<never, never>, Greeter>({
  name: 'greeter',
  uses: [],
  setup: () => ({ greet: (name) => `hello ${name}` }),
});
/** Declares it uses greeter; looks for other modules at run time the way the old code did. */
const caller = defineModule<{ greeter: Greeter }, { probe(): unknown }>({
  name: 'caller',
  uses: ['greeter'],
  events: { publishes: ['CallerPinged'], consumes: { greeter: ['GreeterWaved'] } },
  setup: (scope, { deps, events }) => {
    expect(deps.greeter.greet('x')).toBe('hello x');
    return {
      // What `app.inventory` was before: a decorator any module could reach without declaring it.
      probe: () => (scope as unknown as Record<string, unknown>)['greeter'],
      events,
    } as { probe(): unknown };
  },
});

describe('modules are wired only with what they declare (shared/module.ts)', () => {
  let db: TestDatabase;
  let config: AppConfig;
  beforeAll(async () => {
    db = await createTestDatabase();
    config = testConfig(db.config);
  });
  afterAll(() => db?.drop());

  const kernel = () => buildKernel(config, { sessionCheck: () => async () => true });

  it('boot fails, naming the module and what is missing, when a declared dependency is not given', async () => {
    const { app, modules } = await kernel();
    try {
      await expect(modules.register(caller, { deps: {} as { greeter: Greeter } })).rejects.toThrow(
        "Cannot start module 'caller': it declares uses: [greeter], but the composition root did not give it 'greeter'. Register greeter before caller",
      );
    } finally {
      await app.close();
    }
  });

  it('boot fails when a module is given a gateway it did not declare, or is registered twice', async () => {
    const { app, modules } = await kernel();
    try {
      const g = await modules.register(greeter);
      await expect(modules.register(greeter, { deps: { caller: {} } as never })).rejects.toThrow("Cannot start module 'greeter': a module of this name is already registered.");
      const other = defineModule<Record<never, never>>({ name: 'other', uses: [], setup: () => {} });
      await expect(modules.register(other, { deps: { greeter: g } } as never)).rejects.toThrow("it was given 'greeter', which it does not declare in uses.");
    } finally {
      await app.close();
    }
  });

  it('a module sees no other module on the Fastify instance, and publishes and subscribes only what it declared', async () => {
    const { app, modules } = await kernel();
    try {
      const g = await modules.register(greeter);
      const c = (await modules.register(caller, { deps: { greeter: g } })) as unknown as { probe(): unknown; events: import('./module.ts').ModuleEventPort };
      expect(c.probe()).toBeUndefined();
      expect(app.hasDecorator('greeter')).toBe(false);
      expect(() => c.events.subscribe('OrderPaid', async () => {})).toThrow("Module 'caller' subscribed to 'OrderPaid', which is not in its events.consumes");
      expect(() => c.events.subscribe('GreeterWaved', async () => {})).not.toThrow();
      await app.ready();
      await expect(
        app.runInTenant('00000000-0000-4000-8000-000000000001', (uow) => c.events.publish(uow, domainEvent(uow, 'OrderPaid', {}))),
      ).rejects.toThrow("Module 'caller' published 'OrderPaid', which is not in its events.publishes");
      expect(modules.modules().map((m) => [m.name, m.uses])).toEqual([
        ['greeter', []],
        ['caller', ['greeter']],
      ]);
    } finally {
      await app.close();
    }
  });

  it('boot fails when a module subscribes around its port to an event it did not declare', async () => {
    const { app, modules } = await kernel();
    const sneaky = defineModule<Record<never, never>>({
      name: 'sneaky',
      uses: [],
      setup: (scope) => scope.events.subscribe('OrderPaid', 'sneaky', async () => {}),
    });
    try {
      await modules.register(sneaky);
      await expect(app.ready()).rejects.toThrow("Module 'sneaky' subscribes to 'OrderPaid' without declaring it in events.consumes");
    } finally {
      await app.close().catch(() => {});
    }
  });

  it('boot fails when the kernel is not loaded', async () => {
    const { createModuleHost } = await import('./module.ts');
    const { default: Fastify } = await import('fastify');
    const bare = Fastify();
    await expect(createModuleHost(bare, { prefix: '' }).register(greeter)).rejects.toThrow(/the kernel plugins providing database, runInTenant, events/);
    await bare.close();
  });

  it('declaring a module rejects a malformed name and self-use', () => {
    expect(() => defineModule({ name: 'Gift_Cards', uses: [], setup: () => {} })).toThrow('not kebab-case');
    expect(() => defineModule<{ a: object }>({ name: 'a', uses: ['a'], setup: () => {} })).toThrow('lists itself');
  });
});

describe('using a module that is not declared does not type-check', () => {
  it('app.<module> does not exist on FastifyInstance, and the composition root must pass every declared gateway', () => {
    mkdirSync(join(REPO, '.tmp'), { recursive: true });
    const dir = mkdtempSync(join(REPO, '.tmp', 'planted-'));
    try {
      const file = join(dir, 'planted.ts');
      const rel = (p: string) => relative(dir, join(REPO, p));
      writeFileSync(
        file,
        `import type { FastifyInstance } from 'fastify';
import ordersModule from '${rel('modules/orders/index.ts')}';
import type { AuthGateway } from '${rel('modules/auth/gateway.ts')}';
import type { ModuleHost } from '${rel('shared/module.ts')}';
export async function planted(app: FastifyInstance, modules: ModuleHost, auth: AuthGateway) {
  await app.inventory.takeStock;
  await modules.register(ordersModule, { deps: { auth } });
}
`,
      );
      const config = ts.getParsedCommandLineOfConfigFile(join(REPO, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} })!;
      const program = ts.createProgram([file], config.options);
      const messages = ts
        .getPreEmitDiagnostics(program, program.getSourceFile(file))
        .map((d) => `${(d.start !== undefined && d.file?.getLineAndCharacterOfPosition(d.start).line) || 0}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
      expect(messages.find((m) => m.startsWith('5:'))).toMatch(/Property 'inventory' does not exist on type 'FastifyInstance/);
      expect(messages.find((m) => m.startsWith('6:'))).toMatch(/missing the following properties from type 'OrdersDependencies': restaurant, inventory, payments/);
      expect(messages).toHaveLength(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
