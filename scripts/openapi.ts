/**
 * `npm run openapi`: writes the OpenAPI document the API serves at `/docs/json` to
 * `docs/openapi.json`, the snapshot committed with the code, so that a change to the HTTP
 * contract shows in review (src/openapi.test.ts fails while the snapshot is stale).
 *
 * Boots the whole app with the default configuration on an in-memory PGlite (or on
 * `DATABASE_URL` when set: migrations are applied there first), asks it for `/docs/json`, and
 * writes it pretty-printed. `--check` writes nothing and exits 1 when the snapshot differs.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildApp } from '../src/app.ts';
import { loadConfig, type DatabaseConfig } from '../shared/config.ts';
import { REPO_ROOT } from './repo-root.ts';

/** Where the snapshot lives, relative to the repository root. */
export const OPENAPI_SNAPSHOT = 'docs/openapi.json';

/**
 * The OpenAPI document as `/docs/json` serves it with the default configuration, serialised as
 * the snapshot is (2-space JSON, trailing newline). `database` defaults to an in-memory PGlite,
 * or `DATABASE_URL` when set.
 */
export async function renderOpenApi(database?: DatabaseConfig): Promise<string> {
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    // Only to keep the "no JWT_SECRET" warning out of the output: no token is issued.
    JWT_SECRET: 'openapi-snapshot-secret-that-signs-nothing',
    EVENT_DELIVERY: 'off',
    ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : { PGLITE_DATA_DIR: 'memory://' }),
  });
  const app = await buildApp({ ...config, ...(database ? { database } : {}) });
  try {
    const res = await app.inject({ method: 'GET', url: '/docs/json' });
    if (res.statusCode !== 200) throw new Error(`GET /docs/json answered ${res.statusCode}: ${res.body}`);
    return `${JSON.stringify(res.json(), null, 2)}\n`;
  } finally {
    await app.close();
  }
}

async function main() {
  const path = join(REPO_ROOT, OPENAPI_SNAPSHOT);
  const fresh = await renderOpenApi();
  if (process.argv.includes('--check')) {
    const committed = await readFile(path, 'utf8').catch(() => '');
    if (committed !== fresh) {
      console.error(`${OPENAPI_SNAPSHOT} is not the document the API serves: run \`npm run openapi\` and commit it.`);
      process.exit(1);
    }
    console.log(`${OPENAPI_SNAPSHOT} is current.`);
    return;
  }
  await writeFile(path, fresh);
  console.log(`wrote ${OPENAPI_SNAPSHOT} (${Buffer.byteLength(fresh)} bytes)`);
}

if (import.meta.main) await main();
