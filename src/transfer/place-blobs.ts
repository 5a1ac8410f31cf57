// Placing blobs of one layout into another: hard links on the same filesystem (re-hashed first unless
// told to trust the source), else streams through the destination's verifying ingest. Knows nothing of
// tags, referrers or index.json; the layout sink (sinks.ts) calls it when the source is a layout.
import { closeSync, constants, openSync, statSync } from 'node:fs';
import { open, type FileHandle, type FileReadResult } from 'node:fs/promises';
import { algorithmOf, parseDigest, type Digest } from '../digest.js';
import { wrapFsError } from '../errors.js';
import { forEachLimited } from './for-each-limited.js';
import type { Layout } from '../layout/layout.js';
import { isManifestMediaType } from '../media-types.js';
import type { Descriptor } from '../schema/descriptor.js';
import type { PutResult } from '../store/blob-store.js';
import { hashFd, type FileHash } from '../store/hash-file.js';
import { leaseDigest } from '../store/ingest.js';
import { digestMismatch } from '../store/verify-stream.js';

/**
 * Blobs up to this size are read whole with sync I/O: no event-loop hop per file
 * (spec-notes/performance.md).
 */
const SMALL_BLOB = 1024 * 1024;
/**
 * Read size for big blobs: smaller chunks lose hashing throughput to per-chunk overhead, larger
 * ones cost more system time in fresh allocations than they save (spec-notes/performance.md).
 */
const READ_CHUNK = 1024 * 1024;

/** `copied`: streamed or written; `linked`: hard-linked; `mounted`: a registry's cross-repo mount. */
export type BlobOutcome = 'copied' | 'linked' | 'mounted' | 'skipped';

export interface CopyBlobEvent {
  descriptor: Descriptor;
  outcome: BlobOutcome;
  done: number;
  total: number;
}

export interface PlaceOptions {
  /** Hard-link blobs when both layouts share a filesystem (default true); false always streams. */
  link?: boolean | undefined;
  /**
   * Re-hash each source blob before hard-linking it (default true). Streamed copies and small blobs
   * are always verified; false trusts big linked blobs after a size check (spec-notes/copy.md).
   */
  verify?: boolean | undefined;
  /**
   * The source is ours and already verified (import's staging layout): a blob that can be
   * hard-linked is linked without reading it, small ones included. Anything written anew is still
   * verified by the ingest.
   */
  trusted?: boolean | undefined;
  /** Big blobs copied at once (default 4). Small blobs are copied synchronously, one by one. */
  concurrency?: number | undefined;
  /** Called after each blob is in place (progress display). */
  onBlob?: ((event: CopyBlobEvent) => void) | undefined;
}

/** Blobs (and their bytes) by outcome: streamed (`copied`), hard-linked (`linked`), already there. */
export interface BlobCounts {
  blobs: Record<BlobOutcome, number>;
  bytes: Record<BlobOutcome, number>;
}

/** Zero counts for every outcome. */
export function emptyCounts(): BlobCounts {
  return {
    blobs: { copied: 0, linked: 0, mounted: 0, skipped: 0 },
    bytes: { copied: 0, linked: 0, mounted: 0, skipped: 0 },
  };
}

/**
 * Place every blob of `list` (children before parents) in `dst`, leasing each digest there for the
 * coming index.json commit; each blob this call made appear is added to `placed` (for a rollback).
 * Small blobs and unverified links run synchronously (cheap, no event-loop hops); big ones that
 * need hashing or streaming run `concurrency` at a time. Manifests and indexes are placed last, in
 * list order, after everything they reference. Directory fsyncs are left to the
 * destination's next index commit (BlobStore.flush). Throws E_DIGEST_MISMATCH / E_SIZE_MISMATCH for
 * corrupt source content (nothing corrupt becomes visible in `dst`), E_NOT_FOUND, E_IO.
 */
export async function placeBlobs(
  src: Layout,
  dst: Layout,
  list: readonly Descriptor[],
  options: PlaceOptions = {},
  placed: Set<Digest> = new Set(),
): Promise<BlobCounts> {
  const counts = emptyCounts();
  const state = {
    link: options.link !== false && sameFilesystem(src, dst),
    verify: options.verify !== false && options.trusted !== true,
    trusted: options.trusted === true,
  };
  let done = 0;
  const record = (desc: Descriptor, outcome: BlobOutcome): void => {
    counts.blobs[outcome] += 1;
    counts.bytes[outcome] += desc.size;
    if (outcome === 'copied' || outcome === 'linked') placed.add(desc.digest as Digest);
    done += 1;
    options.onBlob?.({ descriptor: desc, outcome, done, total: list.length });
  };
  const deferred: Descriptor[] = [];
  const docs: Descriptor[] = [];
  for (const desc of list) {
    if (isManifestMediaType(desc.mediaType)) {
      docs.push(desc);
      continue;
    }
    const outcome = copyBlobSync(src, dst, desc, state);
    if (outcome === undefined) deferred.push(desc);
    else record(desc, outcome);
  }
  await forEachLimited(deferred, options.concurrency ?? 4, async (desc) => {
    record(desc, await copyBlobAsync(src, dst, desc, state));
  });
  // Manifests last, in post-order: a parent is placed only after all its children (a registry
  // destination requires that order; a layout does not, but one order keeps one code path).
  for (const desc of docs) {
    const outcome = copyBlobSync(src, dst, desc, state);
    record(desc, outcome ?? (await copyBlobAsync(src, dst, desc, state)));
  }
  return counts;
}

interface CopyState {
  /** Try hard links; turned off after the first EXDEV-like refusal. */
  link: boolean;
  verify: boolean;
  trusted: boolean;
}

/** Copy one blob with sync I/O when that is cheap; undefined means "needs the async path". */
function copyBlobSync(
  src: Layout,
  dst: Layout,
  desc: Descriptor,
  state: CopyState,
): BlobOutcome | undefined {
  const digest = parseDigest(desc.digest);
  const found = inDestination(dst, digest, desc.size);
  if (found === 'present') return 'skipped';
  // A damaged file blocks a link (EEXIST would keep it); putBytes/put replace it with verified bytes.
  const link = state.link && found === 'absent';
  const small = desc.size <= SMALL_BLOB;
  if (!small && (!link || state.verify)) return undefined;
  // readBytes verifies the digest: a small blob is checked before it is linked or written (but
  // not read at all for a link from a trusted source; if the link fails, the async path streams
  // it through the verifying ingest).
  const bytes =
    small && !(link && state.trusted) ? src.blobs.readBytes(digest, SMALL_BLOB) : undefined;
  if (link) {
    const linked = dst.blobs.linkFrom(src.blobs.path(digest), digest, desc.size);
    if (linked !== false) return linked.existed ? 'skipped' : 'linked';
    state.link = false;
  }
  if (bytes === undefined) return undefined;
  const put = dst.blobs.putBytes(bytes, { digest, size: desc.size }, { deferFileSync: true });
  return put.existed ? 'skipped' : 'copied';
}

/**
 * Big blobs: hash then link, or copy by the kernel and verify the copy (else stream through the
 * destination's verifying ingest).
 */
async function copyBlobAsync(
  src: Layout,
  dst: Layout,
  desc: Descriptor,
  state: CopyState,
): Promise<BlobOutcome> {
  const digest = parseDigest(desc.digest);
  const found = inDestination(dst, digest, desc.size);
  if (found === 'present') return 'skipped';
  if (state.link && found === 'absent') {
    if (state.verify) await verifyFile(src.blobs.path(digest), digest, desc.size);
    const linked = dst.blobs.linkFrom(src.blobs.path(digest), digest, desc.size);
    if (linked !== false) return linked.existed ? 'skipped' : 'linked';
    state.link = false;
  }
  const expected = { digest, size: desc.size };
  const put =
    (await copyByKernel(src, dst, expected)) ??
    (await dst.blobs.put(readAhead(src.blobs.path(digest), digest), expected, {
      deferDirSync: true,
    }));
  return put.existed ? 'skipped' : 'copied';
}

/**
 * A blob file copied by the kernel into `dst`'s ingest and verified there (BlobStore.putFile);
 * undefined when the platform cannot, and the blob is streamed instead.
 */
async function copyByKernel(
  src: Layout,
  dst: Layout,
  expected: { digest: Digest; size: number },
): Promise<PutResult | undefined> {
  const fd = src.blobs.openFile(expected.digest);
  try {
    return await dst.blobs.putFile(fd, expected, { deferDirSync: true });
  } finally {
    closeSync(fd);
  }
}

/**
 * Whether `dst` already has the blob: `present` (right size), `absent`, or `damaged` (another size:
 * a truncated file left by some tool). Leases the digest first (the gc protocol,
 * spec-notes/concurrency.md), so a concurrent gc keeps it until our commit.
 */
function inDestination(
  dst: Layout,
  digest: Digest,
  size: number,
): 'present' | 'absent' | 'damaged' {
  leaseDigest(dst.root, digest);
  const st = dst.blobs.stat(digest);
  if (st === undefined) return 'absent';
  return st.size === size ? 'present' : 'damaged';
}

function sameFilesystem(src: Layout, dst: Layout): boolean {
  try {
    return statSync(src.root).dev === statSync(dst.root).dev;
  } catch {
    return false;
  }
}

/**
 * Re-hash a source blob file (before hard-linking it), on a worker thread when it is big: the
 * blobs of one copy hash on every core. Throws E_DIGEST_MISMATCH, E_NOT_FOUND, E_IO.
 */
async function verifyFile(path: string, digest: Digest, size: number): Promise<void> {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch (err) {
    throw wrapFsError(err, `open blob ${digest}`, { digest });
  }
  let hashed: FileHash;
  try {
    hashed = await hashFd(fd, algorithmOf(digest), size);
  } catch (err) {
    throw wrapFsError(err, `read blob ${digest}`, { digest });
  } finally {
    closeSync(fd);
  }
  const found = `${algorithmOf(digest)}:${hashed.hex}`;
  if (hashed.size !== size || found !== digest) {
    throw digestMismatch(`blob ${digest} (${hashed.size} bytes)`, digest, found);
  }
}

/**
 * A blob file as chunks of up to 1 MiB, with the next read in flight while the caller hashes or
 * writes this one (big reads, no stream machinery: spec-notes/performance.md). Each chunk is a
 * fresh buffer, because BlobStore.put keeps one chunk in flight to disk while it hashes the next.
 */
async function* readAhead(path: string, digest: Digest): AsyncGenerator<Buffer> {
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch (err) {
    throw wrapFsError(err, `open blob ${digest}`, { digest });
  }
  const readAt = (position: number): Promise<FileReadResult<Buffer>> =>
    fh.read(Buffer.allocUnsafe(READ_CHUNK), 0, READ_CHUNK, position);
  let pending = readAt(0);
  try {
    let position = 0;
    for (;;) {
      const { bytesRead, buffer } = await pending;
      if (bytesRead === 0) return;
      position += bytesRead;
      pending = readAt(position);
      yield buffer.subarray(0, bytesRead);
    }
  } catch (err) {
    throw wrapFsError(err, `read blob ${digest}`, { digest });
  } finally {
    // The consumer may stop early (a size or digest mismatch): let the read in flight land first.
    await pending.catch(() => undefined);
    await fh.close();
  }
}
