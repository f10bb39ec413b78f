import { cpSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASELINE_FILE, REPO_ROOT } from './arch-cruise.ts';
import { parseModuleDeclaration } from './module-declarations.ts';
import { copyRepo, type RepoCopy } from './repo-copy.ts';

const SLOW = 120_000;
const lintArch = (repo: RepoCopy, ...args: string[]) => repo.run('node', ['scripts/lint-arch.ts', ...args]);

/** The outermost folder of `path` that does not exist yet, or `path` itself. */
function firstNew(repo: RepoCopy, path: string): string {
  const parts = path.split('/');
  for (let i = 1; i < parts.length; i++) if (!repo.exists(parts.slice(0, i).join('/'))) return parts.slice(0, i).join('/');
  return path;
}

/** Writes the planted files (or appends to them); returns a function that puts the originals back. */
function plant(repo: RepoCopy, files: Record<string, string>, mode: 'write' | 'append' = 'write'): () => void {
  const originals = new Map(Object.keys(files).map((path) => [path, repo.exists(path) ? repo.read(path) : undefined]));
  const created = Object.keys(files).filter((path) => !repo.exists(path)).map((path) => firstNew(repo, path));
  for (const [path, content] of Object.entries(files)) {
    if (mode === 'append') repo.append(path, content);
    else repo.write(path, content);
  }
  return () => {
    for (const [path, original] of originals) {
      if (original === undefined) repo.remove(path);
      else repo.write(path, original);
    }
    for (const path of created) repo.remove(path);
  };
}

/** Line count of a file of the copy (so `lines(f) + 2` is the first line of "\n…" appended to it). */
const lines = (repo: RepoCopy, path: string) => repo.read(path).replace(/\n$/, '').split('\n').length;

/** `modules/<m>/index.ts` with `add` put first in its declared uses. */
function withUses(repo: RepoCopy, module: string, add: string): string {
  const source = repo.read(`modules/${module}/index.ts`);
  const changed = source.replace(/uses:\s*\[/, `uses: ['${add}', `).replace(`'${add}', ]`, `'${add}']`);
  expect(changed, `uses of ${module}`).not.toBe(source);
  return changed;
}

const deepImport = { 'modules/orders/peek.ts': "import { createPaymentsService } from '../payments/service.ts';\nexport const peek = createPaymentsService;\n" };
const srcInternals = { 'src/peek.ts': "import { paymentsRoutes } from '../modules/payments/routes.ts';\nexport const routes = paymentsRoutes;\n" };

describe('lint:arch', () => {
  let repo: RepoCopy;
  beforeAll(() => {
    repo = copyRepo({ prefix: 'lint-arch-' });
  });
  afterAll(() => repo?.dispose());

  it('passes on the clean tree, having checked every source file', { timeout: SLOW }, async () => {
    const res = await lintArch(repo);
    expect(res.output).toContain('module boundaries hold');
    expect(res.output).not.toContain('warning');
    expect(res.code, res.output).toBe(0);
  });

  it('reports every kind of violation planted at once, each with file:line and what to do', { timeout: SLOW }, async () => {
    const gatewayLines = { payments: lines(repo, 'modules/payments/gateway.ts'), orders: lines(repo, 'modules/orders/gateway.ts'), inventory: lines(repo, 'modules/inventory/gateway.ts') };
    const undo = [
      plant(repo, {
        // ── dependency-cruiser rules, every import kind ──
        ...deepImport,
        ...srcInternals,
        'modules/inventory/peek.ts': "import type { payments } from '../payments/schema.ts';\nexport type PaymentRow = typeof payments.$inferSelect;\n",
        'modules/reporting/peek.ts': "export const loadOrders = () => import('../orders/repository.ts');\n",
        'modules/restaurant/peek.ts': "export { paymentsRepository } from '../payments/repository.ts';\n",
        'modules/orders/internal/deep/peek.ts': "import type { AuthService } from '../../../auth/service.ts';\nexport type Auth = AuthService;\n",
        'shared/peek.ts': "import type { PaymentsGateway } from '../modules/payments/gateway.ts';\nexport type Payments = PaymentsGateway;\n",
        'modules/payments/peek-app.ts': "import { buildApp } from '../../src/app.ts';\nexport const build = buildApp;\n",
        'modules/inventory/legacy.js': "// A JavaScript file, typed with JSDoc.\n/** @type {import('../orders/service.ts').OrdersService | undefined} */\nexport const orders = undefined;\n",
        // ── code outside src/, modules/, shared/, test/, scripts/ ──
        'lib/peek.ts': "export { createPaymentsService } from '../modules/payments/service.ts';\n",
        'peek.ts': "export * from './modules/orders/repository.ts';\n",
        // ── declared graph ──
        'modules/restaurant/peek-uses.ts': "// restaurant declares uses: ['auth'] only.\nimport type { PaymentsGateway } from '../payments/gateway.ts';\nexport type Payments = PaymentsGateway;\n",
        'modules/auth/index.ts': withUses(repo, 'auth', 'orders'), // auth → orders → auth
        'modules/gift-cards/index.ts':
          "import { defineModule } from '../../shared/module.ts';\nconst declaration = { name: 'gift-cards', uses: [], setup: async () => undefined };\nexport default defineModule(declaration);\n",
        'modules/gift-cards/gateway.ts': 'export interface GiftCardsGateway { balance(): number }\n',
        'modules/loyalty/index.ts': "import { defineModule } from '../../shared/module.ts';\nexport default defineModule({\n  name: 'loyal',\n  uses: ['nowhere'],\n  setup: async () => undefined,\n});\n",
        'modules/loyalty/gateway.ts': 'export interface LoyaltyGateway { points(): number }\n',
        'modules/undeclared/index.ts': "// A plugin without a declaration.\nexport default async function plugin() {}\n",
        'modules/undeclared/gateway.ts': 'export interface UndeclaredGateway { ping(): void }\n',
        'modules/unregistered/index.ts': "import { defineModule } from '../../shared/module.ts';\nexport default defineModule({ name: 'unregistered', uses: [], setup: async () => undefined });\n",
        'modules/unregistered/gateway.ts': 'export interface UnregisteredGateway { ping(): void }\n',
        'modules/Bad_Name/service.ts': 'export const x = 1;\n',
        'modules/stray.ts': 'export const stray = 1;\n',
        'src/app.ts': `${repo.read('src/app.ts')}\nimport '../modules/gift-cards/index.ts';\nimport '../modules/loyalty/index.ts';\nimport '../modules/undeclared/index.ts';\n`,
        // ── tables ──
        'modules/orders/peek-sql.ts': [
          "import { sql } from 'drizzle-orm';",
          "import { pgSchema } from 'drizzle-orm/pg-core';",
          'export const stock = sql`select quantity from inventory.stock_levels where id = ${1}`;',
          'export const paid = (db: { execute(q: string): unknown }) => db.execute(\'SELECT 1 FROM "Payments"."payments"\');',
          'export const facts = (db: { unsafe(q: string): unknown }) => db.unsafe(`delete from reporting . order_facts`);',
          "export const inbox = 'select * from kernel.inbox';",
          "export const theirSchema = pgSchema('restaurant');",
          '// Allowed: its own tables, identifiers in code, strings that are not SQL.',
          'export const own = sql`select * from orders.orders`;',
          "export const cacheName = 'restaurant.menu-pages';",
          'export const notSql = { payments: { find: () => 1 } }.payments.find();',
          '',
        ].join('\n'),
        'shared/peek-sql.ts': "import { pgSchema } from 'drizzle-orm/pg-core';\nexport const q = 'select * from auth.users';\nexport const s = pgSchema('inventory');\n",
        // ── references dependency-cruiser does not see or cannot follow ──
        'modules/reporting/peek-dynamic.ts': "const which = 'service';\nexport const load = () => import(`../orders/${which}.ts`);\nexport const loadAny = (path: string) => require(path);\n",
        'scripts/peek-hidden.ts': [
          "import { createRequire } from 'node:module';",
          'const load = createRequire(import.meta.url);',
          "export const service = load('../modules/payments/service.ts');",
          "export const schemaUrl = new URL('../modules/orders/schema.ts', import.meta.url);",
          "export const resolved = import.meta.resolve('../modules/auth/repository.ts');",
          "export const gatewayUrl = new URL('../modules/orders/gateway.ts', import.meta.url);",
          '',
        ].join('\n'),
        'test/peek-mock.test.ts': "import { vi } from 'vitest';\nvi.mock('../modules/payments/payment-provider.ts');\nexport const actual = await vi.importActual('../modules/orders/service.ts');\n",
        'modules/orders/peek-mock.test.ts': "import { vi } from 'vitest';\nvi.doMock('../payments/service.ts');\nvi.mock('./service.ts');\n",
      }),
      plant(
        repo,
        {
          // Two gateways importing each other: a file cycle and a module cycle.
          'modules/payments/gateway.ts': "\nimport type { OrdersGateway } from '../orders/gateway.ts';\nexport type PaymentsSeesOrders = OrdersGateway;\n",
          'modules/orders/gateway.ts': "\nimport type { PaymentsGateway } from '../payments/gateway.ts';\nexport type OrdersSeesPayments = PaymentsGateway;\n",
          // A gateway making internals public.
          'modules/inventory/gateway.ts':
            "\nexport * from './repository.ts';\nexport type { InventoryService } from './service.ts';\nimport type { StockRow } from './schema.ts';\nexport type { StockRow };\nexport type StockAlias = StockRow;\n",
        },
        'append',
      ),
    ];
    try {
      const authUses = parseModuleDeclaration('auth', repo.read('modules/auth/index.ts')).usesLines.orders;
      const res = await lintArch(repo);
      expect(res.code, res.output).toBe(1);
      const expected: Record<string, string[]> = {
        'module-internals-are-private': [
          'modules/orders/peek.ts:1 → modules/payments/service.ts   [import]',
          'modules/inventory/peek.ts:1 → modules/payments/schema.ts   [import type]',
          'modules/reporting/peek.ts:1 → modules/orders/repository.ts   [dynamic import()]',
          'modules/restaurant/peek.ts:1 → modules/payments/repository.ts   [export … from]',
          'modules/orders/internal/deep/peek.ts:1 → modules/auth/service.ts',
          'modules/inventory/legacy.js:2 → modules/orders/service.ts',
        ],
        'shared-kernel-not-to-modules': ['shared/peek.ts:1 → modules/payments/gateway.ts'],
        'module-not-to-app': ['modules/payments/peek-app.ts:1 → src/app.ts'],
        'src-through-module-index': ['src/peek.ts:1 → modules/payments/routes.ts'],
        'no-circular': [`modules/orders/gateway.ts:${gatewayLines.orders + 2} → modules/payments/gateway.ts → modules/orders/gateway.ts`],
        'no-module-cycle': ['modules/orders → modules/payments → modules/orders', 'modules/payments → modules/orders → modules/payments'],
        'tests-and-scripts-through-gateways': ['lib/peek.ts:1 → modules/payments/service.ts', 'peek.ts:1 → modules/orders/repository.ts'],
        'declared-uses': [
          "modules/restaurant/peek-uses.ts:2 → modules/payments/gateway.ts   [import type], but modules/restaurant/index.ts does not declare 'payments'",
          `modules/payments/gateway.ts:${gatewayLines.payments + 2} → modules/orders/gateway.ts`,
        ],
        'no-uses-cycle': [`modules/auth/index.ts:${authUses}: the declared uses form a cycle: auth → orders → auth`],
        'module-declaration-readable': [
          'modules/gift-cards/index.ts:3: defineModule must be called with an object literal',
          'modules/undeclared/index.ts:1: no defineModule({ name, uses, events, setup }) call',
          "modules/loyalty/index.ts:2: the module is named 'loyal' but its folder is modules/loyalty",
          "modules/loyalty/index.ts:4: uses names 'nowhere', which is not a module",
        ],
        'module-folder-shape': [
          "modules/Bad_Name/: 'Bad_Name' is not a kebab-case module name",
          'modules/Bad_Name/: no index.ts',
          'modules/Bad_Name/: no gateway.ts',
          'modules/unregistered/index.ts:1: not imported by src/app.ts',
          'modules/stray.ts:1: not inside a module folder',
        ],
        'module-tables-are-private': [
          'modules/orders/peek-sql.ts:3: SQL names inventory.stock_levels, a table of module inventory',
          'modules/orders/peek-sql.ts:4: SQL names "Payments"."payments", a table of module payments',
          'modules/orders/peek-sql.ts:5: SQL names reporting . order_facts, a table of module reporting',
          'modules/orders/peek-sql.ts:6: SQL names kernel.inbox, a table of the shared kernel',
          'shared/peek-sql.ts:2: SQL names auth.users, a table of module auth',
        ],
        'pg-schema-in-owner-module': ["modules/orders/peek-sql.ts:7: pgSchema('restaurant')", "shared/peek-sql.ts:3: pgSchema('inventory')"],
        'gateway-exports-own-contract': [
          `modules/inventory/gateway.ts:${gatewayLines.inventory + 2}: export * from './repository.ts'`,
          `modules/inventory/gateway.ts:${gatewayLines.inventory + 3}: export type { InventoryService } from './service.ts'`,
          `modules/inventory/gateway.ts:${gatewayLines.inventory + 5}: export type { StockRow }`,
          `modules/inventory/gateway.ts:${gatewayLines.inventory + 6}: export type StockAlias = StockRow`,
        ],
        'no-uncheckable-import': ['modules/reporting/peek-dynamic.ts:2: import(`../orders/${which}.ts`)', 'modules/reporting/peek-dynamic.ts:3: require(path)'],
        'no-hidden-module-reference': [
          'scripts/peek-hidden.ts:3 → modules/payments/service.ts   [load]',
          'scripts/peek-hidden.ts:4 → modules/orders/schema.ts   [new URL(…, import.meta.url)]',
          'scripts/peek-hidden.ts:5 → modules/auth/repository.ts   [import.meta.resolve()]',
          'test/peek-mock.test.ts:2 → modules/payments/payment-provider.ts   [vi.mock]',
          'test/peek-mock.test.ts:3 → modules/orders/service.ts   [vi.importActual]',
          'modules/orders/peek-mock.test.ts:2 → modules/payments/service.ts   [vi.doMock]',
        ],
      };
      const missing: string[] = [];
      for (const [rule, names] of Object.entries(expected)) {
        // The rule's group: from its heading to the next heading.
        const group = new RegExp(`✖ ${rule} \\(\\d+\\)\\n([\\s\\S]*?)\\n  What to do:`).exec(res.stderr)?.[1] ?? '';
        if (!group) missing.push(`rule ${rule} (no group)`);
        for (const name of names) if (!group.includes(name)) missing.push(`${rule}: ${name}`);
      }
      expect(missing, res.stderr).toEqual([]);
      // Allowed forms are not reported: own tables, non-SQL strings, gateway URLs, own mocks.
      for (const allowed of ['peek-sql.ts:9', 'peek-sql.ts:10', 'peek-sql.ts:11', 'peek-hidden.ts:6', 'peek-mock.test.ts:3 → modules/orders/service.ts   [vi.mock]']) {
        expect(res.stderr).not.toContain(allowed);
      }
    } finally {
      for (const u of undo.reverse()) u();
    }
  });

  it('with a baseline, fails only on new violations, and on stale entries until pruned; warnings do not fail', { timeout: SLOW }, async () => {
    // The repository may carry a baseline of its own: the test adds to it and puts it back.
    const committed = repo.exists(BASELINE_FILE) ? repo.read(BASELINE_FILE) : undefined;
    const committedEntries = committed ? (JSON.parse(committed) as unknown[]).length : 0;
    const undoKnown = plant(repo, deepImport);
    try {
      const adopted = await lintArch(repo, '--update-baseline');
      expect(adopted.code, adopted.output).toBe(0);
      const baseline = JSON.parse(repo.read(BASELINE_FILE));
      expect(baseline).toHaveLength(committedEntries + 1);
      expect(baseline).toContainEqual(expect.objectContaining({ from: 'modules/orders/peek.ts', to: 'modules/payments/service.ts', rule: expect.objectContaining({ name: 'module-internals-are-private' }) }));
      expect(baseline.every((v: object) => !('location' in v) && !('message' in v))).toBe(true);

      // A declared use whose gateway is never imported: a warning, with the line of the entry.
      const undoUnused = plant(repo, { 'modules/inventory/index.ts': withUses(repo, 'inventory', 'payments') });
      const usesLine = parseModuleDeclaration('inventory', repo.read('modules/inventory/index.ts')).usesLines.payments;
      const tolerated = await lintArch(repo);
      undoUnused();
      expect(tolerated.code, tolerated.output).toBe(0);
      expect(tolerated.output).toContain(`${committedEntries + 1} known violation`);
      expect(tolerated.stderr).toContain('⚠ unused-uses (1)');
      expect(tolerated.stderr).toContain(`modules/inventory/index.ts:${usesLine}: uses 'payments', but no file of modules/inventory/ imports modules/payments/gateway.ts`);

      const undoNew = plant(repo, srcInternals);
      const withNew = await lintArch(repo);
      undoNew();
      expect(withNew.code, withNew.output).toBe(1);
      expect(withNew.stderr).toContain('src-through-module-index');
      expect(withNew.stderr).toContain('src/peek.ts:1 → modules/payments/routes.ts');
      expect(withNew.stderr).not.toContain('modules/orders/peek.ts:1 →');
    } finally {
      undoKnown();
    }

    const stale = await lintArch(repo);
    expect(stale.code, stale.output).toBe(1);
    expect(stale.stderr).toContain('stale baseline entry');
    expect(stale.stderr).toContain('module-internals-are-private: modules/orders/peek.ts → modules/payments/service.ts');
    expect(stale.stderr).toContain('--prune-baseline');

    const pruned = await lintArch(repo, '--prune-baseline');
    expect(pruned.code, pruned.output).toBe(0);
    expect(JSON.parse(repo.read(BASELINE_FILE))).toHaveLength(committedEntries);
    if (committed === undefined) repo.remove(BASELINE_FILE);
    else repo.write(BASELINE_FILE, committed);
  });

  it('refuses to pass (exit 2) when a source file anywhere was not cruised', { timeout: SLOW }, async () => {
    const undo = plant(repo, {
      '.dependency-cruiser.cjs': repo.read('.dependency-cruiser.cjs').replace('exclude: { path: [', "exclude: { path: ['^modules/payments/', '^lib/', "),
      'lib/hidden.mjs': "export { createPaymentsService } from '../modules/payments/service.ts';\n",
    });
    try {
      const res = await lintArch(repo);
      expect(res.code, res.output).toBe(2);
      expect(res.stderr).toContain('refuses to pass');
      expect(res.stderr).toContain('modules/payments/service.ts');
      expect(res.stderr).toContain('lib/hidden.mjs');
    } finally {
      undo();
    }
  });

  it('refuses to pass (exit 2) when a required rule is downgraded or deleted, JSDoc imports are off, or tsconfig.json is broken', { timeout: SLOW }, async () => {
    const config = repo.read('.dependency-cruiser.cjs');
    const downgraded = config
      .replace(/(name: 'no-circular',\s*severity: )'error'/, "$1'warn'")
      .replace(/\{\s*name: 'src-not-to-test-code',[\s\S]*?\n {4}\},\n/, '')
      .replace('detectJSDocImports: true', 'detectJSDocImports: false');
    expect(downgraded.match(/severity: 'warn'/g)).toHaveLength(1);
    expect(downgraded).not.toContain("'src-not-to-test-code'");
    const undo = plant(repo, { '.dependency-cruiser.cjs': downgraded, 'tsconfig.json': '{ "compilerOptions": { "strict": true ' });
    try {
      const res = await lintArch(repo);
      expect(res.code, res.output).toBe(2);
      expect(res.stderr).toContain('refuses to pass');
      expect(res.stderr).toContain("rule 'no-circular' has severity 'warn'");
      expect(res.stderr).toContain("rule 'src-not-to-test-code' is missing");
      expect(res.stderr).toContain('detectJSDocImports is not true');
      expect(res.stderr).toContain('tsconfig.json cannot be read');
    } finally {
      undo();
    }
  });

  it('documents its checks and flags in --help', { timeout: SLOW }, async () => {
    const res = await lintArch(repo, '--help');
    expect(res.code).toBe(0);
    for (const text of ['--update-baseline', '--prune-baseline', '--show-known', BASELINE_FILE, 'uses', 'vi.mock', 'pgSchema', 'file:line']) expect(res.stdout).toContain(text);
  });
});

describe('lint:arch without a TypeScript parser dependency-cruiser supports', () => {
  let repo: RepoCopy;
  beforeAll(() => {
    // node_modules of its own: dependency-cruiser copied (so it resolves typescript here), the
    // rest linked, and typescript replaced by what each case installs.
    repo = copyRepo({ linkNodeModules: false, prefix: 'lint-arch-no-ts-' });
    const modules = join(repo.dir, 'node_modules');
    mkdirSync(modules);
    for (const entry of readdirSync(join(REPO_ROOT, 'node_modules'))) {
      if (['.bin', 'typescript', 'dependency-cruiser'].includes(entry)) continue;
      symlinkSync(join(REPO_ROOT, 'node_modules', entry), join(modules, entry));
    }
    cpSync(join(REPO_ROOT, 'node_modules', 'dependency-cruiser'), join(modules, 'dependency-cruiser'), { recursive: true });
  });
  afterAll(() => repo?.dispose());
  const node = join(REPO_ROOT, 'node_modules', '.bin', 'node');

  it('refuses to pass with TypeScript 7 (no JavaScript compiler API)', { timeout: SLOW }, async () => {
    repo.write('node_modules/typescript/package.json', JSON.stringify({ name: 'typescript', version: '7.0.0', main: 'index.js' }));
    writeFileSync(join(repo.dir, 'node_modules/typescript/index.js'), "module.exports = { version: '7.0.0' };\n");
    const res = await repo.run(node, ['scripts/lint-arch.ts']);
    repo.remove('node_modules/typescript');
    expect(res.code, res.output).toBe(2);
    expect(res.stderr).toContain('refuses to pass');
    expect(res.stderr).toContain('typescript@7.0.0');
  });

  it('refuses to pass without TypeScript', { timeout: SLOW }, async () => {
    const res = await repo.run(node, ['scripts/lint-arch.ts']);
    expect(res.code, res.output).toBe(2);
    expect(res.stderr).toContain('refuses to pass');
    expect(res.stderr).toContain('cannot parse TypeScript');
  });
});
