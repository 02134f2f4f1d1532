import { Deadline, DeadlineExceededError, WorkDeadline } from './deadline.policy';

describe('Deadline', () => {
  it('counts the remaining milliseconds down to zero, never below', () => {
    const deadline = Deadline.after(1_000);
    const now = Date.now();
    expect(deadline.remainingMs(now)).toBeGreaterThan(900);
    expect(deadline.remainingMs(now)).toBeLessThanOrEqual(1_000);
    expect(deadline.remainingMs(deadline.expiresAt - 250)).toBe(250);
    expect(deadline.remainingMs(deadline.expiresAt + 5_000)).toBe(0);
  });

  it('gives an attempt the shorter of its own timeout and what is left', () => {
    const deadline = Deadline.after(1_000);
    expect(deadline.within(200).expiresAt).toBeLessThanOrEqual(Date.now() + 200);
    expect(deadline.within(60_000).expiresAt).toBe(deadline.expiresAt);
  });

  it('aborts its signal when the budget runs out', async () => {
    const deadline = Deadline.after(30);
    await new Promise((resolve) => deadline.signal.addEventListener('abort', resolve));
    expect(deadline.expired).toBe(true);
    expect(deadline.cancelled).toBe(false);
  });

  it('aborts an attempt signal at the attempt timeout, before the deadline', async () => {
    const deadline = Deadline.after(10_000);
    const attempt = deadline.attemptSignal(30);
    await new Promise((resolve) => attempt.addEventListener('abort', resolve));
    expect(deadline.expired).toBe(false);
  });

  it("tells why an attempt's signal fired: its own timeout, the caller's budget, or the caller leaving", async () => {
    const fired = (signal: AbortSignal) => new Promise((resolve) => signal.addEventListener('abort', resolve));
    const own = Deadline.after(10_000).attempt(20);
    expect(own.abortCause()).toBeUndefined();
    await fired(own.signal);
    expect(own.abortCause()).toBe('attempt_timeout');

    const budget = Deadline.after(20).attempt(10_000);
    await fired(budget.signal);
    expect(budget.abortCause()).toBe('deadline');

    const parent = new AbortController();
    const left = Deadline.after(10_000, parent.signal).attempt(5_000);
    parent.abort(new Error('client closed the connection'));
    expect(left.abortCause()).toBe('cancelled');
  });

  it('is cancelled with its parent (the caller went away)', () => {
    const parent = new AbortController();
    const deadline = Deadline.after(10_000, parent.signal);
    parent.abort();
    expect(deadline.expired).toBe(true);
    expect(deadline.cancelled).toBe(true);
  });

  it('refuses at once to sleep past the deadline', async () => {
    const deadline = Deadline.after(100);
    const started = Date.now();
    await expect(deadline.sleep(5_000)).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(Date.now() - started).toBeLessThan(50);
  });
});

describe('WorkDeadline (the request context deadline)', () => {
  it('tells what is left with the clock alone, and makes its full Deadline once, at the same instant', () => {
    const work = new WorkDeadline(Date.now() + 5_000);
    expect(work.remainingMs()).toBeGreaterThan(4_900);
    expect(work.remainingMs(work.expiresAt + 1)).toBe(0);
    const deadline = work.deadline();
    expect(work.deadline()).toBe(deadline);
    expect(deadline.expiresAt).toBe(work.expiresAt);
    expect(deadline.signal.aborted).toBe(false);
  });

  it('a hang-up calls the listeners still registered once, and aborts the full Deadline as cancelled', () => {
    const work = new WorkDeadline(Date.now() + 5_000);
    const deadline = work.deadline();
    const kept = jest.fn();
    const removed = jest.fn();
    work.addCancelListener(kept);
    work.addCancelListener(removed);
    work.removeCancelListener(removed);
    const reason = new Error('client closed the connection');
    work.cancel(reason);
    work.cancel(new Error('again'));
    expect(kept).toHaveBeenCalledTimes(1);
    expect(removed).not.toHaveBeenCalled();
    expect(work.cancelled).toBe(true);
    expect(work.cancelReason).toBe(reason);
    expect(deadline.signal.aborted).toBe(true);
    expect(deadline.cancelled).toBe(true);
  });

  it('is never written out: a correlation serialized carries no deadline', () => {
    expect(JSON.parse(JSON.stringify({ requestId: 'r-1', deadline: new WorkDeadline(Date.now()) }))).toEqual({
      requestId: 'r-1',
    });
  });

  it('a Deadline made after the hang-up is aborted from the start', () => {
    const work = new WorkDeadline(Date.now() + 5_000);
    work.cancel();
    expect(work.deadline().signal.aborted).toBe(true);
  });
});
