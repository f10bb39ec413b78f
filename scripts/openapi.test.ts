import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import openapiTS, { astToString } from 'openapi-typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../test/support/test-database.ts';
import { OPENAPI_SNAPSHOT, PAYMENTS_SERVICE_OPENAPI_SNAPSHOT, renderOpenApi } from './openapi.ts';
import { REPO_ROOT } from './repo-root.ts';

const SLOW = 120_000;
const METHODS = ['get', 'put', 'post', 'patch', 'delete'] as const;

type Operation = {
  operationId?: string;
  security?: unknown[];
  parameters?: Array<{ in: string; name: string }>;
  responses: Record<string, { content?: Record<string, { schema: unknown }>; headers?: Record<string, unknown> }>;
  'x-roles'?: string[];
};
type Doc = { paths: Record<string, Partial<Record<(typeof METHODS)[number], Operation>>>; components: { schemas: Record<string, unknown> } };

let db: TestDatabase;
let served: string;
let committed: string;
let doc: Doc;
const operations = () =>
  Object.entries(doc.paths).flatMap(([path, item]) => METHODS.flatMap((m) => (item[m] ? [{ route: `${m.toUpperCase()} ${path}`, op: item[m]! }] : [])));

beforeAll(async () => {
  db = await createTestDatabase();
  served = await renderOpenApi(db.config);
  committed = await readFile(join(REPO_ROOT, OPENAPI_SNAPSHOT), 'utf8').catch(() => '');
  doc = JSON.parse(served) as Doc;
}, SLOW);
afterAll(() => db?.drop());

describe('the OpenAPI document (docs/openapi.json)', () => {
  it('is the snapshot committed in the repository', () => {
    // A contract change must show in review: regenerate the snapshot and commit it.
    const at = committed.split('\n').findIndex((line, i) => line !== served.split('\n')[i]);
    const where = at < 0 ? '' : ` (first difference at line ${at + 1}: ${JSON.stringify(committed.split('\n')[at])} vs served ${JSON.stringify(served.split('\n')[at])})`;
    expect(committed === served, `${OPENAPI_SNAPSHOT} differs from what /docs/json serves${where}: run \`npm run openapi\` and commit ${OPENAPI_SNAPSHOT}`).toBe(true);
  });

  it('of the payments service (its internal API, docs/payments-service.openapi.json) is the snapshot committed too', { timeout: SLOW }, async () => {
    const service = await renderOpenApi(db.config, 'payments-service');
    const committedService = await readFile(join(REPO_ROOT, PAYMENTS_SERVICE_OPENAPI_SNAPSHOT), 'utf8').catch(() => '');
    expect(committedService === service, `${PAYMENTS_SERVICE_OPENAPI_SNAPSHOT} is stale: run \`npm run openapi\` and commit it`).toBe(true);
    const parsed = JSON.parse(service) as Doc & { components: { securitySchemes: Record<string, unknown> } };
    expect(Object.keys(parsed.paths).sort()).toEqual([
      '/api/v1/payments',
      '/api/v1/payments/authorisations',
      '/api/v1/payments/lookup',
      '/api/v1/payments/{id}',
      '/api/v1/payments/{id}/confirm',
      '/api/v1/payments/{id}/refund',
      '/api/v1/payments/{id}/void',
      '/health',
      '/ready',
    ]);
    expect(Object.keys(parsed.components.securitySchemes)).toEqual(['serviceToken']);
  });

  it('does not depend on the order the modules were loaded (a test worker that ran other files first)', { timeout: SLOW }, async () => {
    // A process that imports the modules in reverse order before building the app, on PGlite.
    const script = [
      ...['restaurant', 'reporting', 'payments', 'orders', 'inventory', 'auth'].map((m) => `await import('./modules/${m}/index.ts');`),
      "const { renderOpenApi } = await import('./scripts/openapi.ts');",
      "process.stdout.write(await renderOpenApi({ kind: 'pglite', dataDir: 'memory://' }));",
    ].join('\n');
    const { stdout } = await promisify(execFile)(process.execPath, ['--disable-warning=ExperimentalWarning', '--input-type=module', '-e', script], {
      cwd: REPO_ROOT,
      env: { ...process.env, DATABASE_URL: '' },
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(stdout === served, 'the document served after loading the modules in another order differs').toBe(true);
  });

  it('passes `redocly lint` (recommended rules) with no error', { timeout: SLOW }, async () => {
    const run = promisify(execFile)(join(REPO_ROOT, 'node_modules/.bin/redocly'), ['lint', '--format=json', OPENAPI_SNAPSHOT], {
      cwd: REPO_ROOT,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
      maxBuffer: 64 * 1024 * 1024,
    }).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }));
    const report = JSON.parse((await run).stdout) as { totals: { errors: number }; problems: Array<{ ruleId: string; severity: string; message: string }> };
    const errors = report.problems.filter((p) => p.severity === 'error').map((p) => `${p.ruleId}: ${p.message}`);
    expect(errors).toEqual([]);
    expect(report.totals.errors).toBe(0);
  });

  it('gives every operation a unique camelCase operationId, so generated clients have named operations', async () => {
    const ids = operations().map(({ route, op }) => [route, op.operationId] as const);
    expect(ids.filter(([, id]) => !id || !/^[a-z][a-zA-Z0-9]*$/.test(id))).toEqual([]);
    expect(new Set(ids.map(([, id]) => id)).size).toBe(ids.length);

    const client = astToString(await openapiTS(served));
    const ops = client.slice(client.indexOf('export interface operations'));
    for (const name of ['placeOrder', 'cancelOrder', 'listMenuItems', 'createMenuItem', 'signup', 'login', 'getSalesReport']) {
      expect(ops).toContain(`    ${name}: {`);
    }
    // Paths point at them by name.
    expect(client).toMatch(/"\/api\/v1\/orders": \{[\s\S]*?post: operations\["placeOrder"\];/);
  });

  it('declares every error as application/problem+json, with its problem type and extension members', () => {
    const wrong = operations().flatMap(({ route, op }) =>
      Object.entries(op.responses).flatMap(([status, r]) => {
        if (Number(status) < 400) return [];
        const types = Object.keys(r.content ?? {});
        return types.length === 1 && types[0] === 'application/problem+json' ? [] : [`${route} ${status}: ${types.join(', ') || 'no content'}`];
      }),
    );
    expect(wrong).toEqual([]);

    const placeOrder = doc.paths['/api/v1/orders']!.post!;
    expect(Object.keys(placeOrder.responses)).toEqual(expect.arrayContaining(['201', '400', '401', '402', '403', '409', '413', '415', '422', '500', '503']));
    const schemaOf = (name: string) => doc.components.schemas[name] as { properties: Record<string, { const?: unknown }> };
    expect(placeOrder.responses['402']!.content!['application/problem+json']!.schema).toEqual({ $ref: '#/components/schemas/CardDeclinedProblem' });
    expect(schemaOf('CardDeclinedProblem').properties.type!.const).toBe('urn:problem:pos:card-declined');
    expect(Object.keys(schemaOf('CardDeclinedProblem').properties)).toContain('declineCode');
    expect(Object.keys(schemaOf('InsufficientStockProblem').properties)).toEqual(expect.arrayContaining(['menuItemId', 'onHand', 'requested']));
    const conflicts = JSON.stringify(placeOrder.responses['409']);
    expect(conflicts).toContain('InsufficientStockProblem');
    expect(conflicts).toContain('IdempotencyKeyInUseProblem');
    // Rate limits and overload come with Retry-After.
    expect(Object.keys(doc.paths['/api/v1/auth/login']!.post!.responses['429']!.headers ?? {})).toContain('Retry-After');
    expect(Object.keys(placeOrder.responses['503']!.headers ?? {})).toContain('Retry-After');
  });

  it('documents the headers: x-request-id on every answer, Idempotency-Key, ETag / If-None-Match / 304 without content, x-tenant-id, rate limits', () => {
    const missingRequestId = operations().flatMap(({ route, op }) =>
      Object.entries(op.responses).flatMap(([status, r]) => (r.headers?.['x-request-id'] ? [] : [`${route} ${status}`])),
    );
    expect(missingRequestId).toEqual([]);

    const placeOrder = doc.paths['/api/v1/orders']!.post!;
    const params = (op: Operation) => (op.parameters ?? []).map((p) => `${p.in}:${p.name}`);
    expect(params(placeOrder)).toEqual(expect.arrayContaining(['header:idempotency-key', 'header:x-tenant-id']));
    expect(Object.keys(placeOrder.responses['201']!.headers!)).toContain('Idempotent-Replayed');

    const menu = doc.paths['/api/v1/restaurant/menu-items']!.get!;
    expect(params(menu)).toContain('header:if-none-match');
    expect(Object.keys(menu.responses['200']!.headers!)).toContain('ETag');
    expect(menu.responses['304']!.content).toBeUndefined();

    const signup = doc.paths['/api/v1/auth/signup']!.post!;
    expect(Object.keys(signup.responses['201']!.headers!)).toEqual(expect.arrayContaining(['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset']));
  });

  it('marks public operations `security: []` and guarded ones bearerAuth', () => {
    const publicOps = operations()
      .filter(({ op }) => Array.isArray(op.security) && op.security.length === 0)
      .map(({ route }) => route)
      .sort();
    expect(publicOps).toEqual(
      ['GET /health', 'GET /ready', 'POST /api/v1/auth/login', 'POST /api/v1/auth/logout', 'POST /api/v1/auth/refresh', 'POST /api/v1/auth/signup'].sort(),
    );
    const guardedWithoutRoles = operations().filter(({ op }) => op.security?.length && !op['x-roles']);
    expect(guardedWithoutRoles).toEqual([]);
  });

  it('bounds every integer realistically (no ±2^53 defaults) and keeps no unused component', () => {
    const loose: string[] = [];
    const walk = (node: unknown, at: string) => {
      if (Array.isArray(node)) node.forEach((n, i) => walk(n, `${at}/${i}`));
      else if (node && typeof node === 'object') {
        const o = node as Record<string, unknown>;
        if (o.type === 'integer' && (o.minimum === -Number.MAX_SAFE_INTEGER || o.minimum === undefined) && !at.includes('/headers/')) loose.push(at);
        for (const [k, v] of Object.entries(o)) walk(v, `${at}/${k}`);
      }
    };
    walk(doc, '#');
    // Only report figures that may be negative (net = gross − refunds) have a negative bound.
    expect(loose.filter((at) => !at.endsWith('/net'))).toEqual([]);

    const text = JSON.stringify(doc.paths);
    const unused = Object.keys(doc.components.schemas).filter((name) => !text.includes(`#/components/schemas/${name}"`) && !JSON.stringify(doc.components).includes(`#/components/schemas/${name}"`));
    expect(unused).toEqual([]);
  });
});
