import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { moduleNames } from './new-module-templates.ts';
import { addApiTag, registerInApp } from './new-module.ts';
import { copyRepo, type RepoCopy } from './repo-copy.ts';

// The whole suite on a scaffolded module runs in `npm run test:scaffold` (scripts/test-scaffold.ts,
// called by CI): running it from inside the suite would recurse. Here: the scaffolder's output,
// the checks CI runs on it, the tests most sensitive to a new module, and every refusal.

const SLOW = 300_000;
const FILES = ['index.ts', 'gateway.ts', 'routes.ts', 'views.ts', 'service.ts', 'repository.ts', 'schema.ts', 'gift-cards.module.test.ts', 'gift-cards.test.ts'].map(
  (f) => `modules/gift-cards/${f}`,
);
const newModule = (repo: RepoCopy, ...args: string[]) => repo.run('node', ['scripts/new-module.ts', ...args], { timeoutMs: SLOW });

/** Generates any migration the copied working tree still lacks, so a test starts from a settled schema. */
async function settleMigrations(repo: RepoCopy) {
  const res = await repo.run('drizzle-kit', ['generate', '--name', 'pending-before-test']);
  expect(res.code, res.output).toBe(0);
}

/** Paths whose content differs between two fingerprints (added, removed or changed). */
function changedPaths(before: Map<string, string>, after: Map<string, string>): string[] {
  const paths = new Set([...before.keys(), ...after.keys()]);
  return [...paths].filter((p) => before.get(p) !== after.get(p)).sort();
}

describe('npm run new:module -- gift-cards --uses auth,restaurant --subscribe OrderPaid', () => {
  let repo: RepoCopy;
  let created: Awaited<ReturnType<RepoCopy['run']>>;
  let before: Map<string, string>;
  beforeAll(async () => {
    repo = copyRepo({ prefix: 'new-module-' });
    await settleMigrations(repo);
    before = repo.fingerprint();
    created = await newModule(repo, 'gift-cards', '--uses', 'auth,restaurant', '--subscribe', 'OrderPaid');
  }, SLOW);
  afterAll(() => repo?.dispose());

  it('creates the module in the shape of the real ones, registers it after its dependencies, and prints what it did and the next steps', () => {
    expect(created.code, created.output).toBe(0);
    for (const file of FILES) {
      expect(repo.exists(file), file).toBe(true);
      expect(created.stdout).toContain(file);
    }
    const index = repo.read('modules/gift-cards/index.ts');
    expect(index).toContain("name: 'gift-cards',");
    expect(index).toContain("uses: ['auth', 'restaurant'],");
    expect(index).toMatch(/consumes: \{\s*orders: \['OrderPaid'\],/);
    expect(index).toContain("events.subscribe<OrderPaid>('OrderPaid'");
    expect(index).not.toMatch(/fastify-plugin|decorate\(/);
    expect(repo.read('modules/gift-cards/gateway.ts')).not.toContain("declare module 'fastify'");
    const routes = repo.read('modules/gift-cards/routes.ts');
    expect(routes).toContain("config: { roles: ['owner', 'manager'] }");
    expect(routes).not.toContain('preHandler');
    expect(repo.read('modules/gift-cards/views.ts')).toContain('z.output<typeof GiftCardsItem>');

    const app = repo.read('src/app.ts');
    expect(app).toContain("import giftCardsModule from '../modules/gift-cards/index.ts';");
    expect(app).toContain('await modules.register(giftCardsModule, { deps: { auth, restaurant } });');
    expect(app.indexOf('giftCardsModule, {')).toBeGreaterThan(app.indexOf('modules.register(restaurantModule'));
    expect(repo.read('src/api-docs.ts')).toContain("{ name: 'gift-cards',");

    const migration = /drizzle\/(\d{4}_gift-cards\.sql)/.exec(created.stdout)?.[0];
    expect(migration, created.stdout).toBeDefined();
    const sql = repo.read(migration!);
    expect(sql).toContain('CREATE SCHEMA "gift_cards"');
    expect(sql).toContain('"tenant_id" uuid NOT NULL');
    expect(sql.trimEnd()).toMatch(/SELECT kernel\.apply_tenant_isolation\(\);$/);

    // Everything CI checks to be generated from the code was regenerated.
    expect(changedPaths(before, repo.fingerprint()).filter((p) => !p.startsWith('modules/gift-cards') && !p.startsWith('drizzle/'))).toEqual([
      'docs/architecture.md',
      'docs/modules.md',
      'docs/openapi.json',
      'src/api-docs.ts',
      'src/app.ts',
    ]);
    expect(repo.read('docs/modules.md')).toContain('gift-cards');
    expect(created.stdout).toContain('Next steps');
    expect(created.stdout).toContain('--redo-migration');
  });

  it('passes typecheck, ESLint, knip, lint:arch, arch:graph --check, redocly, its own tests, test:module, and the suite tests that look at every module', { timeout: SLOW }, async () => {
    const [tsc, lint, arch, graph, openapi] = await Promise.all([
      repo.run('tsc', ['--noEmit']),
      repo.run('npm', ['run', '-s', 'lint']),
      repo.run('node', ['scripts/lint-arch.ts']),
      repo.run('node', ['scripts/arch-graph.ts', '--check']),
      repo.run('npm', ['run', '-s', 'lint:openapi']),
    ]);
    // Errors in what the scaffolder wrote are its fault; others mean the copied tree did not compile.
    const errors = tsc.stdout.split('\n').filter((l) => /error TS\d+/.test(l));
    expect(errors.filter((l) => /^(modules\/gift-cards\/|src\/)/.test(l))).toEqual([]);
    expect(tsc.code, tsc.output).toBe(0);
    expect(lint.code, lint.output).toBe(0);
    expect(arch.code, arch.output).toBe(0);
    expect(arch.output).not.toMatch(/warn/i);
    expect(graph.code, graph.output).toBe(0);
    expect(openapi.code, openapi.output).toBe(0);

    const tests = await repo.run('vitest', ['run', 'modules/gift-cards', 'test/permission-matrix.test.ts', 'scripts/openapi.test.ts', 'scripts/arch-graph.test.ts'], { timeoutMs: SLOW });
    expect(tests.code, tests.output).toBe(0);
    expect(tests.output).toMatch(/gift-cards\.module\.test\.ts/);
    const alone = await repo.run('node', ['scripts/test-module.ts', 'gift-cards'], { timeoutMs: SLOW });
    expect(alone.code, alone.output).toBe(0);
  });

  it('--redo-migration regenerates the module migration from a changed table, with no rename question', { timeout: SLOW }, async () => {
    repo.write('modules/gift-cards/schema.ts', repo.read('modules/gift-cards/schema.ts').replace("'items'", "'cards'").replace("'items_pk'", "'cards_pk'"));
    const plain = await repo.run('drizzle-kit', ['generate', '--name', 'rename-probe']);
    // drizzle-kit wants to ask "created or renamed?" and, with no terminal to answer, writes nothing.
    expect(repo.read('drizzle/meta/_journal.json')).not.toContain('rename-probe');
    expect(plain.output).toMatch(/Interactive prompts require a TTY/);

    const redo = await newModule(repo, 'gift-cards', '--redo-migration');
    expect(redo.code, redo.output).toBe(0);
    const journal = repo.read('drizzle/meta/_journal.json');
    expect(journal.match(/_gift-cards"/g)).toHaveLength(1);
    const migration = /drizzle\/\d{4}_gift-cards\.sql/.exec(redo.stdout)![0];
    expect(repo.read(migration)).toContain('CREATE TABLE "gift_cards"."cards"');
    expect(repo.read(migration)).not.toContain('"items"');
    expect(repo.read(migration).trimEnd()).toMatch(/SELECT kernel\.apply_tenant_isolation\(\);$/);
  });
});

describe('new:module refusals and failures change nothing', () => {
  let repo: RepoCopy;
  beforeAll(async () => {
    repo = copyRepo({ prefix: 'new-module-refusals-' });
    await settleMigrations(repo);
  }, SLOW);
  afterAll(() => repo?.dispose());

  const refusals: Array<[string, string[], RegExp]> = [
    ['no name', [], /Give the module a name/],
    ['PascalCase', ['GiftCards'], /not kebab-case/],
    ['snake_case', ['gift_cards'], /not kebab-case/],
    ['a leading digit', ['1st-module'], /not kebab-case/],
    ['a double hyphen', ['gift--cards'], /not kebab-case/],
    ['a NUL byte', ['gift\u0001cards'], /not kebab-case/],
    ['an existing module', ['orders'], /modules\/orders already exists/],
    ['a reserved folder name', ['shared'], /reserved/],
    ['a reserved URL segment', ['docs'], /reserved/],
    ['"src"', ['src'], /reserved/],
    ['"index"', ['index'], /reserved/],
    ['a JavaScript reserved word', ['class'], /JavaScript reserved word/],
    ['a route prefix in use', ['reports'], /route prefix \/api\/v1\/reports/],
    ['an identifier of the composition root', ['session-checker'], /identifier sessionChecker is already used in src\/app\.ts/],
    ['a module it would use that does not exist', ['gift-cards', '--uses', 'vouchers'], /no module "vouchers"/],
    ['a module with no gateway to call', ['gift-cards', '--uses', 'reporting'], /exports no <Name>Gateway/],
    ['an event nobody publishes', ['gift-cards', '--subscribe', 'OrderShipped'], /no module publishes "OrderShipped".*OrderPaid \(orders\)/s],
    ['--redo-migration of a module without one', ['restaurant', '--redo-migration'], /No migration named \*_restaurant\.sql/],
    ['an unknown option', ['gift-cards', '--frobnicate'], /Unknown option/],
    ['two names', ['gift-cards', 'vouchers'], /one name/],
  ];

  it.each(refusals)('refuses %s and says why', { timeout: SLOW }, async (_, args, why) => {
    const before = repo.fingerprint();
    const res = await newModule(repo, ...args);
    expect(res.code, res.output).not.toBe(0);
    expect(res.stderr).toMatch(why);
    expect(res.stderr).toContain('Nothing was changed');
    expect(changedPaths(before, repo.fingerprint())).toEqual([]);
  });

  it('--dry-run prints the plan and writes nothing', { timeout: SLOW }, async () => {
    const before = repo.fingerprint();
    const res = await newModule(repo, 'gift-cards', '--uses', 'auth', '--dry-run');
    expect(res.code, res.output).toBe(0);
    expect(res.stdout).toContain('dry run');
    for (const file of FILES) expect(res.stdout).toContain(file);
    expect(res.stdout).toContain("+ import giftCardsModule from '../modules/gift-cards/index.ts';");
    expect(res.stdout).toContain('+ await modules.register(giftCardsModule, { deps: { auth } });');
    expect(res.stdout).toContain('drizzle-kit generate --name gift-cards');
    expect(changedPaths(before, repo.fingerprint())).toEqual([]);
  });

  it('undoes everything when the migration would carry unrelated pending schema changes', { timeout: SLOW }, async () => {
    repo.append('modules/payments/schema.ts', "\nexport const pendingChange = paymentsSchema.table('pending_change', { id: uuid('id').primaryKey() });\n");
    try {
      const before = repo.fingerprint();
      const res = await newModule(repo, 'gift-cards');
      expect(res.code, res.output).toBe(1);
      expect(res.stderr).toContain('"payments"');
      expect(res.stderr).toContain('npm run db:generate');
      expect(res.stderr).toContain('Nothing was changed');
      expect(changedPaths(before, repo.fingerprint())).toEqual([]);
    } finally {
      repo.write('modules/payments/schema.ts', repo.read('modules/payments/schema.ts').replace(/\nexport const pendingChange[^\n]*\n$/, ''));
    }
  });

  it('undoes everything when drizzle-kit fails halfway', { timeout: SLOW }, async () => {
    const config = repo.read('drizzle.config.ts');
    repo.write('drizzle.config.ts', "throw new Error('drizzle config broken on purpose');\n");
    try {
      const before = repo.fingerprint();
      const res = await newModule(repo, 'gift-cards');
      expect(res.code, res.output).toBe(1);
      expect(res.stderr).toContain('drizzle-kit generate failed');
      expect(changedPaths(before, repo.fingerprint())).toEqual([]);
    } finally {
      repo.write('drizzle.config.ts', config);
    }
  });

  it('undoes everything when regenerating docs/openapi.json fails (the last step)', { timeout: SLOW }, async () => {
    const script = repo.read('scripts/openapi.ts');
    repo.write('scripts/openapi.ts', "throw new Error('openapi generation broken on purpose');\n");
    try {
      const before = repo.fingerprint();
      const res = await newModule(repo, 'gift-cards', '--uses', 'inventory');
      expect(res.code, res.output).toBe(1);
      expect(res.stderr).toContain('npm run openapi failed');
      expect(res.stderr).toContain('broken on purpose');
      expect(changedPaths(before, repo.fingerprint())).toEqual([]);
    } finally {
      repo.write('scripts/openapi.ts', script);
    }
  });
});

describe('registering a module in src/app.ts', () => {
  const app = [
    "import authModule from '../modules/auth/index.ts';",
    "import ordersModule from '../modules/orders/index.ts';",
    '',
    '  const auth = await modules.register(authModule, {',
    '    options: { x: 1 },',
    '  });',
    '  await modules.register(ordersModule, { deps: { auth } });',
    '',
    '  await app.ready();',
  ].join('\n');

  it('adds the import in alphabetical order and the registration after the last module (which may span lines)', () => {
    const { source } = registerInApp(app, moduleNames('gift-cards'));
    expect(source.split('\n')).toEqual([
      "import authModule from '../modules/auth/index.ts';",
      "import giftCardsModule from '../modules/gift-cards/index.ts';",
      "import ordersModule from '../modules/orders/index.ts';",
      '',
      '  const auth = await modules.register(authModule, {',
      '    options: { x: 1 },',
      '  });',
      '  await modules.register(ordersModule, { deps: { auth } });',
      '  await modules.register(giftCardsModule);',
      '',
      '  await app.ready();',
    ]);
  });

  it('passes the gateways it uses, keeping a used module\'s gateway in a const where it was not yet', () => {
    const { source, registerLine } = registerInApp(app, moduleNames('gift-cards'), [moduleNames('auth'), moduleNames('orders')]);
    expect(registerLine).toBe('await modules.register(giftCardsModule, { deps: { auth, orders } });');
    expect(source).toContain('  const orders = await modules.register(ordersModule, { deps: { auth } });');
  });

  it('refuses a composition root without module registrations, or one that does not register a used module', () => {
    expect(() => registerInApp('export {}', moduleNames('gift-cards'))).toThrow(/src\/app\.ts/);
    expect(() => registerInApp(app, moduleNames('gift-cards'), [moduleNames('payments')])).toThrow(/does not register the module "payments"/);
  });

  it('adds the module tag to the API document', () => {
    const docs = "const API_TAGS = [\n  { name: 'auth', description: 'x' },\n];\n";
    expect(addApiTag(docs, moduleNames('gift-cards'))).toContain("  { name: 'auth', description: 'x' },\n  { name: 'gift-cards', description: ");
    expect(addApiTag('nothing here', moduleNames('gift-cards'))).toBeUndefined();
  });
});
