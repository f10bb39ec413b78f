/**
 * Runs dependency-cruiser over the repository with `.dependency-cruiser.cjs`, and refuses to
 * return a result it cannot trust: no TypeScript parser, an unreadable tsconfig.json, a required
 * rule missing or downgraded, or fewer files cruised than exist on disk. Used by
 * `scripts/lint-arch.ts` (the boundary check); `scripts/arch-graph.ts` needs only the declarations.
 */
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, sep } from 'node:path';
import { cruise, getAvailableTranspilers, type ICruiseOptions, type ICruiseResult, type IViolation } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';
import { REPO_ROOT } from './repo-root.ts';

export { REPO_ROOT };
/** The main folders of our code (the rules name them); every other folder with code is cruised too. */
export const CRUISED_FOLDERS = ['src', 'modules', 'shared', 'test', 'scripts'] as const;
/** Extensions of the source files that are cruised. */
export const CODE_FILE = /\.(ts|mts|cts|tsx|js|mjs|cjs)$/;
/** Folders never cruised, wherever they are (installed packages) or at the top level (build output, git, scratch). */
const NOT_CODE_ANYWHERE = new Set(['node_modules']);
const NOT_CODE_AT_TOP = new Set(['dist', '.git', '.tmp', '.data', 'coverage']);
/** Tool configuration at the top level (vitest.config.ts, drizzle.config.ts, .dependency-cruiser.cjs): not application code. */
export const ROOT_CONFIG_FILE = /^(\.[^/]+|[^/]+\.config\.[cm]?[jt]s)$/;
/**
 * Rules lint:arch relies on: each must be in the config at severity `error`, else the check
 * refuses to pass (someone silencing a rule must do it visibly, in this list).
 */
export const REQUIRED_RULES = [
  'module-internals-are-private',
  'no-module-cycle',
  'no-circular',
  'shared-kernel-not-to-modules',
  'shared-kernel-not-to-app',
  'module-not-to-app',
  'tests-use-app-not-src-internals',
  'src-through-module-index',
  'module-index-only-from-composition-root',
  'tests-and-scripts-through-gateways',
  'src-not-to-test-code',
  'no-unresolvable',
] as const;
export const CONFIG_FILE = '.dependency-cruiser.cjs';
/** dependency-cruiser's default known-violations file (`depcruise --baseline` writes it too). */
export const BASELINE_FILE = '.dependency-cruiser-known-violations.json';

const TEST_FILE = '\\.test\\.[cm]?[jt]sx?$';

/**
 * The check could not run, or ran in a way that cannot be trusted (it might pass while checking
 * nothing). Callers print `message` and exit non-zero; it is never a pass.
 */
export class UntrustedCheckError extends Error {
  override name = 'UntrustedCheckError';
}

/** What one architecture cruise found. */
export interface ArchCruise {
  /** File-level result: every rule of the config except folder-scope ones. */
  files: ICruiseResult;
  /** Module-level result (folder-scope rules, e.g. no-module-cycle) over non-test files of modules/. */
  modules: ICruiseResult;
  /** Every violation of both cruises (all severities), in a stable order. */
  violations: IViolation[];
  /** The source files found on disk (see {@link listCodeFiles}), all of which were cruised. */
  filesOnDisk: string[];
  /** Descriptions of the rules by name (the `comment` of each rule in the config). */
  ruleComments: Map<string, string>;
  elapsedMs: number;
}

/**
 * Fails unless dependency-cruiser can parse TypeScript. With TypeScript 7 (no JavaScript
 * compiler API) or without TypeScript, dependency-cruiser silently cruises no .ts file and
 * reports no violation, so this must be an error, not a pass.
 * @throws UntrustedCheckError naming the version found and the version needed.
 */
export function assertTypeScriptParser(): void {
  const require = createRequire(join(REPO_ROOT, 'package.json'));
  let installed: string | undefined;
  try {
    installed = (require('typescript/package.json') as { version: string }).version;
  } catch {
    installed = undefined;
  }
  const found = installed ? `typescript@${installed}` : 'no typescript package';
  const typescript = getAvailableTranspilers().find((t) => t.name === 'typescript');
  if (!typescript?.available) {
    throw new UntrustedCheckError(
      `dependency-cruiser cannot parse TypeScript here: it needs typescript ${typescript?.version ?? '(unknown range)'}, found ${found}.\n` +
        'Without a parser it checks no .ts file and would report no violation, so the check refuses to pass.\n' +
        'Fix: keep "typescript": "~6.0.3" in package.json (TypeScript 7 has no JavaScript compiler API) and run `npm ci`.',
    );
  }
  let api: { createSourceFile?: unknown } | undefined;
  try {
    api = require('typescript') as { createSourceFile?: unknown };
  } catch {
    api = undefined;
  }
  if (typeof api?.createSourceFile !== 'function') {
    throw new UntrustedCheckError(
      `The installed typescript (${found}) has no compiler API (createSourceFile), which dependency-cruiser needs to parse .ts files.\n` +
        'Fix: keep "typescript": "~6.0.3" in package.json and run `npm ci`.',
    );
  }
}

/** Relative POSIX paths of the .ts files under `folders` of `root` (skips node_modules and dot folders). */
export function listTypeScriptFiles(root: string, folders: readonly string[] = CRUISED_FOLDERS): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // a folder that does not exist has no files
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && /\.(c|m)?ts$/.test(entry.name)) found.push(relative(root, path).split(sep).join('/'));
    }
  };
  for (const folder of folders) walk(join(root, folder));
  return found.sort();
}

/**
 * Relative POSIX paths of every source file ({@link CODE_FILE}) of the repository at `root`:
 * every folder but node_modules and the top-level build output, git and scratch folders
 * (dist, .git, .tmp, .data, coverage), and no top-level tool configuration file ({@link ROOT_CONFIG_FILE}).
 */
export function listCodeFiles(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string, top: boolean) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (NOT_CODE_ANYWHERE.has(entry.name) || (top && NOT_CODE_AT_TOP.has(entry.name))) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path, false);
      else if (entry.isFile() && CODE_FILE.test(entry.name) && !(top && ROOT_CONFIG_FILE.test(entry.name))) found.push(relative(root, path).split(sep).join('/'));
    }
  };
  walk(root, true);
  return found.sort();
}

/** Loads the config as cruise options, and the tsconfig for the TypeScript parser. */
async function loadOptions(root: string) {
  let options: ICruiseOptions;
  try {
    options = await extractDepcruiseOptions(join(root, CONFIG_FILE));
  } catch (error) {
    throw new UntrustedCheckError(`Cannot read the rules in ${CONFIG_FILE}: ${(error as Error).message}`);
  }
  const problems: string[] = [];
  const rules = options.ruleSet?.forbidden ?? [];
  for (const name of REQUIRED_RULES) {
    const rule = rules.find((r) => r.name === name);
    if (!rule) problems.push(`rule '${name}' is missing from ${CONFIG_FILE}.`);
    else if ((rule.severity ?? 'warn') !== 'error') problems.push(`rule '${name}' has severity '${rule.severity ?? 'warn'}' in ${CONFIG_FILE}; lint:arch needs it at 'error'.`);
  }
  if (options.tsPreCompilationDeps !== true) problems.push(`options.tsPreCompilationDeps is not true in ${CONFIG_FILE}: \`import type\` would not be checked.`);
  if (options.detectJSDocImports !== true) problems.push(`options.detectJSDocImports is not true in ${CONFIG_FILE}: JSDoc @type {import('…')} would not be checked.`);
  let tsConfig;
  try {
    tsConfig = extractTSConfig(join(root, 'tsconfig.json'));
  } catch (error) {
    problems.push(`tsconfig.json cannot be read: ${(error as Error).message.trim()}`);
  }
  if (problems.length > 0) {
    throw new UntrustedCheckError(`the check is not set up as it must be:\n${problems.map((p) => `  - ${p}`).join('\n')}\nRestore ${CONFIG_FILE} / tsconfig.json (git diff shows what changed).`);
  }
  return { options, tsConfig };
}

const violationOrder = (a: IViolation, b: IViolation) =>
  a.rule.name.localeCompare(b.rule.name) || a.from.localeCompare(b.from) || a.to.localeCompare(b.to);

/**
 * Cruises {@link CRUISED_FOLDERS} of `root` (the process must run in `root`: dependency-cruiser
 * resolves from the working directory) and returns what it found.
 *
 * Two cruises: the file-level rules over every file, and the folder-scope rules (module cycles)
 * over the non-test files of modules/ alone, since a module's test reaching the composition root
 * (test/support -> src/app.ts -> every module) would otherwise look like a cycle.
 *
 * @throws UntrustedCheckError when the parser is missing, the config is unreadable, or a .ts file
 *   on disk was not cruised.
 */
export async function cruiseArchitecture(root: string = REPO_ROOT): Promise<ArchCruise> {
  const started = performance.now();
  assertTypeScriptParser();
  const filesOnDisk = listCodeFiles(root);
  if (!filesOnDisk.some((f) => f.startsWith('modules/'))) {
    throw new UntrustedCheckError(`Found no source file in modules/ under ${root}: nothing to check.`);
  }
  const { options, tsConfig } = await loadOptions(root);
  const forbidden = options.ruleSet?.forbidden ?? [];
  const isFolderRule = (rule: (typeof forbidden)[number]) => 'scope' in rule && rule.scope === 'folder';
  const excludePaths = [options.exclude ?? []].flat().flatMap((e) => (typeof e === 'string' ? [e] : [e.path ?? []].flat()));

  const run = async (what: string[], cruiseOptions: ICruiseOptions): Promise<ICruiseResult> => {
    let output;
    try {
      ({ output } = await cruise(what, { ...cruiseOptions, baseDir: root }, {}, { tsConfig }));
    } catch (error) {
      throw new UntrustedCheckError(`dependency-cruiser failed: ${(error as Error).message}`);
    }
    if (typeof output === 'string') throw new UntrustedCheckError('dependency-cruiser returned a report instead of a cruise result.');
    return output;
  };

  // Every top-level folder holding code, and every top-level code file: nothing escapes the rules.
  const targets = [...new Set(filesOnDisk.map((f) => (f.includes('/') ? f.slice(0, f.indexOf('/')) : f)))];
  const files = await run(targets, {
    ...options,
    validate: true,
    ruleSet: { ...options.ruleSet, forbidden: forbidden.filter((r) => !isFolderRule(r)) },
  });
  const modules = await run(['modules'], {
    ...options,
    validate: true,
    includeOnly: '^modules/',
    exclude: { path: [...excludePaths, TEST_FILE] },
    ruleSet: { forbidden: forbidden.filter(isFolderRule) },
  });

  const issues = files.summary.environment?.issues ?? [];
  const blocking = issues.filter((i) => i.severity === 'error');
  if (blocking.length > 0) {
    throw new UntrustedCheckError(`dependency-cruiser reports a problem with this environment:\n${blocking.map((i) => `  - ${i.name}: ${i.description}`).join('\n')}`);
  }

  const cruised = new Set(files.modules.map((m) => m.source));
  const missed = filesOnDisk.filter((f) => !cruised.has(f));
  if (missed.length > 0) {
    const shown = missed.slice(0, 15).map((f) => `  - ${f}`).join('\n');
    throw new UntrustedCheckError(
      `dependency-cruiser checked ${filesOnDisk.length - missed.length} of the ${filesOnDisk.length} source files of the repository; it did not check:\n` +
        `${shown}${missed.length > 15 ? `\n  … and ${missed.length - 15} more` : ''}\n` +
        `A check that skips files can pass while rules are broken. Look for an exclude/includeOnly/doNotFollow in ${CONFIG_FILE} that hides them, ` +
        'or a TypeScript version dependency-cruiser cannot parse (`npx depcruise --info`).',
    );
  }

  const ruleComments = new Map<string, string>();
  for (const rule of forbidden) if (rule.name) ruleComments.set(rule.name, rule.comment ?? '');

  return {
    files,
    modules,
    violations: [...files.summary.violations, ...modules.summary.violations].sort(violationOrder),
    filesOnDisk,
    ruleComments,
    elapsedMs: performance.now() - started,
  };
}
