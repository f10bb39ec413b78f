import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './arch-cruise.ts';
import { declaredEvents, declaredPluginDependencies, DOC_FILE, expectedDocument, subscribedEvents } from './arch-graph.ts';
import { copyRepo, type RepoCopy } from './repo-copy.ts';

const SLOW = 120_000;

describe('the module graph in docs/architecture.md', () => {
  it('is up to date with the code (run `npm run arch:graph` and commit when this fails)', { timeout: SLOW }, async () => {
    const { current, expected } = await expectedDocument(REPO_ROOT);
    expect(current, `${DOC_FILE} is missing`).toBeDefined();
    expect(current, `${DOC_FILE} is out of date: run npm run arch:graph and commit it`).toBe(expected);
  });

  it('draws the domain events, from the gateway that declares them to the module that listens', { timeout: SLOW }, async () => {
    const { expected } = await expectedDocument(REPO_ROOT);
    expect(expected).toMatch(/m_orders -\. "[^"]*\bOrderPaid\b[^"]*" \.-> m_reporting/);
    expect(expected).toMatch(/m_orders -\. "[^"]*\bOrderCancelled\b[^"]*" \.-> m_reporting/);
    expect(expected).toMatch(/m_inventory -\. "[^"]*\bStockLevelChanged\b[^"]*" \.-> m_reporting/);
    expect(expected).toMatch(/^\| orders \| [^|]*OrderPaid \(→ reporting\)/m);
    expect(expected).toMatch(/^\| reporting \| — \| [^|]*OrderPaid[^|]*\(from orders\)/m);
  });

  it('reads the events a gateway declares and the events an index.ts subscribes to', () => {
    const gateway = [
      "import type { DomainEvent } from '../../shared/event-bus.ts';",
      "export type OrderPaid = DomainEvent<'OrderPaid', { orderId: string }>;",
      "export type Internal = DomainEvent<'Internal', {}> | never;",
      "type NotExported = DomainEvent<'NotExported', {}>;",
      "export interface OrderVoided extends DomainEvent<'OrderVoided', { orderId: string }> {}",
      'export interface OrderLine { id: string }',
    ].join('\n');
    expect(declaredEvents(gateway)).toEqual(['OrderPaid', 'OrderVoided']);
    const index = [
      'export default fp(async (app) => {',
      "  app.events.subscribe<OrderPaid>('OrderPaid', 'reporting', handlers.paid);",
      "  app.events.subscribe('OrderVoided', 'reporting', handlers.voided);",
      '  app.events.subscribe(eventName, "reporting", handlers.any);',
      "  emitter.subscribe('NotAnEvent', () => {});",
      '});',
    ].join('\n');
    expect(subscribedEvents(index)).toEqual([
      { event: 'OrderPaid', line: 2 },
      { event: 'OrderVoided', line: 3 },
      { event: undefined, line: 4 },
    ]);
  });

  it('reads the plugin dependencies a module declares to fastify-plugin', () => {
    const index = "export default fp(async (app) => {}, { name: 'orders', dependencies: ['database', 'auth', \"payments\"] });";
    expect(declaredPluginDependencies(index)).toEqual(['database', 'auth', 'payments']);
  });
});

describe('npm run arch:graph', () => {
  let repo: RepoCopy;
  beforeAll(() => {
    repo = copyRepo({ prefix: 'arch-graph-' });
  });
  afterAll(() => repo?.dispose());

  it('--check fails when a new gateway import is not drawn, and passes once the graph is redrawn', { timeout: SLOW }, async () => {
    // Start from a drawn graph, whatever the state of the committed picture.
    expect((await repo.run('node', ['scripts/arch-graph.ts'])).code).toBe(0);
    expect((await repo.run('node', ['scripts/arch-graph.ts', '--check'])).code).toBe(0);
    repo.write('modules/payments/tenant-currency.ts', "import type { AuthGateway } from '../auth/gateway.ts';\nexport type Tenants = AuthGateway;\n");

    const stale = await repo.run('node', ['scripts/arch-graph.ts', '--check']);
    expect(stale.code, stale.output).toBe(1);
    expect(stale.stderr).toContain('out of date');
    expect(stale.stderr).toContain('npm run arch:graph');

    const written = await repo.run('node', ['scripts/arch-graph.ts']);
    expect(written.code, written.output).toBe(0);
    const doc = repo.read(DOC_FILE);
    expect(doc).toMatch(/m_payments -->\|gateway import\| m_auth/);
    expect(doc).toContain('```mermaid');
    expect((await repo.run('node', ['scripts/arch-graph.ts', '--check'])).code).toBe(0);
  });

  it('keeps the prose around the generated section', { timeout: SLOW }, async () => {
    repo.append(DOC_FILE, '\n## Notes kept by hand\n');
    repo.write('modules/payments/tenant-currency.ts', "export type Nothing = never;\n");
    expect((await repo.run('node', ['scripts/arch-graph.ts'])).code).toBe(0);
    const doc = repo.read(DOC_FILE);
    expect(doc).toContain('## Notes kept by hand');
    expect(doc).not.toMatch(/m_payments -->\|gateway import\| m_auth/);
  });

  it('fails, naming the file and line, when a module subscribes to an event that no gateway declares', { timeout: SLOW }, async () => {
    const index = 'modules/reporting/index.ts';
    const original = repo.read(index);
    repo.write(index, original.replace("subscribe<OrderPaid>('OrderPaid'", "subscribe<OrderPaid>('OrderPayd'"));
    try {
      for (const args of [['scripts/arch-graph.ts'], ['scripts/arch-graph.ts', '--check']]) {
        const typo = await repo.run('node', args);
        expect(typo.code, typo.output).toBe(1);
        expect(typo.stderr).toMatch(/modules\/reporting\/index\.ts:\d+ subscribes to event 'OrderPayd', which no module declares/);
        expect(typo.stderr).toContain('OrderPaid'); // the declared events, to spot the typo
      }
    } finally {
      repo.write(index, original);
    }
    expect((await repo.run('node', ['scripts/arch-graph.ts'])).code).toBe(0);
  });
});
