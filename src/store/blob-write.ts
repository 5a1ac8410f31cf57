// Writing a blob's bytes into its part file in ingest/ (streamed in >= 1 MiB writes while hashed,
// or all at once for small blobs), and placing a verified part at its final path. Verifying,
// leases, directory checks, fsync policy and removing the part file are blob-store.ts's.
import type { Hash } from 'node:crypto';
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  fsyncSync,
  linkSync,
  lstatSync,
  openSync,
  renameSync,
  statSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { copyFile, open, type FileHandle } from 'node:fs/promises';
import { errnoCode, wrapFsError } from '../errors.js';
import { sizeMismatch } from './verify-stream.js';

/** put() writes at least this much per write call (except the last). */
const WRITE_BATCH = 1024 * 1024;
const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;

export interface PartWrite {
  /** Refuse the source as soon as it passes this many bytes (E_SIZE_MISMATCH). */
  maxSize?: number | undefined;
  /** The blob as messages name it (`blob sha256:…`). */
  describe: string;
  /** The fs step as E_IO messages name it (`write blob sha256:…`). */
  what: string;
  /** fsync the part before closing it (false: the caller batches durability). */
  fsync: boolean;
  /**
   * The source may reuse a chunk's memory once it has been asked for the chunk after the next one
   * (import's archive reader, see transientChunks): a chunk smaller than a write is then copied
   * into its batch, and a chunk written as it came is written before the source is asked for the
   * chunk after next. Big chunks are not copied: copying into reused write buffers made the
   * kernel's copy into the page cache several times slower here (spec-notes/performance.md).
   */
  transient?: boolean | undefined;
}

/**
 * Create `part` (it must not exist) and write `source` into it, feeding every chunk to `hash`.
 * Returns the byte count. The part file is closed however this ends, never removed.
 * Throws E_SIZE_MISMATCH (over maxSize), E_IO; the source's own errors pass as they are.
 * The source must not reuse a chunk's memory after yielding it (chunks are held until written),
 * unless `transient` says how long it may.
 */
export async function writePart(
  part: string,
  source: AsyncIterable<Uint8Array>,
  hash: Hash,
  options: PartWrite,
): Promise<number> {
  const { what } = options;
  let size = 0;
  let fh: FileHandle | undefined;
  // Hash chunk n+1 while chunk n is being written: one write in flight at a time.
  let pending: Promise<void> = Promise.resolve();
  try {
    fh = await fsStep(createThenOpen(part), what);
    // Sources with small chunks (fetch bodies, tar entries, pipes: 16-64 KiB) are gathered into
    // >= 1 MiB writes, so a blob costs one thread-pool hop per MiB, not one per chunk.
    let batch: Uint8Array[] = [];
    let batched = 0;
    const flush = async (): Promise<void> => {
      const data = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batched);
      batch = [];
      batched = 0;
      await pending;
      pending = fsStep(writeFully(fh!, data), what);
    };
    for await (const chunk of source) {
      size += chunk.byteLength;
      if (options.maxSize !== undefined && size > options.maxSize) {
        throw sizeMismatch(options.describe, options.maxSize, size, true);
      }
      hash.update(chunk);
      batch.push(chunk);
      batched += chunk.byteLength;
      if (batched >= WRITE_BATCH) await flush();
      else if (options.transient === true) {
        // Kept over the next pull, it could be overwritten: keep a copy of what was hashed. And
        // the chunk before it may still be being written: let that land before the next pull.
        batch[batch.length - 1] = Buffer.from(chunk);
        await pending;
      }
    }
    if (batched > 0) await flush();
    await pending;
    if (options.fsync) await fsStep(fh.sync(), what);
    const handle = fh;
    fh = undefined;
    await fsStep(handle.close(), what);
    return size;
  } finally {
    // A write still in flight when the source failed must settle before the caller removes the file.
    await pending.catch(() => undefined);
    if (fh !== undefined) await fh.close().catch(() => undefined);
  }
}

/**
 * Create `part` synchronously, then open it for writing. An asynchronous O_CREAT waits on the
 * thread pool, where an exit (a signal) cannot stop it: the file would appear after the exit-time
 * cleanup had removed its name. Reopened without O_CREAT, a removed part stays removed.
 */
async function createThenOpen(part: string): Promise<FileHandle> {
  closeSync(openSync(part, CREATE_NEW, 0o644));
  return open(part, constants.O_WRONLY | (constants.O_NOFOLLOW ?? 0));
}

/** Where this process's open fds can be opened again by path: Linux's /proc/self/fd, if mounted. */
let fdDir: string | null | undefined;

function procFdDir(): string | undefined {
  if (fdDir === undefined) {
    try {
      fdDir =
        process.platform === 'linux' && statSync('/proc/self/fd').isDirectory()
          ? '/proc/self/fd'
          : null;
    } catch {
      fdDir = null;
    }
  }
  return fdDir ?? undefined;
}

/**
 * Create `part` (it must not exist) and copy into it, in the kernel (copy_file_range: no byte
 * passes through this process), the regular file open at `srcFd`, as long as it is when the copy
 * starts. Returns the part's fd, open read-write, for the caller to hash what was written, fsync
 * and close; undefined, with nothing copied, when no kernel copy is possible here (no
 * /proc/self/fd), or not safe: a source another user owns, or a source mode that the copy would
 * hand on (see below). Nothing is verified here. Raw fs errors pass. The part is closed on failure
 * and on undefined, never removed.
 */
export async function copyIntoPart(srcFd: number, part: string): Promise<number | undefined> {
  const dir = procFdDir();
  if (dir === undefined) return undefined;
  const src = fstatSync(srcFd);
  // fs.copyFile copies as many bytes as the source had when it started, and its loop never ends
  // (one thread-pool thread spinning, and an exit that waits for it) if the source shrinks
  // meanwhile: copy_file_range keeps returning 0 at the end of the file. Only the owner (and root)
  // can truncate a file the mode check below lets through, so a source another user owns is
  // streamed; and the owner's chmod cannot race that check either.
  if (src.uid !== process.geteuid?.()) return undefined;
  const srcMode = src.mode & 0o7777;
  // Created synchronously, as createThenOpen does; the copy then reaches both files through our
  // own fds: an exit-time removal of the part's name is never undone by a late O_CREAT on the
  // thread pool (the copy lands in the unlinked inode), and no path is followed twice.
  const fd = openSync(part, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o644);
  try {
    const mode = fstatSync(fd).mode & 0o7777;
    // fs.copyFile gives the copy the source's mode until we set ours back. A source that would
    // make the part writable (or readable, setuid...) by anyone the part's own mode keeps out, even
    // for a moment, is streamed instead: an fd opened in that moment could rewrite the blob later.
    if ((srcMode & ~mode) !== 0) {
      closeSync(fd);
      return undefined;
    }
    await copyFile(`${dir}/${srcFd}`, `${dir}/${fd}`);
    fchmodSync(fd, mode);
    return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** Create `part` (it must not exist) holding `bytes`, with synchronous I/O. Raw fs errors pass. */
export function writePartBytes(part: string, bytes: Uint8Array, fsync: boolean): void {
  const fd = openSync(part, CREATE_NEW, 0o644);
  try {
    let off = 0;
    while (off < bytes.byteLength) off += writeSync(fd, bytes, off, bytes.byteLength - off);
    if (fsync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** link(2) errors that mean "this filesystem has no hard links", not "something is wrong". */
const NO_HARD_LINKS: ReadonlySet<string> = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/**
 * Put the verified `part` at `target` (its directory exists). Returns true when a complete blob of
 * `size` bytes was there already (the part is then left for the caller to remove). Raw fs errors pass.
 */
export function placePart(part: string, target: string, size: number): boolean {
  try {
    // link, not rename: an existing blob (maybe hard-linked into another layout) keeps its inode.
    linkSync(part, target);
    return false;
  } catch (err) {
    const code = errnoCode(err);
    if (code !== 'EEXIST' && !NO_HARD_LINKS.has(code ?? '')) throw err;
    // Present already (or no hard links on this filesystem: exFAT, vfat, some network mounts):
    // keep a complete file, else rename the verified bytes over whatever sits there.
    const st = lstatOrUndefined(target);
    if (st !== undefined && st.isFile() && st.size === size) return true;
    renameSync(part, target);
    return false;
  }
}

/**
 * Put a parked blob file back at `target` (gc's put-back) by hard link, so the parked name can go.
 * A file already there (a writer wrote its own copy meanwhile) is kept. Where the filesystem has
 * no hard links, rename instead (the parked name is gone then). Raw fs errors pass.
 */
export function linkBack(parked: string, target: string): void {
  try {
    linkSync(parked, target);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'EEXIST') return;
    if (!NO_HARD_LINKS.has(code ?? '')) throw err;
    if (lstatOrUndefined(target) === undefined) renameSync(parked, target);
  }
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** Our own fs steps fail as OcilayoutErrors (E_IO, E_NOT_FOUND); the source's errors pass as they are. */
async function fsStep<T>(step: Promise<T>, what: string): Promise<T> {
  try {
    return await step;
  } catch (err) {
    throw wrapFsError(err, what);
  }
}

/** FileHandle.write may write less than asked (it does not loop like fs.writeFile): finish it. */
async function writeFully(fh: FileHandle, chunk: Uint8Array): Promise<void> {
  let off = 0;
  while (off < chunk.byteLength) {
    const { bytesWritten } = await fh.write(chunk, off, chunk.byteLength - off);
    off += bytesWritten;
  }
}
