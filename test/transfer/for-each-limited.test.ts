import { describe, expect, it } from 'vitest';
import { forEachLimited } from '../../src/transfer/for-each-limited.js';

/** A promise the test settles by hand, so ordering is asserted without timing. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('forEachLimited', () => {
  it('runs every item, never more than `limit` at once', async () => {
    let running = 0;
    let peak = 0;
    const seen: number[] = [];
    await forEachLimited([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      running += 1;
      peak = Math.max(peak, running);
      await tick();
      seen.push(n);
      running -= 1;
    });
    expect(seen.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(peak).toBe(3);
  });

  it('handles no items and a limit larger than the list', async () => {
    await expect(forEachLimited([], 4, () => Promise.reject(new Error('never')))).resolves.toBe(
      undefined,
    );
    const seen: string[] = [];
    await forEachLimited(['a'], 8, (s) => {
      seen.push(s);
      return Promise.resolve();
    });
    expect(seen).toEqual(['a']);
  });

  describe('when an item fails', () => {
    it('starts nothing new, lets running items finish, then throws the first error', async () => {
      const gates = [deferred(), deferred(), deferred(), deferred()];
      const started: number[] = [];
      const finished: number[] = [];
      const run = forEachLimited([0, 1, 2, 3], 2, async (i) => {
        started.push(i);
        await gates[i]!.promise;
        finished.push(i);
      });
      await tick();
      expect(started).toEqual([0, 1]);
      gates[0]!.reject(new Error('boom'));
      await tick();
      let settled = false;
      void run.catch(() => undefined).finally(() => (settled = true));
      await tick();
      expect(settled).toBe(false); // item 1 is still running
      gates[1]!.resolve();
      await expect(run).rejects.toThrow('boom');
      expect(started).toEqual([0, 1]);
      expect(finished).toEqual([1]);
    });
  });
});
