import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RETENTION_QUEUE } from '../shared/retention.ts';
import { eventually, signup, type TenantFixture } from './support/fixtures.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

/** Rows of the three kinds retention deletes, per tenant: one expired and one still live of each. */
async function plant(t: TestApp, tenant: TenantFixture) {
  const db = t.app.database.db;
  const id = tenant.tenant.id;
  const tag = Math.random().toString(36).slice(2);
  await db.execute(sql`
    insert into kernel.inbox (tenant_id, subscriber, event_id, event_type, occurred_at, handled_at) values
      (${id}, 'test', gen_random_uuid(), 'Old', now() - interval '30 days', now() - interval '30 days'),
      (${id}, 'test', gen_random_uuid(), 'Fresh', now(), now())`);
  await db.execute(sql`
    insert into kernel.idempotency_keys (tenant_id, key, request_hash, status, response_status, response_body, response_type, created_at) values
      (${id}, ${`old-key-${tag}`}, 'h', 'completed', 201, '{}', 'application/json', now() - interval '25 hours'),
      (${id}, ${`fresh-key-${tag}`}, 'h', 'completed', 201, '{}', 'application/json', now())`);
  await db.execute(sql`
    insert into auth.refresh_tokens (tenant_id, id, user_id, family_id, token_hash, expires_at, created_at) values
      (${id}, gen_random_uuid(), ${tenant.user.id}, gen_random_uuid(), ${`old-${tag}`}, now() - interval '2 days', now() - interval '40 days'),
      (${id}, gen_random_uuid(), ${tenant.user.id}, gen_random_uuid(), ${`live-${tag}`}, now() + interval '2 days', now())`);
}

/** How many planted rows are left, expired and live, per kind. */
async function left(t: TestApp, tenant: TenantFixture) {
  const db = t.app.database.db;
  const id = tenant.tenant.id;
  const count = async (query: ReturnType<typeof sql>) => ((await db.execute(query)) as unknown as { rows?: Array<{ n: number }> } & Array<{ n: number }>);
  const n = async (query: ReturnType<typeof sql>) => {
    const r = await count(query);
    return Number((r.rows ?? r)[0]!.n);
  };
  return {
    expired: {
      inbox: await n(sql`select count(*)::int as n from kernel.inbox where tenant_id = ${id} and event_type = 'Old'`),
      keys: await n(sql`select count(*)::int as n from kernel.idempotency_keys where tenant_id = ${id} and key like 'old-key-%'`),
      refreshTokens: await n(sql`select count(*)::int as n from auth.refresh_tokens where tenant_id = ${id} and token_hash like 'old-%'`),
    },
    live: {
      inbox: await n(sql`select count(*)::int as n from kernel.inbox where tenant_id = ${id} and event_type = 'Fresh'`),
      keys: await n(sql`select count(*)::int as n from kernel.idempotency_keys where tenant_id = ${id} and key like 'fresh-key-%'`),
      refreshTokens: await n(sql`select count(*)::int as n from auth.refresh_tokens where tenant_id = ${id} and token_hash like 'live-%'`),
    },
  };
}

describe('data retention: expired inbox rows, idempotency keys and refresh tokens are deleted on a schedule', () => {
  let t: TestApp;
  let a: TenantFixture;
  let b: TenantFixture;
  beforeAll(async () => {
    t = await startTestApp();
    a = await signup(t.api);
    b = await signup(t.api);
  });
  afterAll(() => t?.close());

  it('a run deletes only what expired, in every tenant, and the session of a fresh login survives', async () => {
    await plant(t, a);
    await plant(t, b);
    const removed = await t.app.retention.runNow();
    expect(removed['kernel.inbox']).toBeGreaterThanOrEqual(2);
    expect(removed['kernel.idempotency-keys']).toBeGreaterThanOrEqual(2);
    expect(removed['auth.expired-refresh-tokens']).toBeGreaterThanOrEqual(2);
    for (const tenant of [a, b]) {
      expect(await left(t, tenant)).toEqual({ expired: { inbox: 0, keys: 0, refreshTokens: 0 }, live: { inbox: 1, keys: 1, refreshTokens: 1 } });
    }
    expect((await t.api.get('/api/v1/auth/me', { token: a.token })).status).toBe(200);
  });

  it('is a pg-boss cron schedule (hourly by default), and a queued run is worked off by the app', async () => {
    const boss = t.app.events.boss;
    const schedules = await boss.getSchedules();
    expect(schedules.find((s) => s.name === RETENTION_QUEUE)).toMatchObject({ cron: '17 * * * *' });
    await plant(t, a);
    expect((await left(t, a)).expired).toEqual({ inbox: 1, keys: 1, refreshTokens: 1 });
    await boss.send(RETENTION_QUEUE, {});
    await eventually(async () => expect(await left(t, a)).toEqual({ expired: { inbox: 0, keys: 0, refreshTokens: 0 }, live: { inbox: 2, keys: 2, refreshTokens: 2 } }), 15_000);
  });
});
