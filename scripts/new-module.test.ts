import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerInApp, moduleNames } from './new-module.ts';
import { copyRepo, type RepoCopy } from './repo-copy.ts';

const SLOW = 180_000;
const FILES = ['index.ts', 'gateway.ts', 'routes.ts', 'service.ts', 'repository.ts', 'schema.ts', 'gift-cards.test.ts'].map((f) => `modules/gift-cards/${f}`);
const newModule = (repo: RepoCopy, ...args: string[]) => repo.run('node', ['scripts/new-module.ts', ...args]);

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

describe('npm run new:module -- gift-cards', () => {
  let repo: RepoCopy;
  let created: Awaited<ReturnType<RepoCopy['run']>>;
  beforeAll(async () => {
    repo = copyRepo({ prefix: 'new-module-' });
    await settleMigrations(repo);
    created = await newModule(repo, 'gift-cards');
  }, SLOW);
  afterAll(() => repo?.dispose());

  it('creates the module, registers it, generates its migration, and prints what it did and the next steps', () => {
    expect(created.code, created.output).toBe(0);
    for (const file of FILES) {
      expect(repo.exists(file), file).toBe(true);
      expect(created.stdout).toContain(file);
    }
    expect(created.stdout).toContain('Next steps');
    const app = repo.read('src/app.ts');
    expect(app).toContain("import giftCardsModule from '../modules/gift-cards/index.ts';");
    expect(app).toMatch(/await app\.register\(giftCardsModule\);/);
    const migration = /drizzle\/(\d{4}_gift-cards\.sql)/.exec(created.stdout)?.[0];
    expect(migration, created.stdout).toBeDefined();
    const sql = repo.read(migration!);
    expect(sql).toContain('CREATE SCHEMA "gift_cards"');
    expect(sql).toContain('"tenant_id" uuid NOT NULL');
    // Row-level security, when the repository's migrations set it up, covers the new table too.
    if (repo.read('drizzle/meta/_journal.json').includes('row_level_security')) expect(sql.trimEnd()).toMatch(/SELECT kernel\.apply_tenant_isolation\(\);$/);
    expect(repo.read('modules/gift-cards/schema.ts')).toContain("pgSchema('gift_cards')");
    expect(repo.read('modules/gift-cards/index.ts')).toContain("{ name: 'gift-cards', dependencies: ['database', 'auth-guard'] }");
  });

  it('compiles, passes lint:arch and arch:graph --check, passes its own test, and shows its route in /docs/json', { timeout: SLOW }, async () => {
    repo.write(
      '.tmp/docs-probe.ts',
      `import { startTestApp } from '../test/support/test-app.ts';
const t = await startTestApp();
const res = await t.api.get('/docs/json');
console.log(JSON.stringify(Object.keys(res.body.paths)));
await t.close();
`,
    );
    const [tsc, lint, graph, test, probe] = await Promise.all([
      repo.run('tsc', ['--noEmit']),
      repo.run('node', ['scripts/lint-arch.ts']),
      repo.run('node', ['scripts/arch-graph.ts', '--check']),
      repo.run('vitest', ['run', 'modules/gift-cards']),
      repo.run('node', ['.tmp/docs-probe.ts']),
    ]);
    // Errors in what the scaffolder wrote are its fault; others mean the copied tree did not compile.
    const errors = tsc.stdout.split('\n').filter((l) => /error TS\d+/.test(l));
    expect(errors.filter((l) => /^(modules\/gift-cards\/|src\/app\.ts)/.test(l))).toEqual([]);
    expect(errors, 'the working tree does not compile, apart from the scaffolded module').toEqual([]);
    expect(tsc.code, tsc.output).toBe(0);
    expect(lint.code, lint.output).toBe(0);
    expect(graph.code, graph.output).toBe(0);
    expect(test.code, test.output).toBe(0);
    expect(test.output).toMatch(/3 passed/);
    expect(probe.code, probe.output).toBe(0);
    expect(JSON.parse(probe.stdout.trim().split('\n').at(-1)!)).toContain('/api/v1/gift-cards/items');
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
    ['an existing module', ['orders'], /modules\/orders already exists/],
    ['a reserved folder name', ['shared'], /reserved/],
    ['a reserved URL segment', ['docs'], /reserved/],
    ['"src"', ['src'], /reserved/],
    ['"index"', ['index'], /reserved/],
    ['a JavaScript reserved word', ['class'], /JavaScript reserved word/],
    ['a route prefix in use', ['reports'], /route prefix \/api\/v1\/reports/],
    ['a Fastify instance property', ['log'], /app\.log/],
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
    const res = await newModule(repo, 'gift-cards', '--dry-run');
    expect(res.code, res.output).toBe(0);
    expect(res.stdout).toContain('dry run');
    for (const file of FILES) expect(res.stdout).toContain(file);
    expect(res.stdout).toContain("+ import giftCardsModule from '../modules/gift-cards/index.ts';");
    expect(res.stdout).toContain('drizzle-kit generate --name gift-cards');
    expect(changedPaths(before, repo.fingerprint())).toEqual([]);
  });

  it('undoes everything when the migration would carry unrelated pending schema changes', { timeout: SLOW }, async () => {
    repo.append('modules/payments/schema.ts', "\nexport const pendingChange = paymentsSchema.table('pending_change', { id: uuid('id').primaryKey() });\n");
    const before = repo.fingerprint();
    const res = await newModule(repo, 'gift-cards');
    expect(res.code, res.output).toBe(1);
    expect(res.stderr).toContain('"payments"');
    expect(res.stderr).toContain('npm run db:generate');
    expect(res.stderr).toContain('Nothing was changed');
    expect(changedPaths(before, repo.fingerprint())).toEqual([]);
  });

  it('undoes everything when drizzle-kit fails halfway', { timeout: SLOW }, async () => {
    repo.write('drizzle.config.ts', "throw new Error('drizzle config broken on purpose');\n");
    const before = repo.fingerprint();
    const res = await newModule(repo, 'gift-cards');
    expect(res.code, res.output).toBe(1);
    expect(res.stderr).toContain('drizzle-kit generate failed');
    expect(changedPaths(before, repo.fingerprint())).toEqual([]);
  });
});

describe('registering a module in src/app.ts', () => {
  const app = [
    "import authModule from '../modules/auth/index.ts';",
    "import ordersModule from '../modules/orders/index.ts';",
    '',
    '  await app.register(authModule);',
    '  await app.register(ordersModule, options.orders ?? {});',
    '  await app.ready();',
  ].join('\n');

  it('adds the import in alphabetical order and the registration after the last module', () => {
    const { source } = registerInApp(app, moduleNames('gift-cards'));
    expect(source.split('\n')).toEqual([
      "import authModule from '../modules/auth/index.ts';",
      "import giftCardsModule from '../modules/gift-cards/index.ts';",
      "import ordersModule from '../modules/orders/index.ts';",
      '',
      '  await app.register(authModule);',
      '  await app.register(ordersModule, options.orders ?? {});',
      '  await app.register(giftCardsModule);',
      '  await app.ready();',
    ]);
  });

  it('refuses a composition root without module registrations to anchor on', () => {
    expect(() => registerInApp('export {}', moduleNames('gift-cards'))).toThrow(/src\/app\.ts/);
  });
});
