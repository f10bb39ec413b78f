/**
 * `npm run bench:slow-clients`: what idle and slow clients cost the API, on localhost only.
 *
 * Starts the API as a child process (embedded in-memory PGlite, default HTTP limits unless the
 * environment sets HTTP_*), then measures GET /health latency (p50/p99), one request at a time,
 * on one keep-alive connection and on a new connection per request:
 *
 * 1. with no other client;
 * 2. with `--idle` (default 2000) keep-alive connections open and idle (each made one request);
 * 3. with `--idle` connections open that never send a byte (within the headers timeout);
 *
 * and how long the server takes to close a client dripping a body one byte a second, and one
 * dripping header lines one a second (the request and headers timeouts), and whether
 * connections beyond HTTP_MAX_CONNECTIONS are refused. Everything is bounded: at most
 * 2 × `--idle` + a few sockets, about a minute in all.
 *
 *   npm run bench:slow-clients [-- --idle 2000 --requests 1000]
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from './repo-root.ts';

const { values: args } = parseArgs({
  options: {
    idle: { type: 'string', default: '2000' },
    requests: { type: 'string', default: '1000' },
    'max-connections': { type: 'string', default: '' },
  },
});
const IDLE = Math.min(Number(args.idle), 5000);
const REQUESTS = Math.min(Number(args.requests), 10_000);
const HOST = '127.0.0.1';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const ms = (n: number) => `${n.toFixed(2)} ms`;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, HOST, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, HOST);
    s.once('connect', () => {
      s.on('error', () => {});
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Sends one GET on `socket` and resolves when the whole response (content-length) arrived. */
function get(socket: net.Socket, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let data = '';
    const onData = (chunk: Buffer) => {
      data += chunk.toString('latin1');
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/content-length: *(\d+)/i.exec(data.slice(0, end))?.[1] ?? 0);
      if (data.length - end - 4 < length) return;
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(Number(data.slice(9, 12)));
    };
    const onClose = () => reject(new Error('connection closed before the response'));
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
  });
}

/**
 * p50/p99 of GET /health over `n` sequential requests: on `terminal`, a keep-alive connection
 * opened before any other client (as a POS terminal's would be), and on a new connection each
 * (up to 300; those the server refuses are counted, not timed).
 */
async function healthLatency(port: number, terminal: net.Socket, n: number) {
  const keepAlive: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    if ((await get(terminal, '/health')) !== 200) throw new Error('health not 200');
    keepAlive.push(performance.now() - t);
  }
  const fresh: number[] = [];
  let refused = 0;
  for (let i = 0; i < Math.min(n, 300); i++) {
    const t = performance.now();
    const s = await connect(port).catch(() => undefined);
    const status = s ? await get(s, '/health').catch(() => 0) : 0;
    if (status === 200) fresh.push(performance.now() - t);
    else refused++;
    s?.destroy();
  }
  keepAlive.sort((a, b) => a - b);
  fresh.sort((a, b) => a - b);
  return {
    keepAlive: { p50: pct(keepAlive, 50), p99: pct(keepAlive, 99) },
    fresh: fresh.length ? { p50: pct(fresh, 50), p99: pct(fresh, 99) } : undefined,
    refused,
  };
}

function report(label: string, r: Awaited<ReturnType<typeof healthLatency>>) {
  const fresh = r.fresh ? `p50 ${ms(r.fresh.p50)} p99 ${ms(r.fresh.p99)}` : '-';
  console.log(`${label.padEnd(44)} keep-alive p50 ${ms(r.keepAlive.p50)} p99 ${ms(r.keepAlive.p99)} | new connection ${fresh}${r.refused ? ` (${r.refused} refused)` : ''}`);
}

/** Resolves with the seconds until the server closes `socket` (or `limitS` when it does not). */
function secondsUntilClosed(socket: net.Socket, limitS: number): Promise<number> {
  const t = performance.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(limitS), limitS * 1000);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve((performance.now() - t) / 1000);
    });
  });
}

async function main() {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    METRICS_PORT: '0',
    HOST,
    PGLITE_DATA_DIR: 'memory://',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'development',
    ...(args['max-connections'] ? { HTTP_MAX_CONNECTIONS: args['max-connections'] } : {}),
  };
  delete env.DATABASE_URL;
  const server = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', 'src/server.ts'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    for (let i = 0; ; i++) {
      try {
        const s = await connect(port);
        s.destroy();
        break;
      } catch {
        if (i > 600 || server.exitCode !== null) throw new Error('the API did not start');
        await sleep(100);
      }
    }
    const headersTimeoutS = Number(process.env.HTTP_HEADERS_TIMEOUT_MS ?? 10_000) / 1000;
    const requestTimeoutS = Number(process.env.HTTP_REQUEST_TIMEOUT_MS ?? 30_000) / 1000;
    console.log(`API on ${HOST}:${port} (headers timeout ${headersTimeoutS} s, request timeout ${requestTimeoutS} s); ${IDLE} idle sockets, ${REQUESTS} requests per figure`);
    const terminal = await connect(port);
    await healthLatency(port, terminal, 200); // warm-up

    // Slow drips, started now, measured at the end.
    const bodyDrip = await connect(port);
    bodyDrip.write('POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{');
    const headerDrip = await connect(port);
    headerDrip.write('GET /health HTTP/1.1\r\nHost: localhost\r\n');
    let n = 0;
    const drip = setInterval(() => {
      if (bodyDrip.writable) bodyDrip.write(' ');
      if (headerDrip.writable) headerDrip.write(`x-drip-${n++}: 1\r\n`);
    }, 1000);
    const bodyDripClosed = secondsUntilClosed(bodyDrip, requestTimeoutS + 15);
    const headerDripClosed = secondsUntilClosed(headerDrip, headersTimeoutS + 15);

    report('no other client', await healthLatency(port, terminal, REQUESTS));

    // Idle keep-alive connections (each made one request).
    const keepAliveIdle: net.Socket[] = [];
    for (let i = 0; i < IDLE; i++) {
      const s = await connect(port).catch(() => undefined);
      if (!s) break;
      const ok = await get(s, '/health').then(() => true, () => false);
      if (ok) keepAliveIdle.push(s);
      else s.destroy();
    }
    report(`${keepAliveIdle.length} idle keep-alive connections open`, await healthLatency(port, terminal, REQUESTS));
    for (const s of keepAliveIdle) s.destroy();
    await sleep(500);

    // Connections that never send anything (closed by the server after the headers timeout).
    const silent = (await Promise.all(Array.from({ length: IDLE }, () => connect(port).then((socket) => ({ socket, at: performance.now() }), () => undefined)))).filter(
      (s): s is { socket: net.Socket; at: number } => !!s,
    );
    const lifetimes: number[] = [];
    // Read, so the server's close is seen; lifetime = connected → closed by the server.
    for (const s of silent) s.socket.once('close', () => lifetimes.push((performance.now() - s.at) / 1000)).resume();
    await sleep(200);
    const refused = lifetimes.length;
    report(`${silent.length - refused} silent connections open`, await healthLatency(port, terminal, Math.min(REQUESTS, 500)));
    const deadline = performance.now() + (headersTimeoutS + 5) * 1000;
    while (lifetimes.length < silent.length && performance.now() < deadline) await sleep(100);
    const cut = lifetimes.slice(refused).sort((a, b) => a - b);
    console.log(
      `silent connections: ${silent.length} opened, ${refused} refused at once (HTTP_MAX_CONNECTIONS), ${cut.length} closed by the server after ${cut.length ? `${pct(cut, 0).toFixed(1)}–${pct(cut, 100).toFixed(1)} s` : '-'}; ${silent.length - lifetimes.length} still open`,
    );
    for (const s of silent) s.socket.destroy();

    console.log(`body dripped 1 byte/s: closed after ${(await bodyDripClosed).toFixed(1)} s`);
    console.log(`headers dripped 1 line/s (slowloris): closed after ${(await headerDripClosed).toFixed(1)} s`);
    clearInterval(drip);
    bodyDrip.destroy();
    terminal.destroy();
    headerDrip.destroy();
  } finally {
    server.kill('SIGTERM');
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
