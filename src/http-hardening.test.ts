import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, menuItem, signup } from '../test/support/fixtures.ts';
import { startTestApp, type TestApp } from '../test/support/test-app.ts';

describe('HTTP hardening', () => {
  let t: TestApp;
  const logs: string[] = [];
  beforeAll(async () => {
    const logStream = new Writable({
      write(chunk, _enc, done) {
        logs.push(chunk.toString());
        done();
      },
    });
    t = await startTestApp({ env: { LOG_LEVEL: 'trace' }, build: { logStream } });
  });
  afterAll(() => t?.close());

  it('sends security headers (helmet) and echoes the request id', async () => {
    const res = await t.api.get('/health', { headers: { 'x-request-id': 'abc-123' } });
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=/);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(res.headers.get('content-security-policy')).not.toMatch(/upgrade-insecure-requests/);
    expect(res.headers.get('x-request-id')).toBe('abc-123');
    expect((await t.api.get('/health')).headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('has CORS off by default', async () => {
    const res = await fetch(`${t.api.baseUrl}/health`, { headers: { origin: 'https://evil.example' } });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('never writes passwords or tokens to the logs, even at trace level', async () => {
    const owner = await signup(t.api);
    const login = await t.api.post('/api/v1/auth/login', { tenant: owner.tenant.slug, email: owner.user.email, password: owner.password });
    await menuItem(t.api, login.body.accessToken);
    await t.api.post('/api/v1/auth/refresh', { refreshToken: login.body.refreshToken });
    const all = logs.join('');
    expect(all.length).toBeGreaterThan(1000);
    for (const secret of [owner.password, owner.token, login.body.accessToken, login.body.refreshToken, login.body.refreshToken.split('.')[1]]) {
      expect(all).not.toContain(secret);
    }
  });

  it('redacts secrets that code logs by mistake', async () => {
    t.app.log.info({ body: { password: 'hunter2-secret', refreshToken: 'rt-secret' }, req: { headers: { authorization: 'Bearer abc.def.ghi' } } }, 'oops');
    const line = logs.find((l) => l.includes('"oops"'))!;
    expect(line).toBeDefined();
    expect(line).not.toMatch(/hunter2-secret|rt-secret|abc\.def\.ghi/);
    expect(line).toContain('[redacted]');
  });

  it('answers errors without stack traces or SQL', async () => {
    const owner = await signup(t.api);
    const res = await t.api.get('/api/v1/orders/00000000-0000-7000-8000-000000000000', { token: owner.token });
    expectProblem(res, 404);
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+|select |from "/i);
  });
});

describe('CORS when configured', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { CORS_ORIGINS: 'https://pos.example.com' } });
  });
  afterAll(() => t?.close());

  it('allows the configured origin only', async () => {
    const ok = await fetch(`${t.api.baseUrl}/health`, { headers: { origin: 'https://pos.example.com' } });
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://pos.example.com');
    const other = await fetch(`${t.api.baseUrl}/health`, { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});
