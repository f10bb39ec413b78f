import net from 'node:net';

/** Opens a TCP connection to 127.0.0.1:`port`; resolves once connected. Socket errors are swallowed (a reset counts as a close). */
export function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  }).then((socket) => {
    (socket as net.Socket).on('error', () => {});
    return socket as net.Socket;
  });
}

/**
 * Collects what the server sends on `socket` until the server closes it. Resolves with the bytes
 * received (latin1) and the milliseconds from the call to the close; rejects when the socket is
 * still open after `maxMs` (the socket is then destroyed).
 */
export function untilClosed(socket: net.Socket, maxMs: number): Promise<{ data: string; ms: number }> {
  const started = Date.now();
  let data = '';
  socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
  return new Promise((resolve, reject) => {
    if (socket.destroyed) return resolve({ data, ms: 0 });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open for more than ${maxMs} ms (received ${JSON.stringify(data.slice(0, 200))})`));
    }, maxMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ data, ms: Date.now() - started });
    });
  });
}

/** A raw HTTP/1.1 response split into status, lower-cased headers and body text. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Parses the first HTTP response in `raw` (no chunked encoding needed: the API sends content-length). */
export function parseResponse(raw: string): RawResponse {
  const end = raw.indexOf('\r\n\r\n');
  if (!raw.startsWith('HTTP/1.1 ') || end < 0) throw new Error(`not an HTTP response: ${JSON.stringify(raw.slice(0, 200))}`);
  const [statusLine, ...lines] = raw.slice(0, end).split('\r\n');
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  const length = headers['content-length'] !== undefined ? Number(headers['content-length']) : undefined;
  const body = raw.slice(end + 4, length !== undefined ? end + 4 + length : undefined);
  return { status: Number(statusLine!.split(' ')[1]), headers, body };
}

/** Sends `request` (raw bytes) on a new connection and resolves with the server's first response. */
export async function rawRequest(port: number, request: string, maxMs = 5000): Promise<RawResponse> {
  const socket = await connect(port);
  const started = Date.now();
  let data = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete response within ${maxMs} ms: ${JSON.stringify(data.slice(0, 200))}`));
    }, maxMs);
    const tryParse = (final: boolean) => {
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) return;
      const response = parseResponse(data);
      const length = Number(response.headers['content-length'] ?? NaN);
      if (final || (Number.isFinite(length) && Buffer.byteLength(response.body, 'latin1') >= length)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(response);
      }
    };
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1');
      tryParse(false);
    });
    socket.once('close', () => {
      if (Date.now() - started >= maxMs) return;
      try {
        tryParse(true);
      } catch (error) {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
      clearTimeout(timer);
      reject(new Error(`connection closed without a response: ${JSON.stringify(data.slice(0, 200))}`));
    });
    socket.write(request, 'latin1');
  });
}
