/**
 * `npm run lint:arch`: the module boundary check. Runs dependency-cruiser with
 * `.dependency-cruiser.cjs` over every source file of the repository, plus its own checks
 * (scripts/arch-checks.ts: declared module graph, table ownership, gateway re-exports, hidden
 * and uncheckable references, module folder shape), and fails on any violation that is not in the
 * known-violations baseline, on any stale baseline entry, and when the check cannot be trusted
 * (no TypeScript parser, files not cruised, rules missing or downgraded, unreadable tsconfig).
 * Every violation is printed with the `file:line` of the offending code. See --help.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, styleText } from 'node:util';
import type { IViolation } from 'dependency-cruiser';
import { BASELINE_FILE, CONFIG_FILE, cruiseArchitecture, REPO_ROOT, UntrustedCheckError } from './arch-cruise.ts';
import type { Finding } from './arch-checks.ts';

const HELP = `Usage: npm run lint:arch -- [options]

Checks the module boundaries over every .ts/.mts/.cts/.tsx/.js/.mjs/.cjs file of the
repository (all but node_modules/, dist/, .git/, .tmp/, coverage/ and top-level tool
configuration such as vitest.config.ts): the dependency-cruiser rules in ${CONFIG_FILE}
(module internals private, no module or file cycles, kernel/app/test directions, every
import kind incl. import type, import(), export … from, require, JSDoc import types),
and its own checks:
  - the declared graph: a module imports modules/X/gateway.ts only when its index.ts
    declares X in defineModule({ uses }) or consumes X's events; \`uses\` is acyclic and
    names existing modules; a \`uses\` entry never imported is a warning
  - module folders: kebab-case name, index.ts with a readable defineModule declaration,
    gateway.ts, index.ts imported by src/app.ts
  - tables: SQL (sql\`…\`, .execute/.unsafe/.query/.raw strings, SQL-looking strings) in a
    module naming another module's schema (or the kernel's), and pgSchema('x') outside
    the module owning schema x
  - a gateway.ts re-exporting (or exporting names imported from) its module's internals
  - vi.mock/vi.importActual/…, createRequire, import.meta.resolve, new URL(…, import.meta.url)
    reaching another module's internals; import()/require()/vi.mock() of a computed path
Each violation is printed with file:line.

Exit codes:
  0  no error outside the baseline, and no stale baseline entry (warnings are printed)
  1  new violations, or stale entries in the baseline
  2  the check could not run or cannot be trusted (TypeScript parser missing or
     unsupported, a source file not cruised, a required rule missing from ${CONFIG_FILE}
     or not at severity error, unreadable config or tsconfig.json)

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

/**
 * The violation as a line a developer can act on, starting with `file:line` when known (editors
 * and terminals jump to it): from → to (and the cycle or path, if any).
 */
function describe(v: Finding): string {
  if (v.message) return v.message;
  const from = v.location && !/^modules\/[^/]+$/.test(v.from) ? v.location : v.from;
  const where = from === v.location || !v.location ? '' : `   (${v.location})`;
  if (v.cycle && v.cycle.length > 0) return [from, ...v.cycle.map((c) => c.name)].join(' → ') + where;
  if (v.via && v.via.length > 0) return [from, ...v.via.map((c) => c.name)].join(' → ') + where;
  if (v.type === 'dependency' || v.dependencyTypes) {
    const written = v.unresolvedTo && v.unresolvedTo !== v.to ? ` (imported as '${v.unresolvedTo}')` : '';
    return `${from} → ${v.to}   [${importKind(v.dependencyTypes)}]${written}${where}`;
  }
  return `${from} → ${v.to}${where}`;
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

function writeBaseline(path: string, violations: readonly Finding[]) {
  // Locations and messages move with every edit; the baseline keeps dependency-cruiser's fields.
  const plain = violations.map(({ location: _location, message: _message, ...v }) => v);
  const sorted = plain.sort((a, b) => violationKey(a).localeCompare(violationKey(b)));
  writeFileSync(path, `${JSON.stringify(sorted, null, 2)}\n`);
}

const heading = (text: string) => styleText('bold', text);
const bad = (text: string) => styleText('red', text);
const dim = (text: string) => styleText('dim', text);

/** Prints violations grouped by rule, each group followed by what to do instead. */
function printGroups(violations: readonly Finding[], comments: Map<string, string>, marker: string) {
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
  let checks;
  try {
    result = await cruiseArchitecture(REPO_ROOT);
    baseline = readBaseline(baselinePath);
    // Loaded only now: it needs the TypeScript compiler API, whose absence cruiseArchitecture reports.
    const { CUSTOM_RULES, runArchChecks } = await import('./arch-checks.ts');
    checks = runArchChecks({ root: REPO_ROOT, files: result.filesOnDisk, cruise: result.files });
    for (const [name, rule] of Object.entries(CUSTOM_RULES)) result.ruleComments.set(name, rule.comment);
  } catch (error) {
    if (!(error instanceof UntrustedCheckError)) throw error;
    console.error(`${bad('✖ lint:arch refuses to pass:')} ${error.message}`);
    return 2;
  }
  const cruised: Finding[] = result.violations.map((v) => ({ ...v, location: checks.locate(v) }));
  const all: Finding[] = [...cruised, ...checks.findings];

  const failing = all.filter((v) => v.rule.severity === 'error' || v.rule.severity === 'warn');
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
  const warnings = fresh.filter((v) => v.rule.severity !== 'error');
  if (errors.length > 0) {
    console.error(bad(heading(`✖ lint:arch: ${errors.length} module boundary violation${errors.length === 1 ? '' : 's'}`)) + dim(` (rules in ${CONFIG_FILE} and scripts/arch-checks.ts)`));
    printGroups(errors, result.ruleComments, bad('✖'));
  }
  if (warnings.length > 0) {
    console.error(styleText('yellow', heading(`⚠ lint:arch: ${warnings.length} warning${warnings.length === 1 ? '' : 's'}`)) + dim(' (do not fail the check)'));
    printGroups(warnings, result.ruleComments, styleText('yellow', '⚠'));
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
  console.log(`${styleText('green', '✔')} lint:arch: module boundaries hold (${summary}${warnings.length > 0 ? `; ${warnings.length} warning${warnings.length === 1 ? '' : 's'}` : ''}).`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
