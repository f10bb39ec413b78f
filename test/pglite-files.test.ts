import { chmod, lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { signup } from './support/fixtures.ts';
import { startTestApp } from './support/test-app.ts';
import type { TestDatabase } from './support/test-database.ts';

/**
 * The embedded database's files (password hashes included) are readable by their owner only:
 * no file or directory under PGLITE_DATA_DIR has any group or other permission bit, also after
 * PostgreSQL created new ones, and a data directory left world-writable by an older version is
 * fixed at start.
 */
async function walk(path: string, out: Array<{ path: string; mode: number }> = []) {
  const stat = await lstat(path);
  out.push({ path, mode: stat.mode & 0o777 });
  if (stat.isDirectory()) for (const name of await readdir(path)) await walk(join(path, name), out);
  return out;
}
const opened = (mode: number) => (mode & 0o077) !== 0;

describe('PGlite data directory permissions', () => {
  let parent: string;
  afterAll(async () => {
    if (parent) await rm(parent, { recursive: true, force: true });
  });

  it('leaves no group/other bits on any file or directory, and fixes a directory opened up before', { timeout: 180_000 }, async () => {
    parent = await mkdtemp(join(tmpdir(), 'pos-pglite-perms-'));
    const dataDir = join(parent, 'data');
    const database: TestDatabase = { backend: 'pglite', config: { kind: 'pglite', dataDir }, drop: async () => {} };

    const first = await startTestApp({ database });
    try {
      await signup(first.api);
    } finally {
      await first.close();
    }
    const files = await walk(dataDir);
    expect(files.length).toBeGreaterThan(100);
    expect(files.filter((f) => opened(f.mode)).map((f) => `${f.path} ${f.mode.toString(8)}`)).toEqual([]);

    // As an older version left it: everything readable and writable by everyone.
    for (const f of files) await chmod(f.path, (await lstat(f.path)).isDirectory() ? 0o777 : 0o666);
    const second = await startTestApp({ database });
    try {
      await signup(second.api);
      expect(await second.app.database.ping()).toBe(true);
    } finally {
      await second.close();
    }
    expect((await walk(dataDir)).filter((f) => opened(f.mode)).map((f) => `${f.path} ${f.mode.toString(8)}`)).toEqual([]);
  });
});
