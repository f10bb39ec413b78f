/**
 * `npm run bench:arch`: how long `npm run lint:arch` takes as the monolith grows. In a temporary
 * copy of the repository it generates 10, then 50 modules in the declared format (defineModule in
 * index.ts, see shared/module.ts; each uses the one before and imports its gateway, so the graph has
 * edges), registers them in src/app.ts, and times lint:arch on each. Goal: under 5 s for 50.
 * Exits 1 when lint:arch fails on the generated modules or misses the goal.
 */
import { parseArgs } from 'node:util';
import { copyRepo, type RepoCopy } from './repo-copy.ts';

const HELP = `Usage: npm run bench:arch -- [--sizes 10,50] [--runs 3] [--goal-seconds 5]

Times lint:arch on a temporary copy of the repository with that many generated modules
(the median of --runs runs per size). Fails when lint:arch fails or the largest size
takes longer than --goal-seconds.`;

/** Names of generated module k: kebab folder, PascalCase type prefix, camelCase, snake_case schema. */
const names = (k: number) => ({ kebab: `bench-${k}`, pascal: `Bench${k}`, camel: `bench${k}`, snake: `bench_${k}` });

/** The files of generated module k, shaped like a real module (routes, service, repository, schema, test). */
export function benchModuleFiles(k: number): Record<string, string> {
  const n = names(k);
  const up = k > 1 ? names(k - 1) : undefined;
  const dir = `modules/${n.kebab}`;
  return {
    [`${dir}/index.ts`]: `import { defineModule } from '../../shared/module.ts';
${up ? `import type { ${up.pascal}Gateway } from '../${up.kebab}/gateway.ts';
` : ''}import type { ${n.pascal}Gateway } from './gateway.ts';
import { ${n.camel}Routes } from './routes.ts';
import { create${n.pascal}Service } from './service.ts';

/** Generated module ${n.kebab}${up ? `; uses ${up.kebab}` : ''}. */
export default defineModule<{ ${up ? `'${up.kebab}': ${up.pascal}Gateway` : ''} }, ${n.pascal}Gateway>({
  name: '${n.kebab}',
  uses: [${up ? `'${up.kebab}'` : ''}],
  events: { publishes: ['${n.pascal}ItemAdded'] },
  async setup(scope) {
    const service = create${n.pascal}Service(scope);
    await scope.register(${n.camel}Routes, { prefix: '/${n.kebab}', service });
    return { countItems: service.countItems };
  },
});
`,
    [`${dir}/gateway.ts`]: `import type { DomainEvent } from '../../shared/event-bus.ts';
import type { UnitOfWork } from '../../shared/unit-of-work.ts';

/** Calls other modules may make into ${n.kebab}. */
export interface ${n.pascal}Gateway {
  countItems(uow: UnitOfWork): Promise<number>;
}

/** An item was added. */
export type ${n.pascal}ItemAdded = DomainEvent<'${n.pascal}ItemAdded', { itemId: string }>;
`,
    [`${dir}/routes.ts`]: `import type { FastifyPluginAsync } from 'fastify';
import type { ${n.pascal}Service } from './service.ts';

/** GET /items of ${n.kebab}. */
export const ${n.camel}Routes: FastifyPluginAsync<{ service: ${n.pascal}Service }> = async (app, { service }) => {
  app.get('/items', async () => ({ items: await service.listItems() }));
};
`,
    [`${dir}/service.ts`]: `import type { FastifyInstance } from 'fastify';
import type { UnitOfWork } from '../../shared/unit-of-work.ts';
import { countItems, listItems } from './repository.ts';

/** The ${n.kebab} service. */
export function create${n.pascal}Service(app: FastifyInstance) {
  return {
    countItems: (uow: UnitOfWork) => countItems(uow),
    listItems: () => listItems(app),
  };
}
export type ${n.pascal}Service = ReturnType<typeof create${n.pascal}Service>;
`,
    [`${dir}/repository.ts`]: `import { sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import type { UnitOfWork } from '../../shared/unit-of-work.ts';
import { items } from './schema.ts';

/** Items of the unit of work's tenant. */
export async function countItems(_uow: UnitOfWork): Promise<number> {
  void sql\`select count(*) from ${n.snake}.items\`;
  return 0;
}

export async function listItems(_app: FastifyInstance) {
  return [items.id.name];
}
`,
    [`${dir}/schema.ts`]: `import { pgSchema, text, uuid } from 'drizzle-orm/pg-core';

export const ${n.camel}Schema = pgSchema('${n.snake}');
export const items = ${n.camel}Schema.table('items', { tenantId: uuid('tenant_id').notNull(), id: uuid('id').primaryKey(), name: text('name').notNull() });
`,
    [`${dir}/${n.kebab}.test.ts`]: `import { describe, expect, it } from 'vitest';
import { startTestApp } from '../../test/support/test-app.ts';

describe('${n.kebab}', () => {
  it('starts', async () => {
    expect(typeof startTestApp).toBe('function');
  });
});
`,
  };
}

/** Adds modules bench-<from>..bench-<to> to the copy and imports their index.ts in src/app.ts. */
function generateModules(repo: RepoCopy, from: number, to: number) {
  const imports: string[] = [];
  for (let k = from; k <= to; k++) {
    for (const [path, content] of Object.entries(benchModuleFiles(k))) repo.write(path, content);
    imports.push(`import ${names(k).camel}Module from '../modules/${names(k).kebab}/index.ts';`);
  }
  const app = repo.read('src/app.ts');
  repo.write('src/app.ts', `${imports.join('\n')}\n${app}\nvoid [${Array.from({ length: to - from + 1 }, (_, i) => `${names(from + i).camel}Module`).join(', ')}];\n`);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      sizes: { type: 'string', default: '10,50' },
      runs: { type: 'string', default: '3' },
      'goal-seconds': { type: 'string', default: '5' },
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
    let generated = 0;
    for (const size of sizes) {
      const started = performance.now();
      generateModules(repo, generated + 1, size);
      generated = size;
      const generateMs = performance.now() - started;
      const times: number[] = [];
      let last;
      for (let i = 0; i < runs; i++) {
        last = await repo.run('node', ['scripts/lint-arch.ts']);
        times.push(last.ms);
        if (last.code !== 0) {
          console.error(`✖ lint:arch failed with ${size} generated modules:\n${last.output}`);
          return 1;
        }
      }
      const files = /\((\d+) files, (\d+) dependencies/.exec(last!.stdout);
      results.push({ added: size, files: files ? `${files[1]} files, ${files[2]} dependencies` : '?', ms: median(times) });
      console.log(
        `lint:arch with ${size} generated modules (${files?.[1] ?? '?'} files): ${(median(times) / 1000).toFixed(2)} s ` +
          `(median of ${runs}: ${times.map((t) => (t / 1000).toFixed(2)).join(', ')} s; generating took ${(generateMs / 1000).toFixed(1)} s)`,
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
  console.log(`✔ goal met: under ${goalMs / 1000} s for ${largest?.added ?? 0} generated modules (wall time of a whole node scripts/lint-arch.ts process).`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
