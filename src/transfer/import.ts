// `import`: an OCI or docker-save tar (plain, gzip or zstd; file or stream) merged into a layout.
// The archive is read by the one reader (archive/read-archive.ts, also copy's archive source) into
// a private staging layout under the target's ingest/; only then are its blobs placed by the copy
// engine's placement (place-blobs.ts: hard links, else verified copies) and index.json changed, in
// one locked commit that merges every entry of the archive (on-conflict, the target's referrer
// conventions). Any failure leaves the target's index.json (and blobs/) as they were.
import type { Digest } from '../digest.js';
import { Layout, type LayoutInit, type LayoutOptions } from '../layout/layout.js';
import { reclaimBlobs } from '../maintenance/reclaim.js';
import type { Descriptor } from '../schema/descriptor.js';
import { cleanupAtExit } from '../store/exit-cleanup.js';
import { leaseDigest, releaseOperationLease } from '../store/ingest.js';
import { ownerToken } from '../store/liveness.js';
import {
  DEFAULT_EXPANSION_LIMITS,
  type Compression,
  type ExpansionLimits,
} from '../archive/compression.js';
import { mergeIncoming, readIncoming, type IncomingMerge } from '../archive/import-referrers.js';
import type { ConflictPolicy } from '../archive/merge.js';
import { missingBaseError, type DeltaMarker } from '../archive/delta.js';
import { stageArchive, type StagedArchive } from '../archive/read-archive.js';
import { Staging } from '../archive/staging.js';
import { openArchiveFile, type ArchiveInput } from '../archive/tar-source.js';
import { placeBlobs } from './place-blobs.js';

export interface ImportOptions extends LayoutOptions {
  /** A tag in the archive that already names other content in the target: fail (default), skip, overwrite. */
  onConflict?: ConflictPolicy | undefined;
  /** Expansion limits (gzip bomb guard, total size). */
  limits?: Partial<ExpansionLimits> | undefined;
  /** Input bytes read so far, and the input size when known. */
  onProgress?: ((bytesRead: number, total: number | undefined) => void) | undefined;
}

export interface ImportResult {
  layout: string;
  /** The target did not exist (or was empty) and was created. */
  created: boolean;
  format: 'oci' | 'docker';
  compression: Compression;
  /** index.json entries the archive brought (after docker conversion). */
  entries: Descriptor[];
  merge: IncomingMerge;
  blobs: { total: number; added: number; bytesAdded: number };
  /** Entries ignored (unknown names, files outside the layout folder), and external layers. */
  warnings: string[];
  inputBytes: number;
  /** A delta archive: the base it assumed, and how many blobs it left out (all in the target). */
  delta?: { base: DeltaMarker['base']; omitted: number } | undefined;
}

const MAX_WARNINGS = 20;
/**
 * The media type placeBlobs is told for staged blobs: it orders manifests last, which only a
 * registry needs; into a layout, nothing is visible before the index.json commit anyway.
 */
const STAGED_BLOB = 'application/octet-stream';

/**
 * Import `source` (a path, or an ArchiveInput over a stream such as stdin) into the layout at
 * `layoutDir`, creating it if missing. Throws E_UNSAFE_ENTRY, E_TOO_LARGE, E_CORRUPT_ARCHIVE,
 * E_DIGEST_MISMATCH, E_SIZE_MISMATCH, E_INVALID_JSON, E_SCHEMA, E_CONFLICT, E_LOCK_TIMEOUT; on any of
 * them the target's index.json is untouched, the blobs it placed are taken back, and of a target
 * it created only what this import made is removed again (see takeBack).
 */
export async function importArchive(
  source: string | ArchiveInput,
  layoutDir: string,
  options: ImportOptions = {},
): Promise<ImportResult> {
  const input = typeof source === 'string' ? openArchiveFile(source) : source;
  let init: LayoutInit;
  try {
    init = Layout.init(layoutDir, options);
  } catch (err) {
    input.stream.destroy();
    throw err;
  }
  const { layout: target, created } = init;
  return target.operation(async () => {
    /** Blobs this import made appear in the target: taken back if it fails. */
    const placed = new Set<Digest>();
    const policy = options.onConflict ?? 'fail';
    const limits = { ...DEFAULT_EXPANSION_LIMITS, ...options.limits };
    const warnings: string[] = [];
    const warn = (w: string): void => {
      if (warnings.length < MAX_WARNINGS) warnings.push(w);
      else if (warnings.length === MAX_WARNINGS) warnings.push('(more warnings omitted)');
    };
    // An exit mid-import (a signal) is a failure like the others: what it made goes too. Our own
    // files are removed by their own exit actions, which run first (newest first).
    const own = `${ownerToken()}.`;
    const forgetCreated = created
      ? cleanupAtExit(() => init.undoAtExit((name) => name.startsWith(own)))
      : () => undefined;
    let staging: Staging | undefined;
    try {
      staging = Staging.open(target);
      const read = await stageArchive(input, staging, {
        limits,
        onProgress: options.onProgress,
        warn,
        acceptDelta: true,
      });
      const { archiveIndex, closure, summary, isOci } = read;
      const entries = archiveIndex.manifests;
      // A delta: the target must hold every blob it leaves out, checked before anything is placed.
      if (read.delta !== undefined) assertBaseHeld(read, staging.layout, target, input.name);
      const omitted = read.delta?.omitted ?? new Map<Digest, number>();

      // Refuse conflicts before touching the target; the commit decides again under the lock.
      const incoming = readIncoming(staging.layout, archiveIndex);
      mergeIncoming(target, structuredClone(target.readIndex()), incoming, policy, {
        dryRun: true,
      });
      // The copy engine's placement (transfer/place-blobs.ts): hard links from the staging layout
      // (same filesystem), verified copies otherwise; every blob was verified while staging.
      const placement = await placeBlobs(
        staging.layout,
        target,
        [...closure.blobs]
          .filter(([digest]) => !omitted.has(digest))
          .map(([digest, size]) => ({ mediaType: STAGED_BLOB, digest, size })),
        { trusted: true },
        placed,
      );
      const blobs = {
        total: closure.blobs.size,
        added: placement.blobs.copied + placement.blobs.linked,
        bytesAdded: placement.bytes.copied + placement.bytes.linked,
      };
      const merge = await target.updateIndex((index) => ({
        index,
        result: mergeIncoming(target, index, incoming, policy),
      }));
      return {
        layout: target.root,
        created,
        format: isOci ? 'oci' : 'docker',
        compression: summary.compression,
        entries,
        merge,
        blobs,
        warnings,
        inputBytes: summary.inputBytes,
        ...(read.delta === undefined
          ? {}
          : { delta: { base: read.delta.marker.base, omitted: omitted.size } }),
      };
    } catch (err) {
      staging?.discard();
      staging = undefined;
      await takeBack(init, placed);
      throw err;
    } finally {
      staging?.discard();
      forgetCreated();
    }
  });
}
/**
 * E_NOT_FOUND unless `target` holds every blob the delta `read` leaves out, by digest and size
 * (`staged`, the staging layout, carries every manifest: the error names the images in need).
 * Each is leased first (gc's protocol: lease, then look), so a gc running meanwhile cannot take one
 * away before the commit makes index.json reach it.
 */
function assertBaseHeld(
  read: StagedArchive,
  staged: Layout,
  target: Layout,
  archiveName: string,
): void {
  const delta = read.delta!;
  const missing = new Map<Digest, number>();
  for (const [digest, size] of delta.omitted) {
    leaseDigest(target.root, digest);
    if (target.blobs.stat(digest)?.size !== size) missing.set(digest, size);
  }
  if (missing.size === 0) return;
  throw missingBaseError(
    archiveName,
    target.root,
    delta.marker,
    missing,
    read.archiveIndex.manifests,
    staged,
  );
}

/**
 * A failed import leaves the target as it found it: the blobs it placed are reclaimed under gc's
 * protocol, and a layout it created goes again, but only the files and empty directories this
 * import made (a half-copied layout it finished keeps every file it had). The cleanup is best
 * effort: what stays is a valid layout, or garbage for gc; the import's own error is what counts.
 */
async function takeBack(init: LayoutInit, placed: ReadonlySet<Digest>): Promise<void> {
  try {
    await reclaimBlobs(init.layout, placed);
    if (!init.created) return;
    // This import's lease must not keep ingest/ (and so the directory) alive, nor count as
    // another writer: release it first.
    releaseOperationLease(init.layout.root);
    await init.undo();
  } catch {
    /* best effort, see above */
  }
}
