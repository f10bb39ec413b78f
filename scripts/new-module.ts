/**
 * `npm run new:module -- <name> [--uses a,b] [--subscribe Event,…] [--dry-run]`: scaffolds a
 * module in the shape of the real ones (scripts/new-module-templates.ts), registers it in the
 * composition root (src/app.ts) after the modules it uses, gives it a tag in the API document
 * (src/api-docs.ts), generates its drizzle migration (with row-level security), and regenerates
 * what is checked to be current: docs/architecture.md, docs/modules.md and docs/openapi.json.
 * All or nothing: any failure restores every file it touched.
 *
 * `npm run new:module -- <name> --redo-migration` regenerates the module's own migration from its
 * schema.ts, for a scaffolded module whose example table was changed before any database applied
 * it (drizzle-kit's interactive rename question cannot be answered in a non-interactive shell).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readModuleDeclarations } from './module-declarations.ts';
import { moduleFiles, moduleNames, propertyKey, type ModuleNames, type PlannedFile, type SubscribedEvent, type UsedModule } from './new-module-templates.ts';
import { REPO_ROOT } from './repo-root.ts';
import { moduleFolders } from './test-module.ts';

const HELP = `Usage: npm run new:module -- <name> [--uses <modules>] [--subscribe <events>] [--dry-run]
       npm run new:module -- <name> --redo-migration

Creates modules/<name>/ in the shape of the existing modules (index.ts with defineModule,
gateway.ts, routes.ts, views.ts, service.ts, repository.ts, schema.ts, a module test and an
HTTP test), registers it in src/app.ts, adds its tag to src/api-docs.ts, generates its
migration (drizzle-kit generate --name <name>, then row-level security) and regenerates
docs/architecture.md, docs/modules.md and docs/openapi.json.

<name> is kebab-case (e.g. gift-cards): lower-case letters and digits in words joined by
single hyphens, starting with a letter, at most 40 characters. It must not be an existing
module, a reserved word, or clash with a route prefix or a PostgreSQL schema in use.

Options:
  --uses <a,b>         Modules whose gateways it calls (declared in \`uses\`, passed by src/app.ts;
                       each must export a <Name>Gateway interface).
  --subscribe <E,F>    Domain events it handles (declared in \`events.consumes\`), e.g. OrderPaid;
                       each must be published by a module. The example handler records the event.
  --redo-migration     Regenerate the module's own migration from its schema.ts (only while it is
                       the newest migration and no database has applied it).
  --dry-run            Print the plan (files, edits, commands) and write nothing.
  -h, --help           Show this help.`;

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

/**
 * Why `name` cannot be a new module of the repository at `root`, or undefined when it can.
 * Checks the spelling, existing modules, reserved words, and clashes with what already exists:
 * route prefixes, PostgreSQL schemas, Fastify plugin names, and identifiers of src/app.ts (the
 * module's gateway becomes a variable there when another module uses it).
 */
export function whyNotModuleName(root: string, name: string | undefined): string | undefined {
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

  const twin = moduleFolders(root).find((m) => moduleNames(m).camel === names.camel || m.replaceAll('_', '-') === name);
  if (twin) return `"${name}" is too close to the existing module "${twin}" (same identifier ${names.camel}).`;

  const all = [
    ...sources(join(root, 'modules'), (f) => f.endsWith('.ts') && !f.endsWith('.test.ts')),
    ...sources(join(root, 'shared'), (f) => f.endsWith('.ts')),
    ...sources(join(root, 'src'), (f) => f.endsWith('.ts')),
  ];
  const prefixes = new Set([...matchesOf(all, /prefix:\s*'\/api\/v1\/([^'/]+)'/g), ...matchesOf(all, /prefix:\s*'\/([^'/]+)'/g)]);
  if (prefixes.has(name)) return `The route prefix /api/v1/${name} is already served by another module.`;
  const schemas = matchesOf(all, /pgSchema\(\s*'([^']+)'\s*\)/g);
  if (schemas.has(names.snake)) return `The PostgreSQL schema "${names.snake}" is already owned by another module or the kernel.`;
  const plugins = matchesOf(all, /\{\s*name:\s*'([^']+)'\s*(?:,\s*dependencies|\})/g);
  if (plugins.has(name)) return `A Fastify plugin named "${name}" already exists.`;
  const appPath = join(root, 'src', 'app.ts');
  if (existsSync(appPath) && new RegExp(`\\b${names.camel}(Module)?\\b`).test(readFileSync(appPath, 'utf8'))) {
    return `The identifier ${names.camel} is already used in src/app.ts, where the module's gateway would get that name.`;
  }
  return undefined;
}

/** A refusal or failure with a message for the developer; nothing was left changed. */
export class ScaffoldError extends Error {
  override name = 'ScaffoldError';
}

const splitList = (values: readonly string[]) => [...new Set(values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean))];

/**
 * Resolves `--uses` and `--subscribe` against the repository at `root`.
 * @throws ScaffoldError when a used module does not exist or exports no `<Name>Gateway`
 *   interface, or when no module publishes a subscribed event.
 */
export function resolveShape(root: string, uses: readonly string[], subscribe: readonly string[]): { uses: UsedModule[]; subscribes: SubscribedEvent[] } {
  const folders = moduleFolders(root);
  const used = splitList(uses).map((dep): UsedModule => {
    if (!folders.includes(dep)) throw new ScaffoldError(`--uses ${dep}: there is no module "${dep}" (modules: ${folders.join(', ')}).`);
    const gatewayPath = join(root, 'modules', dep, 'gateway.ts');
    const source = existsSync(gatewayPath) ? readFileSync(gatewayPath, 'utf8') : '';
    const gatewayInterface = /^export interface (\w+Gateway)\b/m.exec(source)?.[1];
    if (!gatewayInterface) throw new ScaffoldError(`--uses ${dep}: modules/${dep}/gateway.ts exports no <Name>Gateway interface, so there is nothing to call (it may only publish events: use --subscribe).`);
    return { names: moduleNames(dep), gatewayInterface };
  });
  const declarations = readModuleDeclarations(root, folders);
  const published = declarations.flatMap((d) => d.publishes.map((type) => ({ type, publisher: d.folder })));
  const subscribes = splitList(subscribe).map((type): SubscribedEvent => {
    const found = published.find((p) => p.type === type);
    if (!found) {
      throw new ScaffoldError(`--subscribe ${type}: no module publishes "${type}". Published events: ${published.map((p) => `${p.type} (${p.publisher})`).join(', ') || 'none'}.`);
    }
    return found;
  });
  return { uses: used, subscribes };
}

/**
 * Adds the module to the composition root: its import among the module imports (kept in
 * alphabetical order) and `await modules.register(xModule, { deps: { … } })` after the last
 * module registration, hence after every module it uses. A used module whose registration does
 * not keep its gateway yet gets `const <name> = ` in front of it.
 * @throws Error when src/app.ts has no module imports or registrations to anchor on, or does not
 *   register a module that the new one uses.
 */
export function registerInApp(appSource: string, n: ModuleNames, uses: readonly ModuleNames[] = []): { source: string; importLine: string; registerLine: string } {
  const lines = appSource.split('\n');
  const importLine = `import ${n.camel}Module from '../modules/${n.kebab}/index.ts';`;
  const isModuleImport = (l: string) => /^import .* from '\.\.\/modules\/[^/]+\/index\.ts';$/.test(l);
  const registration = /^(\s*)(?:const (\w+) = )?await modules\.register\((\w+)\b/;
  const importIndexes = lines.flatMap((l, i) => (isModuleImport(l) ? [i] : []));
  const registerIndexes = lines.flatMap((l, i) => (registration.test(l) ? [i] : []));
  if (importIndexes.length === 0 || registerIndexes.length === 0) {
    throw new Error("src/app.ts has no `import xModule from '../modules/x/index.ts'` or `await modules.register(xModule, …)` line to add the module next to.");
  }
  // The variable holding each used module's gateway (added where missing).
  const depEntries = uses.map((dep) => {
    const at = registerIndexes.find((i) => registration.exec(lines[i]!)![3] === `${dep.camel}Module`);
    if (at === undefined) throw new Error(`src/app.ts does not register the module "${dep.kebab}" (no \`await modules.register(${dep.camel}Module, …)\`), which the new module uses.`);
    const variable = registration.exec(lines[at]!)![2];
    if (!variable) lines[at] = lines[at]!.replace(/^(\s*)await /, `$1const ${dep.camel} = await `);
    const name = variable ?? dep.camel;
    const key = propertyKey(dep.kebab);
    return key === name ? name : `${key}: ${name}`;
  });
  // The end of the last registration statement (it may span lines): parentheses balance there.
  let end = registerIndexes.at(-1)!;
  for (let depth = 0, i = end; i < lines.length; i++) {
    for (const ch of lines[i]!) depth += ch === '(' ? 1 : ch === ')' ? -1 : 0;
    if (depth <= 0) {
      end = i;
      break;
    }
  }
  const indent = registration.exec(lines[registerIndexes.at(-1)!]!)![1]!;
  const registerLine = `${indent}await modules.register(${n.camel}Module${depEntries.length ? `, { deps: { ${depEntries.join(', ')} } }` : ''});`;
  lines.splice(end + 1, 0, registerLine);
  const modulePath = (l: string) => /'\.\.\/modules\/([^/]+)\//.exec(l)![1]!;
  const before = importIndexes.find((i) => modulePath(lines[i]!) > n.kebab);
  lines.splice(before ?? importIndexes.at(-1)! + 1, 0, importLine);
  return { source: lines.join('\n'), importLine, registerLine: registerLine.trim() };
}

/**
 * Adds the module's tag to the document's tag list (`API_TAGS` in src/api-docs.ts), or returns
 * undefined when that list is not found.
 */
export function addApiTag(apiDocsSource: string, n: ModuleNames): string | undefined {
  const lines = apiDocsSource.split('\n');
  const start = lines.findIndex((l) => /^const API_TAGS\b.*= \[\s*$/.test(l));
  const end = start < 0 ? -1 : lines.findIndex((l, i) => i > start && /^\];\s*$/.test(l));
  if (end < 0) return undefined;
  lines.splice(end, 0, `  { name: '${n.kebab}', description: 'The ${n.kebab} module (TODO: say what it offers; edit this line in src/api-docs.ts).' },`);
  return lines.join('\n');
}

/** Schemas a migration's statements touch (schema-qualified names and CREATE SCHEMA). */
function schemasOf(statement: string): Set<string> {
  const found = new Set<string>();
  for (const m of statement.matchAll(/"([^"]+)"\s*\.\s*"/g)) found.add(m[1]!);
  for (const m of statement.matchAll(/CREATE SCHEMA(?: IF NOT EXISTS)? "([^"]+)"/gi)) found.add(m[1]!);
  return found;
}

/** Files the scaffolder edits besides the module folder and new migrations; restored on failure. */
const EDITED_FILES = ['src/app.ts', 'src/api-docs.ts', 'docs/architecture.md', 'docs/modules.md', 'docs/openapi.json', 'drizzle/meta/_journal.json'];

/**
 * Remembers the files the scaffolder may touch and puts them back: the edited files as they were,
 * anything new under drizzle/ removed, any `removed` path (e.g. the module folder) deleted.
 */
function undoLog(root: string, removeOnUndo: string[]) {
  const drizzleDir = join(root, 'drizzle');
  const listDrizzle = () => (existsSync(drizzleDir) ? readdirSync(drizzleDir, { recursive: true, encoding: 'utf8' }) : []);
  const drizzleBefore = new Set(listDrizzle());
  const saved = new Map(EDITED_FILES.map((f) => [f, existsSync(join(root, f)) ? readFileSync(join(root, f)) : undefined]));
  const deleted = new Map<string, Buffer>();
  return {
    drizzleBefore,
    listDrizzle,
    /** Deletes `path` now and brings it back on undo. */
    remove(path: string) {
      deleted.set(path, readFileSync(join(root, path)));
      rmSync(join(root, path));
    },
    undo() {
      for (const path of removeOnUndo) rmSync(join(root, path), { recursive: true, force: true });
      for (const entry of listDrizzle().filter((e) => !drizzleBefore.has(e)).sort().reverse()) rmSync(join(drizzleDir, entry), { recursive: true, force: true });
      for (const [path, content] of deleted) writeFileSync(join(root, path), content);
      for (const [path, content] of saved) {
        if (content === undefined) rmSync(join(root, path), { force: true });
        else writeFileSync(join(root, path), content);
      }
    },
  };
}

/** Signals and exceptions undo the work: `work` runs with SIGINT/SIGTERM rolling back first. */
async function allOrNothing<T>(undo: () => void, work: () => Promise<T>): Promise<T> {
  const onSignal = (signal: NodeJS.Signals) => {
    undo();
    process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await work();
  } catch (error) {
    undo();
    if (error instanceof ScaffoldError) throw error;
    throw new ScaffoldError(`Scaffolding failed and was undone: ${(error as Error).stack ?? error}`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * Runs `drizzle-kit generate --name <module>` in `root` and checks that it wrote exactly one new
 * migration touching only the module's schema; appends `SELECT kernel.apply_tenant_isolation()`
 * when earlier migrations use it (row-level security). Returns the migration's path and whether
 * RLS was added.
 * @throws ScaffoldError when drizzle-kit fails, stops at an interactive question (no migration
 *   written), or the migration also carries pending changes of other schemas.
 */
function generateMigration(root: string, n: ModuleNames, drizzleBefore: Set<string>, listDrizzle: () => string[]): { migration: string; rowLevelSecurity: boolean } {
  const bin = join(root, 'node_modules', '.bin', 'drizzle-kit');
  const run = spawnSync(bin, ['generate', '--name', n.kebab], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
  const output = `${run.stdout ?? ''}${run.stderr ?? ''}`.trim();
  if (/Interactive prompts require a TTY/.test(output)) {
    throw new ScaffoldError(
      'drizzle-kit generate stopped at an interactive question (was a table or column renamed, or created?), which it cannot ask in a non-interactive shell.\n' +
        'Run npm run db:generate in a terminal and answer it; or, for a module whose migration no database applied yet, npm run new:module -- <name> --redo-migration.',
    );
  }
  if (run.status !== 0) throw new ScaffoldError(`drizzle-kit generate failed (${run.error?.message ?? `exit ${run.status}`}):\n${output}`);
  const created = listDrizzle().filter((e) => !drizzleBefore.has(e) && /^[^/]+\.sql$/.test(e));
  if (created.length === 0) throw new ScaffoldError(`drizzle-kit generate wrote no migration (no schema change found):\n${output}`);
  if (created.length !== 1) throw new ScaffoldError(`drizzle-kit generate made ${created.length} migration files, expected one:\n${output}`);
  const migration = `drizzle/${created[0]}`;
  const statements = readFileSync(join(root, migration), 'utf8').split('--> statement-breakpoint').map((s) => s.trim()).filter(Boolean);
  const foreign = statements.filter((s) => [...schemasOf(s)].some((schema) => schema !== n.snake) || schemasOf(s).size === 0);
  if (foreign.length > 0) {
    throw new ScaffoldError(
      `The generated migration also changes what is outside the "${n.snake}" schema: the schema files had changes with no migration yet:\n` +
        `${foreign.map((s) => `  ${s.split('\n')[0]}`).join('\n')}\n` +
        'Generate those first (npm run db:generate), then run new:module again.',
    );
  }
  // Follow the repository's convention: migrations end by (re)applying tenant isolation (RLS
  // policies and grants for the tenant role, see drizzle/*_row_level_security.sql) when it exists.
  const earlier = [...drizzleBefore].filter((e) => /^[^/]+\.sql$/.test(e));
  const rowLevelSecurity = earlier.some((e) => existsSync(join(root, 'drizzle', e)) && readFileSync(join(root, 'drizzle', e), 'utf8').includes(`${TENANT_ISOLATION}()`));
  if (rowLevelSecurity) writeFileSync(join(root, migration), `${readFileSync(join(root, migration), 'utf8').trimEnd()}\n--> statement-breakpoint\nSELECT ${TENANT_ISOLATION}();\n`);
  return { migration, rowLevelSecurity };
}

/**
 * Regenerates what CI checks to be current from the code: docs/architecture.md and
 * docs/modules.md (arch:graph) and docs/openapi.json (npm run openapi, on an in-memory database so
 * that no real database gets the new migration). Returns the files rewritten.
 * @throws ScaffoldError when either generator fails.
 */
async function regenerateDocs(root: string, progress: (line: string) => void): Promise<string[]> {
  progress('… redrawing docs/architecture.md and docs/modules.md (arch:graph)');
  const { writeArchitectureDocument } = await import('./arch-graph.ts');
  const written: string[] = [];
  try {
    if (await writeArchitectureDocument(root)) written.push('docs/architecture.md', 'docs/modules.md');
  } catch (error) {
    throw new ScaffoldError(`arch:graph failed on the new module: ${(error as Error).message}`);
  }
  progress('… regenerating docs/openapi.json (boots the app on an in-memory database, ~10-30 s)');
  const env = { ...process.env };
  delete env.DATABASE_URL;
  const node = process.execPath;
  const run = spawnSync(node, ['--disable-warning=ExperimentalWarning', join(root, 'scripts', 'openapi.ts')], { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
  if (run.status !== 0) throw new ScaffoldError(`npm run openapi failed with the new module (${run.error?.message ?? `exit ${run.status}`}):\n${`${run.stdout ?? ''}${run.stderr ?? ''}`.trim().split('\n').slice(-20).join('\n')}`);
  written.push('docs/openapi.json');
  return written;
}

/** What the scaffolder did (or, in a dry run, would do). */
export interface ScaffoldResult {
  names: ModuleNames;
  files: PlannedFile[];
  uses: UsedModule[];
  subscribes: SubscribedEvent[];
  importLine: string;
  registerLine: string;
  apiTagAdded: boolean;
  migration?: string;
  /** The migration ends with `SELECT kernel.apply_tenant_isolation()` (row-level security on its tables). */
  rowLevelSecurity: boolean;
  docsUpdated: string[];
}

/** Options of {@link scaffoldModule}. */
export interface ScaffoldOptions {
  dryRun?: boolean;
  /** Modules whose gateways it uses (`--uses`). */
  uses?: readonly string[];
  /** Domain event types it handles (`--subscribe`). */
  subscribe?: readonly string[];
  /** Run drizzle-kit generate (default true). Benchmarks turn it off. */
  migration?: boolean;
  /** Regenerate docs/architecture.md, docs/modules.md and docs/openapi.json (default true). */
  docs?: boolean;
  /** Progress lines for long steps (default: none). */
  progress?: (line: string) => void;
}

/**
 * Creates the module `name` in the repository at `root`, or only plans it with `dryRun`.
 * @throws ScaffoldError when the name or an option is refused or a step fails; the repository is
 *   then as it was.
 */
export async function scaffoldModule(root: string, name: string | undefined, options: ScaffoldOptions = {}): Promise<ScaffoldResult> {
  const reason = whyNotModuleName(root, name);
  if (reason) throw new ScaffoldError(reason);
  const names = moduleNames(name!);
  const shape = resolveShape(root, options.uses ?? [], options.subscribe ?? []);
  const files = moduleFiles(names, shape);
  const appPath = join(root, 'src', 'app.ts');
  let registration;
  try {
    registration = registerInApp(readFileSync(appPath, 'utf8'), names, shape.uses.map((u) => u.names));
  } catch (error) {
    throw new ScaffoldError((error as Error).message);
  }
  const apiDocsPath = join(root, 'src', 'api-docs.ts');
  const apiDocs = existsSync(apiDocsPath) ? addApiTag(readFileSync(apiDocsPath, 'utf8'), names) : undefined;
  const result: ScaffoldResult = {
    names,
    files,
    ...shape,
    importLine: registration.importLine,
    registerLine: registration.registerLine,
    apiTagAdded: apiDocs !== undefined,
    rowLevelSecurity: false,
    docsUpdated: [],
  };
  if (options.dryRun) return result;

  const progress = options.progress ?? (() => {});
  const log = undoLog(root, [`modules/${names.kebab}`]);
  return allOrNothing(log.undo, async () => {
    // The module folder appears in one rename, complete.
    const tmpRoot = join(root, '.tmp');
    mkdirSync(tmpRoot, { recursive: true });
    const staging = mkdtempSync(join(tmpRoot, `new-module-${names.kebab}-`));
    try {
      mkdirSync(join(staging, names.kebab));
      for (const f of files) writeFileSync(join(staging, f.path.replace(/^modules\//, '')), f.content);
      renameSync(join(staging, names.kebab), join(root, 'modules', names.kebab));
    } finally {
      rmSync(staging, { recursive: true, force: true });
      if (readdirSync(tmpRoot).length === 0) rmSync(tmpRoot, { recursive: true, force: true });
    }
    writeFileSync(appPath, registration.source);
    if (apiDocs !== undefined) writeFileSync(apiDocsPath, apiDocs);

    if (options.migration !== false) {
      progress(`… generating the migration (drizzle-kit generate --name ${names.kebab})`);
      Object.assign(result, generateMigration(root, names, log.drizzleBefore, log.listDrizzle));
    }
    if (options.docs !== false) result.docsUpdated = await regenerateDocs(root, progress);
    return result;
  });
}

/**
 * Regenerates the own migration of the existing module `name` from its schema.ts: removes the
 * module's migration (its .sql, snapshot and journal entry), which must be the newest one, and
 * generates it again, so a changed example table needs no rename answer. Only for a migration that
 * no database has applied yet.
 * @throws ScaffoldError when the module or its migration is not found, a later migration exists,
 *   or generation fails; the repository is then as it was.
 */
export async function redoMigration(root: string, name: string | undefined, progress: (line: string) => void = () => {}): Promise<{ removed: string; migration: string; rowLevelSecurity: boolean }> {
  if (!name || !existsSync(join(root, 'modules', name, 'schema.ts'))) throw new ScaffoldError(`--redo-migration needs an existing module with a schema.ts: modules/${name ?? '<name>'}/schema.ts not found.`);
  const n = moduleNames(name);
  const journalPath = join(root, 'drizzle', 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: Array<{ idx: number; tag: string }> };
  const own = journal.entries.filter((e) => e.tag.replace(/^\d+_/, '') === name);
  const last = journal.entries.at(-1);
  if (own.length !== 1 || last !== own[0]) {
    throw new ScaffoldError(
      own.length === 0
        ? `No migration named *_${name}.sql in drizzle/meta/_journal.json.`
        : `The migration of ${name} (${own.map((e) => e.tag).join(', ')}) is not the newest one (${last?.tag}): later migrations build on it. Change the table with a new migration: run npm run db:generate in a terminal and answer its rename question.`,
    );
  }
  const entry = own[0]!;
  const log = undoLog(root, []);
  return allOrNothing(log.undo, async () => {
    log.remove(`drizzle/${entry.tag}.sql`);
    const snapshot = `drizzle/meta/${String(entry.idx).padStart(4, '0')}_snapshot.json`;
    if (existsSync(join(root, snapshot))) log.remove(snapshot);
    journal.entries = journal.entries.filter((e) => e !== entry);
    writeFileSync(journalPath, `${JSON.stringify(journal, null, 2)}\n`);
    const before = new Set(log.listDrizzle());
    progress(`… generating the migration again (drizzle-kit generate --name ${name})`);
    const generated = generateMigration(root, n, before, log.listDrizzle);
    return { removed: `drizzle/${entry.tag}.sql`, ...generated };
  });
}

function printPlan(r: ScaffoldResult, dryRun: boolean) {
  const n = r.names;
  const width = Math.max(...r.files.map((f) => f.path.length));
  console.log(dryRun ? `new:module ${n.kebab} (dry run: nothing was written)\n\nWould create:` : `✔ Created module ${n.kebab}:\n`);
  for (const f of r.files) console.log(`  ${f.path.padEnd(width)}  ${f.purpose}`);
  console.log(`\n${dryRun ? 'Would edit' : 'Edited'} src/app.ts (the composition root):\n  + ${r.importLine}\n  + ${r.registerLine}`);
  if (r.apiTagAdded) console.log(`${dryRun ? 'Would edit' : 'Edited'} src/api-docs.ts: + the '${n.kebab}' tag of the API document`);
  if (dryRun) {
    console.log(`\nWould run:\n  drizzle-kit generate --name ${n.kebab}   (a migration creating the "${n.snake}" schema and its items table, then row-level security)`);
    console.log('  arch:graph                               (redraw docs/architecture.md and docs/modules.md)');
    console.log('  npm run openapi                          (regenerate docs/openapi.json)');
    return;
  }
  if (r.migration) {
    const rls = r.rowLevelSecurity ? `, then SELECT ${TENANT_ISOLATION}() for row-level security` : '';
    console.log(`\nMigration (drizzle-kit generate --name ${n.kebab}):\n  ${r.migration}   (creates the "${n.snake}" schema and its items table${rls})`);
  }
  if (r.docsUpdated.length) console.log(`\nRegenerated: ${r.docsUpdated.join(', ')}`);
  const depNote = r.uses.length ? ` It receives ${r.uses.map((u) => u.names.kebab).join(', ')} in \`deps\` (service.ts).` : '';
  console.log(`
Next steps:
  1. Say what the module owns: the first sentence of the docstring in modules/${n.kebab}/index.ts,
     modules/${n.kebab}/gateway.ts, and its tag in src/api-docs.ts.${depNote}
  2. Replace the example items table, routes and gateway call with the module's own. To change the
     table while its migration is new (no database applied it yet), edit schema.ts and run
       npm run new:module -- ${n.kebab} --redo-migration
     (npm run db:generate would ask interactively whether the table was renamed, which cannot be
     answered in a non-interactive shell; in a terminal you may answer it instead).
  3. Check it: npm run typecheck && npm run lint:arch && npm run test:module -- ${n.kebab} && npm test
     Then npm run arch:graph and npm run openapi after changing routes, uses or events.
  4. Another module uses it by declaring '${n.kebab}' in its \`uses\` and receiving the gateway from
     src/app.ts (keep the registration: const ${n.camel} = await modules.register(…)).
  5. Review ${r.migration ?? 'the migration'} and commit.`);
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        'dry-run': { type: 'boolean', default: false },
        'redo-migration': { type: 'boolean', default: false },
        uses: { type: 'string', multiple: true, default: [] },
        subscribe: { type: 'string', multiple: true, default: [] },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: true,
    });
  } catch (error) {
    console.error(`✖ new:module: ${(error as Error).message}\nNothing was changed.\n\n${HELP}`);
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
  const progress = (line: string) => console.log(line);
  try {
    if (parsed.values['redo-migration']) {
      const done = await redoMigration(REPO_ROOT, parsed.positionals[0], progress);
      const rls = done.rowLevelSecurity ? `, then SELECT ${TENANT_ISOLATION}()` : '';
      console.log(`✔ Removed ${done.removed} and generated ${done.migration} from modules/${parsed.positionals[0]}/schema.ts${rls}.`);
      console.log('  Only for a migration no database has applied: one that ran the old file will not run this one.');
      return 0;
    }
    const dryRun = parsed.values['dry-run'];
    const result = await scaffoldModule(REPO_ROOT, parsed.positionals[0], { dryRun, uses: parsed.values.uses, subscribe: parsed.values.subscribe, progress });
    printPlan(result, dryRun);
    return 0;
  } catch (error) {
    if (!(error instanceof ScaffoldError)) throw error;
    console.error(`✖ new:module: ${error.message}\nNothing was changed.`);
    return 1;
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
