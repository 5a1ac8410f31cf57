// `import`: an OCI or docker-save tar (plain, gzip or zstd; file or stream) merged into a layout.
// Every entry is judged from its header, every blob verified into a private staging layout, the
// archive's closure checked, and only then are blobs linked into the target and index.json changed,
// in one locked commit. Any failure leaves the target's index.json (and blobs/) as they were.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import type { Digest } from '../digest.js';
import { IntegrityError } from '../errors.js';
import { Layout, type LayoutOptions } from '../layout.js';
import type { Descriptor } from '../schema/descriptor.js';
import {
  IMAGE_LAYOUT_VERSION,
  IndexFileSchema,
  OciLayoutSchema,
  type IndexFile,
} from '../schema/layout-files.js';
import { parseJson, schemaError } from '../schema/manifest.js';
import { releaseLease } from '../store/ingest.js';
import { contentClosure, type Closure } from './closure.js';
import { DEFAULT_EXPANSION_LIMITS, type Compression, type ExpansionLimits } from './compression.js';
import { ArchiveContents, INDEX_NAME, OCI_LAYOUT_NAME, routeFile } from './contents.js';
import { convertDockerArchive } from './docker-import.js';
import { mergeIncoming, readIncoming, type IncomingMerge } from './import-referrers.js';
import type { ConflictPolicy } from './merge.js';
import { Staging } from './staging.js';
import { openArchiveFile, readArchive, type ArchiveInput } from './tar-source.js';

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
 * them the target's index.json is untouched and no blob was added to it (a newly created target is
 * removed again).
 */
export async function importArchive(
  source: string | ArchiveInput,
  layoutDir: string,
  options: ImportOptions = {},
): Promise<ImportResult> {
  const input = typeof source === 'string' ? openArchiveFile(source) : source;
  const root = resolve(layoutDir);
  const existedBefore = existsSync(root);
  let target: Layout;
  let created: boolean;
  try {
    ({ layout: target, created } = Layout.init(root, options));
  } catch (err) {
    input.stream.destroy();
    throw err;
  }
  const policy = options.onConflict ?? 'fail';
  const limits = { ...DEFAULT_EXPANSION_LIMITS, ...options.limits };
  const warnings: string[] = [];
  const warn = (w: string): void => {
    if (warnings.length < MAX_WARNINGS) warnings.push(w);
    else if (warnings.length === MAX_WARNINGS) warnings.push('(more warnings omitted)');
  };
  let staging: Staging | undefined;
  try {
    staging = Staging.open(target);
    const stage = staging;
    const summary = await readArchive(
      input,
      { limits, freeBytes: () => stage.freeBytes(), onProgress: options.onProgress },
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
    const contents = ArchiveContents.locate(stage, input.name);
    for (const p of contents.outside())
      warn(`ignored ${p}: outside the layout folder ${contents.prefix}`);
    const isOci = contents.json(INDEX_NAME) !== undefined;
    const archiveIndex: IndexFile = isOci
      ? readOciIndex(contents)
      : { schemaVersion: 2, manifests: convertDockerArchive(contents, stage) };
    const entries = archiveIndex.manifests;
    for (const p of contents.unused(isOci ? 'oci' : 'docker')) warn(`ignored archive entry ${p}`);
    const closure = verifyClosure(stage, contents, isOci, entries, input.name);
    for (const d of closure.external)
      warn(`layer ${d.digest} is external (urls); not carried by the archive`);

    // Refuse conflicts before touching the target; the commit decides again under the lock.
    const incoming = readIncoming(stage.layout, archiveIndex);
    mergeIncoming(target, structuredClone(target.readIndex()), incoming, policy, { dryRun: true });
    const blobs = await publish(stage.layout, target, closure);
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
    if (created) removeCreatedLayout(target, existedBefore);
    throw err;
  } finally {
    staging?.discard();
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
      await target.blobs.put(staged.blobs.open(digest), { digest, size }, { deferFileSync: true });
      added++;
      bytesAdded += size;
    } else if (!r.existed) {
      added++;
      bytesAdded += size;
    }
  }
  return { total: closure.blobs.size, added, bytesAdded };
}

function removeCreatedLayout(target: Layout, existedBefore: boolean): void {
  try {
    if (target.readIndex().manifests.length > 0) return; // someone else wrote meanwhile: keep it
    // Our lease file goes with the directory: forget it, so a retry here writes its leases anew.
    releaseLease(target.root);
    if (!existedBefore) {
      rmSync(target.root, { recursive: true, force: true });
      return;
    }
    for (const name of readdirSync(target.root))
      rmSync(join(target.root, name), { recursive: true, force: true });
  } catch {
    /* best effort: the layout stays, empty */
  }
}
