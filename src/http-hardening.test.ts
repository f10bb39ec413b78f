import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, expectProblem, menuItem, signup } from '../test/support/fixtures.ts';
import { ConfigError, loadConfig } from '../shared/config.ts';
import { connect, parseResponse, rawRequest, untilClosed, type RawResponse } from '../test/support/raw-http.ts';
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

  it('sends the same security headers on problems (401, 404, 400) as on successes', async () => {
    const ok = await t.api.get('/health');
    const security = ['content-security-policy', 'cross-origin-opener-policy', 'cross-origin-resource-policy', 'origin-agent-cluster', 'referrer-policy', 'strict-transport-security', 'x-content-type-options', 'x-dns-prefetch-control', 'x-download-options', 'x-frame-options', 'x-permitted-cross-domain-policies', 'x-xss-protection'];
    for (const name of security) expect(ok.headers.get(name), name).toBeTruthy();
    const owner = await signup(t.api);
    const problems = [
      await t.api.get('/api/v1/restaurant/menu-items'), // 401: no token
      await t.api.get('/no-such-route'), // 404
      await t.api.get('/api/v1/restaurant/menu-items?limit=0', { token: owner.token }), // 400: validation
    ];
    for (const [i, res] of problems.entries()) {
      expectProblem(res, [401, 404, 400][i]!);
      for (const name of security) expect(res.headers.get(name), `${res.status} ${name}`).toBe(ok.headers.get(name));
    }
  });

  it('replaces a client x-request-id that is too long or has odd characters, instead of echoing it', async () => {
    const longest = 'a'.repeat(128);
    expect((await t.api.get('/health', { headers: { 'x-request-id': longest } })).headers.get('x-request-id')).toBe(longest);
    for (const bad of ['a'.repeat(129), 'abc<script>', 'two words', '"quoted"', 'semi;colon', 'ünïcode']) {
      const res = await t.api.get('/health', { headers: { 'x-request-id': bad } });
      expect(res.headers.get('x-request-id'), bad).toMatch(/^[0-9a-f-]{36}$/);
    }
    // Problem bodies carry the replacement too, never the client's value.
    const problem = await t.api.get('/no-such-route', { headers: { 'x-request-id': 'x'.repeat(500) } });
    expectProblem(problem, 404);
    expect(problem.body.requestId).toMatch(/^[0-9a-f-]{36}$/);
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

const port = (t: TestApp) => (t.app.server.address() as AddressInfo).port;
const problemOf = (raw: string | RawResponse) => {
  const res = typeof raw === 'string' ? parseResponse(raw) : raw;
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(res.body);
  expect(body).toMatchObject({ type: 'about:blank', status: res.status, title: expect.any(String), detail: expect.any(String) });
  return { status: res.status, body };
};

describe('slow clients are cut off (real sockets)', () => {
  const REQUEST_TIMEOUT_MS = 1500;
  const HEADERS_TIMEOUT_MS = 1000;
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS), HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS) } });
  });
  afterAll(() => t?.close());

  it('a body dripped one byte at a time is cut off within the request timeout (408 problem) while others are served', async () => {
    const drip = await connect(port(t));
    drip.write('POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{');
    const dripping = setInterval(() => drip.writable && drip.write(' '), 100);
    try {
      const closed = untilClosed(drip, REQUEST_TIMEOUT_MS + 5000);
      // Meanwhile the API answers everyone else.
      for (let i = 0; i < 3; i++) expect((await t.api.get('/health')).status).toBe(200);
      const { data, ms } = await closed;
      expect(ms).toBeLessThan(REQUEST_TIMEOUT_MS + 1000);
      expect(problemOf(data).status).toBe(408);
    } finally {
      clearInterval(dripping);
    }
    expect((await t.api.get('/health')).status).toBe(200);
  });

  it('headers dripped one line at a time (slowloris) are cut off within the headers timeout', async () => {
    const drip = await connect(port(t));
    drip.write('GET /health HTTP/1.1\r\nHost: localhost\r\n');
    let n = 0;
    const dripping = setInterval(() => drip.writable && drip.write(`x-drip-${n++}: 1\r\n`), 100);
    try {
      const { data, ms } = await untilClosed(drip, HEADERS_TIMEOUT_MS + 5000);
      expect(ms).toBeLessThan(HEADERS_TIMEOUT_MS + 1000);
      expect(problemOf(data).status).toBe(408);
    } finally {
      clearInterval(dripping);
    }
  });

  it('a connection that never sends a request is closed after the headers timeout', async () => {
    const idle = await connect(port(t));
    const { ms } = await untilClosed(idle, HEADERS_TIMEOUT_MS + 5000);
    expect(ms).toBeLessThan(HEADERS_TIMEOUT_MS + 1000);
  });
});

describe('connection cap (real sockets)', () => {
  const MAX = 10;
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { HTTP_MAX_CONNECTIONS: String(MAX), HTTP_REQUEST_TIMEOUT_MS: '1500', HTTP_HEADERS_TIMEOUT_MS: '1000' } });
  });
  afterAll(() => t?.close());

  it('refuses connections beyond the cap at once, keeps serving open ones, and recovers when idle ones time out', async () => {
    // A terminal with an open keep-alive connection, before the flood.
    const terminal = await connect(port(t));
    const ask = () =>
      new Promise<string>((resolve) => {
        let data = '';
        const onData = (chunk: Buffer) => {
          data += chunk.toString('latin1');
          const res = data.indexOf('\r\n\r\n') >= 0 ? parseResponse(data) : undefined;
          if (res && res.body.length >= Number(res.headers['content-length'])) {
            terminal.off('data', onData);
            resolve(data);
          }
        };
        terminal.on('data', onData);
        terminal.write('GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n');
      });
    expect(parseResponse(await ask()).status).toBe(200);

    const idle = await Promise.all(Array.from({ length: MAX - 1 }, () => connect(port(t))));
    const count = () => new Promise<number>((resolve, reject) => t.app.server.getConnections((e, n) => (e ? reject(e) : resolve(n))));
    await eventually(async () => expect(await count()).toBe(MAX));
    const closings = idle.map((s) => untilClosed(s, 6000));
    for (const c of closings) c.catch(() => {}); // awaited below; no unhandled rejection if we fail earlier

    // One more: closed by the server straight away, without an answer.
    const extra = await connect(port(t));
    const refused = await untilClosed(extra, 1000);
    expect(refused.data).toBe('');
    // The terminal's connection still works.
    expect(parseResponse(await ask()).status).toBe(200);

    // The idle ones are cut after the headers timeout; then new connections are served again.
    await Promise.all(closings);
    expect((await t.api.get('/health')).status).toBe(200);
    terminal.destroy();
  });
});

describe('client errors answered by the HTTP layer are problem+json (raw sockets)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t?.close());

  it('431 for headers over the size limit', async () => {
    const res = await rawRequest(port(t), `GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(problemOf(res).status).toBe(431);
  });

  it('414 for a path parameter over the length limit', async () => {
    const res = await rawRequest(port(t), `GET /api/v1/orders/${'a'.repeat(300)} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    expect(res.status).toBe(414);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(res.body)).toMatchObject({ type: 'about:blank', status: 414, title: 'URI Too Long', detail: expect.any(String), requestId: expect.any(String) });
  });

  it('400 for a malformed request line', async () => {
    const res = await rawRequest(port(t), 'GARBAGE\r\n\r\n');
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(res.body)).toMatchObject({ status: 400, title: 'Bad Request' });
  });
});

describe('HTTP limits configuration', () => {
  it('has sane defaults and refuses a headers timeout longer than the request timeout', () => {
    const config = loadConfig({});
    expect(config.http).toEqual({ requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, keepAliveTimeoutMs: 72_000, connectionTimeoutMs: 90_000, maxConnections: 10_000 });
    expect(config.readCache.maxBytes).toBe(64 * 1024 * 1024);
    expect(() => loadConfig({ HTTP_REQUEST_TIMEOUT_MS: '5000', HTTP_HEADERS_TIMEOUT_MS: '6000' })).toThrow(ConfigError);
    expect(() => loadConfig({ HTTP_MAX_CONNECTIONS: '0' })).toThrow(/HTTP_MAX_CONNECTIONS/);
    // The socket must outlive the longest database wait of a request (two acquires + a statement).
    expect(() => loadConfig({ HTTP_CONNECTION_TIMEOUT_MS: '60000' })).toThrow(/HTTP_CONNECTION_TIMEOUT_MS: must exceed/);
    expect(loadConfig({ HTTP_CONNECTION_TIMEOUT_MS: '60000', DATABASE_ACQUIRE_TIMEOUT_MS: '10000' }).http.connectionTimeoutMs).toBe(60_000);
  });
});
