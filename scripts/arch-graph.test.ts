import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ArchGraphError,
  CANVAS_FILE,
  declaredEvents,
  DOC_FILE,
  END_MARKER,
  expectedDocuments,
  readModules,
  START_MARKER,
  withSection,
  type GeneratedFile,
  writeArchitectureDocument,
} from './arch-graph.ts';
import { diskTree, firstSentence, memoryTree, readApiPrefix, readGateway, readModuleRoutes, readTables } from './module-canvas.ts';
import { copyRepo, type RepoCopy } from './repo-copy.ts';
import { REPO_ROOT } from './repo-root.ts';

/** A module of an in-memory fixture repository. */
interface FixtureModule {
  uses?: string[];
  publishes?: string[];
  consumes?: Record<string, string[]>;
  /** Event types its gateway.ts declares as DomainEvent types (defaults to `publishes`). */
  gatewayEvents?: string[];
  /** Extra gateway.ts text (e.g. the gateway interface). */
  gateway?: string;
  /** Body of the routes plugin (`app` is the Fastify instance). */
  routes?: string;
  schema?: string;
}

const literalList = (values: readonly string[]) => `[${values.map((v) => `'${v}'`).join(', ')}]`;

/** A small repository in memory: src/kernel.ts (API prefix) and one folder per module. */
function fixture(modules: Record<string, FixtureModule>): Record<string, string> {
  const files: Record<string, string> = {
    'src/kernel.ts': "export const API_PREFIX = '/api/v1';\nexport const host = (app) => createModuleHost(app, { prefix: API_PREFIX });\n",
    [DOC_FILE]: `# Architecture\n\nProse before.\n\n${START_MARKER}\n${END_MARKER}\n\nProse after.\n`,
  };
  for (const [name, m] of Object.entries(modules)) {
    const consumes = Object.entries(m.consumes ?? {}).map(([from, events]) => `\n      ${from}: ${literalList(events)},`).join('');
    files[`modules/${name}/index.ts`] = [
      "import { defineModule } from '../../shared/module.ts';",
      "import { routes } from './routes.ts';",
      '',
      `/** The ${name} module: a fixture. It has a second sentence. */`,
      'export default defineModule({',
      `  name: '${name}',`,
      `  uses: ${literalList(m.uses ?? [])},`,
      '  events: {',
      `    publishes: ${literalList(m.publishes ?? [])},`,
      `    consumes: {${consumes}${consumes ? '\n    ' : ''}},`,
      '  },',
      '  async setup(scope) {',
      `    await scope.register(routes, { prefix: '/${name}' });`,
      '  },',
      '});',
      '',
    ].join('\n');
    files[`modules/${name}/gateway.ts`] = [
      "import type { DomainEvent } from '../../shared/event-bus.ts';",
      ...(m.gatewayEvents ?? m.publishes ?? []).map((e) => `export type ${e} = DomainEvent<'${e}', { id: string }>;`),
      m.gateway ?? '',
    ].join('\n');
    files[`modules/${name}/routes.ts`] = `export const routes = async (app) => {\n${m.routes ?? ''}\n};\n`;
    if (m.schema) files[`modules/${name}/schema.ts`] = m.schema;
  }
  return files;
}

/** The shape of a restaurant POS, small: orders publishes OrderPaid, reporting consumes it. */
const BASE = {
  auth: {},
  inventory: { uses: ['auth'], publishes: ['StockLevelChanged'] },
  orders: { uses: ['auth', 'inventory'], publishes: ['OrderPaid', 'OrderCancelled'] },
  reporting: { uses: ['auth'], consumes: { orders: ['OrderPaid', 'OrderCancelled'], inventory: ['StockLevelChanged'] } },
} satisfies Record<string, FixtureModule>;

const docs = (files: Record<string, string>) => {
  const generated = expectedDocuments(memoryTree(files));
  const byPath = (path: string) => generated.find((f) => f.path === path)!.expected;
  const architecture = byPath(DOC_FILE);
  return { architecture, section: architecture.slice(architecture.indexOf(START_MARKER)), canvas: byPath(CANVAS_FILE) };
};
/** The canvas section of one module (from its `## name` heading to the next). */
const canvasOf = (canvas: string, module: string) => canvas.slice(canvas.indexOf(`\n## ${module}\n`)).split(/\n## /)[1]!;
/** The row of one module in architecture.md's table, as its cells. */
const rowOf = (section: string, module: string) => section.split('\n').find((l) => l.startsWith(`| [${module}]`))!.split(' | ');
const problemsOf = (files: Record<string, string>): string[] => {
  try {
    readModules(memoryTree(files));
  } catch (error) {
    if (error instanceof ArchGraphError) return error.problems;
    throw error;
  }
  return [];
};
const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

describe('the declared module graph (in-memory fixtures)', () => {
  it('draws one edge per uses entry, and a new uses entry shows up in the graph, the table and the canvas', () => {
    const before = docs(fixture(BASE));
    expect(before.section).toContain('m_orders -->|uses| m_inventory');
    expect(before.section.match(/-->\|uses\|/g)).toHaveLength(4); // auth←inventory, auth←orders, inventory←orders, auth←reporting
    expect(before.section).not.toContain('m_reporting -->|uses| m_inventory');

    const after = docs(fixture({ ...BASE, reporting: { ...BASE.reporting, uses: ['auth', 'inventory'] } }));
    expect(after.section).toContain('m_reporting -->|uses| m_inventory');
    expect(after.section.match(/-->\|uses\|/g)).toHaveLength(5);
    expect(rowOf(after.section, 'inventory')[2]).toBe('orders, reporting'); // used by
    expect(canvasOf(after.canvas, 'inventory')).toMatch(/\| Used by \| \[orders\]\(#orders\), \[reporting\]\(#reporting\) \|/);
    expect(canvasOf(after.canvas, 'reporting')).toMatch(/\| Uses \| \[auth\]\(#auth\), \[inventory\]\(#inventory\) \|/);
  });

  it('draws event edges from events.consumes, and a second consumer of OrderPaid shows up everywhere', () => {
    const before = docs(fixture(BASE));
    expect(before.section).toContain('m_orders -. "OrderPaid, OrderCancelled" .-> m_reporting');
    expect(before.section).toContain('m_inventory -. "StockLevelChanged" .-> m_reporting');

    const after = docs(fixture({ ...BASE, inventory: { ...BASE.inventory, consumes: { orders: ['OrderPaid'] } } }));
    expect(after.section).toContain('m_orders -. "OrderPaid" .-> m_inventory');
    expect(after.section).toContain('m_orders -. "OrderPaid, OrderCancelled" .-> m_reporting');
    expect(after.section).toMatch(/linkStyle 4,5,6 stroke/); // the three event links after the four uses links
    expect(rowOf(after.section, 'orders')[3]).toBe('OrderPaid (→ inventory, reporting), OrderCancelled (→ reporting)');
    expect(rowOf(after.section, 'inventory')[4]).toBe('OrderPaid (← orders) |');
    expect(canvasOf(after.canvas, 'orders')).toContain('| OrderPaid | publishes | consumed by [inventory](#inventory), [reporting](#reporting) |');
    expect(canvasOf(after.canvas, 'inventory')).toContain('| OrderPaid | consumes | from [orders](#orders) |');
  });

  it('names events that nobody consumes on the node and in the canvas; draws a module consuming its own events as a loop', () => {
    const files = fixture({ ...BASE, orders: { ...BASE.orders, publishes: ['OrderPaid', 'OrderCancelled', 'OrderVoided'] }, payments: { publishes: ['CardCaptured'], consumes: { payments: ['CardCaptured'] } } });
    const { section, canvas } = docs(files);
    expect(section).toContain('m_orders["orders<br/>publishes, unconsumed: OrderVoided"]');
    expect(section).toContain('m_inventory["inventory"]');
    expect(canvasOf(canvas, 'orders')).toContain('| OrderVoided | publishes | nobody consumes it |');
    expect(section).toContain('m_payments -. "CardCaptured" .-> m_payments');
  });

  it('fails with file:line when a consumed event is not declared in the publisher gateway.ts', () => {
    const files = fixture({ ...BASE, reporting: { ...BASE.reporting, consumes: { orders: ['OrderPayd', 'OrderCancelled'] } } });
    const index = files['modules/reporting/index.ts']!;
    const problems = problemsOf(files);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^modules/reporting/index\\.ts:${lineOf(index, "'OrderPayd'")}: consumes 'OrderPayd' from orders, but modules/orders/gateway\\.ts declares no DomainEvent<'OrderPayd'`));
    expect(problems[0]).toContain('it declares: OrderPaid, OrderCancelled'); // to spot the typo
    expect(() => expectedDocuments(memoryTree(files))).toThrow(ArchGraphError);
  });

  it('fails with file:line when a consumed event is declared but not in the publisher events.publishes', () => {
    const files = fixture({ ...BASE, orders: { ...BASE.orders, publishes: ['OrderPaid'], gatewayEvents: ['OrderPaid', 'OrderCancelled'] } });
    const [problem, ...rest] = problemsOf(files);
    expect(rest).toEqual([]);
    expect(problem).toMatch(/^modules\/reporting\/index\.ts:\d+: consumes 'OrderCancelled' from orders, but modules\/orders\/index\.ts does not list it in events\.publishes/);
    expect(problem).toContain(`index.ts:${lineOf(files['modules/reporting/index.ts']!, "orders: ['OrderPaid', 'OrderCancelled']")}:`);
  });

  it('fails with file:line when a module publishes an event its gateway.ts does not declare, or names a module that does not exist', () => {
    const files = fixture({
      ...BASE,
      inventory: { uses: ['auth', 'menu'], publishes: ['StockLevelChanged', 'StockCounted'], gatewayEvents: ['StockLevelChanged'] },
      reporting: { ...BASE.reporting, consumes: { ...BASE.reporting.consumes, billing: ['InvoiceSent'] } },
    });
    const index = files['modules/inventory/index.ts']!;
    const problems = problemsOf(files);
    expect(problems).toContain(
      `modules/inventory/index.ts:${lineOf(index, 'publishes:')}: publishes 'StockCounted', but modules/inventory/gateway.ts does not declare it. ` +
        "Declare it there as: export type StockCounted = DomainEvent<'StockCounted', { … }>; or fix the name (modules/inventory/gateway.ts declares: StockLevelChanged).",
    );
    expect(problems).toContainEqual(expect.stringMatching(new RegExp(`^modules/inventory/index\\.ts:${lineOf(index, 'uses:')}: uses names 'menu', which is not a module`)));
    expect(problems).toContainEqual(expect.stringMatching(/^modules\/reporting\/index\.ts:\d+: events\.consumes names 'billing', which is not a module/));
    expect(problems).toHaveLength(3);
  });

  it('replaces only the generated section of architecture.md and keeps the prose around it', () => {
    const { architecture } = docs(fixture(BASE));
    expect(architecture.startsWith('# Architecture\n\nProse before.\n\n')).toBe(true);
    expect(architecture.endsWith(`${END_MARKER}\n\nProse after.\n`)).toBe(true);
    expect(withSection('# Only prose\n', 'SECTION')).toBe('# Only prose\n\nSECTION\n');
  });
});

describe('the module canvas readers', () => {
  it('reads routes with their full URL and roles: nested prefixes, shorthand and route(), public when config.roles is absent', () => {
    const files = fixture({
      shop: {
        routes: [
          "  app.get('/', { config: { roles: 'any' }, schema: {} }, async () => []);",
          "  app.post('/items', { config: { roles: ['owner', 'manager'] } }, async () => ({}));",
          "  app.get('/health', async () => 'ok');",
          "  app.route({ method: ['PUT', 'PATCH'], url: '/items/:id', config: { roles: ['owner'] }, handler: async () => ({}) });",
          "  await app.register(admin, { prefix: '/admin' });",
          "  await app.register(fastifyEtag);",
        ].join('\n'),
      },
    });
    files['modules/shop/routes.ts'] += "const admin = async (scope) => {\n  scope.delete('/cache', { config: { roles: ['owner'] } }, async () => null);\n};\nimport fastifyEtag from '@fastify/etag';\n";
    const { routes, problems } = readModuleRoutes(memoryTree(files), 'shop', '/api/v1');
    expect(problems).toEqual([]);
    expect(routes.map((r) => [r.method, r.url, r.access])).toEqual([
      ['GET', '/api/v1/shop', 'any'],
      ['POST', '/api/v1/shop/items', ['owner', 'manager']],
      ['GET', '/api/v1/shop/health', 'public'],
      ['PUT', '/api/v1/shop/items/:id', ['owner']],
      ['PATCH', '/api/v1/shop/items/:id', ['owner']],
      ['DELETE', '/api/v1/shop/admin/cache', ['owner']],
    ]);
    expect(routes[1]).toMatchObject({ file: 'modules/shop/routes.ts', line: 3 });
    const canvas = docs(files).canvas;
    expect(canvas).toContain('| GET | `/api/v1/shop/health` | public (no token) |');
    expect(canvas).toContain('| GET | `/api/v1/shop` | any staff |');
    expect(canvas).toContain('| POST | `/api/v1/shop/items` | owner, manager |');
  });

  it('refuses to guess: a URL or roles that are not literals are problems with file:line, and arch:graph fails', () => {
    const files = fixture({ shop: { routes: "  app.get(PATH, async () => 1);\n  app.post('/x', { config: { roles: ROLES } }, async () => 1);" } });
    const { problems } = readModuleRoutes(memoryTree(files), 'shop', '/api/v1');
    expect(problems).toEqual([
      'modules/shop/routes.ts:2: app.get(…) with a URL that is not a string literal; the canvas cannot tell the route.',
      "modules/shop/routes.ts:3: config.roles must be 'any' or an array of role literals, so the canvas can read it.",
    ]);
    expect(problemsOf(files)).toEqual(problems);
  });

  it('reads the API prefix from createModuleHost in src/', () => {
    expect(readApiPrefix(memoryTree(fixture({})))).toEqual({ prefix: '/api/v1', problems: [] });
    expect(readApiPrefix(memoryTree({ 'src/kernel.ts': "createModuleHost(app, { prefix: '/v2' });" })).prefix).toBe('/v2');
    expect(readApiPrefix(memoryTree({})).problems[0]).toContain('no createModuleHost(app, { prefix }) call');
  });

  it('reads the gateway interface: members with parameter names, return type and the first sentence of their docstring', () => {
    const gateway = [
      '/** Not the gateway. */',
      'export interface SaleRef { orderId: string }',
      'export interface ShopGateway {',
      '  /**',
      '   * Takes stock for `lines` (e.g. an order) and',
      '   * records it. Second sentence.',
      '   * @throws ProblemError 409',
      '   */',
      '  takeStock(uow: UnitOfWork, lines: readonly Line[]): Promise<Map<string, number> | undefined>;',
      '  onDelete: (hook: Hook) => void;',
      '  readonly limit: number;',
      '}',
    ].join('\n');
    expect(readGateway(gateway, 'shop')).toEqual({
      interfaceName: 'ShopGateway',
      methods: [
        { name: 'takeStock', parameters: '(uow, lines)', returns: 'Promise<Map<string, number> | undefined>', summary: 'Takes stock for `lines` (e.g. an order) and records it.' },
        { name: 'onDelete', parameters: '(hook)', returns: 'void', summary: '' },
        { name: 'limit', parameters: undefined, returns: 'number', summary: '' },
      ],
    });
    expect(readGateway('export type X = 1;', 'shop').interfaceName).toBeUndefined();
    const canvas = docs(fixture({ shop: { gateway } })).canvas;
    expect(canvas).toContain('| `takeStock(uow, lines)` | `Promise<Map<string, number> \\| undefined>` | Takes stock for `lines` (e.g. an order) and records it. |');
    expect(docs(fixture({ shop: {} })).canvas).toContain('**Gateway**: none;');
  });

  it('reads the tables of the module schema', () => {
    const schema = [
      "import { pgSchema, pgTable } from 'drizzle-orm/pg-core';",
      "export const shopSchema = pgSchema('shop');",
      "export const items = shopSchema.table('items', {});",
      "export const kind = shopSchema.enum('item_kind', ['a', 'b']);",
      "export const lines = shopSchema.table(\n  'order_lines',\n  {},\n);",
    ].join('\n');
    expect(readTables(schema)).toEqual({ schemas: ['shop'], tables: ['shop.items', 'shop.order_lines'], others: ['shop.item_kind (enum)'] });
    expect(docs(fixture({ shop: { schema } })).canvas).toContain('| Tables | schema `shop`: `items`, `order_lines`, `item_kind (enum)` |');
  });

  it('reads the events a gateway declares', () => {
    const gateway = [
      "import type { DomainEvent } from '../../shared/event-bus.ts';",
      "export type OrderPaid = DomainEvent<'OrderPaid', { orderId: string }>;",
      "export type Internal = DomainEvent<'Internal', {}> | never;",
      "type NotExported = DomainEvent<'NotExported', {}>;",
      "export interface OrderVoided extends DomainEvent<'OrderVoided', { orderId: string }> {}",
      'export interface OrderLine { id: string }',
    ].join('\n');
    expect(declaredEvents(gateway)).toEqual(['OrderPaid', 'OrderVoided']);
  });

  it('cuts a docstring at its first sentence', () => {
    expect(firstSentence('The tenant (e.g. a restaurant, i.e. a shop). More.')).toBe('The tenant (e.g. a restaurant, i.e. a shop).');
    expect(firstSentence('Runs `hook`\n  when deleted\n\nSecond paragraph.')).toBe('Runs `hook` when deleted');
    expect(firstSentence('Version 1.5 of it.')).toBe('Version 1.5 of it.');
  });
});

const run = promisify(execFile);
const arch = (cwd: string, ...args: string[]) =>
  run(process.execPath, ['scripts/arch-graph.ts', ...args], { cwd }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );

describe('the real repository', () => {
  it('has current docs/architecture.md and docs/modules.md (run `npm run arch:graph` and commit when this fails)', async () => {
    const stale = expectedDocuments(diskTree(REPO_ROOT)).filter((f: GeneratedFile) => f.current !== f.expected);
    expect(stale.map((f) => f.path)).toEqual([]);
    const check = await arch(REPO_ROOT, '--check');
    expect(check.code, check.stderr).toBe(0);
  });
  // That the routes read statically equal the routes the app serves is checked in
  // test/permission-matrix.test.ts, which boots the app anyway.
});

describe('npm run arch:graph in a copy of the repository', () => {
  let repo: RepoCopy;
  beforeAll(() => {
    repo = copyRepo({ prefix: 'arch-graph-' });
  });
  afterAll(() => repo?.dispose());

  /** A module that publishes an event, and another module that does not consume it yet (from the real declarations). */
  const plantable = () => {
    const modules = readModules(diskTree(repo.dir));
    const publisher = modules.find((m) => m.declaration.publishes.length > 0)!;
    const event = publisher.declaration.publishes[0]!;
    const consumer = modules.find((m) => m !== publisher && Object.keys(m.declaration.consumes).length === 0)!;
    return { publisher: publisher.name, event, consumer: consumer.name };
  };
  /** Adds `consumes: { <publisher>: ['<event>'] }` to the consumer's declaration. */
  const plantConsumer = (consumer: string, publisher: string, event: string) => {
    const index = `modules/${consumer}/index.ts`;
    const source = repo.read(index);
    const planted = /events:\s*\{/.test(source)
      ? source.replace(/events:\s*\{/, `events: {\n    consumes: { ${publisher}: ['${event}'] },`)
      : source.replace(/(\n\s*uses: \[[^\]]*\],)/, `$1\n  events: { consumes: { ${publisher}: ['${event}'] } },`);
    expect(planted).not.toBe(source);
    repo.write(index, planted);
    return { index, source, planted };
  };

  it('--check fails (exit 1) on a stale doc; arch:graph redraws it and keeps the prose', async () => {
    // Start from drawn docs, whatever the working tree holds (in-process: the same function the CLI runs).
    await writeArchitectureDocument(repo.dir);
    const { publisher, event, consumer } = plantable();
    const { index, source } = plantConsumer(consumer, publisher, event);
    repo.append(DOC_FILE, '\n## Notes kept by hand\n');
    try {
      const stale = await arch(repo.dir, '--check');
      expect(stale.code, stale.stderr).toBe(1);
      expect(stale.stderr).toContain(`${DOC_FILE} is out of date`);
      expect(stale.stderr).toContain(`${CANVAS_FILE} is out of date`);
      expect(stale.stderr).toContain('npm run arch:graph');

      const written = await arch(repo.dir);
      expect(written.code, written.stderr).toBe(0);
      expect(repo.read(DOC_FILE)).toMatch(new RegExp(`m_${publisher} -\\. "[^"]*\\b${event}\\b[^"]*" \\.-> m_${consumer}`));
      expect(repo.read(DOC_FILE)).toContain('## Notes kept by hand');
      expect(canvasOf(repo.read(CANVAS_FILE), consumer)).toContain(`| ${event} | consumes | from [${publisher}](#${publisher}) |`);
      expect(expectedDocuments(diskTree(repo.dir)).filter((f) => f.current !== f.expected)).toEqual([]); // what --check compares
    } finally {
      repo.write(index, source);
    }
  });

  it('fails (exit 1, file:line, nothing written) when a consumed event is not declared by the publisher', async () => {
    const { publisher, consumer } = plantable();
    const { index, source, planted } = plantConsumer(consumer, publisher, 'NoSuchEvent');
    const docsBefore = [repo.read(DOC_FILE), repo.read(CANVAS_FILE)];
    try {
      for (const result of await Promise.all([arch(repo.dir), arch(repo.dir, '--check')])) {
        expect(result.code, result.stderr).toBe(1);
        expect(result.stderr).toContain(`${index}:${lineOf(planted, "'NoSuchEvent'")}: consumes 'NoSuchEvent' from ${publisher}, but modules/${publisher}/gateway.ts declares no DomainEvent<'NoSuchEvent'`);
      }
      expect([repo.read(DOC_FILE), repo.read(CANVAS_FILE)]).toEqual(docsBefore);
    } finally {
      repo.write(index, source);
    }
  });
});
