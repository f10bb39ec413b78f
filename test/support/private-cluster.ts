import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port.ts';
export { freePort };

const execFileAsync = promisify(execFile);

// PostgreSQL refuses to run as root: as root, run its binaries as the `postgres` system user.
const asRoot = process.getuid?.() === 0;
const run = (binary: string, args: string[], opts: { timeout: number }) =>
  asRoot ? execFileAsync('runuser', ['-u', 'postgres', '--', binary, ...args], opts) : execFileAsync(binary, args, opts);

/** Where the PostgreSQL server binaries are (override with `PG_BIN`). */
const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** Why private-cluster tests cannot run here, or undefined when they can (initdb and pg_ctl exist). */
export const privateClusterUnavailable = (): string | undefined =>
  existsSync(join(PG_BIN, 'initdb')) && existsSync(join(PG_BIN, 'pg_ctl')) && (process.getuid?.() !== 0 || existsSync('/usr/sbin/runuser') || existsSync('/sbin/runuser'))
    ? undefined
    : `PostgreSQL server binaries not found in ${PG_BIN} (set PG_BIN): private-cluster fault tests skipped`;

/**
 * A throw-away PostgreSQL server owned by one test or script: its own data directory in a temp
 * dir, its own free port on 127.0.0.1, trust auth, superuser `postgres`. Fault tests stop, kill
 * and restart it at will without touching the machine's shared cluster.
 */
export interface PrivateCluster {
  readonly port: number;
  readonly dataDir: string;
  /** `postgres://<user>@127.0.0.1:<port>/<database>` (defaults: postgres, postgres). */
  url(opts?: { user?: string; password?: string; database?: string }): string;
  /** Starts the server and waits until it accepts connections. */
  start(): Promise<void>;
  /** Stops it: `fast` rolls back sessions and disconnects them; `immediate` is a crash (no checkpoint). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Stops the server (if running) and deletes its files. */
  destroy(): Promise<void>;
}


/**
 * Creates (initdb) a private cluster; `settings` become `-c name=value` server options
 * (e.g. `{ max_connections: '20' }`). Call `start()` to run it and `destroy()` at the end.
 */
export async function createPrivateCluster(settings: Record<string, string> = {}): Promise<PrivateCluster> {
  const base = await mkdtemp(join(tmpdir(), 'pos-pg-'));
  if (asRoot) {
    const { stdout } = await execFileAsync('id', ['-u', 'postgres']);
    const { stdout: gid } = await execFileAsync('id', ['-g', 'postgres']);
    await chown(base, Number(stdout.trim()), Number(gid.trim()));
  }
  const dataDir = join(base, 'data');
  const port = await freePort();
  await run(join(PG_BIN, 'initdb'), ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C'], { timeout: 60_000 });
  const options = [
    `-p ${port}`,
    `-k ${base}`,
    "-c listen_addresses='127.0.0.1'",
    // Fast but still durable against what the tests do (stopping the server, never the OS): no
    // fsync, but commits wait for their WAL write (synchronous_commit stays on), so an acknowledged
    // commit survives `pg_ctl stop -m immediate`.
    '-c fsync=off',
    '-c full_page_writes=off',
    ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`),
  ].join(' ');
  let running = false;
  const pgCtl = (args: string[]) => run(join(PG_BIN, 'pg_ctl'), ['-D', dataDir, ...args], { timeout: 60_000 });
  return {
    port,
    dataDir,
    url: ({ user = 'postgres', password, database = 'postgres' } = {}) =>
      `postgres://${encodeURIComponent(user)}${password ? `:${encodeURIComponent(password)}` : ''}@127.0.0.1:${port}/${database}`,
    async start() {
      await pgCtl(['-l', join(base, 'server.log'), '-o', options, '-w', '-t', '30', 'start']);
      running = true;
    },
    async stop(mode = 'fast') {
      await pgCtl(['-m', mode, '-w', '-t', '30', 'stop']);
      running = false;
    },
    async destroy() {
      if (running || existsSync(join(dataDir, 'postmaster.pid'))) await pgCtl(['-m', 'immediate', '-w', 'stop']).catch(() => {});
      running = false;
      await rm(base, { recursive: true, force: true });
    },
  };
}
