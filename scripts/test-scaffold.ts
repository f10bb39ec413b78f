/**
 * `npm run test:scaffold`: the scaffolder's promise, checked end to end. In a copy of the
 * working tree it scaffolds a module that uses two modules and handles an event
 * (`npm run new:module -- loyalty --uses auth,restaurant --subscribe OrderPaid`), then runs what CI
 * runs on it: typecheck, lint (ESLint + knip), lint:arch, arch:graph --check, lint:openapi,
 * `npm run test:module -- loyalty`, and the WHOLE test suite (`npm test`). Prints each step with
 * its time; exits 1 at the first failure, with its output and the copy kept for a look.
 *
 * Run by CI after `npm test` (it cannot run inside the suite: it runs the suite). Uses
 * DATABASE_URL like the suite does, or the embedded database without it.
 */
import { copyRepo, type RunResult } from './repo-copy.ts';

const NAME = 'loyalty';
const STEPS: Array<[string, string, string[]]> = [
  ['scaffold', 'node', ['scripts/new-module.ts', NAME, '--uses', 'auth,restaurant', '--subscribe', 'OrderPaid']],
  ['typecheck', 'npm', ['run', '-s', 'typecheck']],
  ['lint (ESLint, knip)', 'npm', ['run', '-s', 'lint']],
  ['lint:arch', 'npm', ['run', '-s', 'lint:arch']],
  ['arch:graph --check', 'npm', ['run', '-s', 'arch:graph', '--', '--check']],
  ['lint:openapi', 'npm', ['run', '-s', 'lint:openapi']],
  [`test:module -- ${NAME}`, 'npm', ['run', '-s', 'test:module', '--', NAME]],
  ['npm test (the whole suite)', 'npm', ['test']],
];

async function main(): Promise<number> {
  const started = performance.now();
  const repo = copyRepo({ prefix: 'test-scaffold-' });
  console.log(`test:scaffold: in a copy of the working tree at ${repo.dir}`);
  for (const [label, command, args] of STEPS) {
    process.stdout.write(`… ${label}: ${command} ${args.join(' ')}\n`);
    const res: RunResult = await repo.run(command, args, { timeoutMs: 30 * 60_000 });
    const seconds = (res.ms / 1000).toFixed(1);
    if (res.code !== 0) {
      console.error(`${res.output.trim().split('\n').slice(-80).join('\n')}\n\n✖ test:scaffold: ${label} failed (exit ${res.code}, ${seconds} s). The copy is kept at ${repo.dir}.`);
      return 1;
    }
    const summary = res.output.match(/Tests\s+(\d+ passed[^\n]*)/)?.[1]?.replace(/\x1b\[[0-9;]*m/g, '');
    console.log(`✔ ${label} (${seconds} s)${summary ? `: ${summary.trim()}` : ''}`);
  }
  repo.dispose();
  console.log(`✔ test:scaffold: the scaffolded module passes every check and the whole suite (${((performance.now() - started) / 1000).toFixed(0)} s).`);
  return 0;
}

process.exitCode = await main();
