import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, signup } from '../test/support/fixtures.ts';
import { startTestApp, type TestApp } from '../test/support/test-app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ env: { BODY_LIMIT_BYTES: '2048' } });
});
afterAll(() => t?.close());

describe('service endpoints', () => {
  it('GET /health answers ok without touching the database', async () => {
    const res = await t.api.get('/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('GET /ready answers 200 when the database answers', async () => {
    const res = await t.api.get('/ready');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ready');
  });

  it('GET /docs serves Swagger UI and /docs/json an OpenAPI 3.1 document with every route', async () => {
    const ui = await fetch(`${t.api.baseUrl}/docs/`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain('swagger');
    const doc = (await t.api.get('/docs/json')).body;
    expect(doc.openapi).toMatch(/^3\.1/);
    const routes = Object.entries(doc.paths as Record<string, object>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(routes).toEqual(
      expect.arrayContaining([
        'GET /health',
        'GET /ready',
        'POST /api/v1/auth/signup',
        'POST /api/v1/auth/login',
        'GET /api/v1/auth/me',
        'POST /api/v1/auth/users',
        'GET /api/v1/auth/users',
        'POST /api/v1/restaurant/menu-items',
        'GET /api/v1/restaurant/menu-items',
        'GET /api/v1/restaurant/menu-items/{id}',
        'PATCH /api/v1/restaurant/menu-items/{id}',
        'DELETE /api/v1/restaurant/menu-items/{id}',
        'PUT /api/v1/inventory/items/{menuItemId}',
        'POST /api/v1/inventory/items/{menuItemId}/adjustments',
        'GET /api/v1/inventory/items/{menuItemId}',
        'GET /api/v1/inventory/items',
        'POST /api/v1/orders',
        'GET /api/v1/orders',
        'GET /api/v1/orders/{id}',
        'POST /api/v1/orders/{id}/cancel',
        'GET /api/v1/payments/{id}',
        'GET /api/v1/payments',
        'GET /api/v1/reports/sales',
      ]),
    );
    // Error responses are documented as problem details.
    expect(doc.paths['/api/v1/orders'].post.responses['409']).toBeDefined();
    expect(doc.paths['/api/v1/orders'].post.responses['422']).toBeDefined();
  });
});

describe('errors are RFC 9457 problem details', () => {
  it('an unknown route is a 404 problem', async () => {
    const res = await t.api.get('/api/v1/nothing-here');
    expectProblem(res, 404);
    expect(res.body.instance).toBe('/api/v1/nothing-here');
  });

  it('malformed JSON is a 400 problem', async () => {
    const owner = await signup(t.api);
    const res = await t.api.call('POST', '/api/v1/restaurant/menu-items', undefined, { token: owner.token, raw: '{"name": ' });
    expectProblem(res, 400);
    expect(res.body.detail).toMatch(/JSON/);
  });

  it('a body over the size limit is a 413 problem', async () => {
    const res = await t.api.post('/api/v1/auth/login', { tenant: 'x', email: 'a@b.c', password: 'x'.repeat(4000) });
    expectProblem(res, 413);
  });

  it('validation errors list every bad field with its path', async () => {
    const res = await t.api.post('/api/v1/auth/signup', { restaurantName: '', currency: 'usd', email: 'nope', password: 'short' });
    expectProblem(res, 400, 'validation-error');
    const paths = res.body.errors.map((e: { path: string }) => e.path).sort();
    expect(paths).toEqual(['body.currency', 'body.email', 'body.password', 'body.restaurantName']);
  });

  it('a problem carries the request id, which is also echoed as a header', async () => {
    const res = await t.api.get('/api/v1/auth/me', { headers: { 'x-request-id': 'req-12345' } });
    expectProblem(res, 401);
    expect(res.body.requestId).toBe('req-12345');
  });
});

describe('GET /ready when the database is gone', () => {
  it('answers 503 problem+json, while /health stays 200', async () => {
    const own = await startTestApp();
    try {
      await own.app.database.close();
      const res = await own.api.get('/ready');
      expectProblem(res, 503);
      expect((await own.api.get('/health')).status).toBe(200);
    } finally {
      // Its database handle is closed already: closing the app may fail; the rest still goes.
      await own.close().catch(() => {});
    }
  });
});
