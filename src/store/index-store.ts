// index.json: validated reads, and the only writer. update(fn) takes the layout lock, re-reads the
// file inside it, applies fn, and commits atomically; a file that fails to parse is never overwritten.
// We keep the parsed JSON as read (not zod's output) so key order and unknown fields survive.
import { closeSync, constants, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { NotFoundError, UnsafeInputError, errnoCode, wrapFsError } from '../errors.js';
import { checkIndexFile } from '../schema/index-check.js';
import { sameVersion, type FileVersion } from './file-version.js';
import type { IndexFile } from '../schema/layout-files.js';
import { parseJson } from '../schema/manifest.js';
import { writeFileDurable } from './durable.js';
import { withLayoutLock, type HeldLock, type LockOptions } from './lock.js';
import { INDEX_FILE } from './paths.js';

/** index.json larger than this is refused (a 1M-entry index is ~220 MB and needs ~3 GiB of RAM). */
export const MAX_INDEX_BYTES = 256 * 1024 * 1024;

export interface IndexSnapshot {
  index: IndexFile;
  /** The exact bytes read, to detect no-op updates and for byte-level comparisons. */
  text: string;
}

export interface UpdateResult<T> {
  /** The new index, or undefined to leave the file untouched. */
  index: IndexFile | undefined;
  result: T;
  /**
   * Runs after the commit (or the no-op), still inside the lock: work that must follow the new
   * index.json but precede any other writer's commit (a delete's removal of the blob).
   */
  afterCommit?: (() => Promise<void> | void) | undefined;
}

/** Serialisation we write: compact JSON and a trailing newline (umoci, olareg do the same). */
export function serializeIndex(index: IndexFile): string {
  return `${JSON.stringify(index)}\n`;
}

export class IndexStore {
  readonly path: string;
  /**
   * The version of index.json this store last wrote, whose bytes are serializeIndex() of what they
   * hold: when update() reads that same version again, its text is its own re-serialisation.
   */
  private written: FileVersion | undefined;
  constructor(
    readonly root: string,
    private readonly lockOptions: LockOptions = {},
    /** Called inside the lock before each commit (the blob store flushes its directories). */
    private readonly beforeCommit: () => void = () => undefined,
  ) {
    this.path = join(root, INDEX_FILE);
  }

  /** Read and validate. Throws E_NOT_FOUND, E_TOO_LARGE, E_INVALID_JSON or E_SCHEMA naming the file. */
  read(): IndexSnapshot {
    return this.readVersion().snapshot;
  }

  /** read(), with the version of the file read (from a stat of the descriptor it was read through). */
  readVersion(): { snapshot: IndexSnapshot; version: FileVersion } {
    const { text, version } = readCappedFile(this.path, MAX_INDEX_BYTES);
    const json = tolerateNullManifests(parseJson(text, this.path));
    checkIndexFile(json, this.path);
    return { snapshot: { index: json, text }, version };
  }

  /**
   * The only way to change index.json: lock, re-read, apply `fn` to a private copy, write durably.
   * `fn` may be called once per update; returning `index: undefined` (or an identical index) writes
   * nothing. Throws E_LOCK_TIMEOUT, E_LOCK_COMPROMISED, or whatever fn throws (nothing written).
   */
  async update<T>(
    fn: (index: IndexFile, held: HeldLock) => Promise<UpdateResult<T>> | UpdateResult<T>,
  ): Promise<T> {
    return withLayoutLock(
      this.root,
      async (held) => {
        // The parse of this read is already private to this call, so fn gets it directly: a
        // structuredClone cost more than the parse itself (spec-notes/performance.md, index.json
        // commit). What we read is kept as its re-serialisation instead, taken before fn.
        const { snapshot, version } = this.readVersion();
        const { index, text } = snapshot;
        // Compare with what we read re-serialised, not with the file's bytes: an unchanged index
        // written by a peer (skopeo: no newline; crane: indented) must not be rewritten. The
        // version we wrote last is its own re-serialisation already, and stringifying a large
        // index is a good share of the commit's cost. (Were a peer to rewrite the file keeping
        // its inode, size and both times, the cost would be one needless rewrite: a file whose
        // bytes are exactly what we would write is never written again either way.)
        const before = sameVersion(this.written, version) ? text : serializeIndex(index);
        const out = await fn(index, held);
        if (out.index !== undefined) {
          const next = serializeIndex(out.index);
          if (next.length !== before.length || next !== before) {
            checkIndexFile(out.index, `new ${this.path}`);
            this.beforeCommit();
            // Checked twice: before the write (not to write a large index in vain) and right
            // before the rename, since the lock can be lost while the write stalls (a stopped or
            // starved process stops refreshing it). What is left is the one system call between
            // the last check and the rename: spec-notes/concurrency.md.
            held.assertHeld();
            writeFileDurable(this.path, next, { beforeRename: () => held.assertHeld() });
            this.written = versionOf(this.path);
          }
        }
        await out.afterCommit?.();
        return out.result;
      },
      this.lockOptions,
    );
  }
}

/**
 * go-containerregistry marshals an empty index with a nil slice, `"manifests": null`
 * (layout.Write(path, empty.Index): fresh crane/cosign layouts). Read it as the empty list it means;
 * a later write stores `[]`.
 */
function tolerateNullManifests(json: unknown): unknown {
  if (typeof json === 'object' && json !== null && !Array.isArray(json)) {
    const doc = json as { manifests?: unknown };
    if (doc.manifests === null) doc.manifests = [];
  }
  return json;
}

/**
 * Read a whole text file through one fd, refusing more than `limit` bytes and non-regular files.
 * Throws E_NOT_FOUND, E_UNSAFE_ENTRY (a symlink, or not a regular file: FIFO, device, directory),
 * E_TOO_LARGE, E_IO.
 */
export function readCappedText(path: string, limit: number): string {
  return readCappedFile(path, limit).text;
}

/** The version of the file at `path` now, or undefined if it cannot be read. */
function versionOf(path: string): FileVersion | undefined {
  try {
    return statSync(path, { bigint: true });
  } catch {
    return undefined;
  }
}

/** readCappedText, and the version of the file it read (from the same descriptor). */
function readCappedFile(path: string, limit: number): { text: string; version: FileVersion } {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO planted as oci-layout or index.json would block the whole process
    // forever (and SIGTERM with it); for regular files it changes nothing.
    fd = openSync(
      path,
      constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0),
    );
  } catch (err) {
    if (errnoCode(err) === 'ENOENT')
      throw new NotFoundError('E_NOT_FOUND', `${path} not found`, { path });
    if (errnoCode(err) === 'ELOOP')
      throw new UnsafeInputError('E_UNSAFE_ENTRY', `${path} is a symlink; refusing to follow it`, {
        path,
      });
    throw wrapFsError(err, `open ${path}`, { path });
  }
  try {
    const st = fstatSync(fd, { bigint: true });
    if (!st.isFile()) {
      throw new UnsafeInputError(
        'E_UNSAFE_ENTRY',
        `${path} is not a regular file (FIFO, device or directory); refusing to read it`,
        { path },
      );
    }
    const size = Number(st.size);
    if (size > limit) {
      throw new UnsafeInputError(
        'E_TOO_LARGE',
        `${path} is ${size} bytes, over the ${limit}-byte limit`,
        {
          path,
          size,
          limit,
        },
      );
    }
    const buf = Buffer.allocUnsafe(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, buf, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    return { text: buf.subarray(0, off).toString('utf8'), version: st };
  } catch (err) {
    throw wrapFsError(err, `read ${path}`, { path });
  } finally {
    closeSync(fd);
  }
}
