/**
 * The checks of lint:arch that dependency-cruiser's rules cannot express: the declared module
 * graph (`defineModule({ uses, events })` in each index.ts, see shared/module.ts) against the
 * gateway imports, table ownership (raw SQL and `pgSchema` naming another module's PostgreSQL
 * schema), what a gateway.ts re-exports, references dependency-cruiser does not see (`vi.mock`,
 * `createRequire`, `new URL(…, import.meta.url)`) or cannot follow (`import(expr)`), and the shape
 * of each module folder. Each finding is a dependency-cruiser violation (so the known-violations
 * baseline works for them too) with a `file:line` location.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, sep } from 'node:path';
import type { ICruiseResult, IViolation, SeverityType } from 'dependency-cruiser';
import { readModuleDeclarations, usesCycles, type ModuleDeclaration } from './module-declarations.ts';
import { scanSource, type SourceScan } from './arch-source-scan.ts';

/** Kebab-case module name (the same pattern as shared/module.ts's MODULE_NAME). */
const MODULE_NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

/** A violation with where to look: `file:line`, and a sentence when from → to says too little. */
export interface Finding extends IViolation {
  /** `path:line` of the offending code (not part of the violation's identity in the baseline). */
  location?: string;
  /** Human explanation printed instead of `from → to` (not part of the identity either). */
  message?: string;
}

/** The rules lint:arch checks itself, with what to do about each. */
export const CUSTOM_RULES: Record<string, { severity: SeverityType; comment: string }> = {
  'module-folder-shape': {
    severity: 'error',
    comment:
      'Each folder of modules/ is one module: a kebab-case name, an index.ts declaring it with defineModule, a gateway.ts, ' +
      'and an import of its index.ts in src/app.ts (the composition root). Code outside a module folder does not live in modules/.',
  },
  'module-declaration-readable': {
    severity: 'error',
    comment:
      "Write the module's declaration as `export default defineModule({ name: '<folder>', uses: ['other', …], events: { publishes: […], consumes: { module: […] } }, setup })` " +
      'with literals only, naming existing modules, so lint:arch and arch:graph can read it without running the code (shared/module.ts).',
  },
  'declared-uses': {
    severity: 'error',
    comment:
      "A module imports another module's gateway.ts only if it declares that module in `uses` (index.ts), or consumes its events " +
      '(`events.consumes` keyed by that module) and imports the gateway for their types. Add the module to `uses` (and pass its ' +
      'gateway in src/app.ts), or stop depending on it (e.g. react to its events).',
  },
  'unused-uses': {
    severity: 'warn',
    comment: "This module declares a module in `uses` whose gateway.ts none of its files imports. Remove it from `uses` if it is not needed.",
  },
  'no-uses-cycle': {
    severity: 'error',
    comment:
      'The declared `uses` of these modules form a cycle, so they cannot be started in any order. Keep the business direction and ' +
      'turn the other dependency into a domain event or a callback registered through the gateway.',
  },
  'module-tables-are-private': {
    severity: 'error',
    comment:
      "A module's tables live in its own PostgreSQL schema and only that module queries them. Ask the owner through its gateway, " +
      'or keep a copy of what you need up to date from its domain events.',
  },
  'pg-schema-in-owner-module': {
    severity: 'error',
    comment:
      "pgSchema('<name>') declares a PostgreSQL schema; each schema is declared once, in the module that owns it (named after the " +
      'module folder), or in shared/ for the kernel. Use the owner\'s gateway instead of its tables.',
  },
  'gateway-exports-own-contract': {
    severity: 'error',
    comment:
      "A gateway.ts is the module's public contract: it declares its types itself instead of re-exporting (or exporting names imported " +
      'from) the internal files of the module, which would make those internals public. Move the type into gateway.ts and let the ' +
      'internal file import it from there.',
  },
  'no-hidden-module-reference': {
    severity: 'error',
    comment:
      "vi.mock/vi.importActual/…, createRequire()/require(), import.meta.resolve() and new URL('…', import.meta.url) reach a file like an " +
      "import does: outside a module they may only name its gateway.ts. Test through the module's gateway or the HTTP API.",
  },
  'no-uncheckable-import': {
    severity: 'error',
    comment:
      'An import()/require()/vi.mock() whose path is computed cannot be checked by any rule. Write the path as a string literal ' +
      '(one per case, e.g. a switch), or import the module statically.',
  },
};

/** Everything the checks read: the cruised files, dependency-cruiser's file-level result. */
export interface CheckInput {
  root: string;
  /** Repository-relative POSIX paths of every cruised file. */
  files: readonly string[];
  cruise: ICruiseResult;
}

/** The findings, plus per-file scans for locating dependency-cruiser's own violations. */
export interface CheckResult {
  findings: Finding[];
  /** Locates a violation reported by dependency-cruiser (adds `location` in place). */
  locate(v: IViolation): string | undefined;
  declarations: ModuleDeclaration[];
}

const moduleOf = (path: string) => /^modules\/([^/]+)\//.exec(path)?.[1];
const isTest = (path: string) => /\.test\.[cm]?[jt]sx?$/.test(path);
const snake = (name: string) => name.replaceAll('-', '_');

/** Resolves a relative specifier written in `from` to a repository path (POSIX), or undefined. */
function resolveRelative(root: string, from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const target = normalize(join(dirname(from), specifier.split(/[?#]/)[0]!)).split(sep).join('/');
  if (target.startsWith('..')) return undefined;
  for (const candidate of [target, `${target}.ts`, `${target}/index.ts`]) if (existsSync(join(root, candidate))) return candidate;
  return target;
}

/**
 * Runs every check of {@link CUSTOM_RULES} over the cruised files.
 * Reads the files from disk; never throws for problems in the code (they become findings).
 */
export function runArchChecks({ root, files, cruise }: CheckInput): CheckResult {
  const findings: Finding[] = [];
  const add = (rule: string, from: string, to: string, location: string, message: string, extra: Partial<IViolation> = {}) => {
    const r = CUSTOM_RULES[rule]!;
    findings.push({ type: 'module', rule: { name: rule, severity: r.severity }, from, to, location, message, ...extra });
  };

  // Scans, read once. Every file: references and uncheckable imports. Strings only matter where
  // SQL is checked (modules, shared, src), gateway exports only in gateway.ts.
  const scans = new Map<string, SourceScan>();
  const texts = new Map<string, string>();
  for (const file of files) {
    const text = readFileSync(join(root, file), 'utf8');
    texts.set(file, text);
    scans.set(file, scanSource(file, text, { gateway: /^modules\/[^/]+\/gateway\.ts$/.test(file) }));
  }

  // dependency-cruiser's resolution of each specifier, by file.
  const resolved = new Map<string, Map<string, string>>();
  for (const m of cruise.modules) resolved.set(m.source, new Map(m.dependencies.map((d) => [d.module, d.resolved])));
  const resolve = (from: string, specifier: string) => resolved.get(from)?.get(specifier) ?? resolveRelative(root, from, specifier);

  // ── Module folders ──────────────────────────────────────────────────────────────────────────
  const entries = existsSync(join(root, 'modules')) ? readdirSync(join(root, 'modules'), { withFileTypes: true }) : [];
  const folders = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  for (const e of entries) {
    if (!e.isDirectory() && /\.([cm]?[jt]sx?)$/.test(e.name)) {
      add('module-folder-shape', `modules/${e.name}`, 'modules', `modules/${e.name}:1`, `modules/${e.name}:1: not inside a module folder (modules/<name>/).`);
    }
  }
  const appImports = new Set(cruise.modules.find((m) => m.source === 'src/app.ts')?.dependencies.map((d) => d.resolved) ?? []);
  for (const folder of folders) {
    const at = `modules/${folder}`;
    if (!MODULE_NAME.test(folder)) add('module-folder-shape', at, 'kebab-case', `${at}/:1`, `${at}/: '${folder}' is not a kebab-case module name (${MODULE_NAME}).`);
    if (!existsSync(join(root, at, 'index.ts'))) add('module-folder-shape', at, 'index.ts', `${at}/:1`, `${at}/: no index.ts (the module's declaration, defineModule).`);
    else if (!appImports.has(`${at}/index.ts`)) {
      add('module-folder-shape', at, 'src/app.ts', `${at}/index.ts:1`, `${at}/index.ts:1: not imported by src/app.ts: the module is never registered.`);
    }
    if (!existsSync(join(root, at, 'gateway.ts'))) add('module-folder-shape', at, 'gateway.ts', `${at}/:1`, `${at}/: no gateway.ts (the module's public contract).`);
  }

  // ── Declarations and the declared graph ─────────────────────────────────────────────────────
  const declared = folders.filter((f) => existsSync(join(root, 'modules', f, 'index.ts')));
  const declarations = readModuleDeclarations(root, declared);
  const byFolder = new Map(declarations.map((d) => [d.folder, d]));
  const known = new Set(folders);
  for (const d of declarations) {
    for (const problem of d.problems) {
      const [, location = `${d.file}:${d.line}`, text = problem] = /^(\S+?:\d+): (.*)$/s.exec(problem) ?? [];
      add('module-declaration-readable', d.file, text, location, `${location}: ${text}`);
    }
    for (const used of d.uses) {
      const at = `${d.file}:${d.usesLines[used] ?? d.line}`;
      if (!known.has(used)) add('module-declaration-readable', d.file, `uses:${used}`, at, `${at}: uses names '${used}', which is not a module (no folder modules/${used}/).`);
    }
    for (const publisher of Object.keys(d.consumes)) {
      if (!known.has(publisher)) add('module-declaration-readable', d.file, `consumes:${publisher}`, `${d.file}:${d.line}`, `${d.file}:${d.line}: events.consumes names '${publisher}', which is not a module (no folder modules/${publisher}/).`);
    }
  }
  for (const cycle of usesCycles(declarations)) {
    const first = byFolder.get(cycle[0]!)!;
    add('no-uses-cycle', `modules/${cycle[0]}`, `modules/${cycle[1]}`, `${first.file}:${first.usesLines[cycle[1]!] ?? first.line}`, `${first.file}:${first.usesLines[cycle[1]!] ?? first.line}: the declared uses form a cycle: ${cycle.join(' → ')}`, {
      type: 'cycle',
      cycle: cycle.slice(1).map((name) => ({ name: `modules/${name}`, dependencyTypes: [] })),
    });
  }

  // Gateway references of each module: what dependency-cruiser resolved, plus hidden references.
  const gatewayRefs = new Map<string, Map<string, { file: string; line: number; specifier: string; kind: string }>>();
  for (const file of files) {
    const owner = moduleOf(file);
    const scan = scans.get(file)!;
    for (const r of scan.references) {
      const target = resolve(file, r.specifier);
      if (!target) continue;
      const targetModule = moduleOf(target);
      // Hidden references into another module: only its gateway.ts (and src/app.ts → index.ts).
      if (r.hidden && targetModule && targetModule !== owner) {
        const internal = target !== `modules/${targetModule}/gateway.ts` && !(file === 'src/app.ts' && target === `modules/${targetModule}/index.ts`);
        if (internal) {
          add('no-hidden-module-reference', file, target, `${file}:${r.line}`, `${file}:${r.line} → ${target}   [${r.via ?? r.kind}] (written as '${r.specifier}')`, {
            type: 'dependency',
            unresolvedTo: r.specifier,
          });
        }
      }
      if (owner && targetModule && targetModule !== owner && target === `modules/${targetModule}/gateway.ts`) {
        const refs = gatewayRefs.get(owner) ?? new Map();
        if (!refs.has(targetModule)) refs.set(targetModule, { file, line: r.line, specifier: r.specifier, kind: r.via ?? r.kind });
        gatewayRefs.set(owner, refs);
        const d = byFolder.get(owner);
        if (d && !d.uses.includes(targetModule) && !(targetModule in d.consumes)) {
          add('declared-uses', file, target, `${file}:${r.line}`, `${file}:${r.line} → ${target}   [${r.via ?? r.kind}], but ${d.file} does not declare '${targetModule}' in uses (nor consumes its events)`, {
            type: 'dependency',
            unresolvedTo: r.specifier,
          });
        }
      }
    }
    // JSDoc imports (`@type {import('…')}`) are seen by dependency-cruiser only: count them here.
    if (owner) {
      for (const dep of cruise.modules.find((m) => m.source === file)?.dependencies ?? []) {
        const targetModule = moduleOf(dep.resolved);
        if (!targetModule || targetModule === owner || dep.resolved !== `modules/${targetModule}/gateway.ts`) continue;
        if (scan.references.some((r) => r.specifier === dep.module)) continue;
        const line = lineOfText(texts.get(file)!, dep.module);
        const refs = gatewayRefs.get(owner) ?? new Map();
        if (!refs.has(targetModule)) refs.set(targetModule, { file, line, specifier: dep.module, kind: 'jsdoc' });
        gatewayRefs.set(owner, refs);
        const d = byFolder.get(owner);
        if (d && !d.uses.includes(targetModule) && !(targetModule in d.consumes)) {
          add('declared-uses', file, dep.resolved, `${file}:${line}`, `${file}:${line} → ${dep.resolved}   [JSDoc import], but ${d.file} does not declare '${targetModule}' in uses (nor consumes its events)`, {
            type: 'dependency',
            unresolvedTo: dep.module,
          });
        }
      }
    }
    for (const u of scan.uncheckable) {
      add('no-uncheckable-import', file, u.code, `${file}:${u.line}`, `${file}:${u.line}: ${u.code}`);
    }
  }
  for (const d of declarations) {
    for (const used of d.uses) {
      if (known.has(used) && !gatewayRefs.get(d.folder)?.has(used)) {
        add('unused-uses', d.file, `modules/${used}/gateway.ts`, `${d.file}:${d.usesLines[used] ?? d.line}`, `${d.file}:${d.usesLines[used] ?? d.line}: uses '${used}', but no file of modules/${d.folder}/ imports modules/${used}/gateway.ts`);
      }
    }
  }

  // ── Table ownership ─────────────────────────────────────────────────────────────────────────
  // Owner of each schema name: a module (its folder name, or snake_case of it, or a pgSchema
  // declared in its folder) or the kernel (pgSchema in shared/).
  const KERNEL = 'shared';
  const owners = new Map<string, string>();
  for (const folder of folders) {
    owners.set(folder.toLowerCase(), folder);
    owners.set(snake(folder).toLowerCase(), folder);
  }
  for (const file of files) {
    const owner = moduleOf(file) ?? (file.startsWith('shared/') ? KERNEL : undefined);
    if (!owner || isTest(file)) continue;
    for (const s of scans.get(file)!.pgSchemas) if (!owners.has(s.name.toLowerCase())) owners.set(s.name.toLowerCase(), owner);
  }
  const ownerLabel = (o: string) => (o === KERNEL ? 'the shared kernel (shared/)' : `module ${o}`);
  for (const file of files) {
    const owner = moduleOf(file) ?? (file.startsWith('shared/') ? KERNEL : file.startsWith('src/') && !isTest(file) ? 'src' : undefined);
    const scan = scans.get(file)!;
    for (const s of scan.pgSchemas) {
      const schemaOwner = owners.get(s.name.toLowerCase());
      if (schemaOwner && schemaOwner !== owner) {
        add('pg-schema-in-owner-module', file, `schema:${s.name}`, `${file}:${s.line}`, `${file}:${s.line}: pgSchema('${s.name}') declares the schema of ${ownerLabel(schemaOwner)}`);
      }
    }
    if (!owner) continue; // tests and scripts may read any table (they check the whole database)
    const foreign = [...new Set(owners.values())].filter((o) => o !== owner);
    if (foreign.length === 0) continue;
    const names = [...owners].filter(([, o]) => o !== owner).map(([name]) => escapeRegExp(name));
    const reference = new RegExp(`(?<![\\w.$"])"?(${names.join('|')})"?\\s*\\.\\s*"?([a-z_][\\w$]*)"?`, 'gi');
    for (const s of scan.strings) {
      if (!s.sqlContext && !SQL_WORDS.test(s.text)) continue;
      for (const m of s.text.matchAll(reference)) {
        const schemaOwner = owners.get(m[1]!.toLowerCase())!;
        add('module-tables-are-private', file, `${m[1]!.toLowerCase()}.${m[2]}`, `${file}:${s.line}`, `${file}:${s.line}: SQL names ${m[0]}, a table of ${ownerLabel(schemaOwner)}`);
      }
    }
  }

  // ── Gateways re-exporting internals ─────────────────────────────────────────────────────────
  for (const file of files) {
    const owner = moduleOf(file);
    if (!owner || file !== `modules/${owner}/gateway.ts`) continue;
    for (const e of scans.get(file)!.gatewayExports) {
      const target = resolve(file, e.specifier) ?? e.specifier;
      if (moduleOf(target) !== owner || target === file) continue;
      add('gateway-exports-own-contract', file, target, `${file}:${e.line}`, `${file}:${e.line}: ${e.code}   (exports from ${target})`, { type: 'dependency', unresolvedTo: e.specifier });
    }
  }

  const locate = (v: IViolation): string | undefined => {
    if (/^modules\/[^/]+$/.test(v.from)) {
      // A module cycle: the first import from this module into the next one in the cycle.
      const next = v.cycle?.[0]?.name ?? v.to;
      for (const file of files) {
        if (!file.startsWith(`${v.from}/`) || isTest(file)) continue;
        for (const dep of cruise.modules.find((m) => m.source === file)?.dependencies ?? []) {
          if (dep.resolved.startsWith(`${next}/`)) return `${file}:${lineOfReference(file, dep.module)}`;
        }
      }
      return undefined;
    }
    const text = texts.get(v.from);
    if (text === undefined) return undefined;
    const target = v.cycle?.[0]?.name ?? v.to;
    let specifier = v.cycle?.length ? undefined : v.unresolvedTo;
    if (specifier === undefined) specifier = cruise.modules.find((m) => m.source === v.from)?.dependencies.find((d) => d.resolved === target)?.module;
    if (specifier === undefined) return `${v.from}:1`;
    return `${v.from}:${lineOfReference(v.from, specifier)}`;
  };
  const lineOfReference = (file: string, specifier: string) =>
    scans.get(file)?.references.find((r) => r.specifier === specifier)?.line ?? lineOfText(texts.get(file) ?? '', specifier);

  return { findings, locate, declarations };
}

/** Words that make a string literal outside a sql`…` template look like SQL. */
const SQL_WORDS = /\b(select|insert\s+into|update|delete\s+from|from|join|references|truncate|alter\s+table|create\s+(table|view|index)|drop\s+table|grant|call)\b/i;

/** `text` with every regular-expression syntax character escaped (names go into patterns literally). */
export const escapeRegExp = (text: string) => text.replace(/[\\^$.*+?()[\]{}|\/-]/g, '\\$&');

/** 1-based line of the first quoted occurrence of `specifier` in `text` (1 when absent). */
function lineOfText(text: string, specifier: string): number {
  for (const quote of ["'", '"', '`']) {
    const at = text.indexOf(`${quote}${specifier}${quote}`);
    if (at >= 0) return text.slice(0, at).split('\n').length;
  }
  return 1;
}
