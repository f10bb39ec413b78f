import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, Level, Logger } from 'pino';

type Line = (...args: unknown[]) => void;

/**
 * A request's logger that makes its pino child only when it is first needed: a line at a level
 * that passes, `child()`, or setting `level`. Lines below the level are dropped without it.
 *
 * Why: Fastify's default factory makes a pino child for every request, and with `redact`
 * configured pino serialises and redacts the child's bindings (`reqId`) right away: about 4 %
 * of a cached menu read's CPU in a `perf` profile, for a logger that at `LOG_LEVEL=warn` and
 * above usually writes nothing. Once made, the child is the one Fastify's default would have
 * made (same bindings, same options), so every line that is written looks the same.
 */
class LazyChildLogger implements FastifyBaseLogger {
  #child: Logger | undefined;
  readonly #parent: Logger;
  readonly #bindings: Bindings;
  readonly #options: ChildLoggerOptions;

  constructor(parent: Logger, bindings: Bindings, options: ChildLoggerOptions) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#options = options;
  }

  /** The real child, made on first use. */
  get #logger(): Logger {
    return (this.#child ??= this.#parent.child(this.#bindings, this.#options));
  }

  /** Whether a line at `level` would be written (asked of the child once it exists). */
  #passes(level: Level): boolean {
    if (this.#child) return this.#child.isLevelEnabled(level);
    const own = this.#options.level;
    return own === undefined ? this.#parent.isLevelEnabled(level) : this.#parent.levels.values[level]! >= this.#parent.levels.values[own]!;
  }

  get level(): string {
    return this.#child?.level ?? this.#options.level ?? this.#parent.level;
  }
  set level(level: string) {
    this.#logger.level = level;
  }
  fatal(...args: unknown[]): void {
    if (this.#passes('fatal')) (this.#logger.fatal as Line)(...args);
  }
  error(...args: unknown[]): void {
    if (this.#passes('error')) (this.#logger.error as Line)(...args);
  }
  warn(...args: unknown[]): void {
    if (this.#passes('warn')) (this.#logger.warn as Line)(...args);
  }
  info(...args: unknown[]): void {
    if (this.#passes('info')) (this.#logger.info as Line)(...args);
  }
  debug(...args: unknown[]): void {
    if (this.#passes('debug')) (this.#logger.debug as Line)(...args);
  }
  trace(...args: unknown[]): void {
    if (this.#passes('trace')) (this.#logger.trace as Line)(...args);
  }
  silent(): void {}
  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#logger.child(bindings, options);
  }
}

/**
 * Fastify `childLoggerFactory`: each request's `request.log` as a {@link LazyChildLogger} of the
 * app's pino logger (the parent must be pino, as Fastify's own logger is).
 */
export function lazyRequestLogger(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return new LazyChildLogger(logger as Logger, bindings, options);
}
