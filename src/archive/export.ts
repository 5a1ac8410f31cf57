// `export`: a layout (or some of its refs) written as one deterministic tar — an OCI layout that
// skopeo's oci-archive: and docker load read, or a docker-save archive. Blobs are streamed (small
// ones read whole with sync I/O) and verified as they go; a file destination is written to a temp
// file and renamed into place only when complete.
import type { Writable } from 'node:stream';
import type { Digest } from '../digest.js';
import { UsageError } from '../errors.js';
import { Layout, type LayoutOptions } from '../layout/layout.js';
import { IMAGE_LAYOUT_VERSION } from '../schema/layout-files.js';
import type { Descriptor } from '../schema/descriptor.js';
import { writeFileAtomic } from '../output/file.js';
import { writeToStream } from '../output/stream.js';
import { blobRelPath } from '../store/paths.js';
import { sizeMismatch } from '../store/verify-stream.js';
import {
  DELTA_NAME,
  planDelta,
  readBaseContent,
  serializeDeltaMarker,
  type DeltaMarker,
} from './delta.js';
import { planDockerExport } from './docker-export.js';
import { assertRepositoryName } from './docker-names.js';
import { planOciExport, type ExportPlan } from './export-plan.js';
import { tarChunks, type TarWriter } from './tar-writer.js';
import {
  assertGzipLevel,
  gzipChunks,
  newZstdCompress,
  requireZstdForExport,
  sniffCompression,
} from './compression.js';
import { throughCodec } from './streams.js';

export type ArchiveFormat = 'oci' | 'docker';

export interface ExportOptions extends LayoutOptions {
  /** Tags or digests to export (default: the whole layout; docker: every tagged image). */
  refs?: readonly string[] | undefined;
  format?: ArchiveFormat | undefined;
  /**
   * gzip the whole archive (deterministic on one zlib version). Blobs that are compressed already
   * (gzip or zstd layers, told by their magic bytes) are stored in it as they are, not deflated
   * again: see ExportResult.precompressed.
   */
  gzip?: boolean | undefined;
  /** With gzip: the level, 1 (fastest, the default) to 9 (smallest). E_USAGE otherwise. */
  gzipLevel?: number | undefined;
  /**
   * zstd the whole archive (level 3, one frame; deterministic on one zstd version). Needs a runtime
   * whose zlib has zstd (Node 22.15+): E_USAGE otherwise, before anything is written.
   */
  zstd?: boolean | undefined;
  /**
   * Repository for the exported names: a bare tag TAG becomes NAME:TAG, and a full name keeps its
   * tag under NAME. Default: names as stored; docker format: bare tags under the layout
   * directory's name (docker needs a repository).
   */
  name?: string | undefined;
  /** oci with refs: also every referrer of what they reach, recursively (see export-referrers.ts). */
  referrers?: boolean | undefined;
  /**
   * oci with refs: also cosign's `<alg>-<hex>.sig|.att|.sbom` tags of every manifest exported, with
   * their images (default true; the whole layout is exported as it is, tags and all).
   */
  cosignTags?: boolean | undefined;
  /**
   * `os/arch[/variant]` to pick from a multi-platform index (oci: needs refs; the tag then names
   * the platform's manifest, and a warning says the index digest changed).
   */
  platform?: string | undefined;
  /**
   * A delta (oci only): leave out the blobs this earlier archive or layout holds (manifests and
   * indexes are always carried), and say so in an `ocilayout-delta.json` marker that import reads.
   */
  since?: string | undefined;
  /** Re-hash every blob while writing it (default true): never archive a corrupt blob. */
  verify?: boolean | undefined;
  /** Content bytes written so far, and the total. */
  onProgress?: ((done: number, total: number) => void) | undefined;
}

export interface ExportResult {
  format: ArchiveFormat;
  /** The archive's index.json entries. */
  entries: Descriptor[];
  /** docker: the RepoTags written. */
  repoTags: string[];
  blobs: number;
  /** Bytes of content (blobs and JSON files), before tar framing and compression. */
  contentBytes: number;
  /** Bytes of the archive as written. */
  archiveBytes: number;
  /** With since: the base assumed, and what was left out because it holds it. */
  delta?: { base: DeltaMarker['base']; omitted: number; omittedBytes: number } | undefined;
  /** With gzip: blobs already compressed, stored in the gzip stream without deflating them again. */
  precompressed?: { blobs: number; bytes: number } | undefined;
  warnings: string[];
}

/** Blobs up to this size are read whole with readFileSync-style I/O (spec-notes/performance.md). */
const SMALL_BLOB = 256 * 1024;
const OCI_LAYOUT_BYTES = Buffer.from(JSON.stringify({ imageLayoutVersion: IMAGE_LAYOUT_VERSION }));

/**
 * Export the layout at `layoutDir` to `destination`: a file path (written atomically) or a stream
 * (stdout; left open). Throws E_NOT_A_LAYOUT, E_NOT_FOUND (ref or blob), E_DIGEST_MISMATCH /
 * E_SIZE_MISMATCH (a corrupt blob; a file destination is then left untouched),
 * E_UNSUPPORTED_MEDIA_TYPE / E_USAGE (docker format: artifacts, multi-platform without --platform),
 * E_IO (a stream destination that fails or closes midway: the archive there is incomplete).
 */
export async function exportArchive(
  layoutDir: string,
  destination: string | Writable,
  options: ExportOptions = {},
): Promise<ExportResult> {
  if (options.gzip === true && options.zstd === true) {
    throw new UsageError('E_USAGE', '--gzip and --zstd cannot both be given', {});
  }
  if (options.gzipLevel !== undefined) {
    if (options.gzip !== true) throw new UsageError('E_USAGE', '--gzip-level needs --gzip', {});
    assertGzipLevel(options.gzipLevel);
  }
  if (options.zstd === true) requireZstdForExport(); // the runtime, before the layout is read
  const format = options.format ?? 'oci';
  if (options.since !== undefined && format === 'docker') {
    // docker load (and skopeo's docker-archive:) read every layer file manifest.json names: an
    // archive without some of them loads nowhere, and the format has no place to say why.
    throw new UsageError(
      'E_USAGE',
      '--since makes an archive that lacks its base’s blobs; docker archives must be complete',
      {},
      { hint: 'use --format oci for a delta (import it with `ocilayout import`)' },
    );
  }
  const layout = Layout.open(layoutDir, options);
  const refs = options.refs ?? [];
  let plan: ExportPlan;
  let repoTags: string[] = [];
  const warnings: string[] = [];
  if (format === 'docker') {
    if (options.referrers === true) {
      throw new UsageError(
        'E_USAGE',
        'docker archives cannot carry referrers; use --format oci',
        {},
      );
    }
    const docker = planDockerExport(layout, refs, {
      name: options.name,
      platform: options.platform,
    });
    ({ plan, repoTags } = docker);
    warnings.push(...docker.warnings);
  } else {
    plan = planOciExport(layout, refs, {
      referrers: options.referrers,
      platform: options.platform,
      cosignTags: options.cosignTags,
      name: options.name === undefined ? undefined : assertRepositoryName(options.name),
    });
    warnings.push(...(plan.warnings ?? []));
  }
  for (const d of plan.external) warnings.push(`external layer ${d.digest} (urls) is not carried`);
  let delta: ExportResult['delta'];
  if (options.since !== undefined) {
    const base = await readBaseContent(options.since, options);
    const { carried, marker } = planDelta(plan.blobs, plan.documents ?? new Set(), base);
    plan = {
      ...plan,
      blobs: carried,
      extraFiles: new Map([...plan.extraFiles, [DELTA_NAME, serializeDeltaMarker(marker)]]),
    };
    delta = {
      base: marker.base,
      omitted: marker.omitted.length,
      omittedBytes: marker.omitted.reduce((n, o) => n + o.size, 0),
    };
  }

  const total = contentTotal(plan);
  let done = 0;
  const progress = (n: number): void => {
    done += n;
    options.onProgress?.(done, total);
  };
  const compressed = new CompressedChunks();
  let chunks: AsyncIterable<Buffer> = tarChunks((w) =>
    writeEntries(w, layout, plan, options.verify !== false, progress, compressed),
  );
  if (options.gzip === true) {
    chunks = gzipChunks(chunks, {
      level: options.gzipLevel,
      stored: (chunk) => compressed.has(chunk),
    });
  } else if (options.zstd === true) chunks = throughCodec(chunks, newZstdCompress());
  let archiveBytes = 0;
  const counted = async function* (): AsyncGenerator<Buffer> {
    for await (const c of chunks) {
      archiveBytes += c.byteLength;
      yield c;
    }
  };
  if (typeof destination === 'string') await writeFileAtomic(destination, counted());
  else await writeToStream(counted(), destination, 'the archive stream');
  return {
    format,
    entries: plan.entries,
    repoTags,
    blobs: plan.blobs.size,
    contentBytes: total,
    archiveBytes,
    ...(delta === undefined ? {} : { delta }),
    ...(options.gzip === true
      ? { precompressed: { blobs: compressed.blobs, bytes: compressed.bytes } }
      : {}),
    warnings,
  };
}

/**
 * The chunks of blobs that are compressed already, recognised by their magic bytes (a gzip or
 * zstd layer, whatever its media type says), so the gzip stage stores them. It knows them by
 * identity: tar-stream passes a body's Buffers through unchanged, and tarChunks yields those of
 * 64 KiB and more as they are. A chunk that loses its identity (a blob's short last chunk,
 * coalesced with the next header) is only deflated like the rest: slower, never wrong.
 */
class CompressedChunks {
  private readonly chunks = new WeakSet<Buffer>();
  blobs = 0;
  bytes = 0;

  /** True when `head` (a blob's first bytes) starts a compressed stream; counts the blob. */
  blob(head: Uint8Array, size: number): boolean {
    if (sniffCompression(head) === 'none') return false;
    this.blobs += 1;
    this.bytes += size;
    return true;
  }

  add(chunk: Buffer): void {
    this.chunks.add(chunk);
  }

  has(chunk: Buffer): boolean {
    return this.chunks.has(chunk);
  }
}

function contentTotal(plan: ExportPlan): number {
  let total = OCI_LAYOUT_BYTES.byteLength + plan.indexBytes.byteLength;
  for (const size of plan.blobs.values()) total += size;
  for (const bytes of plan.extraFiles.values()) total += bytes.byteLength;
  return total;
}

/** Every entry in byte order of its name (the order skopeo writes too): blobs/, index.json, oci-layout. */
async function writeEntries(
  w: TarWriter,
  layout: Layout,
  plan: ExportPlan,
  verify: boolean,
  progress: (n: number) => void,
  compressed: CompressedChunks,
): Promise<void> {
  type Item = { name: string; write: () => Promise<void> };
  const items: Item[] = [];
  const dirs = new Set<string>(['blobs/']);
  for (const [digest, size] of plan.blobs) {
    const rel = blobRelPath(digest);
    dirs.add(`${rel.slice(0, rel.lastIndexOf('/'))}/`);
    items.push({
      name: rel,
      write: () =>
        writeBlob(w, layout, rel, digest, size, plan.memoryBlobs, verify, progress, compressed),
    });
  }
  for (const d of dirs) items.push({ name: d, write: () => w.directory(d) });
  const files = new Map<string, Buffer>([
    ['oci-layout', OCI_LAYOUT_BYTES],
    ['index.json', plan.indexBytes],
    ...plan.extraFiles,
  ]);
  for (const [name, bytes] of files) {
    items.push({
      name,
      write: async () => (await w.file(name, bytes), progress(bytes.byteLength)),
    });
  }
  items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const item of items) await item.write();
}

async function writeBlob(
  w: TarWriter,
  layout: Layout,
  name: string,
  digest: Digest,
  size: number,
  memoryBlobs: ReadonlyMap<Digest, Buffer>,
  verify: boolean,
  progress: (n: number) => void,
  compressed: CompressedChunks,
): Promise<void> {
  const inMemory = memoryBlobs.get(digest);
  if (inMemory !== undefined) {
    await w.file(name, inMemory);
    progress(size);
    return;
  }
  if (size <= SMALL_BLOB) {
    const bytes = layout.blobs.readBytes(digest, SMALL_BLOB, { verify });
    if (bytes.byteLength !== size)
      throw sizeMismatch(`blob ${digest}`, size, bytes.byteLength, false);
    if (compressed.blob(bytes, size)) compressed.add(bytes);
    await w.file(name, bytes);
    progress(size);
    return;
  }
  const body = layout.blobs.open(digest, verify ? { verify: true, size } : {});
  let first = true;
  let isCompressed = false;
  async function* counting(): AsyncGenerator<Buffer> {
    for await (const raw of body) {
      const chunk = raw as Buffer;
      if (first) isCompressed = compressed.blob(chunk, size);
      first = false;
      if (isCompressed) compressed.add(chunk);
      progress(chunk.byteLength);
      yield chunk;
    }
  }
  await w.stream(name, size, counting());
}
