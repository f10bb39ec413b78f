import { cpSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASELINE_FILE, REPO_ROOT } from './arch-cruise.ts';
import { copyRepo, type RepoCopy } from './repo-copy.ts';

const SLOW = 120_000;
const lintArch = (repo: RepoCopy, ...args: string[]) => repo.run('node', ['scripts/lint-arch.ts', ...args]);

/** Writes or appends the planted files; returns a function that puts the originals back. */
function plant(repo: RepoCopy, files: Record<string, string>, mode: 'write' | 'append' = 'write'): () => void {
  const originals = new Map(Object.keys(files).map((path) => [path, repo.exists(path) ? repo.read(path) : undefined]));
  for (const [path, content] of Object.entries(files)) {
    if (mode === 'append') repo.append(path, content);
    else repo.write(path, content);
  }
  return () => {
    for (const [path, original] of originals) {
      if (original === undefined) repo.remove(path);
      else repo.write(path, original);
    }
  };
}

interface Violation {
  kind: string;
  files: Record<string, string>;
  mode?: 'write' | 'append';
  rules: string[];
  /** What the report must name: the importing file and what it imported. */
  names: string[];
}

/** One of each kind of boundary violation the check must catch. */
const VIOLATIONS: Violation[] = [
  {
    kind: "a deep import of another module's service.ts",
    files: { 'modules/orders/peek.ts': "import { createPaymentsService } from '../payments/service.ts';\nexport const peek = createPaymentsService;\n" },
    rules: ['module-internals-are-private'],
    names: ['modules/orders/peek.ts → modules/payments/service.ts'],
  },
  {
    kind: "an `import type` of another module's schema",
    files: { 'modules/inventory/peek.ts': "import type { payments } from '../payments/schema.ts';\nexport type PaymentRow = typeof payments.$inferSelect;\n" },
    rules: ['module-internals-are-private'],
    names: ['modules/inventory/peek.ts → modules/payments/schema.ts', 'import type'],
  },
  {
    kind: 'a dynamic import()',
    files: { 'modules/reporting/peek.ts': "export const loadOrders = () => import('../orders/repository.ts');\n" },
    rules: ['module-internals-are-private'],
    names: ['modules/reporting/peek.ts → modules/orders/repository.ts', 'dynamic import()'],
  },
  {
    kind: 'an `export … from` re-export',
    files: { 'modules/restaurant/peek.ts': "export { paymentsRepository } from '../payments/repository.ts';\n" },
    rules: ['module-internals-are-private'],
    names: ['modules/restaurant/peek.ts → modules/payments/repository.ts', 'export … from'],
  },
  {
    kind: 'a file in a subfolder of a module',
    files: { 'modules/orders/internal/deep/peek.ts': "import type { AuthService } from '../../../auth/service.ts';\nexport type Auth = AuthService;\n" },
    rules: ['module-internals-are-private'],
    names: ['modules/orders/internal/deep/peek.ts → modules/auth/service.ts'],
  },
  {
    kind: 'the shared kernel importing a module',
    files: { 'shared/peek.ts': "import type { PaymentsGateway } from '../modules/payments/gateway.ts';\nexport type Payments = PaymentsGateway;\n" },
    rules: ['shared-kernel-not-to-modules'],
    names: ['shared/peek.ts → modules/payments/gateway.ts'],
  },
  {
    kind: 'a module importing src/',
    files: { 'modules/payments/peek.ts': "import { buildApp } from '../../src/app.ts';\nexport const build = buildApp;\n" },
    rules: ['module-not-to-app'],
    names: ['modules/payments/peek.ts → src/app.ts'],
  },
  {
    kind: "src/ importing a module's internals",
    files: { 'src/peek.ts': "import { paymentsRoutes } from '../modules/payments/routes.ts';\nexport const routes = paymentsRoutes;\n" },
    rules: ['src-through-module-index'],
    names: ['src/peek.ts → modules/payments/routes.ts'],
  },
  {
    kind: 'a cycle between two gateways',
    mode: 'append',
    files: {
      'modules/payments/gateway.ts': "\nimport type { OrdersGateway } from '../orders/gateway.ts';\nexport type PaymentsSeesOrders = OrdersGateway;\n",
      'modules/orders/gateway.ts': "\nimport type { PaymentsGateway } from '../payments/gateway.ts';\nexport type OrdersSeesPayments = PaymentsGateway;\n",
    },
    rules: ['no-circular', 'no-module-cycle'],
    names: ['modules/payments/gateway.ts', 'modules/orders/gateway.ts', 'modules/orders → modules/payments'],
  },
  {
    kind: 'a cycle between two modules through their gateways (no file cycle)',
    files: { 'modules/payments/peek.ts': "import type { OrdersGateway } from '../orders/gateway.ts';\nexport type Orders = OrdersGateway;\n" },
    rules: ['no-module-cycle'],
    names: ['modules/payments → modules/orders → modules/payments'],
  },
];

describe('lint:arch', () => {
  let repo: RepoCopy;
  beforeAll(() => {
    repo = copyRepo({ prefix: 'lint-arch-' });
  });
  afterAll(() => repo?.dispose());

  it('passes on the clean tree, having checked every .ts file', { timeout: SLOW }, async () => {
    const res = await lintArch(repo);
    expect(res.output).toContain('module boundaries hold');
    expect(res.code, res.output).toBe(0);
  });

  describe.each(VIOLATIONS)('fails on $kind', ({ files, mode, rules, names }) => {
    it('exits non-zero naming the rule, the files and what to do instead', { timeout: SLOW }, async () => {
      const undo = plant(repo, files, mode);
      try {
        const res = await lintArch(repo);
        expect(res.code, res.output).toBe(1);
        for (const rule of rules) expect(res.stderr).toContain(rule);
        for (const name of names) expect(res.stderr).toContain(name);
        expect(res.stderr).toContain('What to do:');
      } finally {
        undo();
      }
    });
  });

  it('with a baseline, fails only on new violations, and on stale entries until pruned', { timeout: SLOW }, async () => {
    const [deepImport, , , , , , , srcInternals] = VIOLATIONS;
    const undoKnown = plant(repo, deepImport!.files);
    try {
      const adopted = await lintArch(repo, '--update-baseline');
      expect(adopted.code, adopted.output).toBe(0);
      const baseline = JSON.parse(repo.read(BASELINE_FILE));
      expect(baseline).toEqual([expect.objectContaining({ from: 'modules/orders/peek.ts', to: 'modules/payments/service.ts', rule: expect.objectContaining({ name: 'module-internals-are-private' }) })]);

      const tolerated = await lintArch(repo);
      expect(tolerated.code, tolerated.output).toBe(0);
      expect(tolerated.output).toContain('1 known violation tolerated');

      const undoNew = plant(repo, srcInternals!.files);
      const withNew = await lintArch(repo);
      undoNew();
      expect(withNew.code, withNew.output).toBe(1);
      expect(withNew.stderr).toContain('src-through-module-index');
      expect(withNew.stderr).toContain('src/peek.ts → modules/payments/routes.ts');
      expect(withNew.stderr).not.toContain('modules/orders/peek.ts →');
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
    expect(JSON.parse(repo.read(BASELINE_FILE))).toEqual([]);
    repo.remove(BASELINE_FILE);
  });

  it('refuses to pass when it cruised fewer .ts files than exist on disk', { timeout: SLOW }, async () => {
    const undo = plant(repo, {
      '.dependency-cruiser.cjs': repo.read('.dependency-cruiser.cjs').replace("exclude: { path: [", "exclude: { path: ['^modules/payments/', "),
    });
    try {
      const res = await lintArch(repo);
      expect(res.code, res.output).toBe(2);
      expect(res.stderr).toContain('refuses to pass');
      expect(res.stderr).toContain('modules/payments/service.ts');
    } finally {
      undo();
    }
  });

  it('documents its flags in --help', { timeout: SLOW }, async () => {
    const res = await lintArch(repo, '--help');
    expect(res.code).toBe(0);
    for (const flag of ['--update-baseline', '--prune-baseline', '--show-known', BASELINE_FILE]) expect(res.stdout).toContain(flag);
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
