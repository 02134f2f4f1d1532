import { Injectable } from '@nestjs/common';
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { DeadlineExceededError } from '../platform/kernel/resilience/deadline.policy';

/** scrypt cost parameters, stored with every hash so they can be raised without breaking old hashes. */
export interface ScryptParams {
  /** CPU/memory cost, a power of two. Memory used is 128 * N * r bytes (16 MiB for the defaults). */
  N: number;
  r: number;
  p: number;
}

/**
 * N=2^14, r=8, p=1: the classic interactive-login setting. Measured at ~55 ms per hash on the
 * 2-core development box (N=2^15 took ~110 ms), which keeps login and sign-up well inside a
 * request budget while an offline guess still costs 16 MiB and tens of milliseconds.
 */
export const DEFAULT_SCRYPT_PARAMS: ScryptParams = { N: 16_384, r: 8, p: 1 };

const SALT_BYTES = 16;
const KEY_BYTES = 32;
const SCHEME = 'scrypt';

/**
 * Hashes computed at once, per process: libuv's default thread pool size. A burst of logins or
 * sign-ups then waits here, in order, each under its request's deadline (a caller whose budget
 * runs out while waiting gets 504 DEADLINE_EXCEEDED at once), instead of invisibly in the thread
 * pool, where every queued hash ran to the end and answered long after the budget (found by the
 * soak: a burst of 25 logins on a loaded box answered 401 after 9.4 s with a 5 s budget).
 */
export const MAX_CONCURRENT_HASHES = 4;

/** Bounds for parameters read back from the database: a corrupted row must not ask for gigabytes. */
const MAX_LOG2_N = 20;
const MAX_R = 32;
const MAX_P = 16;

/** The stored form is `scrypt$N$r$p$<salt base64>$<hash base64>`; nothing else is accepted. */
const STORED_FORMAT = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

/**
 * Hashes and checks passwords with scrypt (node:crypto, on the libuv thread pool, so the
 * event loop keeps serving while a hash is computed), at most {@link MAX_CONCURRENT_HASHES} at
 * once. Each method takes the caller's `signal` (the request deadline's): a hash not yet started
 * when it aborts is never started, and the call throws {@link DeadlineExceededError}.
 *
 * @example
 * const stored = await passwords.hash('correct horse');  // 'scrypt$16384$8$1$…$…'
 * await passwords.verify('correct horse', stored);       // true
 */
@Injectable()
export class PasswordService {
  private readonly params = DEFAULT_SCRYPT_PARAMS;
  private readonly slots = new HashSlots(MAX_CONCURRENT_HASHES);

  /**
   * @throws Error for a password {@link hashable} refuses: the sign-up schema should have rejected it.
   * @throws DeadlineExceededError when `signal` aborts before the hash could start.
   */
  async hash(password: string, signal?: AbortSignal): Promise<string> {
    if (!hashable(password)) throw new Error('refusing to hash a password with a NUL or a lone surrogate');
    const salt = randomBytes(SALT_BYTES);
    const key = await this.derive(password, salt, KEY_BYTES, this.params, signal);
    const { N, r, p } = this.params;
    return [SCHEME, N, r, p, salt.toString('base64'), key.toString('base64')].join('$');
  }

  /**
   * Whether `password` matches `stored`, compared in constant time.
   * @throws Error when `stored` is not a hash this service wrote: corrupted data is a bug, not a wrong password.
   * @throws DeadlineExceededError when `signal` aborts before the hash could start.
   */
  async verify(password: string, stored: string, signal?: AbortSignal): Promise<boolean> {
    const { params, salt, key } = parse(stored);
    // Such a password was never hashed (see hashable), so it cannot be right; the same scrypt work keeps the timing.
    if (!hashable(password)) return this.verifyNothing(password, signal);
    const candidate = await this.derive(password, salt, key.length, params, signal);
    return timingSafeEqual(candidate, key);
  }

  /**
   * Spends the same time as {@link verify} and returns false. Called when the email is
   * unknown, so a login's timing does not tell whether an account exists.
   */
  async verifyNothing(password: string, signal?: AbortSignal): Promise<false> {
    await this.derive(password, DUMMY_SALT, KEY_BYTES, this.params, signal);
    return false;
  }

  private async derive(
    password: string,
    salt: Buffer,
    keyLength: number,
    params: ScryptParams,
    signal: AbortSignal | undefined,
  ): Promise<Buffer> {
    await this.slots.acquire(signal);
    try {
      return await derive(password, salt, keyLength, params);
    } finally {
      this.slots.release();
    }
  }
}

/** A counting semaphore whose waiters leave the queue when their signal aborts. */
export class HashSlots {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly max: number) {}

  /** Resolves with a slot (release it with {@link release}); rejects with DeadlineExceededError when `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(new DeadlineExceededError(signal.reason));
    if (this.active < this.max) {
      this.active += 1;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const at = this.waiting.indexOf(grant);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(new DeadlineExceededError(signal?.reason));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(grant);
    });
  }

  /** Hands the slot to the next waiter, or frees it. */
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active -= 1;
  }

  /** Callers waiting for a slot now. */
  get queued(): number {
    return this.waiting.length;
  }
}

const DUMMY_SALT = Buffer.alloc(SALT_BYTES);

/**
 * Whether a password has exactly one byte form, so no other password shares its hash:
 * scrypt's PBKDF2-HMAC pads short keys with zero bytes, so `pw` and `pw\u0000\u0000` derive
 * the same key, and a lone surrogate is encoded as U+FFFD like the real U+FFFD. Sign-up
 * refuses control characters and lone surrogates; verify() treats such a candidate as wrong.
 */
const hashable = (password: string): boolean => !password.includes('\u0000') && !/\p{Cs}/u.test(password);

function derive(password: string, salt: Buffer, keyLength: number, { N, r, p }: ScryptParams): Promise<Buffer> {
  // NFC, so the same password typed on two keyboards (composed or decomposed accents) matches.
  const secret = Buffer.from(password.normalize('NFC'), 'utf8');
  // Node's default maxmem (32 MiB) is only just above N=2^14, r=8; give scrypt twice what it needs.
  const options: ScryptOptions = { N, r, p, maxmem: 2 * 128 * N * r };
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, keyLength, options, (error, key) => (error ? reject(error) : resolve(key))),
  );
}

function parse(stored: string): { params: ScryptParams; salt: Buffer; key: Buffer } {
  const match = STORED_FORMAT.exec(stored);
  if (!match) throw new Error('stored password hash is not in the scrypt$N$r$p$salt$hash format');
  const [N, r, p] = [match[1], match[2], match[3]].map(Number);
  const log2N = Math.log2(N);
  if (!Number.isInteger(log2N) || log2N < 1 || log2N > MAX_LOG2_N || r < 1 || r > MAX_R || p < 1 || p > MAX_P) {
    throw new Error('stored password hash has out-of-range scrypt parameters');
  }
  const salt = Buffer.from(match[4], 'base64');
  const key = Buffer.from(match[5], 'base64');
  if (salt.length < 8 || key.length < 16) throw new Error('stored password hash has a short salt or key');
  return { params: { N, r, p }, salt, key };
}
