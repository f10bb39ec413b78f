import { describe, expect, it } from 'vitest';
import { escapeRegExp } from './arch-checks.ts';
import { scanSource } from './arch-source-scan.ts';

describe('scanSource (what lint:arch reads from a file besides its import graph)', () => {
  it('finds every kind of reference with its line, marking those dependency-cruiser does not see', () => {
    const scan = scanSource(
      'scripts/x.ts',
      [
        "import type { A } from './a.ts';",
        "export type { B } from './b.ts';",
        "export * from './c.ts';",
        "const d = require('./d.ts');",
        "import { createRequire } from 'node:module';",
        'const load = createRequire(import.meta.url);',
        "load('./e.ts');",
        "vi.mock('./f.ts');",
        "new URL('./g.ts', import.meta.url);",
        "import.meta.resolve('./h.ts');",
        "type T = import('./i.ts').T;",
        "new URL('https://example.com/not-a-file');",
      ].join('\n'),
    );
    expect(scan.references.map((r) => [r.specifier, r.line, r.kind, r.hidden])).toEqual([
      ['./a.ts', 1, 'import type', false],
      ['./b.ts', 2, 'export type … from', false],
      ['./c.ts', 3, 'export … from', false],
      ['./d.ts', 4, 'require()', false],
      ['node:module', 5, 'import', false],
      ['./e.ts', 7, 'createRequire()', true],
      ['./f.ts', 8, 'vi.mock()', true],
      ['./g.ts', 9, 'new URL(…, import.meta.url)', true],
      ['./h.ts', 10, 'import.meta.resolve()', true],
      ['./i.ts', 11, "import('…') type", false],
    ]);
    expect(scan.uncheckable).toEqual([]);
  });

  it('reports import(), require() and vi.mock() of a computed path', () => {
    const scan = scanSource('x.ts', "const p = 'x';\nimport(`./${p}.ts`);\nrequire(p);\nvi.doMock(p);\nimport(`./literal.ts`);\n");
    expect(scan.uncheckable.map((u) => u.line)).toEqual([2, 3, 4]);
    expect(scan.references.map((r) => r.specifier)).toEqual(['./literal.ts']);
  });

  it('marks strings in sql`…` and .execute/.unsafe arguments as SQL, and keeps the others', () => {
    const scan = scanSource('x.ts', "sql`select ${1} from a.b`;\ndb.execute('select 1');\nconst s = 'plain';\n");
    expect(scan.strings.map((s) => [s.text, s.line, s.sqlContext])).toEqual([
      ['select ', 1, true],
      [' from a.b', 1, true],
      ['select 1', 2, true],
      ['plain', 3, false],
    ]);
  });

  it('finds pgSchema calls', () => {
    expect(scanSource('x.ts', "import { pgSchema } from 'drizzle-orm/pg-core';\nexport const s = pgSchema('inventory');\n").pgSchemas).toEqual([{ name: 'inventory', line: 2 }]);
  });

  it('in a gateway, finds re-exports and exports of names imported from relative paths (lint:arch keeps those inside the module)', () => {
    const scan = scanSource(
      'modules/m/gateway.ts',
      [
        "import type { DomainEvent } from '../../shared/event-bus.ts';",
        "import type { Row } from './schema.ts';",
        "import { helper } from './service.ts';",
        "export * from './repository.ts';",
        'export type { Row };',
        'export type Alias = Row;',
        'export const help = helper;',
        'export default helper;',
        "export type Event = DomainEvent<'Event', { id: string }>;",
        'export interface Own { row: Row }',
        "export type { Other } from './gateway.ts';",
      ].join('\n'),
      { gateway: true },
    );
    expect(scan.gatewayExports.map((e) => [e.line, e.specifier])).toEqual([
      [4, './repository.ts'],
      [5, './schema.ts'],
      [6, './schema.ts'],
      [7, './service.ts'],
      [8, './service.ts'],
      [9, '../../shared/event-bus.ts'],
    ]);
  });
});

describe('escapeRegExp', () => {
  it('makes a name match only itself inside a pattern', () => {
    const pattern = new RegExp(`^(${['a.b', 'c+d', 'e$'].map(escapeRegExp).join('|')})$`);
    expect(['a.b', 'c+d', 'e$'].every((n) => pattern.test(n))).toBe(true);
    expect(['axb', 'ccd', 'e'].some((n) => pattern.test(n))).toBe(false);
  });
});
