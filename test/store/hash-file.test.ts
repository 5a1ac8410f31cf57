import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashFd, stopHashWorkers } from '../../src/store/hash-file.js';
import { tmpDir } from '../helpers/tmp.js';

const BIG = 40 * 1024 * 1024;

function withFile<T>(bytes: Buffer, fn: (fd: number) => Promise<T>): Promise<T> {
  const path = join(tmpDir(), 'blob');
  writeFileSync(path, bytes);
  const fd = openSync(path, 'r');
  return fn(fd).finally(() => closeSync(fd));
}

/** How many 1 ms timer ticks the event loop ran while `work` was pending. */
async function ticksDuring<T>(work: () => Promise<T>): Promise<{ result: T; ticks: number }> {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  try {
    const result = await work();
    return { result, ticks };
  } finally {
    clearInterval(timer);
  }
}

describe('hashFd', () => {
  it('hashes a small file on this thread', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    const got = await withFile(bytes, (fd) => hashFd(fd, 'sha256', bytes.length));
    expect(got).toEqual({
      hex: createHash('sha256').update(bytes).digest('hex'),
      size: bytes.length,
    });
  });

  it('hashes a big file on a worker, leaving the event loop free', async () => {
    const bytes = randomBytes(BIG);
    const { result, ticks } = await ticksDuring(() =>
      withFile(bytes, (fd) => hashFd(fd, 'sha512', bytes.length)),
    );
    expect(result).toEqual({ hex: createHash('sha512').update(bytes).digest('hex'), size: BIG });
    // On this thread the hash would run to the end before any timer could fire.
    expect(ticks).toBeGreaterThan(0);
  });

  it('hashes several big files at once, each to its own digest', async () => {
    const files = [randomBytes(BIG), randomBytes(BIG), randomBytes(BIG)];
    const got = await Promise.all(
      files.map((bytes) => withFile(bytes, (fd) => hashFd(fd, 'sha256', bytes.length))),
    );
    expect(got.map((g) => g.hex)).toEqual(
      files.map((bytes) => createHash('sha256').update(bytes).digest('hex')),
    );
  });

  it('reads to EOF whatever the size hint says (a file that grew is judged whole)', async () => {
    const bytes = randomBytes(BIG + 5);
    const got = await withFile(bytes, (fd) => hashFd(fd, 'sha256', BIG));
    expect(got.size).toBe(BIG + 5);
  });

  it("rejects with the fs error's code from a worker (a directory is not readable)", async () => {
    const fd = openSync(tmpDir(), 'r');
    try {
      await expect(hashFd(fd, 'sha256', BIG)).rejects.toMatchObject({ code: 'EISDIR' });
      await expect(hashFd(fd, 'sha256', 10)).rejects.toMatchObject({ code: 'EISDIR' });
    } finally {
      closeSync(fd);
    }
  });

  it("finishes a hash on the caller's thread when its worker dies", async () => {
    const bytes = randomBytes(BIG);
    const got = await withFile(bytes, async (fd) => {
      const pending = hashFd(fd, 'sha256', bytes.length);
      await stopHashWorkers(); // the worker is gone mid-job: not the file's fault
      return pending;
    });
    expect(got).toEqual({ hex: createHash('sha256').update(bytes).digest('hex'), size: BIG });
    // And the pool starts anew for the next big file.
    const again = await withFile(bytes, (fd) => hashFd(fd, 'sha256', bytes.length));
    expect(again.hex).toBe(got.hex);
  });
});
