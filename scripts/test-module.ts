/**
 * `npm run test:module -- <name> [vitest options]`: runs the module tests of one module, the files
 * named `*.module.test.ts` anywhere under `modules/<name>/`, which boot that module alone on the shared kernel
 * with stubs of the modules it uses (test/support/module-test.ts). They pass in a copy of the
 * repository where every other module is reduced to its gateway.ts (scripts/test-module.test.ts).
 * Spring Modulith's `@ApplicationModuleTest` and Medusa's per-module test runner are the models.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { MODULE_NAME } from '../shared/module.ts';
import { REPO_ROOT } from './repo-root.ts';

const HELP = `Usage: npm run test:module -- <name> [vitest options]
       npm run test:module -- --all [vitest options]

Runs the module tests of modules/<name>/ (files named *.module.test.ts, in any subfolder):
the module booted alone on the shared kernel, with stubs of the modules it uses
(see test/support/module-test.ts). --all runs those of every module. Any further
arguments go to vitest (e.g. -t 'declined').

Exit codes:
  0  the tests passed
  1  a test failed (vitest's own exit code is passed through)
  2  usage error: no name, a name that is not kebab-case, no such module folder, or a
     module without module tests`;

/** A bad invocation: the message to print, and exit code 2. */
export class UsageError extends Error {}

/** Paths (relative to `root`, with `/`) of the `*.module.test.ts` files under `dir`, sorted. */
function moduleTestFiles(root: string, dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.module.test.ts') && !relative(root, e.parentPath).split(sep).includes('node_modules'))
    .map((e) => relative(root, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
}

/** Names of the module folders under `root`/modules, sorted. */
export function moduleFolders(root = REPO_ROOT): string[] {
  const modules = join(root, 'modules');
  return existsSync(modules) ? readdirSync(modules).filter((n) => statSync(join(modules, n)).isDirectory()).sort() : [];
}

/**
 * The module test files to run for `name` (a module folder) or `'--all'`, relative to `root`.
 * @throws UsageError when the name is not kebab-case, names no folder under modules/, or the
 *   module (or, with --all, every module) has no `*.module.test.ts`.
 */
export function resolveModuleTests(name: string, root = REPO_ROOT): string[] {
  const folders = moduleFolders(root);
  if (name === '--all') {
    const files = folders.flatMap((m) => moduleTestFiles(root, join('modules', m)));
    if (files.length === 0) throw new UsageError('No module has module tests (modules/<name>/*.module.test.ts).');
    return files;
  }
  if (!MODULE_NAME.test(name)) throw new UsageError(`'${name}' is not a module name: module names are kebab-case (${MODULE_NAME}). Modules: ${folders.join(', ')}.`);
  if (!folders.includes(name)) throw new UsageError(`There is no module '${name}' (no folder modules/${name}/). Modules: ${folders.join(', ')}.`);
  const files = moduleTestFiles(root, join('modules', name));
  if (files.length === 0) {
    throw new UsageError(`Module '${name}' has no module tests: add modules/${name}/${name}.module.test.ts (it boots the module alone with bootModule from test/support/module-test.ts).`);
  }
  return files;
}

/** Runs vitest on `files` (plus `extra` arguments) in `root`; resolves with its exit code. */
function runVitest(root: string, files: string[], extra: string[]): Promise<number> {
  const vitest = join(root, 'node_modules', '.bin', 'vitest');
  return new Promise((resolve, reject) => {
    const child = spawn(existsSync(vitest) ? vitest : 'vitest', ['run', ...files, ...extra], { cwd: root, stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/** The command: validates the name, runs vitest on the module's module tests, returns the exit code. */
export async function main(args: string[], root = REPO_ROOT): Promise<number> {
  const [name, ...extra] = args;
  if (name === '-h' || name === '--help') {
    console.log(HELP);
    return 0;
  }
  if (name === undefined || (name.startsWith('-') && name !== '--all')) {
    console.error(`test:module: give a module name (or --all).\n\n${HELP}`);
    return 2;
  }
  let files: string[];
  try {
    files = resolveModuleTests(name, root);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`test:module: ${error.message}`);
    return 2;
  }
  console.log(`test:module: ${name === '--all' ? 'every module' : `module '${name}'`} alone: ${files.join(' ')}`);
  return runVitest(root, files, extra);
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
