import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainEvent } from '../../shared/event-bus.ts';
import { queryRows, sql } from '../../shared/database.ts';
import { domainEvent } from '../../shared/event-bus.ts';
import { defineModule } from '../../shared/module.ts';
import { bootModule, stubGateway, testEvent, type ModuleTest } from './module-test.ts';
import { createTestDatabase, type TestDatabase } from './test-database.ts';

/** The helper of module tests itself, on toy modules: boot, tokens, scenarios, stubs. */

type Pinged = DomainEvent<'Pinged', { text: string }>;
type Echoed = DomainEvent<'Echoed', { text: string }>;
interface Clock {
  now(): string;
}
interface Echo {
  heard: string[];
}

/** Hears `Pinged` (from a "pinger" module that does not exist here), answers with `Echoed`; fails on "boom". */
const echoModule = defineModule<{ clock: Clock }, Echo>({
  name: 'echo',
  uses: ['clock'],
  events: { publishes: ['Echoed'], consumes: { pinger: ['Pinged'] } },
  setup(scope, { deps, events }) {
    const heard: string[] = [];
    events.subscribe<Pinged>('Pinged', async (uow, event) => {
      if (event.payload.text === 'boom') throw new Error('the echo handler failed on purpose');
      heard.push(event.payload.text);
      await events.publish(uow, domainEvent<Echoed>(uow, 'Echoed', { text: event.payload.text.toUpperCase() }));
    });
    scope.get('/echo/whoami', { config: { roles: ['owner'] } }, async (request) => ({ ...request.principal, at: deps.clock.now() }));
    return { heard };
  },
});

describe('bootModule (test/support/module-test.ts)', () => {
  let db: TestDatabase;
  let echo: ModuleTest<Echo>;
  beforeAll(async () => {
    db = await createTestDatabase();
    echo = await bootModule(echoModule, {
      database: db,
      deps: { clock: stubGateway<Clock>('clock', { now: () => '2026-01-01T00:00:00.000Z' }) },
      env: { EVENT_RETRY_LIMIT: '0' },
    });
  });
  afterAll(async () => {
    await echo?.close();
    await db?.drop();
  });

  it('fails to boot, with the module host message, when a declared dependency is missing', async () => {
    await expect(bootModule(echoModule, { database: db, deps: {} as { clock: Clock } })).rejects.toThrow(
      "Cannot start module 'echo': it declares uses: [clock], but the composition root did not give it 'clock'. Register clock before echo",
    );
  });

  it('serves the module routes over HTTP, with tokens of a tenant made without the auth module', async () => {
    const tenant = echo.tenant();
    const res = await echo.api.get('/api/v1/echo/whoami', { token: tenant.token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ tenantId: tenant.id, userId: tenant.userId, role: 'owner', at: '2026-01-01T00:00:00.000Z' });
    expect((await echo.api.get('/api/v1/echo/whoami', { token: tenant.tokenFor({ role: 'cashier' }) })).status).toBe(403);
    expect((await echo.api.get('/api/v1/echo/whoami')).status).toBe(401);
    // Only the module's own routes exist: no other module was booted.
    expect((await echo.api.get('/api/v1/orders', { token: tenant.token })).status).toBe(404);
  });

  it('scenario.publish puts an event through the real outbox and waits for its effect', async () => {
    const tenant = echo.tenant();
    const event = testEvent<Pinged>(tenant.id, 'Pinged', { text: 'hello' });
    const heard = await echo.scenario.publish(event).andWaitFor(() => echo.gateway.heard.includes('hello') && echo.gateway.heard);
    expect(heard).toContain('hello');
    // The handler's own event went through the outbox too, committed with the inbox row.
    const echoed = await echo.scenario.publish(tenant.id, (uow) => domainEvent<Pinged>(uow, 'Pinged', { text: 'again' })).andWaitForEvent<Echoed>('Echoed', (e) => e.payload.text === 'AGAIN');
    expect(echoed).toMatchObject({ type: 'Echoed', tenantId: tenant.id, payload: { text: 'AGAIN' } });
    expect(echo.published<Echoed>('Echoed').map((e) => e.payload.text)).toEqual(expect.arrayContaining(['HELLO', 'AGAIN']));
    // Waiting until handled: the module's inbox has the events (committed with the handler's writes).
    const sent = await echo.scenario.publish([testEvent<Pinged>(tenant.id, 'Pinged', { text: 'one' }), testEvent<Pinged>(tenant.id, 'Pinged', { text: 'two' })]).andWaitUntilHandled();
    expect(sent.map((e) => e.type)).toEqual(['Pinged', 'Pinged']);
    expect(echo.gateway.heard).toEqual(expect.arrayContaining(['one', 'two']));
    const [row] = await queryRows<{ n: number }>(echo.app.database.db, sql`select count(*)::int as n from kernel.inbox where event_id = ${event.id} and subscriber = 'echo'`);
    expect(row!.n).toBe(1);
  });

  it('a scenario that times out says what it published, what the check last saw, and what the app logged', async () => {
    const tenant = echo.tenant();
    const started = Date.now();
    const error = await echo.scenario
      .publish(testEvent<Pinged>(tenant.id, 'Pinged', { text: 'boom' }))
      .andWaitUntilHandled({ timeoutMs: 1500 })
      .catch((e: Error) => e);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toMatch(/^Scenario timed out after 1500 ms in module 'echo': published Pinged \(event [0-9a-f-]{36}, tenant [0-9a-f-]{36}\), then waited for module 'echo' to handle them; the check last returned false\./);
    expect(message).toContain('the echo handler failed on purpose');
  });

  it('refuses to publish an event the module does not consume, or to wait for one it does not publish', async () => {
    const tenant = echo.tenant();
    await expect(echo.scenario.publish(testEvent(tenant.id, 'OrderPaid', {})).andWaitFor(() => true)).rejects.toThrow(
      "scenario.publish: module 'echo' does not consume 'OrderPaid' (events.consumes in its index.ts: [Pinged]), so the event would reach no handler.",
    );
    await expect(echo.scenario.stimulate(() => 1).andWaitForEvent('Pinged')).rejects.toThrow("module 'echo' does not publish 'Pinged'");
  });

  it('a stub throws "not stubbed: <module>.<method>" for calls it was not given, and can still be awaited', async () => {
    interface Menu {
      findMenuItems(ids: string[]): Promise<unknown>;
      registerDeletionHook(hook: unknown): void;
    }
    const menu = stubGateway<Menu>('restaurant', { registerDeletionHook: () => {} });
    expect(() => menu.registerDeletionHook(null)).not.toThrow();
    expect(() => menu.findMenuItems([])).toThrow('not stubbed: restaurant.findMenuItems');
    expect(await Promise.resolve(menu)).toBe(menu);
  });

  it('tenants need no row: no table outside auth references auth.tenants', async () => {
    const rows = await queryRows<{ fk: string }>(
      echo.app.database.db,
      sql`select conrelid::regclass::text as fk from pg_constraint where contype = 'f' and confrelid = 'auth.tenants'::regclass`,
    );
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.filter((r) => !r.fk.startsWith('auth.'))).toEqual([]);
  });
});
