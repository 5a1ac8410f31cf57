// `export`: a layout (or some of its refs) written as one deterministic tar — an OCI layout that
// skopeo's oci-archive: and docker load read, or a docker-save archive — as a use of the copy
// engine: the refs (or every entry) are the roots of ONE plan (planRoots: closure, cosign tags,
// referrers), and the archive sink writes it (archive-sink.ts: blobs streamed and verified, a file
// destination renamed into place only when complete). What is export's own is small: the
// index.json listing (export-entries.ts), docker's manifest.json (docker-export.ts), a delta's
// base subtraction (delta.ts).
import type { Writable } from 'node:stream';
import { parseDigest, type Digest } from '../digest.js';
import { UsageError } from '../errors.js';
import { Layout, type LayoutOptions } from '../layout/layout.js';
import type { Descriptor } from '../schema/descriptor.js';
import { parseManifest } from '../schema/manifest.js';
import {
  DELTA_NAME,
  planDelta,
  readBaseContent,
  serializeDeltaMarker,
  type DeltaMarker,
} from '../archive/delta.js';
import { externalLayersError, planDockerExport } from '../archive/docker-export.js';
import { assertRepositoryName } from '../archive/docker-names.js';
import {
  cosignTagEntries,
  newIndex,
  refEntries,
  uniqueEntries,
  wholeLayoutIndex,
  type ArchiveContents,
} from '../archive/export-entries.js';
import { withReferrers } from '../archive/export-referrers.js';
import { assertGzipLevel, requireZstdForExport } from '../archive/compression.js';
import { serializeIndex } from '../store/index-store.js';
import { writeArchive, type ArchiveFormat } from './archive-sink.js';
import { planRoots, type RootsPlan } from './plan.js';
import { LayoutSource, type SourceDoc } from './sources.js';

export type { ArchiveFormat };

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
  const planned = await planExport(layout, options);
  const repoTags = planned.repoTags;
  let plan = planned.contents;
  const warnings = [...plan.warnings];
  for (const d of plan.external) warnings.push(`external layer ${d.digest} (urls) is not carried`);
  let delta: ExportResult['delta'];
  if (options.since !== undefined) {
    const base = await readBaseContent(options.since, options);
    const { carried, marker } = planDelta(plan.blobs, plan.documents, base);
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
  const written = await writeArchive(layout, plan, destination, options);
  return {
    format,
    entries: plan.entries,
    repoTags,
    blobs: plan.blobs.size,
    contentBytes: written.contentBytes,
    archiveBytes: written.archiveBytes,
    ...(delta === undefined ? {} : { delta }),
    ...(written.precompressed === undefined ? {} : { precompressed: written.precompressed }),
    warnings,
  };
}

/**
 * What an export of `layout` holds (before a delta's subtraction): the copy plan of its refs (or
 * of every entry), listed for the format. Nothing is written. Throws what exportArchive throws
 * before writing.
 */
export async function planExport(
  layout: Layout,
  options: Pick<
    ExportOptions,
    'refs' | 'format' | 'name' | 'referrers' | 'cosignTags' | 'platform'
  > = {},
): Promise<{ contents: ArchiveContents; repoTags: string[] }> {
  const refs = options.refs ?? [];
  if (options.format !== 'docker') {
    return { contents: await ociContents(layout, refs, options), repoTags: [] };
  }
  if (options.referrers === true) {
    throw new UsageError('E_USAGE', 'docker archives cannot carry referrers; use --format oci', {});
  }
  const { plan, repoTags } = await dockerContents(layout, refs, options);
  return { contents: plan, repoTags };
}

/**
 * oci: the whole layout (its index.json as it is, every entry a root) or the named refs, with the
 * cosign tags and (`referrers`) the referrers the plan carries, listed as the layout lists them.
 */
async function ociContents(
  layout: Layout,
  refs: readonly string[],
  options: Pick<ExportOptions, 'name' | 'referrers' | 'cosignTags' | 'platform'>,
): Promise<ArchiveContents> {
  const name = options.name === undefined ? undefined : assertRepositoryName(options.name);
  const snapshot = layout.index.read();
  const source = new LayoutSource(layout, {}, snapshot.index);
  if (refs.length === 0 && options.platform === undefined) {
    const { entries, indexBytes } = wholeLayoutIndex(snapshot, name);
    // Everything is listed already: referrers and cosign tags are among the entries.
    const plan = await planRoots(source, entries, { cosignTags: false, external: true });
    return contents(indexBytes, entries, [plan], new Map(), []);
  }
  const warnings: string[] = [];
  const named = refEntries(
    layout,
    snapshot.index,
    refs,
    { platform: options.platform, name },
    warnings,
  );
  const plan = await planRoots(source, named, {
    cosignTags: options.cosignTags,
    referrers: options.referrers,
    external: true,
  });
  warnings.push(...plan.warnings);
  let entries = uniqueEntries([
    ...named,
    ...cosignTagEntries(
      snapshot.index,
      plan.cosign.map((c) => c.tag),
    ),
  ]);
  const plans: RootsPlan[] = [plan];
  let memoryBlobs = new Map<Digest, Buffer>();
  if (options.referrers === true) {
    const listed = entries.length;
    const edges = plan.edges.map((e) => ({ subject: e.subject, referrer: e.listing }));
    ({ entries, memoryBlobs } = withReferrers(
      layout,
      snapshot.index,
      entries,
      edges,
      source.referrerGraph(),
    ));
    // The bookkeeping listed with them (the layout's own fallback-tag or annotated indexes, or
    // indexes made for the archive) is carried with everything it lists.
    const added = entries.slice(listed);
    if (added.length > 0) {
      plans.push(
        await planRoots(new MemorySource(layout, memoryBlobs), added, {
          cosignTags: false,
          external: true,
        }),
      );
    }
  }
  const indexBytes = Buffer.from(serializeIndex(newIndex(entries)), 'utf8');
  return contents(indexBytes, entries, plans, memoryBlobs, [...new Set(warnings)]);
}

/** docker: the chosen images' plan, listed as docker load reads it. */
async function dockerContents(
  layout: Layout,
  refs: readonly string[],
  options: Pick<ExportOptions, 'name' | 'platform'>,
): Promise<{ plan: ArchiveContents; repoTags: string[] }> {
  const docker = planDockerExport(layout, refs, { name: options.name, platform: options.platform });
  const plan = await planRoots(new LayoutSource(layout, {}), docker.images, {
    cosignTags: false,
    external: true,
  });
  if (plan.external.length > 0) throw externalLayersError(plan.external);
  const out = contents(docker.indexBytes, docker.entries, [plan], new Map(), docker.warnings);
  return { plan: { ...out, extraFiles: docker.extraFiles }, repoTags: docker.repoTags };
}

/**
 * The archive's contents: the blobs of `plans` (manifests and the rest; the index blobs of
 * `memoryBlobs` are among the documents planned), each once.
 */
function contents(
  indexBytes: Buffer,
  entries: Descriptor[],
  plans: readonly RootsPlan[],
  memoryBlobs: Map<Digest, Buffer>,
  warnings: string[],
): ArchiveContents {
  const blobs = new Map<Digest, number>();
  const documents = new Set<Digest>();
  const external = new Map<string, Descriptor>();
  for (const p of plans) {
    for (const d of p.docs) {
      const digest = parseDigest(d.descriptor.digest);
      blobs.set(digest, d.descriptor.size);
      documents.add(digest);
    }
    for (const b of p.blobs) blobs.set(parseDigest(b.digest), b.size);
    for (const e of p.external) if (!external.has(e.digest)) external.set(e.digest, e);
  }
  return {
    indexBytes,
    entries,
    blobs,
    external: [...external.values()],
    extraFiles: new Map(),
    memoryBlobs,
    documents,
    warnings,
  };
}

/** The layout, and the index blobs made for the archive only (read as the plan reads manifests). */
class MemorySource extends LayoutSource {
  constructor(
    layout: Layout,
    private readonly memory: ReadonlyMap<Digest, Buffer>,
  ) {
    super(layout, {});
  }

  override manifest(desc: Descriptor): Promise<SourceDoc> {
    const bytes = this.memory.get(parseDigest(desc.digest));
    if (bytes === undefined) return super.manifest(desc);
    const parsed = parseManifest(bytes, `index ${desc.digest}`, desc.mediaType);
    return Promise.resolve({ descriptor: { ...desc, mediaType: parsed.mediaType }, bytes, parsed });
  }
}
