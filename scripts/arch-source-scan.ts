/**
 * What lint:arch needs from a source file beyond its import graph, read with TypeScript's own
 * parser (no type checking): where each import specifier is written (dependency-cruiser reports
 * no line numbers), references that dependency-cruiser does not see (`vi.mock('…')`,
 * `createRequire(…)('…')`, `new URL('…', import.meta.url)`, `import.meta.resolve('…')`), imports it
 * cannot follow (`import(expr)`, `require(expr)`), the string literals that look like SQL, the
 * `pgSchema('…')` calls, and what a gateway.ts re-exports.
 */
import ts from 'typescript';

/** How a path was referenced. */
export type ReferenceKind =
  | 'import'
  | 'import type'
  | 'export … from'
  | 'export type … from'
  | 'import()'
  | 'require()'
  | "import('…') type"
  | 'import = require()'
  | 'vi.mock()'
  | 'createRequire()'
  | 'new URL(…, import.meta.url)'
  | 'import.meta.resolve()';

/** A path written in the source, with the 1-based line it is written on. */
export interface SourceReference {
  specifier: string;
  line: number;
  kind: ReferenceKind;
  /** True for references dependency-cruiser does not see (checked by lint:arch itself). */
  hidden: boolean;
  /** The call written, for hidden references (e.g. `vi.importActual`). */
  via?: string;
}

/** A reference whose target cannot be known without running the code. */
export interface UncheckableReference {
  line: number;
  /** What was written, e.g. "import(`../orders/${name}.ts`)". */
  code: string;
}

/** A string or template literal text (template parts separately), with its line. */
export interface StringText {
  text: string;
  line: number;
  /** Inside a sql`…` template or an argument of .execute/.unsafe/.query/.raw/.exec. */
  sqlContext: boolean;
}

/** What a gateway.ts exports that it took from another file. */
export interface GatewayExport {
  /** The file the exported thing comes from, as written in the import or export. */
  specifier: string;
  line: number;
  /** What was written, e.g. `export * from './service.ts'` or `export type { Foo }`. */
  code: string;
}

/** Everything {@link scanSource} found in one file. */
export interface SourceScan {
  references: SourceReference[];
  uncheckable: UncheckableReference[];
  strings: StringText[];
  /** `pgSchema('<name>')` calls with a literal name. */
  pgSchemas: { name: string; line: number }[];
  /** Filled only when `opts.gateway` is set. */
  gatewayExports: GatewayExport[];
}

const VI_PATH_CALLS = new Set(['mock', 'doMock', 'unmock', 'doUnmock', 'importActual', 'importMock']);
const SQL_CALLS = new Set(['execute', 'unsafe', 'query', 'raw', 'exec']);

const literalText = (node: ts.Node | undefined): string | undefined =>
  node && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) ? node.text : undefined;

const isImportMetaUrl = (node: ts.Node | undefined) =>
  !!node && ts.isPropertyAccessExpression(node) && ts.isMetaProperty(node.expression) && node.expression.name.text === 'meta' && node.name.text === 'url';

function scriptKind(file: string): ts.ScriptKind {
  if (/\.tsx$/.test(file)) return ts.ScriptKind.TSX;
  if (/\.[cm]?js$/.test(file)) return ts.ScriptKind.JS;
  return ts.ScriptKind.TS;
}

/**
 * Scans one file's text. Never throws on odd code: TypeScript's parser recovers from syntax
 * errors, and what it cannot read is simply not reported here (dependency-cruiser parses the same
 * file and the type check fails on it).
 * @param file repository-relative path (used for the script kind and nothing else)
 * @param opts.gateway also collect {@link SourceScan.gatewayExports} (exports of names imported
 *   from, and re-exports of, relative paths other than './gateway.ts')
 */
export function scanSource(file: string, text: string, opts: { gateway?: boolean } = {}): SourceScan {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2024, false, scriptKind(file));
  const lineOf = (node: ts.Node) => sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
  const scan: SourceScan = { references: [], uncheckable: [], strings: [], pgSchemas: [], gatewayExports: [] };
  const ref = (node: ts.Node, specifier: string, kind: ReferenceKind, hidden = false, via?: string) =>
    scan.references.push({ specifier, line: lineOf(node), kind, hidden, ...(via ? { via } : {}) });
  const uncheckable = (node: ts.Node) => scan.uncheckable.push({ line: lineOf(node), code: node.getText(sf).replace(/\s+/g, ' ').slice(0, 120) });

  /** Local names bound to a require function made by createRequire (plus `require` itself). */
  const requireNames = new Set(['require']);
  /** gateway.ts: local name -> specifier of the internal file it was imported from. */
  const importedFrom = new Map<string, string>();
  const isInternalSpecifier = (s: string) => s.startsWith('.') && !/^\.\/gateway(\.[cm]?[jt]s)?$/.test(s);

  const visit = (node: ts.Node, sql: boolean): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) {
      const spec = literalText(node.moduleSpecifier);
      if (spec !== undefined) {
        const typeOnly = ts.isImportDeclaration(node) ? !!node.importClause?.isTypeOnly : node.isTypeOnly;
        ref(node.moduleSpecifier!, spec, ts.isImportDeclaration(node) ? (typeOnly ? 'import type' : 'import') : typeOnly ? 'export type … from' : 'export … from');
        if (opts.gateway && isInternalSpecifier(spec)) {
          if (ts.isExportDeclaration(node)) {
            scan.gatewayExports.push({ specifier: spec, line: lineOf(node), code: node.getText(sf).replace(/\s+/g, ' ') });
          } else {
            const clause = node.importClause;
            if (clause?.name) importedFrom.set(clause.name.text, spec);
            const bindings = clause?.namedBindings;
            if (bindings && ts.isNamespaceImport(bindings)) importedFrom.set(bindings.name.text, spec);
            if (bindings && ts.isNamedImports(bindings)) for (const el of bindings.elements) importedFrom.set(el.name.text, spec);
          }
        }
      }
      if (ts.isImportDeclaration(node)) return; // nothing else to see in an import
    } else if (
      ts.isVariableDeclaration(node) &&
      ts.isIdentifier(node.name) &&
      node.initializer &&
      ts.isCallExpression(node.initializer) &&
      ts.isIdentifier(node.initializer.expression) &&
      node.initializer.expression.text === 'createRequire'
    ) {
      // const req = createRequire(import.meta.url): req('…') is a require.
      requireNames.add(node.name.text);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      const spec = literalText(node.moduleReference.expression);
      if (spec !== undefined) ref(node.moduleReference.expression, spec, 'import = require()');
    } else if (ts.isImportTypeNode(node)) {
      const arg = node.argument;
      const spec = ts.isLiteralTypeNode(arg) ? literalText(arg.literal) : undefined;
      if (spec !== undefined) ref(arg, spec, "import('…') type");
    } else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const first = node.arguments[0];
      const spec = literalText(first);
      if (callee.kind === ts.SyntaxKind.ImportKeyword) {
        if (spec !== undefined) ref(first!, spec, 'import()');
        else uncheckable(node);
      } else if (ts.isIdentifier(callee) && requireNames.has(callee.text)) {
        if (spec !== undefined) ref(first!, spec, callee.text === 'require' ? 'require()' : 'createRequire()', callee.text !== 'require', callee.text);
        else uncheckable(node);
      } else if (
        ts.isPropertyAccessExpression(callee) &&
        ts.isIdentifier(callee.expression) &&
        callee.expression.text === 'vi' &&
        VI_PATH_CALLS.has(callee.name.text)
      ) {
        if (spec !== undefined) ref(first!, spec, 'vi.mock()', true, `vi.${callee.name.text}`);
        else if (first) uncheckable(node);
      } else if (ts.isPropertyAccessExpression(callee) && ts.isMetaProperty(callee.expression) && callee.name.text === 'resolve') {
        if (spec !== undefined) ref(first!, spec, 'import.meta.resolve()', true);
        else uncheckable(node);
      } else if (ts.isIdentifier(callee) && callee.text === 'pgSchema' && spec !== undefined) {
        scan.pgSchemas.push({ name: spec, line: lineOf(node) });
      } else if (ts.isPropertyAccessExpression(callee) && callee.name.text === 'pgSchema' && spec !== undefined) {
        scan.pgSchemas.push({ name: spec, line: lineOf(node) });
      }
      if (ts.isPropertyAccessExpression(callee) && SQL_CALLS.has(callee.name.text)) {
        visit(callee, sql);
        for (const a of node.arguments) visit(a, true);
        return;
      }
    } else if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'URL' && isImportMetaUrl(node.arguments?.[1])) {
      const spec = literalText(node.arguments?.[0]);
      if (spec !== undefined) ref(node.arguments![0]!, spec, 'new URL(…, import.meta.url)', true);
    } else if (ts.isTaggedTemplateExpression(node)) {
      const tag = node.tag.getText(sf);
      visit(node.tag, sql);
      visit(node.template, sql || /(^|\.)sql$/.test(tag));
      return;
    } else if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) {
      scan.strings.push({ text: node.text, line: lineOf(node), sqlContext: sql });
    }
    ts.forEachChild(node, (child) => visit(child, sql));
  };

  const hasExport = (node: ts.Node) => ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
  /** The internal specifier an expression or type aliases, when it is exactly an imported name. */
  const aliasOf = (node: ts.Node | undefined): string | undefined => {
    if (!node) return undefined;
    if (ts.isIdentifier(node)) return importedFrom.get(node.text);
    if (ts.isPropertyAccessExpression(node)) return aliasOf(node.expression);
    if (ts.isQualifiedName(node)) return aliasOf(node.left);
    if (ts.isTypeReferenceNode(node)) return aliasOf(node.typeName);
    if (ts.isTypeQueryNode(node)) return aliasOf(node.exprName);
    if (ts.isAsExpression(node) || ts.isSatisfiesExpression(node) || ts.isParenthesizedExpression(node)) return aliasOf(node.expression);
    return undefined;
  };
  const gatewayExportOf = (node: ts.Node) => {
    const found = (specifier: string | undefined) => {
      if (specifier !== undefined) scan.gatewayExports.push({ specifier, line: lineOf(node), code: node.getText(sf).replace(/\s+/g, ' ').slice(0, 120) });
    };
    if (ts.isExportDeclaration(node) && !node.moduleSpecifier && node.exportClause && ts.isNamedExports(node.exportClause)) {
      for (const el of node.exportClause.elements) found(importedFrom.get((el.propertyName ?? el.name).getText(sf)));
    } else if (ts.isExportAssignment(node)) {
      found(aliasOf(node.expression));
    } else if (ts.isTypeAliasDeclaration(node) && hasExport(node)) {
      found(aliasOf(node.type));
    } else if (ts.isVariableStatement(node) && hasExport(node)) {
      for (const d of node.declarationList.declarations) found(aliasOf(d.initializer));
    }
  };

  visit(sf, false);
  // After the whole file: imports are hoisted, so an export may come before its import.
  if (opts.gateway && importedFrom.size > 0) {
    const walk = (node: ts.Node): void => {
      gatewayExportOf(node);
      ts.forEachChild(node, walk);
    };
    walk(sf);
  }
  return scan;
}
