/**
 * `npm run openapi`: writes the OpenAPI document the API serves at `/docs/json` to
 * `docs/openapi.json`, the snapshot committed with the code, so that a change to the HTTP
 * contract shows in review (src/openapi.test.ts fails while the snapshot is stale); likewise the
 * internal API of the payments service (`npm run start:service -- payments`) to
 * `docs/payments-service.openapi.json`.
 *
 * Boots the whole app with the default configuration on an in-memory PGlite (or on
 * `DATABASE_URL` when set: migrations are applied there first), asks it for `/docs/json`, and
 * writes it pretty-printed. `--check` writes nothing and exits 1 when the snapshot differs.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.ts';
import { buildService } from '../src/service-app.ts';
import { loadConfig, type DatabaseConfig } from '../shared/config.ts';
import { REPO_ROOT } from './repo-root.ts';

/** Where the snapshot lives, relative to the repository root. */
export const OPENAPI_SNAPSHOT = 'docs/openapi.json';
/** Where the payments service's snapshot lives. */
export const PAYMENTS_SERVICE_OPENAPI_SNAPSHOT = 'docs/payments-service.openapi.json';

/**
 * The OpenAPI document as `/docs/json` serves it with the default configuration, serialised as
 * the snapshot is (2-space JSON, trailing newline). `database` defaults to an in-memory PGlite,
 * or `DATABASE_URL` when set.
 */
export async function renderOpenApi(database?: DatabaseConfig, which: 'api' | 'payments-service' = 'api'): Promise<string> {
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    // Only to keep the "no JWT_SECRET" warning out of the output: no token is issued.
    JWT_SECRET: 'openapi-snapshot-secret-that-signs-nothing',
    EVENT_DELIVERY: 'off',
    ...(which === 'payments-service' ? { SERVICE_TOKEN: 'openapi-snapshot-token-that-guards-nothing' } : {}),
    ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : { PGLITE_DATA_DIR: 'memory://' }),
  });
  const full = { ...config, ...(database ? { database } : {}) };
  const app: FastifyInstance = which === 'api' ? await buildApp(full) : await buildService('payments', full);
  try {
    const res = await app.inject({ method: 'GET', url: '/docs/json' });
    if (res.statusCode !== 200) throw new Error(`GET /docs/json answered ${res.statusCode}: ${res.body}`);
    return `${JSON.stringify(res.json(), null, 2)}\n`;
  } finally {
    await app.close();
  }
}

async function main() {
  for (const [which, snapshot] of [['api', OPENAPI_SNAPSHOT], ['payments-service', PAYMENTS_SERVICE_OPENAPI_SNAPSHOT]] as const) {
    const path = join(REPO_ROOT, snapshot);
    const fresh = await renderOpenApi(undefined, which);
    if (process.argv.includes('--check')) {
      const committed = await readFile(path, 'utf8').catch(() => '');
      if (committed !== fresh) {
        console.error(`${snapshot} is not the document the ${which} serves: run \`npm run openapi\` and commit it.`);
        process.exit(1);
      }
      console.log(`${snapshot} is current.`);
      continue;
    }
    await writeFile(path, fresh);
    console.log(`wrote ${snapshot} (${Buffer.byteLength(fresh)} bytes)`);
  }
}

if (import.meta.main) await main();
