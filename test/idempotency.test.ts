import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PaymentProvider } from '../modules/payments/gateway.ts';
import { eventually, expectProblem, menuItem, onHand, setStock, signup, type TenantFixture } from './support/fixtures.ts';
import { httpClient, startTestApp, type ApiResponse, type TestApp } from './support/test-app.ts';
import { createTestDatabase, onRealPostgres, type TestDatabase } from './support/test-database.ts';
import { freePort } from './support/free-port.ts';

/**
 * An Idempotency-Key is "in progress" exactly as long as the request that first used it is alive,
 * judged by PostgreSQL (its transaction), never by a timer. These need a real server: PGlite has
 * one connection, so nothing can wait on a row lock there.
 */

const root = fileURLToPath(new URL('..', import.meta.url));
const JWT_SECRET = 'test-secret-that-is-at-least-32-characters-long'; // the one testConfig uses

/** A card provider that approves every token and counts every call (one charge per key). */
function countingProvider() {
  const calls = { authorise: 0, capture: 0, void: 0, refund: 0 };
  const provider: PaymentProvider = {
    name: 'counting',
    authorise: async () => (calls.authorise++, { approved: true, reference: `ch_${randomUUID()}` }),
    capture: async () => void calls.capture++,
    void: async () => void calls.void++,
    refund: async () => void calls.refund++,
  };
  return { provider, calls };
}


describe.skipIf(!onRealPostgres())('Idempotency-Key liveness comes from the database, not from a timer', () => {
  let db: TestDatabase;
  let t: TestApp;
  let admin: postgres.Sql;
  let owner: TenantFixture;
  const card = countingProvider();
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp({ database: db, build: { payments: { provider: card.provider } } });
    admin = postgres((db.config as { url: string }).url, { max: 4, onnotice: () => {} });
    owner = await signup(t.api, { taxRateBps: 0 });
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await admin?.end({ timeout: 5 });
    await t?.close();
    await db?.drop();
  });

  /** App backends (any instance) waiting on a lock right now. */
  const waitingOnLocks = async () => {
    const [row] = await admin<{ n: number }[]>`
      select count(*)::int as n from pg_stat_activity
      where datname = current_database() and application_name = 'pos-api' and wait_event_type = 'Lock'`;
    return row!.n;
  };

  /**
   * Holds `FOR UPDATE` on the item's stock row from a separate session until `release()` (commit),
   * like a slow order holding it: every order of that item waits behind it.
   */
  const holdStockRow = async (menuItemId: string) => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const done = admin.begin(async (sql) => {
      await sql`select 1 from inventory.stock_levels where menu_item_id = ${menuItemId} for update`;
      locked();
      await released;
    });
    await isLocked;
    return { release: async () => (release(), await done) };
  };

  /**
   * Moves the clock of any lease forward by an hour: ages every timestamp an implementation could
   * use to judge a claim abandoned (the old `locked_at`, if the column exists). A mechanism
   * without a timer is unaffected; one with a lease (60 s or any length) now sees it expired.
   */
  const fastForwardLeases = () => admin`
    do $$ begin
      if exists (select from information_schema.columns where table_schema = 'kernel' and table_name = 'idempotency_keys' and column_name = 'locked_at') then
        update kernel.idempotency_keys set locked_at = locked_at - interval '1 hour';
      end if;
    end $$`;

  /** The response of `request`, or 'blocked' if it gets stuck on a lock instead of answering. */
  const answerOrBlocked = async (request: Promise<ApiResponse>, alreadyWaiting: number): Promise<ApiResponse | 'blocked'> => {
    let settled = false;
    void request.finally(() => (settled = true)).catch(() => {});
    const blocked = (async () => {
      for (;;) {
        if (settled) return undefined;
        if ((await waitingOnLocks()) > alreadyWaiting) return 'blocked' as const;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const blockedOrAnswer = async (): Promise<ApiResponse | 'blocked'> => (await blocked) ?? request;
    return Promise.race([request, blockedOrAnswer()]);
  };

  it('a retry gets 409 for as long as the first request is blocked, however long; then one order, one charge, a replay', async () => {
    const item = await menuItem(t.api, owner.token, { price: 1500 });
    await setStock(t.api, owner.token, item.id, 10);
    const body = { items: [{ menuItemId: item.id, quantity: 1 }], payment: { method: 'card', token: 'tok_visa' } };
    const headers = { 'idempotency-key': `slow-${Date.now()}` };
    const before = { ...card.calls };

    const blocker = await holdStockRow(item.id);
    let first: Promise<ApiResponse> | undefined;
    try {
      first = t.api.post('/api/v1/orders', body, { token: owner.token, headers });
      await eventually(async () => expect(await waitingOnLocks()).toBe(1), 10_000, 20);
      // However long the first request waits (the clock is moved on before every retry), the key
      // stays in use and the retry does nothing: no order, no second authorisation, no waiting.
      for (let i = 0; i < 3; i++) {
        await fastForwardLeases();
        const retry = await answerOrBlocked(t.api.post('/api/v1/orders', body, { token: owner.token, headers }), 1);
        expect(retry).not.toBe('blocked');
        expectProblem(retry as ApiResponse, 409, 'idempotency-key-in-use');
      }
      expect(card.calls.authorise - before.authorise).toBe(1);
    } finally {
      await blocker.release();
    }
    const created = await first!;
    expect(created.status).toBe(201);
    const replay = await t.api.post('/api/v1/orders', body, { token: owner.token, headers });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(created.body);

    // Once settled: every order the retries' answers could have made is counted.
    await eventually(async () => expect(await waitingOnLocks()).toBe(0), 10_000, 20);
    const orders = await t.api.get('/api/v1/orders?limit=100', { token: owner.token });
    expect(orders.body.items.filter((o: { lines: Array<{ menuItemId: string }> }) => o.lines[0]!.menuItemId === item.id)).toHaveLength(1);
    expect(await onHand(t.api, owner.token, item.id)).toBe(9);
    expect(card.calls.authorise - before.authorise).toBe(1);
    await eventually(async () => expect(card.calls.capture - before.capture).toBe(1));
    expect(card.calls.void - before.void).toBe(0);
  });

  it('a request whose process is killed mid-flight frees its key at once: the retry runs exactly once', async () => {
    const item = await menuItem(t.api, owner.token, { price: 700 });
    await setStock(t.api, owner.token, item.id, 10);
    const body = { items: [{ menuItemId: item.id, quantity: 2 }], payment: { method: 'cash', tendered: 5000 } };
    const headers = { 'idempotency-key': `killed-${Date.now()}` };

    // A second instance of the API as a real process, sharing the database.
    const port = await freePort();
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', 'src/server.ts'], {
      cwd: root,
      env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'silent', PORT: String(port), METRICS_PORT: '0', HOST: '127.0.0.1', DATABASE_URL: (db.config as { url: string }).url, JWT_SECRET },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    children.push(child);
    const other = httpClient(`http://127.0.0.1:${port}`);
    await eventually(async () => expect((await other.get('/ready')).status).toBe(200), 30_000, 100);

    const blocker = await holdStockRow(item.id);
    try {
      const doomed = other.post('/api/v1/orders', body, { token: owner.token, headers }).catch((error: unknown) => error);
      await eventually(async () => expect(await waitingOnLocks()).toBe(1), 10_000, 20);
      child.kill('SIGKILL');
      await new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
      expect(await doomed).toBeInstanceOf(Error); // the connection died with the process
      // Its database session goes with it, even while it still waits on the row lock (the server
      // checks the client's socket: client_connection_check_interval), and its lock with it.
      await eventually(async () => expect(await waitingOnLocks()).toBe(0), 5_000, 20);
    } finally {
      await blocker.release();
    }
    // At once, not 60 s later: the first retry runs (no 409), and it runs exactly once.
    const retry = await t.api.post('/api/v1/orders', body, { token: owner.token, headers });
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    const again = await t.api.post('/api/v1/orders', body, { token: owner.token, headers });
    expect(again.status).toBe(201);
    expect(again.body.id).toBe(retry.body.id);
    expect(await onHand(t.api, owner.token, item.id)).toBe(8);
    const orders = await t.api.get('/api/v1/orders?limit=100', { token: owner.token });
    expect(orders.body.items.filter((o: { lines: Array<{ menuItemId: string }> }) => o.lines[0]!.menuItemId === item.id)).toHaveLength(1);
  });

  it('if a response for the key is already stored when the request commits, the request rolls back and replays it', async () => {
    // The window this covers: the previous holder of the key commits after the request's snapshot
    // but before it takes the lock. Forced here by writing the stored response behind its back.
    const item = await menuItem(t.api, owner.token, { price: 300 });
    await setStock(t.api, owner.token, item.id, 10);
    const body = { items: [{ menuItemId: item.id, quantity: 1 }], payment: { method: 'card', token: 'tok_visa' } };
    const key = `raced-${Date.now()}`;
    const before = { ...card.calls };
    const blocker = await holdStockRow(item.id);
    let answer: ApiResponse;
    try {
      const pending = t.api.post('/api/v1/orders', body, { token: owner.token, headers: { 'idempotency-key': key } });
      await eventually(async () => expect(await waitingOnLocks()).toBe(1), 10_000, 20);
      // Same fingerprint as the request's (method, path, body), as the earlier request had.
      const hash = createHash('sha256').update(`POST /api/v1/orders\n${JSON.stringify(body)}`).digest('base64url');
      await admin`insert into kernel.idempotency_keys (tenant_id, key, request_hash, status, response_status, response_body, response_type)
                  values (${owner.tenant.id}, ${key}, ${hash}, 'completed', 201, '{"id":"the-first"}', 'application/json; charset=utf-8')`;
      await blocker.release();
      answer = await pending;
    } finally {
      await blocker.release();
    }
    expect(answer.status).toBe(201);
    expect(answer.body).toEqual({ id: 'the-first' });
    expect(answer.headers.get('idempotent-replayed')).toBe('true');
    expect(await onHand(t.api, owner.token, item.id)).toBe(10);
    expect(card.calls.authorise - before.authorise).toBe(1);
    await eventually(async () => expect(card.calls.void - before.void).toBe(1)); // the authorisation is released
    expect(card.calls.capture - before.capture).toBe(0);
  });
});
