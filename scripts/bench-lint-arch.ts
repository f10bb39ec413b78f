/**
 * `npm run bench:arch`: how long `npm run lint:arch` takes as the monolith grows. In a temporary
 * copy of the repository it scaffolds 10, then 50 modules (each importing the gateway of the
 * one before, so the graph has edges) and times lint:arch on each. Goal: under 10 s for 50.
 * Exits 1 when lint:arch fails on the scaffolded modules or misses the goal.
 */
import { parseArgs } from 'node:util';
import { copyRepo, type RepoCopy } from './repo-copy.ts';
import { moduleNames, scaffoldModule } from './new-module.ts';

const HELP = `Usage: npm run bench:arch -- [--sizes 10,50] [--runs 3] [--goal-seconds 10]

Times lint:arch on a temporary copy of the repository with that many scaffolded modules
(the median of --runs runs per size). Fails when lint:arch fails or the largest size
takes longer than --goal-seconds.`;

/** Adds `count` modules bench-1..bench-<count> to the copy; module k imports module k-1's gateway. */
async function scaffoldModules(repo: RepoCopy, from: number, to: number) {
  for (let k = from; k <= to; k++) {
    await scaffoldModule(repo.dir, `bench-${k}`, { migration: false, docs: false });
    if (k > 1) {
      const upstream = moduleNames(`bench-${k - 1}`);
      repo.write(
        `modules/bench-${k}/upstream.ts`,
        `import type { ${upstream.pascal}Gateway } from '../${upstream.kebab}/gateway.ts';\n\n/** The module this one calls. */\nexport type Upstream = ${upstream.pascal}Gateway;\n`,
      );
    }
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      sizes: { type: 'string', default: '10,50' },
      runs: { type: 'string', default: '3' },
      'goal-seconds': { type: 'string', default: '10' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const sizes = values.sizes.split(',').map(Number).sort((a, b) => a - b);
  const runs = Math.max(1, Number(values.runs));
  const goalMs = Number(values['goal-seconds']) * 1000;
  if (sizes.some((n) => !Number.isInteger(n) || n < 0)) throw new Error(`--sizes must be whole numbers, got ${values.sizes}`);

  const repo = copyRepo({ prefix: 'bench-lint-arch-' });
  const results: Array<{ added: number; files: string; ms: number }> = [];
  try {
    let scaffolded = 0;
    for (const size of sizes) {
      const started = performance.now();
      await scaffoldModules(repo, scaffolded + 1, size);
      scaffolded = size;
      const scaffoldMs = performance.now() - started;
      const times: number[] = [];
      let last;
      for (let i = 0; i < runs; i++) {
        last = await repo.run('node', ['scripts/lint-arch.ts']);
        times.push(last.ms);
        if (last.code !== 0) {
          console.error(`✖ lint:arch failed with ${size} scaffolded modules:\n${last.output}`);
          return 1;
        }
      }
      const files = /\((\d+) files, (\d+) dependencies/.exec(last!.stdout);
      results.push({ added: size, files: files ? `${files[1]} files, ${files[2]} dependencies` : '?', ms: median(times) });
      console.log(
        `lint:arch with ${size} scaffolded modules (${files?.[1] ?? '?'} files): ${(median(times) / 1000).toFixed(2)} s ` +
          `(median of ${runs}: ${times.map((t) => (t / 1000).toFixed(2)).join(', ')} s; scaffolding took ${(scaffoldMs / 1000).toFixed(1)} s)`,
      );
    }
  } finally {
    repo.dispose();
  }
  const largest = results.at(-1);
  if (largest && largest.ms > goalMs) {
    console.error(`✖ goal missed: ${(largest.ms / 1000).toFixed(2)} s for ${largest.added} modules, goal ${goalMs / 1000} s.`);
    return 1;
  }
  console.log(`✔ goal met: under ${goalMs / 1000} s for ${largest?.added ?? 0} scaffolded modules (wall time of a whole node scripts/lint-arch.ts process).`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
