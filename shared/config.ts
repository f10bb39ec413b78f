import { randomBytes } from 'node:crypto';
import { z } from 'zod';

/** Where the data lives: a PostgreSQL server (postgres.js) or the embedded PGlite. */
export type DatabaseConfig =
  | {
      kind: 'postgres';
      url: string;
      poolMax: number;
      /**
       * A direct (session) connection to the same database, for when `url` goes through a
       * transaction pooler such as PgBouncer: LISTEN and the migrations' advisory lock use it, and
       * statements on `url` are not prepared. Unset: `url` is direct.
       */
      directUrl?: string;
      /** Login for the migrations (they create roles and policies); defaults to `url`. */
      adminUrl?: string;
      /** Pool and server-side limits; each unset one takes its default (DEFAULT_POOL_LIMITS in shared/database.ts). */
      limits?: PoolLimits;
    }
  | { kind: 'pglite'; dataDir: string };

/**
 * Bounds on every wait involving PostgreSQL (issue "database faults"): nothing waits forever.
 * postgres.js options (`connect_timeout`, `idle_timeout`, `max_lifetime`), the app's own bound on
 * waiting for a free pooled connection, and server-side settings sent at connect time.
 */
export interface PoolLimits {
  /** Seconds a connection attempt may take before it fails (postgres.js `connect_timeout`). */
  connectTimeoutSeconds?: number;
  /** Seconds an unused pooled connection stays open (postgres.js `idle_timeout`); 0 = forever. */
  idleTimeoutSeconds?: number;
  /** Seconds after which a connection is replaced once idle (postgres.js `max_lifetime`); 0 = forever. */
  maxLifetimeSeconds?: number;
  /** Milliseconds a transaction waits for a pooled connection before answering 503. */
  acquireTimeoutMs?: number;
  /** PostgreSQL `statement_timeout` in ms for the request pool; 0 = none. */
  statementTimeoutMs?: number;
  /** PostgreSQL `idle_in_transaction_session_timeout` in ms; 0 = none. */
  idleInTransactionTimeoutMs?: number;
}

/** The application's configuration, parsed and validated once at start (see {@link loadConfig}). */
export interface AppConfig {
  env: 'development' | 'test' | 'production';
  host: string;
  port: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Largest accepted request body in bytes; larger bodies get a 413 problem. */
  bodyLimitBytes: number;
  /** Origins allowed to call the API from a browser (CORS); empty = CORS off. */
  corsOrigins: string[];
  /** Login attempts allowed per minute, per client IP and per tenant + email + client IP. */
  loginRateLimit: { perIpPerMinute: number; perAccountPerMinute: number };
  /** Signups allowed per client IP per hour (each creates a tenant and costs an argon2 hash). */
  signupRateLimitPerIpPerHour: number;
  /**
   * Bound on argon2 work (hash and verify) per instance: at most `concurrency` run at once and
   * at most `queue` wait; beyond that a request gets a 503 problem with Retry-After.
   */
  passwordHashing: { concurrency: number; queue: number };
  database: DatabaseConfig;
  /**
   * How long the server keeps retrying (with backoff) to reach the database at start before it
   * exits with code 69 (EX_UNAVAILABLE); 0 = one attempt.
   */
  databaseStartupTimeoutSeconds: number;
  /** Scheduled deletion of expired data (shared/retention.ts). */
  retention: {
    /** 5-field cron expression in UTC (RETENTION_CRON, default hourly at minute 17). */
    cron: string;
    /** Days an inbox row (a handled event's id) is kept (INBOX_RETENTION_DAYS, default 14). */
    inboxDays: number;
  };
  events: {
    /** False pauses delivery: events are still written (outbox) but no handler runs. */
    delivery: boolean;
    /** Attempts after the first before an event is parked. */
    retryLimit: number;
    /** First retry delay in seconds; doubles each attempt (exponential backoff with jitter). */
    retryDelaySeconds: number;
    /**
     * Seconds without a heartbeat after which an event claimed by an instance is taken back and
     * retried elsewhere (a crashed instance's events); at least 10 (pg-boss's minimum). Workers
     * beat every half of it; instances check every half of it too.
     */
    heartbeatSeconds: number;
    /**
     * Workers per subscriber queue in this instance (EVENT_WORKERS, default 2): each fetches a
     * batch and handles it while the other waits on the database. With 1, the events one
     * transaction published to a subscriber are always fetched, and handled, together.
     */
    workersPerQueue: number;
    /**
     * Connections the event bus (pg-boss) opens to PostgreSQL in this instance (EVENT_POOL_MAX,
     * default 4): its workers' fetches and completions, its maintenance and schedules. Not used
     * on PGlite (one connection for everything).
     */
    poolMax: number;
  };
  /**
   * The message broker that external domain events (a module's `events.external`) are relayed to
   * from the outbox (shared/broker.ts); undefined (no `NATS_URL`) = events stay in the process.
   */
  broker?: {
    /** NATS_URL, e.g. nats://127.0.0.1:4222 (JetStream enabled). */
    url: string;
    /** NATS_STREAM: the JetStream stream holding the events (created if missing), default POS_EVENTS. */
    stream: string;
    /** NATS_SUBJECT_PREFIX: subjects are `<prefix>.<EventType>.<tenantId>`, default `pos.events`. */
    subjectPrefix: string;
  };
  /**
   * Service-to-service calls of an extracted module (strangler fig, README "Extracting a module").
   * `serviceToken` (SERVICE_TOKEN, at least 32 characters) is the shared secret both sides send or
   * check as `Authorization: Bearer …`; `payments` (PAYMENTS_URL) set = the payments module runs
   * as its own service there and this process calls it over HTTP. Undefined = all in-process.
   */
  services?: {
    serviceToken: string;
    /** PAYMENTS_URL, e.g. http://127.0.0.1:3001 (the payments service's base URL). */
    payments?: { url: string };
    /** SERVICE_TIMEOUT_MS: longest wait for one call to a service (default 5000), then 503. */
    timeoutMs: number;
  };
  /** Where `/metrics` (Prometheus text) is served: a listener of its own, never the API port. */
  metrics: {
    /** METRICS_HOST, default HOST. */
    host: string;
    /** METRICS_PORT, default 9464 (the OpenTelemetry Prometheus exporter's); 0 = no metrics listener. */
    port: number;
  };
  readCache: {
    /**
     * Longest a cached read (e.g. the menu) may be served; 0 turns read caching off. Writes
     * invalidate at once (NOTIFY across instances), so this only bounds staleness when a
     * notification is lost while the listening connection reconnects.
     */
    ttlSeconds: number;
    /**
     * Most bytes each read cache may hold (its entries' estimated size, see shared/read-cache.ts);
     * the least recently used tenants' entries are dropped beyond it.
     */
    maxBytes: number;
  };
  /**
   * Limits of the HTTP server against slow and idle clients (slowloris, slow-drip bodies) and
   * against running out of file descriptors. All durations in milliseconds.
   */
  http: {
    /** Time to receive a whole request, headers and body; then 408 and the connection is closed. */
    requestTimeoutMs: number;
    /** Time to receive a request's headers (and for a new connection to send them); at most `requestTimeoutMs`. */
    headersTimeoutMs: number;
    /** How long an idle keep-alive connection is kept between requests. */
    keepAliveTimeoutMs: number;
    /** A connection with no bytes sent or received for this long is closed (e.g. a client that stopped reading). */
    connectionTimeoutMs: number;
    /** Open connections beyond this are closed as soon as they are accepted. */
    maxConnections: number;
  };
  jwt: {
    secret: string;
    /** True when no JWT_SECRET was given and a random one was made (development only). */
    secretGenerated: boolean;
    /** Lifetime of an access token in seconds. */
    accessTokenTtlSeconds: number;
    /** Lifetime of a refresh token (and so of a login session) in seconds. */
    refreshTokenTtlSeconds: number;
  };
}

/** Thrown by {@link loadConfig} when the environment is invalid; `issues` lists each bad variable. */
export class ConfigError extends Error {
  readonly issues: string[];
  constructor(issues: string[]) {
    super(`Invalid configuration:\n  - ${issues.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(10 * 1024 * 1024).default(100 * 1024),
  CORS_ORIGINS: z.string().default(''),
  LOGIN_RATE_LIMIT_PER_IP: z.coerce.number().int().min(1).max(100_000).default(30),
  LOGIN_RATE_LIMIT_PER_ACCOUNT: z.coerce.number().int().min(1).max(100_000).default(5),
  SIGNUP_RATE_LIMIT_PER_IP: z.coerce.number().int().min(1).max(1_000_000).default(10),
  PASSWORD_HASH_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
  PASSWORD_HASH_QUEUE: z.coerce.number().int().min(0).max(10_000).default(32),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  DATABASE_DIRECT_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  DATABASE_ADMIN_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  DATABASE_CONNECT_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(300).default(5),
  DATABASE_IDLE_TIMEOUT_SECONDS: z.coerce.number().int().min(0).max(86_400).default(30),
  DATABASE_MAX_LIFETIME_SECONDS: z.coerce.number().int().min(0).max(86_400).default(60),
  DATABASE_ACQUIRE_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  DATABASE_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(0).max(3_600_000).default(15_000),
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
  DATABASE_STARTUP_TIMEOUT_SECONDS: z.coerce.number().int().min(0).max(3600).default(60),
  PGLITE_DATA_DIR: z.string().min(1).default('./.data'),
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  EVENT_DELIVERY: z.enum(['on', 'off']).default('on'),
  EVENT_RETRY_LIMIT: z.coerce.number().int().min(0).max(50).default(5),
  EVENT_RETRY_DELAY_SECONDS: z.coerce.number().int().min(1).max(3600).default(1),
  EVENT_HEARTBEAT_SECONDS: z.coerce.number().int().min(10).max(3600).default(10),
  EVENT_WORKERS: z.coerce.number().int().min(1).max(16).default(2),
  EVENT_POOL_MAX: z.coerce.number().int().min(1).max(50).default(4),
  RETENTION_CRON: z
    .string()
    .regex(/^\S+( \S+){4}$/, 'a 5-field cron expression, e.g. "17 * * * *"')
    .default('17 * * * *'),
  INBOX_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(14),
  NATS_URL: z
    .string()
    .regex(/^(nats|tls):\/\/[^\s,]+(,(nats|tls):\/\/[^\s,]+)*$/, 'must be nats://host:port (comma-separated for a cluster)')
    .optional(),
  NATS_STREAM: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and - only')
    .default('POS_EVENTS'),
  NATS_SUBJECT_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'dot-separated tokens of letters, digits, _ and -')
    .default('pos.events'),
  SERVICE_TOKEN: z.string().min(32, 'must be at least 32 characters').optional(),
  PAYMENTS_URL: z
    .string()
    .regex(/^https?:\/\/[^\s/?#]+\/?$/, 'must be http(s)://host:port (no path)')
    .transform((url) => url.replace(/\/$/, ''))
    .optional(),
  SERVICE_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5000),
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  METRICS_HOST: z.string().min(1).optional(),
  READ_CACHE_TTL_SECONDS: z.coerce.number().int().min(0).max(3600).default(60),
  READ_CACHE_MAX_BYTES: z.coerce.number().int().min(1024).max(2 ** 34).default(64 * 1024 * 1024),
  HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(72_000),
  HTTP_CONNECTION_TIMEOUT_MS: z.coerce.number().int().min(1000).max(3_600_000).default(90_000),
  HTTP_MAX_CONNECTIONS: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
  ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(30).max(86_400).default(900),
  REFRESH_TOKEN_TTL_DAYS: z.coerce.number().int().min(1).max(365).default(30),
});

/**
 * Parses the process environment into an {@link AppConfig}.
 *
 * - `DATABASE_URL` set: PostgreSQL through postgres.js; unset: embedded PGlite in `PGLITE_DATA_DIR`
 *   (`memory://` keeps it in memory).
 * - `JWT_SECRET` unset: outside production a random secret is generated (tokens die with the
 *   process, and `jwt.secretGenerated` tells the caller to warn); in production it is an error.
 *
 * @throws ConfigError listing every invalid variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  // Empty strings count as unset, as most shells and .env loaders intend.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  if (e.HTTP_HEADERS_TIMEOUT_MS > e.HTTP_REQUEST_TIMEOUT_MS) {
    throw new ConfigError(['HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS']);
  }
  // A request may wait for a pooled connection twice (session check, then its unit of work) and
  // run a statement; the socket must outlive that, or the client gets a reset instead of the 503.
  const longestDatabaseWaitMs = 2 * e.DATABASE_ACQUIRE_TIMEOUT_MS + e.DATABASE_STATEMENT_TIMEOUT_MS;
  if (e.HTTP_CONNECTION_TIMEOUT_MS <= longestDatabaseWaitMs) {
    throw new ConfigError([
      `HTTP_CONNECTION_TIMEOUT_MS: must exceed 2 × DATABASE_ACQUIRE_TIMEOUT_MS + DATABASE_STATEMENT_TIMEOUT_MS (${longestDatabaseWaitMs} ms), so that a request waiting on the database still gets its answer`,
    ]);
  }
  if (e.METRICS_PORT !== 0 && e.METRICS_PORT === e.PORT && (e.METRICS_HOST ?? e.HOST) === e.HOST) {
    throw new ConfigError(['METRICS_PORT: must differ from PORT (metrics have a listener of their own; 0 turns it off)']);
  }
  if (e.DATABASE_DIRECT_URL && !e.DATABASE_URL) {
    throw new ConfigError(['DATABASE_DIRECT_URL: only meaningful with DATABASE_URL (the pooled URL it bypasses)']);
  }
  if (e.PAYMENTS_URL && !e.SERVICE_TOKEN) {
    throw new ConfigError(['SERVICE_TOKEN: required with PAYMENTS_URL (the secret the payments service checks)']);
  }
  if (e.NODE_ENV === 'production' && !e.JWT_SECRET) {
    throw new ConfigError(['JWT_SECRET: required in production (at least 32 characters)']);
  }
  return {
    env: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    corsOrigins: e.CORS_ORIGINS.split(',').map((o) => o.trim()).filter(Boolean),
    loginRateLimit: { perIpPerMinute: e.LOGIN_RATE_LIMIT_PER_IP, perAccountPerMinute: e.LOGIN_RATE_LIMIT_PER_ACCOUNT },
    signupRateLimitPerIpPerHour: e.SIGNUP_RATE_LIMIT_PER_IP,
    passwordHashing: { concurrency: e.PASSWORD_HASH_CONCURRENCY, queue: e.PASSWORD_HASH_QUEUE },
    database: e.DATABASE_URL
      ? {
          kind: 'postgres',
          url: e.DATABASE_URL,
          poolMax: e.DATABASE_POOL_MAX,
          ...(e.DATABASE_DIRECT_URL ? { directUrl: e.DATABASE_DIRECT_URL } : {}),
          ...(e.DATABASE_ADMIN_URL ? { adminUrl: e.DATABASE_ADMIN_URL } : {}),
          limits: {
            connectTimeoutSeconds: e.DATABASE_CONNECT_TIMEOUT_SECONDS,
            idleTimeoutSeconds: e.DATABASE_IDLE_TIMEOUT_SECONDS,
            maxLifetimeSeconds: e.DATABASE_MAX_LIFETIME_SECONDS,
            acquireTimeoutMs: e.DATABASE_ACQUIRE_TIMEOUT_MS,
            statementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
            idleInTransactionTimeoutMs: e.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
          },
        }
      : { kind: 'pglite', dataDir: e.PGLITE_DATA_DIR },
    databaseStartupTimeoutSeconds: e.DATABASE_STARTUP_TIMEOUT_SECONDS,
    events: { delivery: e.EVENT_DELIVERY === 'on', retryLimit: e.EVENT_RETRY_LIMIT, retryDelaySeconds: e.EVENT_RETRY_DELAY_SECONDS, heartbeatSeconds: e.EVENT_HEARTBEAT_SECONDS, workersPerQueue: e.EVENT_WORKERS, poolMax: e.EVENT_POOL_MAX },
    retention: { cron: e.RETENTION_CRON, inboxDays: e.INBOX_RETENTION_DAYS },
    ...(e.NATS_URL ? { broker: { url: e.NATS_URL, stream: e.NATS_STREAM, subjectPrefix: e.NATS_SUBJECT_PREFIX } } : {}),
    ...(e.SERVICE_TOKEN
      ? { services: { serviceToken: e.SERVICE_TOKEN, timeoutMs: e.SERVICE_TIMEOUT_MS, ...(e.PAYMENTS_URL ? { payments: { url: e.PAYMENTS_URL } } : {}) } }
      : {}),
    metrics: { host: e.METRICS_HOST ?? e.HOST, port: e.METRICS_PORT },
    readCache: { ttlSeconds: e.READ_CACHE_TTL_SECONDS, maxBytes: e.READ_CACHE_MAX_BYTES },
    http: {
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
      keepAliveTimeoutMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      connectionTimeoutMs: e.HTTP_CONNECTION_TIMEOUT_MS,
      maxConnections: e.HTTP_MAX_CONNECTIONS,
    },
    jwt: {
      secret: e.JWT_SECRET ?? randomBytes(48).toString('base64url'),
      secretGenerated: !e.JWT_SECRET,
      accessTokenTtlSeconds: e.ACCESS_TOKEN_TTL_SECONDS,
      refreshTokenTtlSeconds: e.REFRESH_TOKEN_TTL_DAYS * 86_400,
    },
  };
}
