import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { copyRepo, type RepoCopy, type RunResult } from './repo-copy.ts';
import { main, moduleFolders } from './test-module.ts';

const MODULES = moduleFolders();
const SLOW = 300_000;

/** Runs `work` over `items`, at most `limit` at a time (two cores here: two vitest runs at once). */
async function pool<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** A copy of the repository in which every module but `keep` is reduced to its gateway.ts. */
function strippedCopy(keep: string): RepoCopy {
  const repo = copyRepo({ prefix: `test-module-${keep}-` });
  for (const other of MODULES.filter((m) => m !== keep)) {
    for (const entry of readdirSync(join(repo.dir, 'modules', other))) {
      if (entry !== 'gateway.ts') repo.remove(`modules/${other}/${entry}`);
    }
  }
  return repo;
}

describe('npm run test:module -- <name>', () => {
  it('refuses a missing, malformed or unknown module name with exit 2 and says why', async () => {
    const errors: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((message: string) => void errors.push(message));
    try {
      expect(await main([])).toBe(2);
      expect(errors.pop()).toContain('give a module name (or --all)');
      expect(await main(['Orders'])).toBe(2);
      expect(errors.pop()).toContain("'Orders' is not a module name: module names are kebab-case");
      expect(await main(['gift-cards'])).toBe(2);
      expect(errors.pop()).toBe(`test:module: There is no module 'gift-cards' (no folder modules/gift-cards/). Modules: ${MODULES.join(', ')}.`);
    } finally {
      spy.mockRestore();
    }
  });

  describe('each module passes its module tests in a copy where every other module is only its gateway.ts', () => {
    const copies: RepoCopy[] = [];
    afterAll(() => copies.forEach((c) => c.dispose()));

    it(
      `${MODULES.join(', ')}: exit 0, module tests run, other modules' internals absent; a failing module test exits 1`,
      async () => {
        expect(MODULES.length).toBeGreaterThanOrEqual(6);
        const started = performance.now();
        const runs = await pool(MODULES, 2, async (name) => {
          const repo = strippedCopy(name);
          copies.push(repo);
          for (const other of MODULES.filter((m) => m !== name)) {
            expect(readdirSync(join(repo.dir, 'modules', other)), `modules/${other} in the copy for ${name}`).toEqual(['gateway.ts']);
          }
          expect(repo.exists(`modules/${name}/index.ts`)).toBe(true);
          const result = await repo.run('npm', ['run', 'test:module', '--', name], { timeoutMs: 120_000 });
          return { name, repo, result };
        });
        const wallMs = performance.now() - started;
        for (const { name, result } of runs) {
          expect(result.code, `test:module ${name} in its stripped copy:\n${result.output}`).toBe(0);
          expect(result.output).toContain(`modules/${name}/${name}.module.test.ts`);
          expect(result.output).toMatch(/Tests\s+\d+ passed/);
          expect(result.output).not.toMatch(/failed/);
        }
        console.log(
          `test:module in stripped copies (2 at a time): ${runs.map(({ name, result }) => `${name} ${(result.ms / 1000).toFixed(1)} s`).join(', ')}; wall ${(wallMs / 1000).toFixed(1)} s`,
        );

        // vitest's exit code comes through: a failing module test fails the command.
        const payments = runs.find((r) => r.name === 'payments')!.repo;
        payments.write(
          'modules/payments/planted.module.test.ts',
          "import { expect, it } from 'vitest';\nit('is planted to fail', () => expect(1 + 1).toBe(3));\n",
        );
        const failing: RunResult = await payments.run('npm', ['run', 'test:module', '--', 'payments', '-t', 'planted']);
        expect(failing.code, failing.output).toBe(1);
        expect(failing.output).toContain('is planted to fail');
      },
      SLOW,
    );
  });
});
