// Files we write OUTSIDE a layout (pull, blob get -o, manifest get -o): staged as a temp file in the
// destination's directory, then renamed over the destination, so a reader or a crash never sees a
// partial file. Never writes through an existing symlink. Blobs inside a layout go through store/.
import { closeSync, constants, lstatSync, openSync, renameSync, unlinkSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { UnsafeInputError, errnoCode, wrapFsError } from '../errors.js';
import { fsyncDir } from '../store/durable.js';
import { cleanupAtExit } from '../store/exit-cleanup.js';

/** Temp files of ours in a destination directory start with this. */
export const OUTPUT_TMP_PREFIX = '.ocilayout-';
const OUTPUT_TMP_SUFFIX = '.tmp';
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;

// Temp files still on disk → what unregisters their removal at exit (the CLI turns SIGINT,
// SIGTERM and SIGHUP into process.exit, so an interrupted pull leaves none).
const pending = new Map<string, () => void>();

function track(path: string): void {
  pending.set(
    path,
    cleanupAtExit(() => removeQuietly(path)),
  );
}

function untrack(path: string): void {
  pending.get(path)?.();
  pending.delete(path);
}

/** A verified temp file waiting to replace `finalPath`. */
export interface StagedFile {
  readonly finalPath: string;
  readonly tempPath: string;
  readonly size: number;
  /** Rename into place. Throws E_UNSAFE_ENTRY if the destination became a symlink/dir meanwhile. */
  commit(): void;
  /** Remove the temp file (idempotent). */
  discard(): void;
}

/**
 * Throws E_UNSAFE_ENTRY unless `path` is absent or a regular file: we replace regular files, but never
 * a symlink (it may point anywhere), a directory or a device.
 */
export function assertReplaceable(path: string): void {
  let kind: string;
  try {
    const st = lstatSync(path);
    if (st.isFile()) return;
    kind = st.isSymbolicLink() ? 'a symlink' : st.isDirectory() ? 'a directory' : 'a special file';
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw wrapFsError(err, `stat ${path}`, { path });
  }
  throw new UnsafeInputError(
    'E_UNSAFE_ENTRY',
    `${path} exists and is ${kind}; refusing to replace it`,
    { path },
    { hint: 'remove it, or choose another output path' },
  );
}

export interface StageOptions {
  /**
   * Start an fdatasync in the background each time this many more bytes are written (one at a
   * time; the writes go on meanwhile), so a big file's writeback overlaps the writing instead of
   * all waiting for the final fsync, which still runs. For big files (export's archive); the
   * figures are in spec-notes/performance.md.
   */
  syncEvery?: number | undefined;
}

/**
 * Write `source` to a new temp file beside `finalPath` (same directory, so the rename is atomic),
 * fsync'd. If `source` fails (e.g. a verifying stream reports E_DIGEST_MISMATCH), the temp file is
 * removed and the error rethrown; the destination is untouched.
 */
export async function stageFile(
  finalPath: string,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: StageOptions = {},
): Promise<StagedFile> {
  try {
    assertReplaceable(finalPath);
  } catch (err) {
    (source as Partial<Readable>).destroy?.(); // release the blob's fd
    throw err;
  }
  const tempPath = join(
    dirname(finalPath),
    `${OUTPUT_TMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}${OUTPUT_TMP_SUFFIX}`,
  );
  let size = 0;
  try {
    // Created synchronously and tracked at once: an asynchronous O_CREAT still waiting on the thread
    // pool at exit (a signal) would make the file after the exit-time cleanup had run.
    closeSync(
      openSync(
        tempPath,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW,
        0o666,
      ),
    );
    track(tempPath);
    const fh = await open(tempPath, constants.O_WRONLY | O_NOFOLLOW);
    const every = options.syncEvery ?? 0;
    let synced = 0;
    // Never rejects (a failure is kept in syncError), so an early exit leaves no unhandled rejection.
    let syncing: Promise<void> | undefined;
    let syncError: Error | undefined;
    try {
      for await (const chunk of source) {
        let off = 0;
        while (off < chunk.byteLength) {
          const { bytesWritten } = await fh.write(chunk, off, chunk.byteLength - off);
          off += bytesWritten;
        }
        size += chunk.byteLength;
        if (syncError !== undefined) throw syncError;
        if (every > 0 && syncing === undefined && size - synced >= every) {
          synced = size;
          syncing = fh.datasync().then(
            () => {
              syncing = undefined;
            },
            (err: unknown) => {
              syncError ??= err instanceof Error ? err : new Error(String(err));
              syncing = undefined;
            },
          );
        }
      }
      await syncing;
      if (syncError !== undefined) throw syncError;
      await fh.sync();
    } finally {
      await syncing;
      await fh.close();
    }
  } catch (err) {
    (source as Partial<Readable>).destroy?.();
    discardTemp(tempPath);
    throw wrapFsError(err, `write ${finalPath}`, { path: finalPath });
  }
  return {
    finalPath,
    tempPath,
    size,
    commit() {
      try {
        // rename(2) replaces a symlink rather than following it, so a race here cannot escape
        // the directory; the check only turns a surprising replacement into a clear refusal.
        assertReplaceable(finalPath);
        renameSync(tempPath, finalPath);
        untrack(tempPath);
      } catch (err) {
        discardTemp(tempPath);
        throw wrapFsError(err, `rename into ${finalPath}`, { path: finalPath });
      }
    },
    discard() {
      discardTemp(tempPath);
    },
  };
}

/** Stage, commit, and fsync the directory: one file written atomically and durably. */
export async function writeFileAtomic(
  finalPath: string,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: StageOptions = {},
): Promise<{ path: string; size: number }> {
  const staged = await stageFile(finalPath, source, options);
  staged.commit();
  fsyncDir(dirname(finalPath));
  return { path: finalPath, size: staged.size };
}

function discardTemp(path: string): void {
  removeQuietly(path);
  untrack(path);
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* never created, or already gone */
  }
}
