// Blob storage: content-addressed files under blobs/<alg>/<hex>. Knows nothing of manifests or tags.
// Every write goes through ingest/ (hash while writing, fsync, verify, link into place), so a blob
// is either absent or complete and correct; readers verify while streaming.
import {
  closeSync,
  constants,
  createReadStream,
  fsyncSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  fstatSync,
  renameSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { spawnSync } from 'node:child_process';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  algorithmOf,
  newHash,
  parseDigest,
  matchesDigestGrammar,
  isSupportedAlgorithm,
  type Algorithm,
  type Digest,
} from '../digest.js';
import {
  NotFoundError,
  OcilayoutError,
  UnsafeInputError,
  errnoCode,
  wrapFsError,
} from '../errors.js';
import { fsyncDir } from './durable.js';
import { leaseDigest, newPartPath, newTrashPath } from './ingest.js';
import { BLOBS_DIR, blobDir, blobPath } from './paths.js';
import { VerifyingStream, digestMismatch, sizeMismatch } from './verify-stream.js';

export interface PutExpectation {
  /** Verify the content hashes to this; also selects the algorithm. */
  digest?: string | undefined;
  /** Verify the content has exactly this many bytes (fails early when exceeded). */
  size?: number | undefined;
  /** Algorithm when no digest is expected (default sha256). */
  algorithm?: Algorithm | undefined;
}

export interface PutResult {
  digest: Digest;
  size: number;
  /** The blob was already present; nothing was written. */
  existed: boolean;
}

export interface PutOptions {
  /**
   * Leave the fsync of blobs/<alg>/ to flush(): batch writers (import, copy) make one directory
   * sync per commit instead of one per blob. The blob file itself is always fsync'd.
   */
  deferDirSync?: boolean;
  /**
   * Leave the blob file's own fsync to flush() too (implies deferDirSync): writers of many small
   * blobs (import, convert, copy) then pay one syncfs per commit instead of one fsync per blob
   * (~0.5-1 ms each here). The blob is visible before it is durable; only a power loss can tell,
   * and no index.json commit references it before flush() ran (IndexStore calls flush() first).
   * See spec-notes/performance.md.
   */
  deferFileSync?: boolean;
}

export interface BlobListing {
  blobs: Digest[];
  /** Files under blobs/ whose names are not digests we support (temp files of other tools...). */
  strays: string[];
}

const CHUNK = 1024 * 1024;
/** put() writes at least this much per write call (except the last). */
const WRITE_BATCH = 1024 * 1024;
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
/** With at least this many deferred files, flush() syncs the filesystem once instead. */
const SYNCFS_THRESHOLD = 8;
/**
 * Opening a FIFO for reading blocks until a writer appears (the whole process, for openSync), so
 * blob reads open non-blocking and refuse anything that is not a regular file. O_NONBLOCK changes
 * nothing for regular files.
 */
const READ_FLAGS = constants.O_RDONLY | O_NOFOLLOW | (constants.O_NONBLOCK ?? 0);

export class BlobStore {
  private readonly dirtyDirs = new Set<string>();
  /** Blob files written or linked with deferFileSync and not yet made durable by flush(). */
  private readonly unsyncedFiles = new Set<string>();
  /** blobs/<alg>/ directories already found to be real directories (see assertOwnDirs). */
  private readonly ownDirs = new Set<string>();

  constructor(readonly root: string) {}

  path(digest: Digest): string {
    return blobPath(this.root, digest);
  }

  /**
   * Size of a blob, undefined when absent. Throws E_UNSAFE_ENTRY when the blob is not a regular
   * file (a symlink could point outside the layout).
   */
  stat(digest: Digest): { size: number } | undefined {
    this.assertOwnDirs(digest);
    let st: Stats;
    try {
      st = lstatSync(this.path(digest));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return undefined;
      throw wrapFsError(err, `stat blob ${digest}`, { digest });
    }
    if (!st.isFile()) {
      throw new UnsafeInputError(
        'E_UNSAFE_ENTRY',
        `blob ${digest} is not a regular file (symlink or special file)`,
        {
          digest,
          path: this.path(digest),
        },
      );
    }
    return { size: st.size };
  }

  has(digest: Digest): boolean {
    return this.stat(digest) !== undefined;
  }

  /**
   * Store a blob from a stream. Idempotent: if `expected.digest` is present already, the source is
   * not read. Throws E_DIGEST_MISMATCH / E_SIZE_MISMATCH (nothing becomes visible).
   * The source must not reuse a chunk's memory after yielding it: chunks are held until written.
   */
  async put(
    source: AsyncIterable<Uint8Array>,
    expected: PutExpectation = {},
    options: PutOptions = {},
  ): Promise<PutResult> {
    const known = this.checkKnown(expected);
    if (known !== undefined) {
      (source as Partial<Readable>).destroy?.();
      return known;
    }
    const alg =
      expected.digest !== undefined
        ? algorithmOf(parseDigest(expected.digest))
        : (expected.algorithm ?? 'sha256');
    const part = newPartPath(this.root);
    const hash = newHash(alg);
    let size = 0;
    let fh: FileHandle | undefined;
    // Hash chunk n+1 while chunk n is being written: one write in flight at a time.
    let pending: Promise<void> = Promise.resolve();
    const what = `write blob ${expected.digest ?? ''}`.trimEnd();
    try {
      fh = await fsStep(
        open(part, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644),
        what,
      );
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
        if (expected.size !== undefined && size > expected.size) {
          throw sizeMismatch(this.describe(expected), expected.size, size, true);
        }
        hash.update(chunk);
        batch.push(chunk);
        batched += chunk.byteLength;
        if (batched >= WRITE_BATCH) await flush();
      }
      if (batched > 0) await flush();
      await pending;
      if (options.deferFileSync !== true) await fsStep(fh.sync(), what);
      const handle = fh;
      fh = undefined;
      await fsStep(handle.close(), what);
      const digest = this.verify(alg, hash.digest('hex'), size, expected);
      return this.commitPart(part, digest, size, options);
    } finally {
      // A write still in flight when the source failed must settle before the file goes.
      await pending.catch(() => undefined);
      if (fh !== undefined) await fh.close().catch(() => undefined);
      removeQuietly(part);
    }
  }

  /** Store a small blob (manifests, configs) with synchronous I/O: no event-loop hops per file. */
  putBytes(bytes: Uint8Array, expected: PutExpectation = {}, options: PutOptions = {}): PutResult {
    const alg =
      expected.digest !== undefined
        ? algorithmOf(parseDigest(expected.digest))
        : (expected.algorithm ?? 'sha256');
    if (expected.size !== undefined && bytes.byteLength !== expected.size) {
      throw sizeMismatch(this.describe(expected), expected.size, bytes.byteLength, false);
    }
    // The bytes are in hand and small: verify them before the idempotent short-cut, so a wrong
    // expectation never passes for an existing blob, and a truncated copy (size known) is rewritten.
    const digest = this.verify(
      alg,
      newHash(alg).update(bytes).digest('hex'),
      bytes.byteLength,
      expected,
    );
    const known = this.checkKnown({ digest, size: bytes.byteLength });
    if (known !== undefined) return known;
    const part = newPartPath(this.root);
    try {
      const fd = openSync(part, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
      try {
        let off = 0;
        while (off < bytes.byteLength) off += writeSync(fd, bytes, off, bytes.byteLength - off);
        if (options.deferFileSync !== true) fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      return this.commitPart(part, digest, bytes.byteLength, options);
    } catch (err) {
      throw wrapFsError(err, `write blob ${digest}`, { digest });
    } finally {
      removeQuietly(part);
    }
  }

  /**
   * Add an existing file of verified content by hard link (same filesystem), for copy between
   * layouts. Returns false when linking is impossible (other filesystem, no permission): the caller
   * then streams a verified copy.
   */
  linkFrom(
    sourcePath: string,
    digest: Digest,
    size: number,
    options: PutOptions = {},
  ): PutResult | false {
    const known = this.checkKnown({ digest, size });
    if (known !== undefined) return known;
    const target = this.path(digest);
    try {
      mkdirSync(blobDir(this.root, digest), { recursive: true });
      this.assertOwnDirs(digest);
      linkSync(sourcePath, target);
    } catch (err) {
      if (errnoCode(err) === 'EEXIST') return { digest, size, existed: true };
      if (
        ['EXDEV', 'EPERM', 'EACCES', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP'].includes(
          errnoCode(err) ?? '',
        )
      )
        return false;
      throw wrapFsError(err, `link blob ${digest}`, { digest });
    }
    this.dirtyDirs.add(blobDir(this.root, digest));
    // A source in another layout is durable already. A source written with deferFileSync (import
    // staging) is not: the caller says so, and the shared inode is synced at flush().
    if (options.deferFileSync === true) this.unsyncedFiles.add(target);
    return { digest, size, existed: false };
  }

  /** Open a blob for reading; with `verify`, the stream errors at its end unless size and digest match. */
  open(digest: Digest, options: { verify?: boolean; size?: number } = {}): Readable {
    const path = this.path(digest);
    const fd = this.openForRead(digest);
    const stream = createReadStream(path, { fd, highWaterMark: CHUNK });
    if (options.verify !== true) return stream;
    const verifier = new VerifyingStream({ digest, size: options.size }, `blob ${digest}`);
    stream.on('error', (err) => verifier.destroy(err));
    // A small blob can flow through and fail verification before the caller starts reading (it
    // may await an open() first): keep that error on the stream (stream.errored, seen by for-await
    // and pipeline) instead of letting an 'error' event with no listener crash the process.
    verifier.on('error', () => undefined);
    return stream.pipe(verifier);
  }

  /**
   * Read a whole small blob (manifest, index, config), refusing more than `maxBytes`.
   * Verifies the digest unless `verify` is false. Throws E_NOT_FOUND, E_TOO_LARGE, E_DIGEST_MISMATCH.
   */
  readBytes(digest: Digest, maxBytes: number, options: { verify?: boolean } = {}): Buffer {
    const fd = this.openForRead(digest);
    try {
      const size = fstatSync(fd).size;
      if (size > maxBytes) {
        throw new UnsafeInputError(
          'E_TOO_LARGE',
          `blob ${digest} is ${size} bytes, over the ${maxBytes}-byte limit for JSON documents`,
          {
            digest,
            size,
            limit: maxBytes,
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
      const bytes = buf.subarray(0, off);
      if (options.verify !== false) {
        const found = `${algorithmOf(digest)}:${newHash(algorithmOf(digest)).update(bytes).digest('hex')}`;
        if (found !== digest) throw digestMismatch(`blob ${digest}`, digest, found);
      }
      return bytes;
    } catch (err) {
      throw wrapFsError(err, `read blob ${digest}`, { digest });
    } finally {
      closeSync(fd);
    }
  }

  /** Remove a blob. Returns false when it was not there. */
  delete(digest: Digest): boolean {
    this.assertOwnDirs(digest);
    try {
      unlinkSync(this.path(digest));
      this.dirtyDirs.add(blobDir(this.root, digest));
      return true;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false;
      throw wrapFsError(err, `delete blob ${digest}`, { digest });
    }
  }

  /**
   * gc's first step of a delete: move the blob atomically into ingest/ (one rename on the same
   * filesystem), so a writer that looks after this sees it absent. Returns the trash path and the
   * size, or undefined when the blob is already gone (someone else deleted it: not an error).
   * See spec-notes/concurrency.md.
   */
  moveAside(digest: Digest): { trashPath: string; size: number } | undefined {
    this.assertOwnDirs(digest);
    const path = this.path(digest);
    let size: number;
    try {
      size = lstatSync(path).size;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw wrapFsError(err, `stat blob ${digest}`, { digest });
    }
    const trashPath = newTrashPath(this.root, digest);
    try {
      renameSync(path, trashPath);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw wrapFsError(err, `move blob ${digest} aside`, { digest });
    }
    this.dirtyDirs.add(blobDir(this.root, digest));
    return { trashPath, size };
  }

  /**
   * Undo moveAside: hard-link the parked file back (a blob already there, re-written by a writer
   * meanwhile, is just as good), then drop the trash file. The directory is synced by flush().
   */
  restoreFromTrash(trashPath: string, digest: Digest): void {
    try {
      mkdirSync(blobDir(this.root, digest), { recursive: true });
      this.assertOwnDirs(digest);
      linkSync(trashPath, this.path(digest));
      this.dirtyDirs.add(blobDir(this.root, digest));
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw wrapFsError(err, `restore blob ${digest}`, { digest });
    }
    removeQuietly(trashPath);
  }

  /** Every blob file, sorted; names that are not valid digests of a supported algorithm are strays. */
  list(): BlobListing {
    const blobs: Digest[] = [];
    const strays: string[] = [];
    const base = join(this.root, BLOBS_DIR);
    let algs: string[];
    try {
      if (!lstatSync(base).isDirectory()) throw unsafeDir(base);
      algs = readdirSync(base).sort();
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return { blobs, strays };
      throw wrapFsError(err, `list ${base}`);
    }
    for (const alg of algs) {
      const dir = join(base, alg);
      let names: string[];
      try {
        // A symlinked algorithm directory is never listed: gc would delete what it points at.
        if (lstatSync(dir).isSymbolicLink())
          throw Object.assign(new Error(dir), { code: 'ENOTDIR' });
        names = readdirSync(dir).sort();
      } catch (err) {
        if (errnoCode(err) === 'ENOTDIR') {
          strays.push(join(BLOBS_DIR, alg));
          continue;
        }
        throw wrapFsError(err, `list ${dir}`);
      }
      for (const name of names) {
        const candidate = `${alg}:${name}`;
        if (isSupportedAlgorithm(alg) && matchesDigestGrammar(candidate)) {
          try {
            blobs.push(parseDigest(candidate));
            continue;
          } catch {
            /* falls through to stray */
          }
        }
        strays.push(join(BLOBS_DIR, alg, name));
      }
    }
    return { blobs, strays };
  }

  /**
   * Make every deferred blob durable (PutOptions.deferFileSync), then fsync every blobs/<alg>/
   * directory changed since the last flush. Many files: one syncfs(2) of the layout's filesystem
   * (coreutils `sync --file-system`), which lets the kernel commit them in one journal
   * transaction; few files, or no `sync` command: one fsync each.
   */
  flush(): void {
    if (this.unsyncedFiles.size >= SYNCFS_THRESHOLD && syncFileSystem(this.root)) {
      this.unsyncedFiles.clear();
    }
    for (const file of this.unsyncedFiles) fsyncFile(file);
    this.unsyncedFiles.clear();
    for (const dir of this.dirtyDirs) fsyncDir(dir);
    this.dirtyDirs.clear();
  }

  private describe(expected: PutExpectation): string {
    return expected.digest !== undefined ? `blob ${expected.digest}` : 'blob';
  }

  /** The idempotent short-cut: lease first (gc protocol), then look. */
  private checkKnown(expected: PutExpectation): PutResult | undefined {
    if (expected.digest === undefined) return undefined;
    const digest = parseDigest(expected.digest);
    leaseDigest(this.root, digest);
    const st = this.stat(digest);
    if (st === undefined) return undefined;
    if (expected.size !== undefined && st.size !== expected.size) return undefined; // corrupt copy: rewrite it
    return { digest, size: st.size, existed: true };
  }

  private verify(alg: Algorithm, hex: string, size: number, expected: PutExpectation): Digest {
    const digest = `${alg}:${hex}` as Digest;
    if (expected.size !== undefined && size !== expected.size) {
      throw sizeMismatch(this.describe(expected), expected.size, size, false);
    }
    if (expected.digest !== undefined && expected.digest !== digest) {
      throw digestMismatch(this.describe(expected), expected.digest, digest);
    }
    return digest;
  }

  private commitPart(part: string, digest: Digest, size: number, options: PutOptions): PutResult {
    leaseDigest(this.root, digest);
    const dir = blobDir(this.root, digest);
    const target = this.path(digest);
    try {
      mkdirSync(dir, { recursive: true });
      this.assertOwnDirs(digest);
      let existed = false;
      try {
        // link, not rename: an existing blob (maybe hard-linked into another layout) keeps its inode.
        linkSync(part, target);
      } catch (err) {
        const code = errnoCode(err);
        if (code !== 'EEXIST' && !NO_HARD_LINKS.has(code ?? '')) throw err;
        // Present already (or no hard links on this filesystem: exFAT, vfat, some network mounts):
        // keep a complete file, else rename the verified bytes over whatever sits there.
        const st = lstatOrUndefined(target);
        if (st !== undefined && st.isFile() && st.size === size) existed = true;
        else renameSync(part, target);
      }
      if (!existed) {
        if (options.deferFileSync === true) this.unsyncedFiles.add(target);
        if (options.deferDirSync === true || options.deferFileSync === true)
          this.dirtyDirs.add(dir);
        else fsyncDir(dir);
      }
      return { digest, size, existed };
    } catch (err) {
      throw wrapFsError(err, `store blob ${digest}`, { digest });
    }
  }

  /** An fd on a regular blob file. Throws E_NOT_FOUND, E_UNSAFE_ENTRY (symlink, FIFO, device). */
  private openForRead(digest: Digest): number {
    this.assertOwnDirs(digest);
    let fd: number;
    try {
      fd = openSync(this.path(digest), READ_FLAGS);
    } catch (err) {
      throw this.readError(err, digest);
    }
    let regular: boolean;
    try {
      regular = fstatSync(fd).isFile();
    } catch (err) {
      closeSync(fd);
      throw wrapFsError(err, `stat blob ${digest}`, { digest });
    }
    if (!regular) {
      closeSync(fd);
      throw new UnsafeInputError(
        'E_UNSAFE_ENTRY',
        `blob ${digest} is not a regular file (FIFO, device or directory); refusing to read it`,
        { digest, path: this.path(digest) },
      );
    }
    return fd;
  }

  /**
   * blobs/ and blobs/<alg>/ must be this layout's own directories: through a symlinked one, reads
   * would leave the layout, writes would land elsewhere and gc would delete another tree's files
   * (O_NOFOLLOW guards only the last path component). A missing directory passes: the caller
   * creates it or finds nothing. Throws E_UNSAFE_ENTRY.
   */
  private assertOwnDirs(digest: Digest): void {
    const dir = blobDir(this.root, digest);
    if (this.ownDirs.has(dir)) return;
    for (const d of [join(this.root, BLOBS_DIR), dir]) {
      let st: Stats;
      try {
        st = lstatSync(d);
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') return;
        throw wrapFsError(err, `stat ${d}`);
      }
      if (!st.isDirectory()) throw unsafeDir(d);
    }
    this.ownDirs.add(dir);
  }

  private readError(err: unknown, digest: Digest): OcilayoutError {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return new NotFoundError('E_NOT_FOUND', `blob ${digest} not found in ${this.root}`, {
        digest,
      });
    }
    if (code === 'ELOOP') {
      return new UnsafeInputError(
        'E_UNSAFE_ENTRY',
        `blob ${digest} is a symlink; refusing to follow it`,
        { digest },
      );
    }
    return wrapFsError(err, `open blob ${digest}`, { digest });
  }
}

function unsafeDir(dir: string): UnsafeInputError {
  return new UnsafeInputError(
    'E_UNSAFE_ENTRY',
    `${dir} is a symlink or not a directory; refusing to read, write or delete through it`,
    { path: dir },
    {
      hint: 'make it a real directory holding the blobs (copy the blobs in, do not link the directory)',
    },
  );
}

/** link(2) errors that mean "this filesystem has no hard links", not "something is wrong". */
const NO_HARD_LINKS: ReadonlySet<string> = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

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

/** fsync one file by path; a file removed meanwhile (gc) needs no sync. */
function fsyncFile(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | O_NOFOLLOW);
    fsyncSync(fd);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw wrapFsError(err, `fsync ${path}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** syncfs(2) of the filesystem holding `path`, via coreutils; false when that is not available. */
function syncFileSystem(path: string): boolean {
  const r = spawnSync('sync', ['--file-system', path], { stdio: 'ignore', timeout: 120_000 });
  return r.status === 0;
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* already moved or removed */
  }
}
