import { scryptSync } from 'node:crypto';
import { DeadlineExceededError } from '../platform/kernel/resilience/deadline.policy';
import { DEFAULT_SCRYPT_PARAMS, HashSlots, PasswordService } from './password.service';

describe('PasswordService', () => {
  const passwords = new PasswordService();

  it('stores scrypt$N$r$p$salt$hash with a 16-byte salt and the current parameters', async () => {
    const stored = await passwords.hash('correct horse battery');

    const [scheme, N, r, p, salt, key] = stored.split('$');
    expect([scheme, Number(N), Number(r), Number(p)]).toEqual(['scrypt', 16_384, 8, 1]);
    expect(DEFAULT_SCRYPT_PARAMS).toEqual({ N: 16_384, r: 8, p: 1 });
    expect(Buffer.from(salt, 'base64')).toHaveLength(16);
    expect(Buffer.from(key, 'base64')).toHaveLength(32);
    expect(stored).not.toContain('correct horse battery');
  });

  it('salts every hash: the same password twice gives two different hashes', async () => {
    const [a, b] = await Promise.all([passwords.hash('same password'), passwords.hash('same password')]);
    expect(a).not.toBe(b);
  });

  it('accepts the right password and refuses a wrong one', async () => {
    const stored = await passwords.hash('correct horse battery');

    await expect(passwords.verify('correct horse battery', stored)).resolves.toBe(true);
    await expect(passwords.verify('correct horse batterY', stored)).resolves.toBe(false);
    await expect(passwords.verify('', stored)).resolves.toBe(false);
  });

  it('matches a password typed with composed or decomposed accents (NFC)', async () => {
    const stored = await passwords.hash('caf\u00e9 au lait'); // é as one code point
    await expect(passwords.verify('cafe\u0301 au lait', stored)).resolves.toBe(true); // e + combining acute
  });

  it('checks a hash with the parameters stored in it, so raising the defaults keeps old hashes valid', async () => {
    const salt = Buffer.from('0123456789abcdef');
    const key = scryptSync('old password', salt, 32, { N: 1024, r: 8, p: 1 });
    const stored = `scrypt$1024$8$1$${salt.toString('base64')}$${key.toString('base64')}`;

    await expect(passwords.verify('old password', stored)).resolves.toBe(true);
    await expect(passwords.verify('other password', stored)).resolves.toBe(false);
  });

  it.each([
    ['another scheme', 'bcrypt$2b$10$abcdefghijklmnopqrstuv'],
    ['a truncated hash', 'scrypt$16384$8$1$MDEyMzQ1Njc4OWFiY2RlZg=='],
    ['N not a power of two', `scrypt$1000$8$1$MDEyMzQ1Njc4OWFiY2RlZg==$${'A'.repeat(43)}=`],
    ['N asking for gigabytes', `scrypt$${2 ** 24}$8$1$MDEyMzQ1Njc4OWFiY2RlZg==$${'A'.repeat(43)}=`],
    ['r of zero', `scrypt$16384$0$1$MDEyMzQ1Njc4OWFiY2RlZg==$${'A'.repeat(43)}=`],
    ['a plain-text password', 'correct horse battery'],
  ])('refuses to check against %s: corrupted data is a bug, not a wrong password', async (_label, stored) => {
    await expect(passwords.verify('correct horse battery', stored)).rejects.toThrow(/stored password hash/);
  });

  it('spends a real scrypt computation on a dummy check and always answers false', async () => {
    const stored = await passwords.hash('correct horse battery');
    const time = async (work: () => Promise<unknown>) => {
      const started = performance.now();
      await work();
      return performance.now() - started;
    };
    // Fastest of a few interleaved runs: load on the machine only ever adds time, so minimums compare fairly.
    const dummy: number[] = [];
    const real: number[] = [];
    for (let i = 0; i < 3; i++) {
      dummy.push(await time(() => passwords.verifyNothing('correct horse battery')));
      real.push(await time(() => passwords.verify('correct horse battery', stored)));
    }

    await expect(passwords.verifyNothing('anything')).resolves.toBe(false);
    expect(Math.min(...dummy)).toBeGreaterThan(Math.min(...real) * 0.5);
  });
});

describe('PasswordService: two different passwords never verify as equal', () => {
  const passwords = new PasswordService();

  it('does not accept trailing NULs (which scrypt’s HMAC key padding would ignore) or a lone surrogate for U+FFFD', async () => {
    const stored = await passwords.hash('correct horse');
    await expect(passwords.verify('correct horse\u0000\u0000', stored)).resolves.toBe(false);
    await expect(passwords.verify('correct horse', stored)).resolves.toBe(true);
    const replacement = await passwords.hash('pass\uFFFDword');
    await expect(passwords.verify('pass\uD800word', replacement)).resolves.toBe(false);
    await expect(passwords.hash('pw\u0000')).rejects.toThrow(/NUL/);
  });
});

describe('HashSlots (soak finding, seed 77: a login burst queued past its budget)', () => {
  it('lets `max` callers in at once and hands each freed slot to the next waiter, in order', async () => {
    const slots = new HashSlots(2);
    await slots.acquire();
    await slots.acquire();
    const order: string[] = [];
    const third = slots.acquire().then(() => order.push('third'));
    const fourth = slots.acquire().then(() => order.push('fourth'));
    expect(slots.queued).toBe(2);
    slots.release();
    await third;
    slots.release();
    await fourth;
    expect(order).toEqual(['third', 'fourth']);
  });

  it('rejects a waiter with DeadlineExceededError as soon as its signal aborts, and never gives it a slot', async () => {
    const slots = new HashSlots(1);
    await slots.acquire();
    const budget = new AbortController();
    const waiting = slots.acquire(budget.signal);
    const next = slots.acquire();
    budget.abort(new Error('budget spent'));
    await expect(waiting).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(slots.queued).toBe(1);
    slots.release();
    await expect(next).resolves.toBeUndefined();
  });

  it('refuses at once when the signal has already aborted, even with a slot free', async () => {
    const slots = new HashSlots(4);
    await expect(slots.acquire(AbortSignal.abort())).rejects.toBeInstanceOf(DeadlineExceededError);
  });
});
