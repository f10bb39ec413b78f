/**
 * `npm run new:module -- <name> [--dry-run]`: scaffolds a module shaped like the existing ones
 * (modules/<name>/ with index.ts, gateway.ts, routes.ts, service.ts, repository.ts, schema.ts and
 * a test), registers it in the composition root (src/app.ts), generates its drizzle migration,
 * and redraws docs/architecture.md. All or nothing: the files are written to a temporary folder
 * and moved in one rename, and any failure restores src/app.ts, drizzle/ and the docs.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from './repo-root.ts';

const HELP = `Usage: npm run new:module -- <name> [--dry-run]

Creates modules/<name>/ (index.ts, gateway.ts, routes.ts, service.ts, repository.ts,
schema.ts, <name>.test.ts), registers it in src/app.ts, generates its drizzle migration
(drizzle-kit generate --name <name>) and updates docs/architecture.md.

<name> is kebab-case (e.g. gift-cards): lower-case letters and digits in words joined
by single hyphens, starting with a letter, at most 40 characters. It must not be an
existing module, a reserved word, or clash with a route prefix, a PostgreSQL schema or a
Fastify decorator that already exists.

Options:
  --dry-run   Print the plan (files, edits, commands) and write nothing.
  -h, --help  Show this help.`;

const MAX_NAME_LENGTH = 40;
/** The SQL function earlier migrations call at their end to enable row-level security on new tables. */
const TENANT_ISOLATION = 'kernel.apply_tenant_isolation';
const KEBAB_CASE = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** Names with a meaning in this repository, in URLs or in PostgreSQL. */
const PROJECT_RESERVED = new Set([
  'api', 'app', 'build', 'coverage', 'dist', 'docs', 'drizzle', 'health', 'index', 'information-schema', 'kernel', 'lib',
  'migrations', 'modules', 'node-modules', 'public', 'ready', 'scripts', 'shared', 'src', 'support', 'test', 'tests',
]);
/** ECMAScript reserved words (also in strict mode and modules) and restricted names. */
const JS_RESERVED = new Set([
  'arguments', 'await', 'break', 'case', 'catch', 'class', 'const', 'continue', 'debugger', 'default', 'delete', 'do', 'else',
  'enum', 'eval', 'export', 'extends', 'false', 'finally', 'for', 'function', 'if', 'implements', 'import', 'in', 'instanceof',
  'interface', 'let', 'new', 'null', 'package', 'private', 'protected', 'public', 'return', 'static', 'super', 'switch', 'this',
  'throw', 'true', 'try', 'typeof', 'undefined', 'var', 'void', 'while', 'with', 'yield', 'infinity', 'nan', 'constructor', 'prototype',
]);

/** The spellings of a module name the templates need. */
export interface ModuleNames {
  /** As given and as the folder, URL segment and plugin name: `gift-cards`. */
  kebab: string;
  /** Variables and the Fastify decorator: `giftCards`. */
  camel: string;
  /** Types: `GiftCards`. */
  pascal: string;
  /** The PostgreSQL schema: `gift_cards`. */
  snake: string;
}

export function moduleNames(kebab: string): ModuleNames {
  const words = kebab.split('-');
  const pascal = words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
  return { kebab, camel: pascal.charAt(0).toLowerCase() + pascal.slice(1), pascal, snake: words.join('_') };
}

/** Reads every file matching `test` under `dir` (one level of folders below it at most). */
function sources(dir: string, test: (file: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isFile() && test(entry.name)) found.push(readFileSync(path, 'utf8'));
    if (entry.isDirectory() && !entry.name.startsWith('.') && entry.name !== 'node_modules') {
      for (const inner of readdirSync(path, { withFileTypes: true })) {
        if (inner.isFile() && test(inner.name)) found.push(readFileSync(join(path, inner.name), 'utf8'));
      }
    }
  }
  return found;
}

const matchesOf = (texts: string[], pattern: RegExp) => new Set(texts.flatMap((t) => [...t.matchAll(pattern)].map((m) => m[1]!)));

/** Property names of a Fastify instance (its own and inherited), which a decorator must not reuse. */
async function fastifyInstanceProperties(): Promise<Set<string>> {
  const { default: Fastify } = await import('fastify');
  const names = new Set<string>();
  for (let o: object | null = Fastify({ logger: false }); o; o = Object.getPrototypeOf(o)) {
    for (const key of Object.getOwnPropertyNames(o)) names.add(key);
  }
  // Decorators of the kernel's third-party plugins (@fastify/jwt, @fastify/swagger).
  for (const name of ['jwt', 'swagger', 'swaggerCSP']) names.add(name);
  return names;
}

/**
 * Why `name` cannot be a new module of the repository at `root`, or undefined when it can.
 * Checks the spelling, existing modules, reserved words, and clashes with what already exists:
 * route prefixes, PostgreSQL schemas, Fastify plugin names and decorators.
 */
export async function whyNotModuleName(root: string, name: string | undefined): Promise<string | undefined> {
  if (!name) return 'Give the module a name: npm run new:module -- <name> (kebab-case, e.g. gift-cards).';
  if (!KEBAB_CASE.test(name)) {
    return `"${name}" is not kebab-case: use lower-case letters and digits in words joined by single hyphens, starting with a letter (e.g. gift-cards).`;
  }
  if (name.length > MAX_NAME_LENGTH) return `"${name}" is longer than ${MAX_NAME_LENGTH} characters.`;
  const names = moduleNames(name);
  if (existsSync(join(root, 'modules', name))) return `modules/${name} already exists.`;
  if (PROJECT_RESERVED.has(name)) return `"${name}" is reserved in this repository (a folder, URL or schema name with another meaning).`;
  if (JS_RESERVED.has(name) || JS_RESERVED.has(names.camel.toLowerCase())) return `"${name}" is a JavaScript reserved word.`;
  if (name.startsWith('pg-')) return `"${name}" would make the PostgreSQL schema "${names.snake}"; names starting with pg_ are reserved by PostgreSQL.`;

  const existing = existsSync(join(root, 'modules'))
    ? readdirSync(join(root, 'modules'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name)
    : [];
  const twin = existing.find((m) => moduleNames(m).camel === names.camel || m.replaceAll('_', '-') === name);
  if (twin) return `"${name}" is too close to the existing module "${twin}" (same identifier ${names.camel}).`;

  const moduleSources = sources(join(root, 'modules'), (f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  const kernelSources = [...sources(join(root, 'shared'), (f) => f.endsWith('.ts')), ...sources(join(root, 'src'), (f) => f.endsWith('.ts'))];
  const all = [...moduleSources, ...kernelSources];

  const prefixes = matchesOf(all, /prefix:\s*'\/api\/v1\/([^'/]+)'/g);
  if (prefixes.has(name)) return `The route prefix /api/v1/${name} is already served by another module.`;
  const schemas = matchesOf(all, /pgSchema\(\s*'([^']+)'\s*\)/g);
  if (schemas.has(names.snake)) return `The PostgreSQL schema "${names.snake}" is already owned by another module or the kernel.`;
  const plugins = matchesOf(all, /\{\s*name:\s*'([^']+)'\s*(?:,\s*dependencies|\})/g);
  if (plugins.has(name)) return `A Fastify plugin named "${name}" already exists.`;
  const decorators = matchesOf(all, /decorate(?:Request|Reply)?\(\s*'([^']+)'/g);
  if (decorators.has(names.camel) || (await fastifyInstanceProperties()).has(names.camel)) {
    return `The module's gateway would be decorated as app.${names.camel}, which the Fastify instance already has.`;
  }
  return undefined;
}

/** A file of the new module: where it goes, what it is for, and its text. */
export interface PlannedFile {
  path: string;
  purpose: string;
  content: string;
}

/** The files of the new module, in the shape of the existing modules (see modules/payments). */
export function moduleFiles(n: ModuleNames): PlannedFile[] {
  const base = `/api/v1/${n.kebab}`;
  const file = (name: string, purpose: string, content: string): PlannedFile => ({ path: `modules/${n.kebab}/${name}`, purpose, content });
  return [
    file(
      'index.ts',
      `the Fastify plugin '${n.kebab}': decorates app.${n.camel}, serves ${base}`,
      `import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { ${n.pascal}Gateway } from './gateway.ts';
import { ${n.camel}Routes } from './routes.ts';
import { create${n.pascal}Service } from './service.ts';

/**
 * The ${n.kebab} module. Decorates \`app.${n.camel}\` with its gateway and serves its routes under
 * \`${base}\`.
 */
export default fp(
  async (app: FastifyInstance) => {
    const service = create${n.pascal}Service(app);
    const gateway: ${n.pascal}Gateway = { countItems: service.countItems };
    app.decorate('${n.camel}', gateway);
    await app.register(${n.camel}Routes, { prefix: '${base}', service });
  },
  { name: '${n.kebab}', dependencies: ['database', 'auth-guard'] },
);
`,
    ),
    file(
      'gateway.ts',
      'its public contract: the only file other modules may import',
      `/**
 * Public contract of the ${n.kebab} module (bounded context: TODO say what this module owns).
 * The only file of this module that other modules may import.
 */
import type { UnitOfWork } from '../../shared/unit-of-work.ts';

/** Calls other modules may make into ${n.kebab}. They join the caller's unit of work. */
export interface ${n.pascal}Gateway {
  /** How many items the unit of work's tenant has (an example call: replace it). */
  countItems(uow: UnitOfWork): Promise<number>;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The ${n.kebab} module's gateway, decorated by its plugin. */
    ${n.camel}: ${n.pascal}Gateway;
  }
}
`,
    ),
    file(
      'routes.ts',
      `example routes GET and POST ${base}/items with zod schemas (in /docs/json)`,
      `import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { bearerAuth } from '../../shared/auth-guard.ts';
import { decodeCursor, PageQuery, pageOf, Text, Timestamp } from '../../shared/http-schemas.ts';
import { problemResponses } from '../../shared/problem-details.ts';
import type { ${n.pascal}Service } from './service.ts';

/** An item in API responses (the example resource of this module: replace it). */
export const ${n.pascal}ItemSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    createdAt: Timestamp,
  })
  .meta({ id: '${n.pascal}Item' });

/** HTTP routes of the ${n.kebab} module, mounted at \`${base}\`. */
export const ${n.camel}Routes: FastifyPluginAsyncZod<{ service: ${n.pascal}Service }> = async (app, { service }) => {
  app.get(
    '/items',
    {
      preHandler: app.requireRole(),
      schema: {
        tags: ['${n.kebab}'],
        summary: 'List the items of the tenant',
        security: bearerAuth,
        querystring: PageQuery,
        response: { 200: pageOf(${n.pascal}ItemSchema), ...problemResponses(401, 403) },
      },
    },
    async (request) => service.list(request.principal, { limit: request.query.limit, afterId: decodeCursor(request.query.cursor) }),
  );

  app.post(
    '/items',
    {
      preHandler: app.requireRole('owner', 'manager'),
      schema: {
        tags: ['${n.kebab}'],
        summary: 'Create an item',
        security: bearerAuth,
        // Bodies are strict (an unknown field is a 400 naming it); request strings are Text (no NUL).
        body: z.strictObject({ name: Text.trim().min(1).max(200) }),
        response: { 201: ${n.pascal}ItemSchema, ...problemResponses(401, 403) },
      },
    },
    async (request, reply) => reply.code(201).send(await service.create(request.principal, request.body)),
  );
};
`,
    ),
    file(
      'service.ts',
      'its use cases, each in a tenant-scoped unit of work',
      `import type { FastifyInstance } from 'fastify';
import type { Principal } from '../../shared/auth-guard.ts';
import { toPage } from '../../shared/http-schemas.ts';
import { newId } from '../../shared/ids.ts';
import type { UnitOfWork } from '../../shared/unit-of-work.ts';
import { ${n.camel}Repository as repo, type ItemRow } from './repository.ts';

/** An item as the API shows it. */
export interface ItemView {
  id: string;
  name: string;
  createdAt: string;
}

const toItemView = (r: ItemRow): ItemView => ({ id: r.id, name: r.name, createdAt: r.createdAt.toISOString() });

/** Use cases of the ${n.kebab} module. */
export function create${n.pascal}Service(app: FastifyInstance) {
  return {
    /** Gateway: see \`${n.pascal}Gateway.countItems\`. */
    async countItems(uow: UnitOfWork): Promise<number> {
      return repo.count(uow.tx, uow.tenantId);
    },

    create(principal: Principal, input: { name: string }): Promise<ItemView> {
      return app.runInTenant(principal.tenantId, async ({ tx, tenantId }) => toItemView(await repo.insert(tx, { tenantId, id: newId(), name: input.name })));
    },

    list(principal: Principal, opts: { limit: number; afterId?: string | undefined }) {
      return app.runInTenant(principal.tenantId, async ({ tx, tenantId }) => {
        const rows = await repo.list(tx, tenantId, { ...opts, limit: opts.limit + 1 });
        return toPage(rows.map(toItemView), opts.limit);
      });
    },
  };
}

export type ${n.pascal}Service = ReturnType<typeof create${n.pascal}Service>;
`,
    ),
    file(
      'repository.ts',
      'data access: every function takes the transaction it runs in',
      `import { and, asc, count, eq, gt } from 'drizzle-orm';
import type { Transaction } from '../../shared/database.ts';
import { items } from './schema.ts';

export type ItemRow = typeof items.$inferSelect;

/** Data access of the ${n.kebab} module; every function takes the transaction it runs in. */
export const ${n.camel}Repository = {
  async insert(tx: Transaction, row: typeof items.$inferInsert): Promise<ItemRow> {
    const [created] = await tx.insert(items).values(row).returning();
    return created!;
  },

  async list(tx: Transaction, tenantId: string, opts: { limit: number; afterId?: string | undefined }): Promise<ItemRow[]> {
    return tx
      .select()
      .from(items)
      .where(and(eq(items.tenantId, tenantId), opts.afterId ? gt(items.id, opts.afterId) : undefined))
      .orderBy(asc(items.id))
      .limit(opts.limit);
  },

  async count(tx: Transaction, tenantId: string): Promise<number> {
    const [row] = await tx.select({ n: count() }).from(items).where(eq(items.tenantId, tenantId));
    return row?.n ?? 0;
  },
};
`,
    ),
    file(
      'schema.ts',
      `its own PostgreSQL schema "${n.snake}" with an example table`,
      `import { pgSchema, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/** The ${n.kebab} module's own PostgreSQL schema. */
export const ${n.camel}Schema = pgSchema('${n.snake}');

/** An example table (replace it with the module's own): every row belongs to one tenant. */
export const items = ${n.camel}Schema.table(
  'items',
  {
    tenantId: uuid('tenant_id').notNull(),
    id: uuid('id').notNull(),
    name: text('name').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: 'items_pk', columns: [t.tenantId, t.id] })],
);
`,
    ),
    file(
      `${n.kebab}.test.ts`,
      'its test: the example routes over HTTP, on a test database',
      `import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, signup } from '../../test/support/fixtures.ts';
import { startTestApp, type TestApp } from '../../test/support/test-app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t?.close());

const ITEMS = '${base}/items';

describe('${n.kebab} module', () => {
  it('lists the items a tenant created, and only that tenant\\'s', async () => {
    const owner = await signup(t.api);
    const other = await signup(t.api);
    const created = await t.api.post(ITEMS, { name: 'First item' }, { token: owner.token });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ id: expect.any(String), name: 'First item' });

    const mine = await t.api.get(ITEMS, { token: owner.token });
    expect(mine.status).toBe(200);
    expect(mine.body).toEqual({ items: [created.body], nextCursor: null });
    const theirs = await t.api.get(ITEMS, { token: other.token });
    expect(theirs.body.items).toEqual([]);
  });

  it('refuses a request without a token with a 401 problem', async () => {
    expectProblem(await t.api.get(ITEMS), 401);
  });

  it('documents its routes in /docs/json', async () => {
    const doc = (await t.api.get('/docs/json')).body;
    expect(Object.keys(doc.paths[ITEMS] ?? {})).toEqual(expect.arrayContaining(['get', 'post']));
  });
});
`,
    ),
  ];
}

/**
 * Adds the module to the composition root: its import among the module imports (kept in
 * alphabetical order) and its `await app.register(...)` after the last module registration.
 * @throws Error when src/app.ts has no module imports or registrations to anchor on.
 */
export function registerInApp(appSource: string, n: ModuleNames): { source: string; importLine: string; registerLine: string } {
  const lines = appSource.split('\n');
  const importLine = `import ${n.camel}Module from '../modules/${n.kebab}/index.ts';`;
  const isModuleImport = (l: string) => /^import .* from '\.\.\/modules\/[^/]+\/index\.ts';$/.test(l);
  const importIndexes = lines.flatMap((l, i) => (isModuleImport(l) ? [i] : []));
  const registerIndexes = lines.flatMap((l, i) => (/^\s*await app\.register\(\w+Module\b.*\);\s*$/.test(l) ? [i] : []));
  if (importIndexes.length === 0 || registerIndexes.length === 0) {
    throw new Error("src/app.ts has no `import xModule from '../modules/x/index.ts'` or `await app.register(xModule)` line to add the module next to.");
  }
  const lastRegister = registerIndexes.at(-1)!;
  const indent = /^\s*/.exec(lines[lastRegister]!)![0];
  const registerLine = `${indent}await app.register(${n.camel}Module);`;
  lines.splice(lastRegister + 1, 0, registerLine);
  const modulePath = (l: string) => /'\.\.\/modules\/([^/]+)\//.exec(l)![1]!;
  const before = importIndexes.find((i) => modulePath(lines[i]!) > n.kebab);
  lines.splice(before ?? importIndexes.at(-1)! + 1, 0, importLine);
  return { source: lines.join('\n'), importLine, registerLine: registerLine.trim() };
}

/** Schemas a migration's statements touch (schema-qualified names and CREATE SCHEMA). */
function schemasOf(statement: string): Set<string> {
  const found = new Set<string>();
  for (const m of statement.matchAll(/"([^"]+)"\s*\.\s*"/g)) found.add(m[1]!);
  for (const m of statement.matchAll(/CREATE SCHEMA(?: IF NOT EXISTS)? "([^"]+)"/gi)) found.add(m[1]!);
  return found;
}

/** What the scaffolder did (or, in a dry run, would do). */
export interface ScaffoldResult {
  names: ModuleNames;
  files: PlannedFile[];
  importLine: string;
  registerLine: string;
  migration?: string;
  /** The migration ends with `SELECT kernel.apply_tenant_isolation()` (row-level security on its tables). */
  rowLevelSecurity: boolean;
  docsUpdated: boolean;
  warnings: string[];
}

export interface ScaffoldOptions {
  dryRun?: boolean;
  /** Run drizzle-kit generate (default true). Benchmarks turn it off. */
  migration?: boolean;
  /** Redraw docs/architecture.md (default true). */
  docs?: boolean;
}

/** A refusal or failure with a message for the developer; nothing was left changed. */
export class ScaffoldError extends Error {
  override name = 'ScaffoldError';
}

/**
 * Creates the module `name` in the repository at `root`, or only plans it with `dryRun`.
 * @throws ScaffoldError when the name is refused or a step fails; the repository is then as it was.
 */
export async function scaffoldModule(root: string, name: string | undefined, options: ScaffoldOptions = {}): Promise<ScaffoldResult> {
  const reason = await whyNotModuleName(root, name);
  if (reason) throw new ScaffoldError(reason);
  const names = moduleNames(name!);
  const files = moduleFiles(names);
  const appPath = join(root, 'src', 'app.ts');
  const appBefore = readFileSync(appPath, 'utf8');
  let registration;
  try {
    registration = registerInApp(appBefore, names);
  } catch (error) {
    throw new ScaffoldError((error as Error).message);
  }
  const result: ScaffoldResult = { names, files, importLine: registration.importLine, registerLine: registration.registerLine, rowLevelSecurity: false, docsUpdated: false, warnings: [] };
  if (options.dryRun) return result;

  const moduleDir = join(root, 'modules', names.kebab);
  const drizzleDir = join(root, 'drizzle');
  const journalPath = join(drizzleDir, 'meta', '_journal.json');
  const listDrizzle = () => (existsSync(drizzleDir) ? readdirSync(drizzleDir, { recursive: true, encoding: 'utf8' }) : []);
  const drizzleBefore = new Set(listDrizzle());
  const journalBefore = existsSync(journalPath) ? readFileSync(journalPath, 'utf8') : undefined;
  const docsPath = join(root, 'docs', 'architecture.md');
  const docsBefore = existsSync(docsPath) ? readFileSync(docsPath, 'utf8') : undefined;
  const tmpRoot = join(root, '.tmp');
  mkdirSync(tmpRoot, { recursive: true });
  const staging = mkdtempSync(join(tmpRoot, `new-module-${names.kebab}-`));

  const rollback = () => {
    rmSync(staging, { recursive: true, force: true });
    rmSync(moduleDir, { recursive: true, force: true });
    writeFileSync(appPath, appBefore);
    for (const entry of listDrizzle().filter((e) => !drizzleBefore.has(e)).sort().reverse()) rmSync(join(drizzleDir, entry), { recursive: true, force: true });
    if (journalBefore !== undefined) writeFileSync(journalPath, journalBefore);
    if (docsBefore !== undefined) writeFileSync(docsPath, docsBefore);
    else rmSync(docsPath, { force: true });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    rollback();
    process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const stagedModule = join(staging, names.kebab);
    mkdirSync(stagedModule);
    for (const f of files) writeFileSync(join(staging, f.path.replace(/^modules\//, '')), f.content);
    renameSync(stagedModule, moduleDir);
    writeFileSync(appPath, registration.source);

    if (options.migration !== false) {
      const bin = join(root, 'node_modules', '.bin', 'drizzle-kit');
      const run = spawnSync(bin, ['generate', '--name', names.kebab], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
      if (run.status !== 0) {
        throw new ScaffoldError(`drizzle-kit generate failed (${run.error?.message ?? `exit ${run.status}`}):\n${`${run.stdout ?? ''}${run.stderr ?? ''}`.trim()}`);
      }
      const created = listDrizzle().filter((e) => !drizzleBefore.has(e) && /^[^/]+\.sql$/.test(e));
      if (created.length !== 1) throw new ScaffoldError(`drizzle-kit generate made ${created.length} migration files, expected one:\n${run.stdout}`);
      const migration = `drizzle/${created[0]}`;
      const statements = readFileSync(join(root, migration), 'utf8').split('--> statement-breakpoint').map((s) => s.trim()).filter(Boolean);
      const foreign = statements.filter((s) => [...schemasOf(s)].some((schema) => schema !== names.snake) || schemasOf(s).size === 0);
      if (!statements.some((s) => /CREATE SCHEMA/i.test(s)) || foreign.length > 0) {
        throw new ScaffoldError(
          `The generated migration also changes what is outside the "${names.snake}" schema: the schema files had changes with no migration yet:\n` +
            `${foreign.map((s) => `  ${s.split('\n')[0]}`).join('\n')}\n` +
            'Generate those first (npm run db:generate), then run new:module again.',
        );
      }
      // Follow the repository's convention: migrations end by (re)applying tenant isolation (RLS
      // policies and grants for the tenant role, see drizzle/*_row_level_security.sql) when it exists.
      const earlier = [...drizzleBefore].filter((e) => /^[^/]+\.sql$/.test(e));
      if (earlier.some((e) => readFileSync(join(drizzleDir, e), 'utf8').includes(`${TENANT_ISOLATION}()`))) {
        writeFileSync(join(root, migration), `${readFileSync(join(root, migration), 'utf8').trimEnd()}\n--> statement-breakpoint\nSELECT ${TENANT_ISOLATION}();\n`);
        result.rowLevelSecurity = true;
      }
      result.migration = migration;
    }

    if (options.docs !== false) {
      try {
        const { writeArchitectureDocument } = await import('./arch-graph.ts');
        result.docsUpdated = await writeArchitectureDocument(root);
      } catch (error) {
        result.warnings.push(`docs/architecture.md was not updated (${(error as Error).message.split('\n')[0]}); run npm run arch:graph.`);
      }
    }
    rmSync(staging, { recursive: true, force: true });
    return result;
  } catch (error) {
    rollback();
    if (error instanceof ScaffoldError) throw error;
    throw new ScaffoldError(`Scaffolding failed and was undone: ${(error as Error).message}`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    try {
      if (readdirSync(tmpRoot).length === 0) rmSync(tmpRoot, { recursive: true, force: true });
    } catch {
      // .tmp/ is gitignored; leaving it is harmless
    }
  }
}

function printPlan(r: ScaffoldResult, dryRun: boolean) {
  const n = r.names;
  const width = Math.max(...r.files.map((f) => f.path.length));
  console.log(dryRun ? `new:module ${n.kebab} (dry run: nothing was written)\n\nWould create:` : `✔ Created module ${n.kebab}:\n`);
  for (const f of r.files) console.log(`  ${f.path.padEnd(width)}  ${f.purpose}`);
  console.log(`\n${dryRun ? 'Would edit' : 'Edited'} src/app.ts (the composition root):\n  + ${r.importLine}\n  + ${r.registerLine}`);
  if (dryRun) {
    console.log(`\nWould run:\n  drizzle-kit generate --name ${n.kebab}   (a migration creating the "${n.snake}" schema and its items table)`);
    console.log('  arch:graph                               (redraw docs/architecture.md)');
    return;
  }
  if (r.migration) {
    const rls = r.rowLevelSecurity ? `, then SELECT ${TENANT_ISOLATION}() for row-level security` : '';
    console.log(`\nMigration (drizzle-kit generate --name ${n.kebab}):\n  ${r.migration}   (creates the "${n.snake}" schema and its items table${rls})`);
  }
  if (r.docsUpdated) console.log('\nUpdated docs/architecture.md (module graph).');
  for (const w of r.warnings) console.log(`\n! ${w}`);
  console.log(`
Next steps:
  1. Say what the module owns in modules/${n.kebab}/gateway.ts; replace the example items table,
     routes and gateway call with the module's own (then npm run db:generate for the schema change).
  2. Check it: npm run typecheck && npm run lint:arch && npx vitest run modules/${n.kebab}
  3. Other modules use it only through modules/${n.kebab}/gateway.ts (app.${n.camel}); list the modules
     it calls in the dependencies of its plugin in index.ts, and run npm run arch:graph after.
  4. Optionally add the '${n.kebab}' tag to src/api-docs.ts, so /docs describes it.
  5. Review ${r.migration ?? 'the migration'} and commit.`);
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { 'dry-run': { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } }, allowPositionals: true });
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(HELP);
    return 0;
  }
  if (parsed.positionals.length > 1) {
    console.error(`✖ new:module takes one name, got ${parsed.positionals.length}: ${parsed.positionals.join(' ')}. Nothing was changed.`);
    return 2;
  }
  const dryRun = parsed.values['dry-run'];
  try {
    const result = await scaffoldModule(REPO_ROOT, parsed.positionals[0], { dryRun });
    printPlan(result, dryRun);
    return 0;
  } catch (error) {
    if (!(error instanceof ScaffoldError)) throw error;
    console.error(`✖ new:module: ${error.message}\nNothing was changed.`);
    return 1;
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
