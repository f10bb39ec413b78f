/**
 * Prints test coverage per module (and for the kernel and the composition root) from the V8
 * coverage summary vitest writes with `--coverage` (coverage/coverage-summary.json): lines,
 * statements, functions and branches covered, as percentages and counts. Exit 2 when there is no
 * summary (run `npm run test:coverage`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from './repo-root.ts';

type Metric = { total: number; covered: number };
type FileSummary = Record<'lines' | 'statements' | 'functions' | 'branches', Metric>;

const SUMMARY = join(REPO_ROOT, 'coverage', 'coverage-summary.json');

/** `modules/<name>`, `shared` or `src` for a file of the summary; undefined for anything else. */
function areaOf(file: string): string | undefined {
  const path = relative(REPO_ROOT, file).split('\\').join('/');
  const module = /^modules\/([^/]+)\//.exec(path)?.[1];
  if (module) return `modules/${module}`;
  if (path.startsWith('shared/')) return 'shared (kernel)';
  if (path.startsWith('src/')) return 'src (composition root)';
  return undefined;
}

if (!existsSync(SUMMARY)) {
  console.error(`coverage: ${relative(REPO_ROOT, SUMMARY)} not found; run \`npm run test:coverage\` first.`);
  process.exit(2);
}
const summary = JSON.parse(readFileSync(SUMMARY, 'utf8')) as Record<string, FileSummary>;
const areas = new Map<string, FileSummary>();
const blank = (): FileSummary => ({ lines: { total: 0, covered: 0 }, statements: { total: 0, covered: 0 }, functions: { total: 0, covered: 0 }, branches: { total: 0, covered: 0 } });
for (const [file, s] of Object.entries(summary)) {
  if (file === 'total') continue;
  const area = areaOf(file);
  if (!area) continue;
  const into = areas.get(area) ?? blank();
  for (const k of ['lines', 'statements', 'functions', 'branches'] as const) {
    into[k].total += s[k].total;
    into[k].covered += s[k].covered;
  }
  areas.set(area, into);
}
const pct = (m: Metric) => (m.total === 0 ? '   -  ' : `${((100 * m.covered) / m.total).toFixed(1).padStart(5)}%`);
console.log(`${'area'.padEnd(26)} ${'lines'.padStart(6)} ${'branches'.padStart(8)} ${'functions'.padStart(9)}   lines covered`);
for (const [area, s] of [...areas].sort(([a], [b]) => a.localeCompare(b))) {
  console.log(`${area.padEnd(26)} ${pct(s.lines)} ${pct(s.branches).padStart(8)} ${pct(s.functions).padStart(9)}   ${s.lines.covered}/${s.lines.total}`);
}
