// Module boundaries of the modular monolith, checked by `npm run lint:arch` (scripts/lint-arch.ts).
//
// The rules are generic over modules/*: `$1` in a `to` pattern is the module name captured by the
// rule's `from` pattern, so a new module needs no edit here. Every import kind counts: static
// imports, `import type` (tsPreCompilationDeps), dynamic `import()`, `export … from`, `require`,
// JSDoc `@type {import('…')}` (detectJSDocImports), and files in subfolders of a module. Every
// folder of the repository with code is cruised (lint:arch fails when a file is not), so code
// outside src/, modules/ and shared/ (test/, scripts/, a lib/, a root file) is held to the rules
// for tests and scripts. lint:arch refuses to run when one of these rules is missing or not at
// severity 'error' (REQUIRED_RULES in scripts/arch-cruise.ts); it checks the declared module graph,
// table ownership and gateway re-exports itself (scripts/arch-checks.ts). See docs/architecture.md for the why and the how.

/** A test file: it may import test/support and src/app.ts (the composition root). */
const TEST_FILE = '\\.test\\.[cm]?[jt]sx?$';
/** Our own code: everything cruised but installed packages. */
const OWN_CODE = { pathNot: '(^|/)node_modules/' };
/** A file of ours outside the application (src/, modules/, shared/): tests, scripts, a lib/, a root file. */
const OUTSIDE_APP = '^(src|modules|shared)/';
/** What a `to` matches when it is one of our files (not a package, not a Node.js built-in). */
const OWN_FILE = { pathNot: ['(^|/)node_modules/'], dependencyTypesNot: ['core', 'npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-bundled', 'npm-no-pkg', 'npm-unknown'] };

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'module-internals-are-private',
      severity: 'error',
      comment:
        "A module may only use another module through its gateway. Import modules/<other>/gateway.ts " +
        "(and call the gateway the other module decorates on the Fastify instance), or, when the other " +
        "module only has to react to something that happened here, publish a domain event instead of calling it. " +
        "If the gateway lacks what you need, add it to that module's gateway.ts.",
      from: { path: '^modules/([^/]+)/' },
      to: { path: '^modules/', pathNot: ['^modules/$1/', '^modules/[^/]+/gateway\\.ts$'] },
    },
    {
      // Folder scope: modules/<x> as a whole. lint:arch checks it over the non-test files of modules/
      // only: every module's test reaches src/app.ts, which reaches every module, so a bare
      // `depcruise` over all folders would also report those test paths as cycles.
      name: 'no-module-cycle',
      severity: 'error',
      scope: 'folder',
      comment:
        'These modules depend on each other (through their gateways or otherwise). Pick the direction that ' +
        'matches the business (e.g. orders -> payments) and turn the other into a domain event the first module ' +
        'publishes, or a callback it registers through the other gateway (see restaurant.registerReferenceCheck).',
      from: { path: '^modules/([^/]+)$' },
      to: { path: '^modules/[^/]+', pathNot: '^modules/$1(/|$)', circular: true },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'These files import each other in a cycle. Move what both need into a third file (inside a module: a ' +
        'new internal file; between modules: the gateway of the module that owns it), or invert one import.',
      from: OWN_CODE,
      to: { circular: true },
    },
    {
      name: 'shared-kernel-not-to-modules',
      severity: 'error',
      comment:
        'The shared kernel (shared/) knows no module. Move the code that needs a module into that module, or ' +
        'have the module register it with the kernel (a Fastify decorator, a hook, a callback).',
      from: { path: '^shared/' },
      to: { path: '^modules/' },
    },
    {
      name: 'shared-kernel-not-to-app',
      severity: 'error',
      comment:
        'The shared kernel (shared/) does not import the composition root (src/), test helpers or scripts. ' +
        'Pass what it needs in as a parameter or plugin option from src/app.ts.',
      from: { path: '^shared/', pathNot: TEST_FILE },
      to: { ...OWN_FILE, pathNot: [...OWN_FILE.pathNot, '^(shared|modules)/'] },
    },
    {
      name: 'module-not-to-app',
      severity: 'error',
      comment:
        'A module does not import the composition root (src/), test helpers (test/) or scripts. Take what you ' +
        'need from the Fastify instance (decorators) or the shared kernel (shared/), or get it as a plugin option ' +
        'passed by src/app.ts.',
      from: { path: '^modules/', pathNot: TEST_FILE },
      to: { ...OWN_FILE, pathNot: [...OWN_FILE.pathNot, '^(modules|shared)/'] },
    },
    {
      name: 'tests-use-app-not-src-internals',
      severity: 'error',
      comment:
        'A test outside src/ builds the API through test/support/test-app.ts (startTestApp) or src/app.ts ' +
        '(buildApp), or the kernel alone through src/kernel.ts (buildKernel, for module host tests); the other ' +
        'files of src/ are internals of the composition root.',
      from: { path: '^(modules|shared)/.+\\.test\\.[cm]?[jt]sx?$' },
      to: { path: '^src/', pathNot: '^src/(app|kernel)\\.ts$' },
    },
    {
      name: 'src-through-module-index',
      severity: 'error',
      comment:
        'The composition root (src/) reaches a module only through its plugin, modules/<name>/index.ts: ' +
        'register it in src/app.ts. If src/ needs a type or option of the module, export it from index.ts.',
      from: { path: '^src/' },
      to: { path: '^modules/', pathNot: '^modules/[^/]+/index\\.ts$' },
    },
    {
      name: 'module-index-only-from-composition-root',
      severity: 'error',
      comment:
        "A module's index.ts (its Fastify plugin) is registered by the composition roots only: src/app.ts (the whole API) and " +
        "src/service-app.ts (a module run as its own service). Elsewhere, import the module's gateway.ts, or build the whole app with test/support/test-app.ts.",
      from: { pathNot: ['^src/(app|service-app)\\.ts$', '^modules/', '^shared/'] },
      to: { path: '^modules/[^/]+/index\\.ts$' },
    },
    {
      name: 'tests-and-scripts-through-gateways',
      severity: 'error',
      comment:
        'Test helpers (test/), scripts and any other code outside src/, modules/ and shared/ (a lib/, a root file) drive the ' +
        "API over HTTP or build it with src/app.ts; when they need a type or a call of a module, they take it from that module's gateway.ts.",
      from: { pathNot: OUTSIDE_APP },
      to: { path: '^modules/', pathNot: '^modules/[^/]+/(gateway|index)\\.ts$' },
    },
    {
      name: 'src-not-to-test-code',
      severity: 'error',
      comment: 'Production code in src/ does not import test helpers (test/), scripts (scripts/) or other code outside src/, modules/ and shared/.',
      from: { path: '^src/', pathNot: TEST_FILE },
      to: { ...OWN_FILE, pathNot: [...OWN_FILE.pathNot, '^(src|modules|shared)/'] },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      comment:
        'This import does not resolve to a file or an installed package, so no boundary rule can check it. ' +
        'Fix the path (relative imports carry their .ts extension) or install the package.',
      from: OWN_CODE,
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // TypeScript's own parser, and dependencies that exist only before compilation (`import type`,
    // type-only `export … from`, `import('…').T`) count like any other.
    parser: 'tsc',
    tsPreCompilationDeps: true,
    // `/** @type {import('../modules/x/service.ts').T} */` in .js and .ts files is an import too.
    detectJSDocImports: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['es6', 'cjs', 'tsd'],
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['(^|/)node_modules/', '^\\.tmp/', '^coverage/', '^dist/'] },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'types', 'default'],
      mainFields: ['module', 'main', 'types', 'typings'],
      extensions: ['.ts', '.d.ts', '.mts', '.cts', '.tsx', '.js', '.mjs', '.cjs', '.json'],
    },
    skipAnalysisNotInRules: true,
    baseline: {
      // A baseline entry whose violation is gone fails the check: the baseline only shrinks.
      staleEntriesSeverity: 'error',
    },
  },
};
