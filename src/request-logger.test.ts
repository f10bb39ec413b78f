import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import { lazyRequestLogger } from './request-logger.ts';

/** A pino logger like the app's (redaction on) writing to memory, and how many children it made. */
function appLogger(level: string) {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = pino({ level, redact: { paths: ['*.password'], censor: '[redacted]' } }, stream);
  const made = { children: 0 };
  const child = logger.child.bind(logger);
  logger.child = ((...args: Parameters<Logger['child']>) => {
    made.children++;
    return child(...args);
  }) as Logger['child'];
  return { logger, lines, made };
}
const withoutTime = (lines: Array<Record<string, unknown>>) => lines.map(({ time: _time, ...rest }) => rest);

describe('lazyRequestLogger', () => {
  it('makes no child for lines below the level, and one child for the lines that pass', () => {
    const { logger, lines, made } = appLogger('warn');
    const log = lazyRequestLogger(logger, { reqId: 'r-1' }, {});
    log.info({ body: { password: 'secret' } }, 'incoming request');
    log.debug('detail');
    expect(made.children).toBe(0);
    expect(lines).toEqual([]);
    log.warn({ body: { password: 'secret' } }, 'database unavailable');
    log.error('request failed');
    expect(made.children).toBe(1);
    expect(lines.map((l) => [l.level, l.reqId, l.msg])).toEqual([
      [40, 'r-1', 'database unavailable'],
      [50, 'r-1', 'request failed'],
    ]);
    expect(lines[0]!.body).toEqual({ password: '[redacted]' });
  });

  it('writes exactly what the child Fastify makes by default writes', () => {
    const lazy = appLogger('info');
    const eager = appLogger('info');
    const a = lazyRequestLogger(lazy.logger, { reqId: 'r-2' }, {});
    const b = eager.logger.child({ reqId: 'r-2' }, {});
    for (const log of [a, b]) {
      log.info({ req: { method: 'GET', url: '/x' } }, 'incoming request');
      log.info('plain %s', 'format');
      log.trace('dropped');
      log.child({ extra: 1 }).warn({ body: { password: 'p' } }, 'nested');
    }
    expect(withoutTime(lazy.lines)).toEqual(withoutTime(eager.lines));
    expect(lazy.lines).toHaveLength(3);
  });

  it("honours a route's own log level and a level set on the request's logger", () => {
    const { logger, lines } = appLogger('warn');
    const route = lazyRequestLogger(logger, { reqId: 'r-3' }, { level: 'debug' });
    expect(route.level).toBe('debug');
    route.debug('route debug line');
    const request = lazyRequestLogger(logger, { reqId: 'r-4' }, {});
    expect(request.level).toBe('warn');
    request.level = 'info';
    request.info('after raising the level');
    expect(lines.map((l) => [l.reqId, l.msg])).toEqual([
      ['r-3', 'route debug line'],
      ['r-4', 'after raising the level'],
    ]);
    expect(logger.level).toBe('warn');
  });
});
