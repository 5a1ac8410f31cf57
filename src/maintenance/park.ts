// Park-and-recheck, the one way blobs leave blobs/ while writers may be running: park each in
// ingest/ (one atomic rename), take a second look at what is needed now, put that back (children
// before parents) and unlink the rest. gc's sweep and the rollback of a failed operation's blobs
// both go through here; what "needed" means is theirs. The proof is in spec-notes/concurrency.md.
import { unlinkSync } from 'node:fs';
import type { Digest } from '../digest.js';
import { errnoCode, wrapFsError } from '../errors.js';
import type { Layout } from '../layout/layout.js';
import { cleanupAtExit } from '../store/exit-cleanup.js';
import type { HeldLock } from '../store/lock.js';

export interface Parked<T> {
  blob: T;
  trashPath: string;
}

export interface ParkOptions {
  /** Asserted before parking and after the second look: no unlink once the lock is lost. */
  held?: HeldLock | undefined;
  /** Runs once everything is parked, before the second look (a test hook, gc's phases). */
  afterParked?: (() => void | Promise<void>) | undefined;
}

export interface ParkResult<T> {
  /** Parked and unlinked, in the given order. */
  removed: T[];
  /** Parked, then put back because the second look needed them, in the given order. */
  restored: Digest[];
}

/** Yield this often so proper-lockfile's refresh timer runs during a long park. */
const YIELD_EVERY = 256;
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Park `blobs` (given parents first), then call `needed` with what was parked: digests in its
 * answer are restored, children before parents so a restored manifest never shows without its
 * content; the rest are unlinked, and blobs/ is flushed. A blob already gone is skipped. On any
 * failure before the unlinks (`afterParked`, `needed`, a lost lock, or a process exit meanwhile)
 * everything parked is put back and the error rethrown: a writer that found a blob before we
 * parked it must not commit a reference to a blob left in ingest/.
 */
export async function parkAndRecheck<T extends { digest: Digest; size: number }>(
  layout: Layout,
  blobs: readonly T[],
  needed: (parked: readonly Parked<T>[]) => ReadonlySet<string>,
  options: ParkOptions = {},
): Promise<ParkResult<T>> {
  options.held?.assertHeld();
  const parked: Parked<T>[] = [];
  const putAllBack = (): void => {
    for (const p of [...parked].reverse()) restoreQuietly(layout, p.trashPath, p.blob.digest);
    layout.blobs.flush();
  };
  const forget = cleanupAtExit(putAllBack);
  let keep: ReadonlySet<string>;
  try {
    for (const [i, blob] of blobs.entries()) {
      if (i % YIELD_EVERY === YIELD_EVERY - 1) await yieldToEventLoop();
      const moved = layout.blobs.moveAside(blob.digest);
      // undefined: someone else deleted it meanwhile, which is fine.
      if (moved !== undefined)
        parked.push({ blob: { ...blob, size: moved.size }, trashPath: moved.trashPath });
    }
    await options.afterParked?.();
    // The second look: a writer that needed a blob after the first look either shows up here, or
    // looked for it after we parked it, found nothing and writes its own copy.
    keep = needed(parked);
    options.held?.assertHeld();
  } catch (err) {
    putAllBack();
    throw err;
  } finally {
    forget(); // from here on everything runs synchronously to the end
  }
  const restored: Digest[] = [];
  for (const p of [...parked].reverse()) {
    if (!keep.has(p.blob.digest)) continue;
    layout.blobs.restoreFromTrash(p.trashPath, p.blob.digest);
    restored.push(p.blob.digest);
  }
  const removed: T[] = [];
  for (const p of parked) {
    if (keep.has(p.blob.digest)) continue;
    unlinkTrash(p.trashPath);
    removed.push(p.blob);
  }
  layout.blobs.flush();
  return { removed, restored: restored.reverse() };
}

function unlinkTrash(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw wrapFsError(err, `remove ${path}`, { path });
  }
}

function restoreQuietly(layout: Layout, trashPath: string, digest: Digest): void {
  try {
    layout.blobs.restoreFromTrash(trashPath, digest);
  } catch {
    /* left parked: the next gc puts it back if it is needed (recoverParked in gc.ts) */
  }
}
