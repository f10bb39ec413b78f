/**
 * `npm run lint:arch`: the module boundary check. Runs dependency-cruiser with
 * `.dependency-cruiser.cjs` over src, modules, shared, test and scripts, and fails on any
 * violation that is not in the known-violations baseline, on any stale baseline entry, and when
 * the check cannot be trusted (no TypeScript parser, files not cruised). See --help.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, styleText } from 'node:util';
import type { IViolation } from 'dependency-cruiser';
import { BASELINE_FILE, CONFIG_FILE, cruiseArchitecture, REPO_ROOT, UntrustedCheckError } from './arch-cruise.ts';

const HELP = `Usage: npm run lint:arch -- [options]

Checks the module boundaries (rules in ${CONFIG_FILE}) with dependency-cruiser over
src/, modules/, shared/, test/ and scripts/.

Exit codes:
  0  no violation outside the baseline, and no stale baseline entry
  1  new violations, or stale entries in the baseline
  2  the check could not run or cannot be trusted (TypeScript parser missing or
     unsupported, fewer .ts files cruised than exist on disk, unreadable config)

Options:
  --update-baseline  Record every current violation in ${BASELINE_FILE}
                     (adopting the check in a legacy codebase). Review the diff.
  --prune-baseline   Remove stale entries (violations that are gone) from the
                     baseline; never adds one. Run it after fixing a known violation.
  --show-known       Also list the violations the baseline tolerates.
  -h, --help         Show this help.

Known violations: ${BASELINE_FILE} holds violations that are tolerated for now
(dependency-cruiser's baseline format, so \`npx depcruise --ignore-known\` reads it too).
Only violations not in it fail. An entry whose violation no longer occurs fails too,
so the baseline can only shrink.`;

/** How a dependency was written, from dependency-cruiser's dependency types. */
function importKind(types: readonly string[] = []): string {
  const has = (t: string) => types.includes(t);
  if (has('dynamic-import')) return 'dynamic import()';
  if (has('type-import')) return "import('…') type";
  if (has('export')) return has('type-only') ? 'export type … from' : 'export … from';
  if (has('type-only')) return 'import type';
  if (has('require')) return 'require()';
  if (has('triple-slash-directive')) return '/// <reference>';
  return 'import';
}

/** Identity of a violation for baseline matching (dependency-cruiser's own fields, minus severity). */
function violationKey(v: IViolation): string {
  return JSON.stringify([
    v.rule.name,
    v.from,
    v.to,
    v.unresolvedTo ?? '',
    v.type ?? '',
    v.dependencyTypes ?? [],
    (v.cycle ?? []).map((c) => c.name),
    (v.via ?? []).map((c) => c.name),
  ]);
}

/** The violation as lines a developer can act on: from → to (and the cycle or path, if any). */
function describe(v: IViolation): string {
  if (v.cycle && v.cycle.length > 0) return [v.from, ...v.cycle.map((c) => c.name)].join(' → ');
  if (v.via && v.via.length > 0) return [v.from, ...v.via.map((c) => c.name)].join(' → ');
  if (v.type === 'dependency' || v.dependencyTypes) {
    const written = v.unresolvedTo && v.unresolvedTo !== v.to ? ` (imported as '${v.unresolvedTo}')` : '';
    return `${v.from} → ${v.to}   [${importKind(v.dependencyTypes)}]${written}`;
  }
  return `${v.from} → ${v.to}`;
}

function readBaseline(path: string): IViolation[] {
  if (!existsSync(path)) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UntrustedCheckError(`${BASELINE_FILE} is not valid JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(parsed) || !parsed.every((v) => v && typeof v === 'object' && typeof v.from === 'string' && typeof v.rule?.name === 'string')) {
    throw new UntrustedCheckError(`${BASELINE_FILE} is not a list of dependency-cruiser violations.`);
  }
  return parsed as IViolation[];
}

function writeBaseline(path: string, violations: readonly IViolation[]) {
  const sorted = [...violations].sort((a, b) => violationKey(a).localeCompare(violationKey(b)));
  writeFileSync(path, `${JSON.stringify(sorted, null, 2)}\n`);
}

const heading = (text: string) => styleText('bold', text);
const bad = (text: string) => styleText('red', text);
const dim = (text: string) => styleText('dim', text);

/** Prints violations grouped by rule, each group followed by what to do instead. */
function printGroups(violations: readonly IViolation[], comments: Map<string, string>, marker: string) {
  const byRule = Map.groupBy(violations, (v) => v.rule.name);
  for (const [rule, group] of byRule) {
    console.error(`\n${marker} ${heading(rule)} (${group.length})`);
    for (const v of group) console.error(`    ${describe(v)}`);
    const advice = comments.get(rule);
    if (advice) console.error(`  ${styleText('yellow', 'What to do:')} ${advice}`);
  }
}

async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        'update-baseline': { type: 'boolean', default: false },
        'prune-baseline': { type: 'boolean', default: false },
        'show-known': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: false,
    }).values;
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (args.help) {
    console.log(HELP);
    return 0;
  }
  if (args['update-baseline'] && args['prune-baseline']) {
    console.error('Use either --update-baseline or --prune-baseline, not both.');
    return 2;
  }

  process.chdir(REPO_ROOT);
  const baselinePath = join(REPO_ROOT, BASELINE_FILE);
  let result;
  let baseline: IViolation[];
  try {
    result = await cruiseArchitecture(REPO_ROOT);
    baseline = readBaseline(baselinePath);
  } catch (error) {
    if (!(error instanceof UntrustedCheckError)) throw error;
    console.error(`${bad('✖ lint:arch refuses to pass:')} ${error.message}`);
    return 2;
  }

  const failing = result.violations.filter((v) => v.rule.severity === 'error' || v.rule.severity === 'warn');
  const known = new Set(baseline.map(violationKey));
  const current = new Set(failing.map(violationKey));
  const fresh = failing.filter((v) => !known.has(violationKey(v)));
  const tolerated = failing.filter((v) => known.has(violationKey(v)));
  const stale = baseline.filter((v) => !current.has(violationKey(v)));
  const summary = `${result.filesOnDisk.length} files, ${result.files.summary.totalDependenciesCruised ?? 0} dependencies checked in ${(result.elapsedMs / 1000).toFixed(1)} s`;

  if (args['update-baseline']) {
    if (failing.length === 0 && !existsSync(baselinePath)) {
      console.log(`lint:arch: no violations, so no baseline is needed (${summary}).`);
      return 0;
    }
    writeBaseline(baselinePath, failing);
    console.log(`lint:arch: wrote ${BASELINE_FILE}: ${failing.length} known violations (${fresh.length} added, ${stale.length} removed). Review and commit it.`);
    return 0;
  }
  if (args['prune-baseline']) {
    if (stale.length > 0) writeBaseline(baselinePath, baseline.filter((v) => current.has(violationKey(v))));
    console.log(`lint:arch: removed ${stale.length} stale entries from ${BASELINE_FILE}; ${baseline.length - stale.length} remain.`);
    stale.length = 0;
  }

  const errors = fresh.filter((v) => v.rule.severity === 'error');
  if (fresh.length > 0) {
    console.error(bad(heading(`✖ lint:arch: ${fresh.length} module boundary violation${fresh.length === 1 ? '' : 's'}`)) + dim(` (rules in ${CONFIG_FILE})`));
    printGroups(fresh, result.ruleComments, bad('✖'));
  }
  if (stale.length > 0) {
    console.error(`\n${bad(heading(`✖ lint:arch: ${stale.length} stale baseline entr${stale.length === 1 ? 'y' : 'ies'}`))} in ${BASELINE_FILE}: these known violations no longer occur.`);
    for (const v of stale) console.error(`    ${v.rule.name}: ${describe(v)}`);
    console.error(`  ${styleText('yellow', 'What to do:')} well done; shrink the baseline with \`npm run lint:arch -- --prune-baseline\` and commit it.`);
  }
  if (tolerated.length > 0) {
    if (args['show-known']) printGroups(tolerated, result.ruleComments, dim('•'));
    console.error(dim(`\n${tolerated.length} known violation${tolerated.length === 1 ? '' : 's'} tolerated by ${BASELINE_FILE}${args['show-known'] ? '' : ' (--show-known lists them)'}.`));
  }
  if (errors.length > 0 || stale.length > 0) {
    console.error(`\n${summary}.`);
    return 1;
  }
  console.log(`${styleText('green', '✔')} lint:arch: module boundaries hold (${summary}).`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
