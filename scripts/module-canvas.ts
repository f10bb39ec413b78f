/**
 * Static readers for the module canvas that `npm run arch:graph` writes (docs/modules.md, after
 * Spring Modulith's module canvas): a module's HTTP routes with their roles, the methods of its
 * gateway, the tables of its PostgreSQL schema and its one-line description. Everything is read
 * with the TypeScript parser from source text, without running the code, so the readers are pure
 * functions of a {@link SourceTree} (the disk, or an in-memory map in tests). What cannot be read
 * reliably (a route URL that is not a literal, say) is reported as a `file:line: message` problem
 * rather than guessed.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import ts from 'typescript';

/** Read access to the repository's files, by repository-relative path with `/` separators. */
export interface SourceTree {
  /** The file's text, or undefined when it does not exist. */
  read(path: string): string | undefined;
  /** The folders of `modules/` that hold an `index.ts`, sorted. */
  modules(): string[];
}

/** The repository under `root`, read from disk. */
export function diskTree(root: string): SourceTree {
  return {
    read: (path) => (existsSync(join(root, path)) ? readFileSync(join(root, path), 'utf8') : undefined),
    modules: () =>
      existsSync(join(root, 'modules'))
        ? readdirSync(join(root, 'modules'), { withFileTypes: true })
            .filter((e) => e.isDirectory() && !e.name.startsWith('.') && existsSync(join(root, 'modules', e.name, 'index.ts')))
            .map((e) => e.name)
            .sort()
        : [],
  };
}

/** A tree held in memory: `files` maps repository-relative paths to their text. */
export function memoryTree(files: Readonly<Record<string, string>>): SourceTree {
  return {
    read: (path) => files[path],
    modules: () => [...new Set(Object.keys(files).flatMap((p) => /^modules\/([^/]+)\/index\.ts$/.exec(p)?.[1] ?? []))].sort(),
  };
}

/** Who may call a route: the roles of `config.roles`, `'any'` (any authenticated staff) or `'public'` (no `config.roles`). */
export type RouteAccess = readonly string[] | 'any' | 'public' | 'service';

/** One HTTP route of a module, as registered (API prefix and plugin prefixes included). */
export interface RouteInfo {
  /** Upper-case HTTP method. */
  method: string;
  /** Full URL pattern, e.g. `/api/v1/orders/:id`. */
  url: string;
  access: RouteAccess;
  /** Repository-relative file and 1-based line of the route's declaration. */
  file: string;
  line: number;
}

/** One member of a module's gateway interface. */
export interface GatewayMethod {
  name: string;
  /** Parameter names, e.g. `(uow, ids)`; undefined for a property that is not a function. */
  parameters: string | undefined;
  /** The declared return type (or property type) as written. */
  returns: string;
  /** First sentence of its docstring, on one line; empty when it has none. */
  summary: string;
}

/** The tables (and other objects) a module's schema.ts declares in its PostgreSQL schema. */
export interface ModuleTables {
  /** `pgSchema('…')` names, in order. */
  schemas: string[];
  /** Table names, qualified by schema (`orders.order_lines`), in declaration order. */
  tables: string[];
  /** Other objects (enums, views, sequences) as `schema.name (kind)`. */
  others: string[];
}

/** Everything a module's canvas shows besides its declaration. */
export interface ModuleFacts {
  /** First sentence of the docstring on `export default defineModule(…)`, or undefined. */
  description: string | undefined;
  routes: RouteInfo[];
  /** Name of the exported `…Gateway` interface of gateway.ts, or undefined when it exports none. */
  gatewayInterface: string | undefined;
  gatewayMethods: GatewayMethod[];
  tables: ModuleTables;
  /** What could not be read, as `file:line: message`. */
  problems: string[];
}

const HTTP_METHODS = new Set(['get', 'post', 'put', 'patch', 'delete', 'head', 'options']);

const parse = (source: string, fileName: string) => ts.createSourceFile(fileName, source, ts.ScriptTarget.ES2024, true, ts.ScriptKind.TS);
const lineOf = (file: ts.SourceFile, node: ts.Node) => file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1;
const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim();

/**
 * The first sentence of a docstring's text, on one line: up to the first `.`, `!` or `?` that
 * ends a word (not `e.g.`/`i.e.`/`etc.`), or up to the first blank line or `@tag`.
 */
export function firstSentence(text: string): string {
  const paragraph = oneLine(text.split(/\n\s*\n|\n\s*@/)[0] ?? '');
  const ender = /[.!?](?=\s|$)/g;
  for (let m = ender.exec(paragraph); m; m = ender.exec(paragraph)) {
    if (/\b(e\.g|i\.e|etc|vs|cf)$/i.test(paragraph.slice(0, m.index))) continue;
    return paragraph.slice(0, m.index + 1);
  }
  return paragraph;
}

/** The docstring text of `node` (the last JSDoc block before it), or ''. */
function docText(node: ts.Node): string {
  const docs = (node as { jsDoc?: ts.JSDoc[] }).jsDoc;
  const last = docs?.[docs.length - 1];
  return last ? (ts.getTextOfJSDocComment(last.comment) ?? '') : '';
}

/** The string value of a literal (or a no-substitution template), else undefined. */
const literal = (node: ts.Node | undefined) => (node && ts.isStringLiteralLike(node) ? node.text : undefined);

function property(object: ts.ObjectLiteralExpression, name: string): ts.ObjectLiteralElementLike | undefined {
  return object.properties.find((p) => p.name && (ts.isIdentifier(p.name) || ts.isStringLiteralLike(p.name)) && p.name.text === name);
}

/** Joins a plugin prefix and a route path the way Fastify does (`/orders` + `/` = `/orders`). */
function joinUrl(prefix: string, path: string): string {
  if (path === '/' && prefix !== '') return prefix;
  if (path === '') return prefix || '/';
  return `${prefix}${path.startsWith('/') ? '' : '/'}${path}`;
}

type PluginFunction = ts.ArrowFunction | ts.FunctionExpression | ts.FunctionDeclaration | ts.MethodDeclaration;

const isPluginFunction = (node: ts.Node): node is PluginFunction =>
  ts.isArrowFunction(node) || ts.isFunctionExpression(node) || ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node);

/** The function a top-level `const name = …` / `function name` of `file` holds, looking through `as`/`satisfies` and one wrapping call (e.g. `fp(fn)`). */
function topLevelFunction(file: ts.SourceFile, name: string): PluginFunction | undefined {
  const unwrap = (e: ts.Expression): ts.Expression | undefined => {
    while (ts.isAsExpression(e) || ts.isSatisfiesExpression(e) || ts.isParenthesizedExpression(e)) e = e.expression;
    if (ts.isCallExpression(e)) return e.arguments.find((a) => isPluginFunction(a));
    return e;
  };
  for (const statement of file.statements) {
    if (ts.isFunctionDeclaration(statement) && statement.name?.text === name) return statement;
    if (!ts.isVariableStatement(statement)) continue;
    for (const d of statement.declarationList.declarations) {
      if (ts.isIdentifier(d.name) && d.name.text === name && d.initializer) {
        const fn = unwrap(d.initializer);
        if (fn && isPluginFunction(fn)) return fn;
      }
    }
  }
  return undefined;
}

/** The relative module specifier `name` is imported from in `file`, if any. */
function importedFrom(file: ts.SourceFile, name: string): string | undefined {
  for (const statement of file.statements) {
    if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) continue;
    const bindings = statement.importClause?.namedBindings;
    const named = bindings && ts.isNamedImports(bindings) ? bindings.elements.some((e) => e.name.text === name) : false;
    if (named || statement.importClause?.name?.text === name) return statement.moduleSpecifier.text;
  }
  return undefined;
}

/**
 * The HTTP routes a module registers, read from its `defineModule({ setup })` in index.ts: calls
 * `<scope>.get|post|put|patch|delete|head|options('/path', { config: { roles } }, handler)` and
 * `<scope>.route({ method, url, config })` on the plugin's Fastify instance, following
 * `<scope>.register(localPlugin, { prefix: '/x' })` into the module's own files (plugins from
 * packages are skipped: they add no routes of the module). `apiPrefix` is the prefix the module
 * host mounts every module under (e.g. `/api/v1`).
 */
export function readModuleRoutes(tree: SourceTree, module: string, apiPrefix: string): { routes: RouteInfo[]; problems: string[] } {
  const routes: RouteInfo[] = [];
  const problems: string[] = [];
  const indexPath = `modules/${module}/index.ts`;
  const files = new Map<string, ts.SourceFile | undefined>();
  const load = (path: string) => {
    if (!files.has(path)) {
      const text = tree.read(path);
      files.set(path, text === undefined ? undefined : parse(text, path));
    }
    return files.get(path);
  };
  const index = load(indexPath);
  if (!index) return { routes, problems: [`${indexPath}:1: missing.`] };

  let setup: PluginFunction | undefined;
  const findSetup = (node: ts.Node) => {
    if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'defineModule') {
      const arg = node.arguments[0];
      if (arg && ts.isObjectLiteralExpression(arg)) {
        const p = property(arg, 'setup');
        if (p && ts.isMethodDeclaration(p)) setup = p;
        else if (p && ts.isPropertyAssignment(p) && isPluginFunction(p.initializer)) setup = p.initializer;
      }
    }
    if (!setup) ts.forEachChild(node, findSetup);
  };
  findSetup(index);
  if (!setup) return { routes, problems: [`${indexPath}:1: no defineModule({ setup }) with a function to read the routes from.`] };

  const seen = new Set<PluginFunction>();
  const walk = (fn: PluginFunction, file: ts.SourceFile, prefix: string) => {
    if (seen.has(fn)) return;
    seen.add(fn);
    const first = fn.parameters[0];
    if (!first || !ts.isIdentifier(first.name) || !fn.body) return;
    const app = first.name.text;
    const problem = (node: ts.Node, message: string) => problems.push(`${file.fileName}:${lineOf(file, node)}: ${message}`);
    const accessOf = (options: ts.Expression | undefined, at: ts.Node): RouteAccess | undefined => {
      if (!options || !ts.isObjectLiteralExpression(options)) return 'public';
      const config = property(options, 'config');
      if (!config) return 'public';
      if (!ts.isPropertyAssignment(config) || !ts.isObjectLiteralExpression(config.initializer)) {
        problem(config, 'route config must be an object literal so the canvas can read its roles.');
        return undefined;
      }
      const roles = property(config.initializer, 'roles');
      if (!roles) return property(config.initializer, 'serviceToken') ? 'service' : 'public';
      if (ts.isPropertyAssignment(roles)) {
        if (literal(roles.initializer) === 'any') return 'any';
        const list = roles.initializer;
        if (ts.isArrayLiteralExpression(list) && list.elements.every((e) => literal(e) !== undefined)) return list.elements.map((e) => literal(e)!);
      }
      problem(at, "config.roles must be 'any' or an array of role literals, so the canvas can read it.");
      return undefined;
    };
    const add = (methods: string[], url: string, access: RouteAccess | undefined, at: ts.Node) => {
      if (access === undefined) return;
      for (const method of methods) routes.push({ method: method.toUpperCase(), url: joinUrl(prefix, url), access, file: file.fileName, line: lineOf(file, at) });
    };
    const visit = (node: ts.Node) => {
      if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && ts.isIdentifier(node.expression.expression) && node.expression.expression.text === app) {
        const method = node.expression.name.text;
        const [a0, a1, a2] = node.arguments;
        if (HTTP_METHODS.has(method)) {
          const url = literal(a0);
          if (url === undefined) problem(node, `${app}.${method}(…) with a URL that is not a string literal; the canvas cannot tell the route.`);
          else add([method], url, accessOf(a2 ? a1 : undefined, node), node);
        } else if (method === 'route' && a0 && ts.isObjectLiteralExpression(a0)) {
          const m = property(a0, 'method');
          const u = property(a0, 'url') ?? property(a0, 'path');
          const init = (p: ts.ObjectLiteralElementLike | undefined) => (p && ts.isPropertyAssignment(p) ? p.initializer : undefined);
          const url = literal(init(u));
          const mi = init(m);
          const methods = literal(mi) !== undefined ? [literal(mi)!] : mi && ts.isArrayLiteralExpression(mi) && mi.elements.every((e) => literal(e)) ? mi.elements.map((e) => literal(e)!) : undefined;
          if (url === undefined || methods === undefined) problem(node, `${app}.route({ method, url }) with a method or URL that is not a literal; the canvas cannot tell the route.`);
          else add(methods, url, accessOf(a0, node), node);
        } else if (method === 'register' && a0) {
          let target: { fn: PluginFunction; file: ts.SourceFile } | undefined;
          if (isPluginFunction(a0)) target = { fn: a0, file };
          else if (ts.isIdentifier(a0)) {
            const local = topLevelFunction(file, a0.text);
            const from = importedFrom(file, a0.text);
            if (local) target = { fn: local, file };
            else if (from?.startsWith('.')) {
              const path = posix.normalize(posix.join(posix.dirname(file.fileName), from));
              const other = path.startsWith(`modules/${module}/`) ? load(path) : undefined;
              const fn = other && topLevelFunction(other, a0.text);
              if (fn && other) target = { fn, file: other };
              else problem(node, `${app}.register(${a0.text}) of ${from}: cannot find that plugin function in the module to read its routes.`);
            }
          }
          if (target) {
            let pluginPrefix = '';
            if (a1 && ts.isObjectLiteralExpression(a1)) {
              const p = property(a1, 'prefix');
              if (p) {
                const value = ts.isPropertyAssignment(p) ? literal(p.initializer) : undefined;
                if (value === undefined) problem(p, `${app}.register(…, { prefix }) with a prefix that is not a string literal; the canvas cannot tell the URLs.`);
                else pluginPrefix = value;
              }
            }
            walk(target.fn, target.file, joinUrl(prefix, pluginPrefix));
          }
        }
      }
      ts.forEachChild(node, visit);
    };
    ts.forEachChild(fn.body, visit);
  };
  walk(setup, index, apiPrefix);
  return { routes, problems };
}

/**
 * The prefix the composition root mounts modules under: the `prefix` given to
 * `createModuleHost(app, { prefix })` in src/ (a literal, or a top-level `const` of that file).
 */
export function readApiPrefix(tree: SourceTree, files: readonly string[] = ['src/kernel.ts', 'src/app.ts']): { prefix: string | undefined; problems: string[] } {
  for (const path of files) {
    const text = tree.read(path);
    if (text === undefined || !text.includes('createModuleHost(')) continue;
    const file = parse(text, path);
    let found: { prefix: string | undefined; problems: string[] } | undefined;
    const visit = (node: ts.Node) => {
      if (!found && ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'createModuleHost') {
        const options = node.arguments[1];
        const p = options && ts.isObjectLiteralExpression(options) ? property(options, 'prefix') : undefined;
        let value: string | undefined;
        const init = p && ts.isPropertyAssignment(p) ? p.initializer : p && ts.isShorthandPropertyAssignment(p) ? p.name : undefined;
        if (init) value = literal(init) ?? (ts.isIdentifier(init) ? constString(file, init.text) : undefined);
        found = value === undefined ? { prefix: undefined, problems: [`${path}:${lineOf(file, node)}: createModuleHost(…, { prefix }) with a prefix that is neither a literal nor a top-level const of the file.`] } : { prefix: value, problems: [] };
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
    if (found) return found;
  }
  return { prefix: undefined, problems: [`${files.join(', ')}: no createModuleHost(app, { prefix }) call; cannot tell the URL prefix of the modules' routes.`] };
}

function constString(file: ts.SourceFile, name: string): string | undefined {
  for (const statement of file.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    for (const d of statement.declarationList.declarations) if (ts.isIdentifier(d.name) && d.name.text === name) return literal(d.initializer);
  }
  return undefined;
}

const pascal = (kebab: string) => kebab.replace(/(^|-)([a-z0-9])/g, (_, __, c: string) => c.toUpperCase());

/**
 * The members of the exported gateway interface of a gateway.ts: `<Module>Gateway` (e.g.
 * `InventoryGateway` for `inventory`), else the first exported interface whose name ends in
 * `Gateway`. `interfaceName` is undefined when there is none (the module offers no calls).
 */
export function readGateway(source: string, module: string, fileName = `modules/${module}/gateway.ts`): { interfaceName: string | undefined; methods: GatewayMethod[] } {
  const file = parse(source, fileName);
  const interfaces = file.statements.filter(
    (s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text.endsWith('Gateway') && (ts.getModifiers(s)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword) ?? false),
  );
  const chosen = interfaces.find((i) => i.name.text === `${pascal(module)}Gateway`) ?? interfaces[0];
  if (!chosen) return { interfaceName: undefined, methods: [] };
  const methods: GatewayMethod[] = [];
  const params = (list: ts.NodeArray<ts.ParameterDeclaration>) => `(${list.map((p) => (p.dotDotDotToken ? '...' : '') + p.name.getText(file)).join(', ')})`;
  for (const member of chosen.members) {
    const name = member.name?.getText(file) ?? '(call)';
    const summary = firstSentence(docText(member));
    if (ts.isMethodSignature(member)) {
      methods.push({ name, parameters: params(member.parameters), returns: oneLine(member.type?.getText(file) ?? 'void'), summary });
    } else if (ts.isPropertySignature(member)) {
      const type = member.type;
      if (type && ts.isFunctionTypeNode(type)) methods.push({ name, parameters: params(type.parameters), returns: oneLine(type.type.getText(file)), summary });
      else methods.push({ name, parameters: undefined, returns: oneLine(type?.getText(file) ?? 'unknown'), summary });
    }
  }
  return { interfaceName: chosen.name.text, methods };
}

/**
 * The PostgreSQL objects a schema.ts declares: `const s = pgSchema('x')`, then `s.table('t', …)`
 * (and `s.enum`, `s.view`, `s.materializedView`, `s.sequence`); `pgTable('t', …)` counts as schema
 * `public`.
 */
export function readTables(source: string, fileName = 'schema.ts'): ModuleTables {
  const file = parse(source, fileName);
  const schemaOf = new Map<string, string>();
  const result: ModuleTables = { schemas: [], tables: [], others: [] };
  const visit = (node: ts.Node) => {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer && ts.isCallExpression(node.initializer)) {
      const call = node.initializer;
      if (ts.isIdentifier(call.expression) && call.expression.text === 'pgSchema') {
        const name = literal(call.arguments[0]);
        if (name !== undefined) {
          schemaOf.set(node.name.text, name);
          result.schemas.push(name);
        }
      }
    }
    if (ts.isCallExpression(node)) {
      const name = literal(node.arguments[0]);
      if (name !== undefined && ts.isIdentifier(node.expression) && node.expression.text === 'pgTable') result.tables.push(`public.${name}`);
      if (name !== undefined && ts.isPropertyAccessExpression(node.expression) && ts.isIdentifier(node.expression.expression)) {
        const schema = schemaOf.get(node.expression.expression.text);
        const kind = node.expression.name.text;
        if (schema !== undefined && kind === 'table') result.tables.push(`${schema}.${name}`);
        else if (schema !== undefined && ['enum', 'view', 'materializedView', 'sequence'].includes(kind)) result.others.push(`${schema}.${name} (${kind})`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return result;
}

/** First sentence of the docstring on the `defineModule(…)` default export (or the statement holding the call) of an index.ts. */
export function readDescription(indexSource: string, fileName = 'index.ts'): string | undefined {
  const file = parse(indexSource, fileName);
  for (const statement of file.statements) {
    if (!statement.getText(file).includes('defineModule')) continue;
    const text = docText(statement);
    if (text) return firstSentence(text);
  }
  return undefined;
}

/** Reads everything the canvas shows about `module` besides its declaration. Never throws. */
export function readModuleFacts(tree: SourceTree, module: string, apiPrefix: string): ModuleFacts {
  const base = `modules/${module}`;
  const { routes, problems } = readModuleRoutes(tree, module, apiPrefix);
  const gatewaySource = tree.read(`${base}/gateway.ts`);
  const gateway = gatewaySource === undefined ? { interfaceName: undefined, methods: [] } : readGateway(gatewaySource, module);
  const schemaSource = tree.read(`${base}/schema.ts`);
  const indexSource = tree.read(`${base}/index.ts`);
  return {
    description: indexSource === undefined ? undefined : readDescription(indexSource, `${base}/index.ts`),
    routes,
    gatewayInterface: gateway.interfaceName,
    gatewayMethods: gateway.methods,
    tables: schemaSource === undefined ? { schemas: [], tables: [], others: [] } : readTables(schemaSource, `${base}/schema.ts`),
    problems,
  };
}
