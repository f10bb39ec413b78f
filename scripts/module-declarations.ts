/**
 * Reads each module's declaration, the `defineModule({ name, uses, events })` call of its
 * `index.ts` (see shared/module.ts), statically with the TypeScript parser, for `lint:arch` and
 * `arch:graph`. The declaration must be written with literals so tools can read it without
 * running the code; anything else is reported as a problem with file and line.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

/** A module's declaration as written in its index.ts. */
export interface ModuleDeclaration {
  /** Folder name under modules/. */
  folder: string;
  /** The `name` literal (should equal `folder`). */
  name: string | undefined;
  /** Modules whose gateways it uses. */
  uses: string[];
  /** Event types it publishes. */
  publishes: string[];
  /** Published event types that also leave through the message broker (a subset of publishes). */
  external: string[];
  /** Event types it handles, by publishing module. */
  consumes: Record<string, string[]>;
  /** Repository-relative path of the index.ts. */
  file: string;
  /** 1-based line of the `defineModule(` call (1 when absent). */
  line: number;
  /** 1-based line of each `uses` entry, by module name (for diagnostics). */
  usesLines: Record<string, number>;
  /** 1-based line of each `events.publishes` entry, by event type (for diagnostics). */
  publishesLines: Record<string, number>;
  /** 1-based line of each `events.consumes` entry, by publishing module, then event type (for diagnostics). */
  consumesLines: Record<string, Record<string, number>>;
  /** What could not be read, as `file:line: message`. Empty when the declaration is well-formed. */
  problems: string[];
}

const lineOf = (file: ts.SourceFile, node: ts.Node) => file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1;

function propertyName(file: ts.SourceFile, p: ts.ObjectLiteralElementLike): string | undefined {
  if (!ts.isPropertyAssignment(p) && !ts.isShorthandPropertyAssignment(p)) return undefined;
  const n = p.name;
  return ts.isIdentifier(n) || ts.isStringLiteralLike(n) ? n.text : n.getText(file);
}

/**
 * Parses the declaration in `source` (the text of modules/<folder>/index.ts). Never throws: a
 * missing or non-literal declaration becomes an entry of `problems`.
 */
export function parseModuleDeclaration(folder: string, source: string, file = `modules/${folder}/index.ts`): ModuleDeclaration {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.ES2024, true, ts.ScriptKind.TS);
  const result: ModuleDeclaration = { folder, name: undefined, uses: [], publishes: [], external: [], consumes: {}, file, line: 1, usesLines: {}, publishesLines: {}, consumesLines: {}, problems: [] };
  const problem = (node: ts.Node | undefined, message: string) => result.problems.push(`${file}:${node ? lineOf(sf, node) : 1}: ${message}`);

  const calls: ts.CallExpression[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'defineModule') calls.push(node);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  if (calls.length === 0) {
    problem(undefined, `no defineModule({ name, uses, events, setup }) call: a module's index.ts must declare the module (see shared/module.ts).`);
    return result;
  }
  if (calls.length > 1) problem(calls[1], 'more than one defineModule(...) call; a module declares itself once.');
  const call = calls[0]!;
  result.line = lineOf(sf, call);
  const arg = call.arguments[0];
  if (!arg || !ts.isObjectLiteralExpression(arg)) {
    problem(call, 'defineModule must be called with an object literal, so the declaration can be read without running the code.');
    return result;
  }

  const stringList = (node: ts.Expression, what: string): { values: string[]; lines: number[] } => {
    const values: string[] = [];
    const lines: number[] = [];
    const list = ts.isAsExpression(node) || ts.isSatisfiesExpression(node) ? node.expression : node;
    if (!ts.isArrayLiteralExpression(list)) {
      problem(node, `${what} must be an array of string literals.`);
      return { values, lines };
    }
    for (const element of list.elements) {
      if (ts.isStringLiteralLike(element)) {
        values.push(element.text);
        lines.push(lineOf(sf, element));
      } else problem(element, `${what} must hold only string literals.`);
    }
    return { values, lines };
  };

  let sawUses = false;
  for (const p of arg.properties) {
    const key = propertyName(sf, p);
    if (!ts.isPropertyAssignment(p)) {
      if (key === 'name' || key === 'uses' || key === 'events') problem(p, `'${key}' must be written as a literal (${key}: …).`);
      continue;
    }
    if (key === 'name') {
      if (ts.isStringLiteralLike(p.initializer)) result.name = p.initializer.text;
      else problem(p, "'name' must be a string literal.");
    } else if (key === 'uses') {
      sawUses = true;
      const { values, lines } = stringList(p.initializer, "'uses'");
      result.uses = values;
      values.forEach((v, i) => (result.usesLines[v] = lines[i]!));
    } else if (key === 'events') {
      if (!ts.isObjectLiteralExpression(p.initializer)) {
        problem(p, "'events' must be an object literal { publishes: [...], consumes: { module: [...] } }.");
        continue;
      }
      for (const e of p.initializer.properties) {
        const eventKey = propertyName(sf, e);
        if (!ts.isPropertyAssignment(e)) {
          problem(e, `'events.${eventKey}' must be written as a literal.`);
        } else if (eventKey === 'publishes') {
          const { values, lines } = stringList(e.initializer, "'events.publishes'");
          result.publishes = values;
          values.forEach((v, i) => (result.publishesLines[v] = lines[i]!));
        } else if (eventKey === 'external') {
          result.external = stringList(e.initializer, "'events.external'").values;
        } else if (eventKey === 'consumes') {
          if (!ts.isObjectLiteralExpression(e.initializer)) {
            problem(e, "'events.consumes' must be an object literal keyed by publishing module.");
            continue;
          }
          for (const c of e.initializer.properties) {
            const from = propertyName(sf, c);
            if (!ts.isPropertyAssignment(c) || from === undefined) {
              problem(c, "'events.consumes' entries must be written as module: ['EventType', …].");
              continue;
            }
            const { values, lines } = stringList(c.initializer, `'events.consumes.${from}'`);
            result.consumes[from] = values;
            result.consumesLines[from] = Object.fromEntries(values.map((v, i) => [v, lines[i]!]));
          }
        } else problem(e, `unknown key 'events.${eventKey}' (expected publishes, consumes, external).`);
      }
    }
  }
  if (result.name === undefined) problem(call, "the declaration has no 'name'.");
  else if (result.name !== folder) problem(call, `the module is named '${result.name}' but its folder is modules/${folder}; they must be equal.`);
  const unpublished = result.external.filter((type) => !result.publishes.includes(type));
  if (unpublished.length > 0) problem(call, `events.external names events it does not publish: ${unpublished.join(', ')}.`);
  if (!sawUses) problem(call, "the declaration has no 'uses' (write uses: [] for a module that uses no other).");
  return result;
}

/** Reads the declaration of every folder in `folders` (names under `root/modules`). */
export function readModuleDeclarations(root: string, folders: readonly string[]): ModuleDeclaration[] {
  return folders.map((folder) => {
    const file = `modules/${folder}/index.ts`;
    const path = join(root, file);
    if (!existsSync(path)) {
      return { folder, name: undefined, uses: [], publishes: [], external: [], consumes: {}, file, line: 1, usesLines: {}, publishesLines: {}, consumesLines: {}, problems: [`${file}:1: missing; every module has an index.ts that declares it.`] };
    }
    return parseModuleDeclaration(folder, readFileSync(path, 'utf8'), file);
  });
}

/**
 * The cycles of the "uses" graph (each as the module names along it, first repeated at the end),
 * found by depth-first search; empty when the declared dependencies are acyclic.
 */
export function usesCycles(declarations: readonly Pick<ModuleDeclaration, 'folder' | 'uses'>[]): string[][] {
  const edges = new Map(declarations.map((d) => [d.folder, d.uses]));
  const state = new Map<string, 'active' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const visit = (node: string) => {
    state.set(node, 'active');
    stack.push(node);
    for (const next of edges.get(node) ?? []) {
      if (!edges.has(next)) continue;
      if (state.get(next) === 'active') {
        const cycle = [...stack.slice(stack.indexOf(next)), next];
        const key = [...cycle.slice(0, -1)].sort().join(',');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push(cycle);
        }
      } else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const d of declarations) if (!state.has(d.folder)) visit(d.folder);
  return cycles;
}
