// `import`: an OCI or docker-save tar (plain, gzip or zstd; file or stream) merged into a layout.
// Every entry is judged from its header, every blob verified into a private staging layout, the
// archive's closure checked, and only then are blobs linked into the target and index.json changed,
// in one locked commit. Any failure leaves the target's index.json (and blobs/) as they were.
import type { Readable } from 'node:stream';
import type { Digest } from '../digest.js';
import { IntegrityError } from '../errors.js';
import { Layout, type LayoutInit, type LayoutOptions } from '../layout/layout.js';
import { reclaimBlobs } from '../maintenance/reclaim.js';
import type { Descriptor } from '../schema/descriptor.js';
import {
  IMAGE_LAYOUT_VERSION,
  IndexFileSchema,
  OciLayoutSchema,
  type IndexFile,
} from '../schema/layout-files.js';
import { parseJson, schemaError } from '../schema/manifest.js';
import { cleanupAtExit } from '../store/exit-cleanup.js';
import { releaseOperationLease } from '../store/ingest.js';
import { ownerToken } from '../store/liveness.js';
import { absentPlatformManifests, contentClosure, type Closure } from './closure.js';
import { DEFAULT_EXPANSION_LIMITS, type Compression, type ExpansionLimits } from './compression.js';
import { ArchiveContents, INDEX_NAME, OCI_LAYOUT_NAME, routeFile } from './contents.js';
import { convertDockerArchive } from './docker-import.js';
import { mergeIncoming, readIncoming, type IncomingMerge } from './import-referrers.js';
import type { ConflictPolicy } from './merge.js';
import { Staging } from './staging.js';
import {
  openArchiveFile,
  readArchive,
  type ArchiveInput,
  type ReadArchiveSummary,
} from './tar-source.js';

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
}

const MAX_WARNINGS = 20;

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
      });
      const { archiveIndex, closure, summary, isOci } = read;
      const entries = archiveIndex.manifests;

      // Refuse conflicts before touching the target; the commit decides again under the lock.
      const incoming = readIncoming(staging.layout, archiveIndex);
      mergeIncoming(target, structuredClone(target.readIndex()), incoming, policy, {
        dryRun: true,
      });
      const blobs = await publish(staging.layout, target, closure, placed);
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

/** An archive read into a staging layout: every entry judged, every blob verified, the closure checked. */
export interface StagedArchive {
  contents: ArchiveContents;
  /** The archive's index.json (a docker archive's converted to one). */
  archiveIndex: IndexFile;
  closure: Closure;
  summary: ReadArchiveSummary;
  isOci: boolean;
}

/**
 * Read `input` into `staging` (the one reader of archives: `import`, and copy's archive source):
 * every entry routed from its header, every blob verified, a docker archive converted, the closure
 * checked. Nothing outside `staging` is written. Throws E_UNSAFE_ENTRY, E_TOO_LARGE,
 * E_CORRUPT_ARCHIVE, E_DIGEST_MISMATCH, E_SIZE_MISMATCH, E_INVALID_JSON, E_SCHEMA.
 */
export async function stageArchive(
  input: ArchiveInput,
  staging: Staging,
  options: {
    limits: ExpansionLimits;
    onProgress?: ((bytesRead: number, total: number | undefined) => void) | undefined;
    warn: (warning: string) => void;
  },
): Promise<StagedArchive> {
  const stage = staging;
  const warn = options.warn;
  const summary = await readArchive(
    input,
    { limits: options.limits, freeBytes: () => stage.freeBytes(), onProgress: options.onProgress },
    async (verdict, body) => {
      if (verdict.kind === 'directory') return;
      if (verdict.kind === 'alias') return stage.addAlias(verdict.path, verdict.target);
      const route = routeFile(verdict.path);
      switch (route.kind) {
        case 'json':
          return stage.bufferJson(verdict.path, body, verdict.size, route.limit);
        case 'blob':
          await stage.stageFile(verdict.path, body, verdict.size, route.digest);
          return;
        case 'docker-file':
          await stage.stageFile(verdict.path, body, verdict.size);
          return;
        case 'legacy-metadata':
          return;
        case 'unknown':
          warn(`ignored archive entry ${verdict.path}`);
          return;
      }
    },
  );
  if (summary.trailing !== undefined) {
    warn(
      `ignored ${summary.trailing.bytes} bytes after the end-of-archive marker at offset ${summary.trailing.offset}, as other tar readers do`,
    );
  }
  const contents = ArchiveContents.locate(stage, input.name);
  for (const p of contents.outside())
    warn(`ignored ${p}: outside the layout folder ${contents.prefix}`);
  const isOci = contents.json(INDEX_NAME) !== undefined;
  const archiveIndex: IndexFile = isOci
    ? readOciIndex(contents)
    : { schemaVersion: 2, manifests: convertDockerArchive(contents, stage) };
  for (const p of contents.unused(isOci ? 'oci' : 'docker')) warn(`ignored archive entry ${p}`);
  const closure = verifyClosure(stage, contents, isOci, archiveIndex.manifests, input.name);
  for (const d of closure.external)
    warn(`layer ${d.digest} is external (urls); not carried by the archive`);
  return { contents, archiveIndex, closure, summary, isOci };
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

/** A stream (stdin) as an import source. */
export function archiveFromStream(stream: Readable, name = 'stdin'): ArchiveInput {
  return { stream, name };
}

function readOciIndex(contents: ArchiveContents): IndexFile {
  const header = contents.json(OCI_LAYOUT_NAME);
  if (header === undefined) {
    throw new IntegrityError(
      'E_CORRUPT_ARCHIVE',
      'the archive has index.json but no oci-layout file',
      {},
    );
  }
  const h = OciLayoutSchema.safeParse(parseJson(header.toString('utf8'), 'archive oci-layout'));
  if (!h.success) throw schemaError('archive oci-layout', h.error);
  if (h.data.imageLayoutVersion !== IMAGE_LAYOUT_VERSION) {
    throw new IntegrityError(
      'E_CORRUPT_ARCHIVE',
      `the archive's oci-layout says imageLayoutVersion ${JSON.stringify(h.data.imageLayoutVersion)}; only ${IMAGE_LAYOUT_VERSION} is defined`,
      { version: h.data.imageLayoutVersion },
    );
  }
  const text = contents.json(INDEX_NAME)!.toString('utf8');
  const r = IndexFileSchema.safeParse(parseJson(text, 'archive index.json'));
  if (!r.success) throw schemaError('archive index.json', r.error);
  return r.data;
}

function verifyClosure(
  stage: Staging,
  contents: ArchiveContents,
  isOci: boolean,
  entries: Descriptor[],
  archiveName: string,
): Closure {
  // OCI: only blobs under the layout's blobs/ count; docker: everything staged (plus our manifests).
  const carried = isOci ? contents.blobs() : undefined;
  const sizeOf = (d: Digest): number | undefined =>
    carried !== undefined ? carried.get(d) : stage.layout.blobs.stat(d)?.size;
  const absent = absentPlatformManifests(stage.layout, entries, sizeOf);
  if (absent.length > 0) {
    // Said before the generic "lacks blob": the archive holds only some platforms of an image,
    // and the user needs to know which, and how to export them all.
    const list = absent.map((a) => `${a.platform} ${a.digest}`).join(', ');
    throw new IntegrityError(
      'E_CORRUPT_ARCHIVE',
      `${archiveName} lists ${absent.length} platform manifest(s) it does not carry: ${list}`,
      { archive: archiveName, absent },
      {
        hint: 'the archive holds only some platforms of a multi-platform image (`ctr images export` writes only the host platform by default); export it again with `ctr images export --all-platforms`, or from a layout that has them all',
      },
    );
  }
  return contentClosure(stage.layout, entries, {
    sizeOf,
    missing: (desc) =>
      new IntegrityError(
        'E_CORRUPT_ARCHIVE',
        `${archiveName} lacks blob ${desc.digest} (${desc.mediaType}), which its index references`,
        { archive: archiveName, digest: desc.digest, mediaType: desc.mediaType },
        { hint: 'the archive is incomplete; export it again from the source layout' },
      ),
  });
}

/** Link (or, across filesystems, copy) every verified blob of the closure into the target. */
async function publish(
  staged: Layout,
  target: Layout,
  closure: Closure,
  placed: Set<Digest>,
): Promise<{ total: number; added: number; bytesAdded: number }> {
  let added = 0;
  let bytesAdded = 0;
  for (const [digest, size] of closure.blobs) {
    const present = target.blobs.stat(digest);
    const r =
      present !== undefined && present.size !== size
        ? false
        : target.blobs.linkFrom(staged.blobs.path(digest), digest, size, { deferFileSync: true });
    if (r === false) {
      // Other filesystem, or a damaged copy in the target: write verified bytes through ingest/.
      const put = await target.blobs.put(
        staged.blobs.open(digest),
        { digest, size },
        { deferFileSync: true },
      );
      if (!put.existed) placed.add(digest);
      added++;
      bytesAdded += size;
    } else if (!r.existed) {
      placed.add(digest);
      added++;
      bytesAdded += size;
    }
  }
  return { total: closure.blobs.size, added, bytesAdded };
}
