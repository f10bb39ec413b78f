import argon2 from 'argon2';
import { authProblems } from './problems.ts';
import { COMMON_PASSWORDS } from './common-passwords.ts';

// OWASP Password Storage Cheat Sheet, argon2id: m=19 MiB, t=2, p=1.
const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** Bounds of argon2 work on one instance: running at once, and waiting beyond those. */
export interface PasswordHashingLimits {
  concurrency: number;
  queue: number;
}

/** Rough cost of one argon2id operation here (ms), used only to suggest a Retry-After. */
const TYPICAL_HASH_MS = 50;

/**
 * Password hashing and verification (argon2id) behind a bounded queue, so that a burst of
 * signups or logins cannot monopolise libuv's thread pool and starve everyone else: at most
 * `concurrency` operations run, at most `queue` wait (first come, first served), and any more
 * are refused at once with a 503 problem `password-hashing-busy` carrying `retryAfterSeconds`
 * (the route answers it as a Retry-After header). Idea: load shedding with a bounded queue
 * (Google SRE book, "Handling Overload").
 */
export function createPasswordHasher(limits: PasswordHashingLimits) {
  let running = 0;
  const waiting: Array<() => void> = [];

  const busy = () => {
    const seconds = Math.max(1, Math.ceil(((running + waiting.length) * TYPICAL_HASH_MS) / limits.concurrency / 1000));
    return authProblems.passwordHashingBusy.create(`Too many password checks in progress; retry in ${seconds} s.`, { retryAfterSeconds: seconds });
  };

  /** Runs `work` when a slot is free; throws the 503 problem when the queue is full. */
  async function bounded<T>(work: () => Promise<T>): Promise<T> {
    if (running >= limits.concurrency) {
      if (waiting.length >= limits.queue) throw busy();
      await new Promise<void>((resolve) => waiting.push(resolve));
    } else {
      running++;
    }
    try {
      return await work();
    } finally {
      // Hand the slot straight to the next waiter (running stays the same), or free it.
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  }

  // Computed once at start, so the first login of an unknown user is not slower than the others.
  const dummyHash = argon2.hash('dummy-password-for-timing', ARGON2_OPTIONS);

  return {
    /**
     * Hashes a password with argon2id (PHC string); ~30-40 ms on the thread pool.
     * @throws ProblemError 503 `password-hashing-busy` when the queue is full.
     */
    hash(password: string): Promise<string> {
      return bounded(() => argon2.hash(password, ARGON2_OPTIONS));
    },

    /**
     * Verifies `password` against `hash`. With `hash` undefined (unknown tenant or user, or a
     * deactivated one) it still runs one verification against a dummy hash, so response time
     * does not reveal which part of a login was wrong.
     * @throws ProblemError 503 `password-hashing-busy` when the queue is full.
     */
    verify(hash: string | undefined, password: string): Promise<boolean> {
      return bounded(async () => {
        if (hash === undefined) {
          await argon2.verify(await dummyHash, password).catch(() => false);
          return false;
        }
        return argon2.verify(hash, password).catch(() => false);
      });
    },

    /** Operations running and waiting now (for tests and metrics). */
    load: () => ({ running, waiting: waiting.length }),
  };
}

export type PasswordHasher = ReturnType<typeof createPasswordHasher>;

// NIST SP 800-63B §5.1.1.2: refuse passwords found in lists of commonly used or breached ones.
const COMMON = new Set(COMMON_PASSWORDS);

/** True when `password`, compared case-insensitively, is one of the 10,000 most common passwords. */
function isCommonPassword(password: string): boolean {
  return COMMON.has(password.toLowerCase());
}

/**
 * Refuses a password that is on the common-passwords list.
 * @throws ProblemError 422 `password-too-common` with `errors: [{path: 'body.password', message}]`.
 */
export function assertPasswordNotCommon(password: string): void {
  if (!isCommonPassword(password)) return;
  const message = 'is one of the most commonly used passwords; choose another';
  throw authProblems.passwordTooCommon.create(`The password ${message}.`, { errors: [{ path: 'body.password', message }] });
}
