// Blob storage: content-addressed files under blobs/<alg>/<hex>. Knows nothing of manifests or tags.
// Every write goes through ingest/ (hash while writing, fsync, verify, link into place), so a blob
// is either absent or complete and correct; readers verify while streaming. The verbs live here;
// the byte-level steps in blob-write.ts / blob-read.ts, directories in blob-dirs.ts, batched
// fsyncs in pending-sync.ts.
import {
  closeSync,
  createReadStream,
  fstatSync,
  fsync,
  linkSync,
  lstatSync,
  renameSync,
  unlinkSync,
} from 'node:fs';
import type { BigIntStats, Stats } from 'node:fs';
import { sep } from 'node:path';
import type { Readable } from 'node:stream';
import { algorithmOf, newHash, parseDigest, type Algorithm, type Digest } from '../digest.js';
import { UnsafeInputError, UsageError, errnoCode, wrapFsError } from '../errors.js';
import { OwnBlobDirs, listBlobs, type BlobListing } from './blob-dirs.js';
import { openBlobFile, openBlobFileSized, readWholeBlob } from './blob-read.js';
import { copyIntoPart, linkBack, placePart, writePart, writePartBytes } from './blob-write.js';
import { fsyncDir } from './durable.js';
import { lstatVersion } from './file-version.js';
import { cleanupAtExit } from './exit-cleanup.js';
import { hashFd, type FileHash } from './hash-file.js';
import { leaseDigest, newPartPath, newTrashPath } from './ingest.js';
import { makeDirs } from './make-dirs.js';
import { PendingSync } from './pending-sync.js';
import { blobDir } from './paths.js';
import { VerifyingStream, digestMismatch, sizeMismatch } from './verify-stream.js';

export type { BlobListing } from './blob-dirs.js';

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
   * (what each costs: spec-notes/performance.md). The blob is visible before it is durable; only a
   * power loss can tell, and no index.json commit references it before flush() ran (IndexStore
   * calls flush() first).
   */
  deferFileSync?: boolean;
  /**
   * The source may reuse a chunk's memory once it has been asked for the chunk after the next one
   * (see writePart's `transient`). Without it, chunks must stay as they are until written.
   */
  transientChunks?: boolean;
}

/**
 * Read streams hand out 1 MiB chunks: the 64 KiB default loses hashing throughput
 * (spec-notes/performance.md).
 */
const CHUNK = 1024 * 1024;

export class BlobStore {
  /** Deferred fsyncs of blob files and blobs/<alg>/ directories, made durable by flush(). */
  private readonly pending = new PendingSync();
  /** Every path into blobs/ is checked through this first (see OwnBlobDirs). */
  private readonly ownDirs: OwnBlobDirs;

  /** blobs/<alg> under root, by algorithm (see path()). */
  private readonly algDirs = new Map<string, string>();

  constructor(readonly root: string) {
    this.ownDirs = new OwnBlobDirs(root);
  }

  path(digest: Digest): string {
    // blobPath's join, once per algorithm: the encoded part of a parsed digest is plain hex, so
    // appending it after a separator is what join would give.
    const colon = digest.indexOf(':');
    const alg = digest.slice(0, colon);
    let dir = this.algDirs.get(alg);
    if (dir === undefined) {
      dir = blobDir(this.root, digest);
      this.algDirs.set(alg, dir);
    }
    return `${dir}${sep}${digest.slice(colon + 1)}`;
  }

  /**
   * Size of a blob, undefined when absent. Throws E_UNSAFE_ENTRY when the blob is not a regular
   * file (a symlink could point outside the layout).
   */
  stat(digest: Digest): { size: number } | undefined {
    this.ownDirs.assert(digest);
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

  /**
   * What identifies the blob's file now (a bigint lstat: dev, ino, size, times), undefined when it
   * is absent or not a regular file. Its directories are checked as for every read.
   */
  version(digest: Digest): BigIntStats | undefined {
    this.ownDirs.assert(digest);
    const st = lstatVersion(this.path(digest));
    return st?.isFile() === true ? st : undefined;
  }

  has(digest: Digest): boolean {
    return this.stat(digest) !== undefined;
  }

  /**
   * Store a blob from a stream. Idempotent: if `expected.digest` is present already, the source is
   * not read. Throws E_DIGEST_MISMATCH / E_SIZE_MISMATCH (nothing becomes visible).
   * The source must not reuse a chunk's memory after yielding it (chunks are held until written),
   * unless `options.transientChunks` says so.
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
    // The write awaits the source (a pipe, a registry): an exit meanwhile removes the part too.
    const forget = cleanupAtExit(() => removeQuietly(part));
    const hash = newHash(alg);
    try {
      const size = await writePart(part, source, hash, {
        maxSize: expected.size,
        describe: this.describe(expected),
        what: `write blob ${expected.digest ?? ''}`.trimEnd(),
        fsync: options.deferFileSync !== true,
        transient: options.transientChunks === true,
      });
      const digest = this.verify(alg, hash.digest('hex'), size, expected);
      return this.commitPart(part, digest, size, options);
    } finally {
      forget();
      removeQuietly(part);
    }
  }

  /**
   * Store a blob from a local file the caller opened (`srcFd`, a regular file, left open): copied
   * by the kernel into a part file, then the part (what was written, not the source) is hashed on
   * a worker while it is fsync'd, and linked into place only if size and digest match. Idempotent
   * like put(). Returns undefined, having written nothing, when this platform cannot copy that way
   * or the source is not one to copy so (see copyIntoPart; the caller streams through put()).
   * Throws E_SIZE_MISMATCH (the source's size is checked before copying), E_DIGEST_MISMATCH
   * (nothing becomes visible), E_IO.
   */
  async putFile(
    srcFd: number,
    expected: { digest: Digest; size: number },
    options: PutOptions = {},
  ): Promise<PutResult | undefined> {
    const known = this.checkKnown(expected);
    if (known !== undefined) return known;
    const what = `copy blob ${expected.digest}`;
    const describe = this.describe(expected);
    let srcSize: number;
    try {
      srcSize = fstatSync(srcFd).size;
    } catch (err) {
      throw wrapFsError(err, what, { digest: expected.digest });
    }
    // A bigger file is refused before a byte is copied, as put() stops at the first byte too many.
    if (srcSize !== expected.size) {
      throw sizeMismatch(describe, expected.size, srcSize, srcSize > expected.size);
    }
    const alg = algorithmOf(expected.digest);
    const part = newPartPath(this.root);
    const forget = cleanupAtExit(() => removeQuietly(part));
    try {
      let fd: number | undefined;
      try {
        fd = await copyIntoPart(srcFd, part);
      } catch (err) {
        throw wrapFsError(err, what, { digest: expected.digest });
      }
      if (fd === undefined) return undefined;
      let hashed: FileHash;
      try {
        // The part is ours and no longer written: its bytes are what gets linked, so they are what
        // is verified (a source rewritten after the size check, or read wrong, fails here; one
        // shrunk during the copy is what copyIntoPart's owner check is for). The fsync
        // runs meanwhile; both settle before the fd is closed (a read or sync in flight on a
        // closed fd number could touch whatever file reuses it).
        const [h, synced] = await Promise.allSettled([
          hashFd(fd, alg, expected.size),
          options.deferFileSync === true ? Promise.resolve() : fsyncFd(fd),
        ]);
        if (h.status === 'rejected') throw h.reason;
        if (synced.status === 'rejected') throw synced.reason;
        hashed = h.value;
      } catch (err) {
        throw wrapFsError(err, what, { digest: expected.digest });
      } finally {
        closeSync(fd);
      }
      const digest = this.verify(alg, hashed.hex, hashed.size, expected);
      return this.commitPart(part, digest, hashed.size, options);
    } finally {
      forget();
      removeQuietly(part);
    }
  }

  /**
   * Commit a part file the caller wrote in this layout's ingest/ (newPartPath) and hashed while
   * writing it, over several requests (a registry's chunked upload keeps its running hash in
   * memory). The part must be complete, fsync'd and no longer written to. Verifies size and digest
   * against `expected` as put() does (E_SIZE_MISMATCH / E_DIGEST_MISMATCH: nothing becomes
   * visible), then links it into place. The part file stays; the caller removes it.
   */
  commitHashed(
    part: string,
    hashed: { algorithm: Algorithm; hex: string; size: number },
    expected: PutExpectation,
    options: PutOptions = {},
  ): PutResult {
    const digest = this.verify(hashed.algorithm, hashed.hex, hashed.size, expected);
    return this.commitPart(part, digest, hashed.size, options);
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
      writePartBytes(part, bytes, options.deferFileSync !== true);
      return this.commitPart(part, digest, bytes.byteLength, options);
    } catch (err) {
      throw wrapFsError(err, `write blob ${digest}`, { digest });
    } finally {
      removeQuietly(part);
    }
  }

  /**
   * Add an existing file of verified content by hard link (same filesystem), for copy between
   * layouts. Returns false when linking is impossible (other filesystem, no permission) or unsafe
   * (see linkableSource): the caller then streams a verified copy.
   */
  linkFrom(
    sourcePath: string,
    digest: Digest,
    size: number,
    options: PutOptions = {},
  ): PutResult | false {
    const known = this.checkKnown({ digest, size });
    if (known !== undefined) return known;
    const source = linkableSource(sourcePath);
    if (source === undefined) return false;
    const target = this.path(digest);
    try {
      makeDirs(blobDir(this.root, digest));
      this.ownDirs.assert(digest);
      linkSync(sourcePath, target);
      // The path may have been swapped between the check and link(2): keep only the inode checked.
      const linked = lstatSync(target);
      if (linked.ino !== source.ino || linked.dev !== source.dev) {
        removeQuietly(target);
        return false;
      }
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
    this.pending.dir(blobDir(this.root, digest));
    // A source in another layout is durable already. A source written with deferFileSync (import
    // staging) is not: the caller says so, and the shared inode is synced at flush().
    if (options.deferFileSync === true) this.pending.file(target);
    return { digest, size, existed: false };
  }

  /**
   * Open a blob for reading; with `verify`, the stream errors at its end unless size and digest
   * match. `start` reads from that byte on (a resumed upload), `end` up to that byte (inclusive:
   * a Range request); a part cannot be verified, so `verify` with either is a programming error
   * (E_USAGE).
   */
  open(
    digest: Digest,
    options: {
      verify?: boolean;
      size?: number;
      start?: number;
      end?: number;
      /** Bytes read at a time (default 1 MiB): a server with many streams open reads less each. */
      chunkBytes?: number;
    } = {},
  ): Readable {
    const start = options.start ?? 0;
    if ((start > 0 || options.end !== undefined) && options.verify === true)
      throw new UsageError(
        'E_USAGE',
        `blob ${digest}: cannot verify a read of part of it (from ${start})`,
      );
    const path = this.path(digest);
    const fd = this.openForRead(digest);
    const stream = createReadStream(path, {
      fd,
      highWaterMark: options.chunkBytes ?? CHUNK,
      start,
      ...(options.end === undefined ? {} : { end: options.end }),
    });
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
   * An fd on the blob's regular file (never through a symlink, never blocking on a FIFO), for a
   * caller that reads it its own way (the server's blob responses); the caller closes it. Throws
   * E_NOT_FOUND, E_UNSAFE_ENTRY.
   */
  openFile(digest: Digest): number {
    return this.openForRead(digest);
  }

  /**
   * Read a whole small blob (manifest, index, config), refusing more than `maxBytes`.
   * Verifies the digest unless `verify` is false. Throws E_NOT_FOUND, E_TOO_LARGE, E_DIGEST_MISMATCH.
   */
  readBytes(digest: Digest, maxBytes: number, options: { verify?: boolean } = {}): Buffer {
    this.ownDirs.assert(digest);
    const { fd, size } = openBlobFileSized(this.path(digest), digest, this.root);
    try {
      return readWholeBlob(fd, size, digest, maxBytes, options.verify !== false);
    } catch (err) {
      throw wrapFsError(err, `read blob ${digest}`, { digest });
    } finally {
      closeSync(fd);
    }
  }

  /** Remove a blob. Returns false when it was not there. */
  delete(digest: Digest): boolean {
    this.ownDirs.assert(digest);
    try {
      unlinkSync(this.path(digest));
      this.pending.dir(blobDir(this.root, digest));
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
    this.ownDirs.assert(digest);
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
    this.pending.dir(blobDir(this.root, digest));
    return { trashPath, size };
  }

  /**
   * Undo moveAside: hard-link the parked file back (a blob already there, re-written by a writer
   * meanwhile, is just as good), then drop the trash file. The directory is synced by flush().
   */
  restoreFromTrash(trashPath: string, digest: Digest): void {
    try {
      makeDirs(blobDir(this.root, digest));
      this.ownDirs.assert(digest);
      linkBack(trashPath, this.path(digest));
      this.pending.dir(blobDir(this.root, digest));
    } catch (err) {
      throw wrapFsError(err, `restore blob ${digest}`, { digest });
    }
    removeQuietly(trashPath);
  }

  /** Every blob file, sorted; names that are not valid digests of a supported algorithm are strays. */
  list(): BlobListing {
    return listBlobs(this.root);
  }

  /**
   * Make every deferred blob durable (PutOptions.deferFileSync), then fsync every blobs/<alg>/
   * directory changed since the last flush (one syncfs for many files; see pending-sync.ts).
   */
  flush(): void {
    this.pending.flush(this.root);
  }

  /** An fd on a regular blob file. Throws E_NOT_FOUND, E_UNSAFE_ENTRY (symlink, FIFO, device). */
  private openForRead(digest: Digest): number {
    this.ownDirs.assert(digest);
    return openBlobFile(this.path(digest), digest, this.root);
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
      makeDirs(dir);
      this.ownDirs.assert(digest);
      const existed = placePart(part, target, size);
      if (!existed) {
        if (options.deferFileSync === true) this.pending.file(target);
        if (options.deferDirSync === true || options.deferFileSync === true) this.pending.dir(dir);
        else fsyncDir(dir);
      }
      return { digest, size, existed };
    } catch (err) {
      throw wrapFsError(err, `store blob ${digest}`, { digest });
    }
  }
}

/**
 * The source of a hard link, when sharing its inode is safe. A link shares the file, not a copy:
 * whoever can write the source can later change our blob in place, behind its digest. So only a
 * regular file owned by us (euid) and writable by nobody else, whose bytes only we (or root) can
 * change, is linked; any other source is copied through the verifying ingest. No euid (Windows):
 * never linked.
 */
function linkableSource(path: string): Stats | undefined {
  const euid = process.geteuid?.();
  if (euid === undefined) return undefined;
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch {
    return undefined; // the caller's copy path reports a missing or unreadable source properly
  }
  if (!st.isFile() || st.uid !== euid || (st.mode & 0o022) !== 0) return undefined;
  return st;
}

function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* already moved or removed */
  }
}
