// `copy`, whatever the endpoints (a layout, a registry or an archive on either side), with the same
// options and the same failure contract for every pair. Source → plan (one graph walk: closure,
// platform filter, cosign tags, referrers) → sink. Into a layout: blobs (hard links from a layout on
// the same filesystem, else the verifying ingest), then ONE index.json commit (root tag, cosign
// tags, referrers in the layout's convention); a failure takes back what it placed. Into a
// registry: blobs, manifests children-first, then the tags, each after all it names. Into an
// archive: the layout path into a private layout, then `export` of it (archive-sink.ts). An
// archive source is a layout source over what the archive reader staged (archive-source.ts).
// Decisions: spec-notes/copy.md.
import { parseDigest } from '../digest.js';
import { RegistryError, UsageError } from '../errors.js';
import type { Layout, Target } from '../layout/layout.js';
import { formatPlatform } from '../layout/platform.js';
import type { ConventionName } from '../referrers/convention.js';
import { applyReferrerEdges, type RecordedIn } from '../referrers/record.js';
import { assertValidTag } from '../layout/refs.js';
import {
  assertWritableName,
  digestName,
  isBareName,
  isDigestName,
  splitImageName,
  tagOfName,
} from '../layout/names.js';
import type { BlobLocations } from '../registry/blob-locations.js';
import type { RegistryClient } from '../registry/client.js';
import { updateFallbackTag, type ReferrersVia } from '../registry/remote-referrers.js';
import type { Descriptor } from '../schema/descriptor.js';
import type { IndexFile } from '../schema/layout-files.js';
import { movedTagWarning } from '../referrers/discover.js';
import { sameContent } from '../schema/descriptor.js';
import {
  clobberRefused,
  findExact,
  listUntagged,
  moveTag,
  setTag,
  type TagMove,
  type TagPolicy,
} from '../layout/tags.js';
import { forEachLimited } from './for-each-limited.js';
import { emptyCounts, type BlobOutcome } from './place-blobs.js';
import { planCopy, type CopyPlan, type PlannedEdge } from './plan.js';
import { ArchiveSink, type ArchiveDestination } from './archive-sink.js';
import { exportArchive } from './export.js';
import { LayoutSink, RegistrySink, type ContentSink } from './sinks.js';
import { LayoutSource, type ContentSource, type SourceDoc } from './sources.js';

export type ReferrersMode = 'auto' | 'api' | 'tag' | 'both';
export const REFERRERS_MODES: readonly ReferrersMode[] = ['auto', 'api', 'tag', 'both'];

export type CopyDestination =
  | { kind: 'layout'; open: () => Layout; tag?: string | undefined }
  | { kind: 'registry'; client: RegistryClient; repository: string; tag?: string | undefined }
  | ArchiveDestination;

export interface CopyOptions {
  /** Also copy every referrer of everything copied, recursively (referrers of referrers). */
  referrers?: boolean | undefined;
  /**
   * Copy cosign's `sha256-<hex>.sig|.att|.sbom` tags of every manifest copied, with their images
   * (default true: most signatures in the wild are these; false leaves them behind).
   */
  cosignTags?: boolean | undefined;
  /** Registry destination: how referrers are made findable (API, fallback tag, both; `auto`). */
  referrersMode?: ReferrersMode | undefined;
  /** `OS/ARCH[/VARIANT]` to keep of a multi-arch index (the index digest changes). */
  platforms?: readonly string[] | undefined;
  /** Layout destination: where referrers are recorded (default: the layout's own convention). */
  convention?: ConventionName | 'auto' | undefined;
  /** Blobs transferred at once (default 4; small layout blobs go one by one, synchronously). */
  concurrency?: number | undefined;
  /** Layout → layout: hard-link blobs when both share a filesystem (default true). */
  link?: boolean | undefined;
  /** Layout → layout: re-hash each big blob before hard-linking it (default true). */
  verify?: boolean | undefined;
  /** Registry destination: monolithic upload up to this size, chunked above. */
  chunkSize?: number | undefined;
  /**
   * Refuse (E_CONFLICT, nothing placed) when the destination tag names other content. Only the
   * root tag: cosign tags move by design as signatures accumulate.
   */
  noClobber?: boolean | undefined;
  /**
   * Where blobs were last seen (registry, repository): blobs read from a registry or placed in one
   * are recorded there, and a registry destination mounts from the recorded repositories of its
   * own registry before uploading. Saved when the copy settles. Default: none.
   */
  blobLocations?: BlobLocations | undefined;
  onEvent?: ((event: CopyEvent) => void) | undefined;
}

export type CopyEvent =
  | { type: 'plan'; blobs: number; bytes: number; manifests: number; referrers: number }
  | { type: 'blob-progress'; descriptor: Descriptor; transferred: number }
  | { type: 'blob-done'; descriptor: Descriptor; outcome: BlobOutcome; done: number; total: number }
  | { type: 'warning'; message: string };

/** What `copy` did; the same shape for every source/destination pair (`copy --json` prints it). */
export interface CopyResult {
  /** The source (a layout directory, docker://HOST/REPO[:TAG|@DIGEST], or an archive as given). */
  source: string;
  /** The destination (a layout directory, docker://HOST/REPO, or oci-archive:FILE / docker-archive:FILE). */
  destination: string;
  /** What the destination tag (or untagged entry) points at. */
  descriptor: Descriptor;
  tag: string | undefined;
  /** With --platform: the source index the copied index was filtered from, and what it kept. */
  filteredFrom?: { digest: string; platforms: string[] } | undefined;
  /** Blobs (manifests included) and their bytes by outcome. */
  blobs: Record<BlobOutcome, number>;
  bytes: Record<BlobOutcome, number>;
  /** Manifests and indexes in the plan. */
  manifests: number;
  referrers: { subject: string; digest: string; artifactType?: string | undefined }[];
  /** How the source listed referrers (`layout`, `api`, `tag`). */
  referrersFrom: ReferrersVia[];
  /** Registry destination: subjects whose referrers the registry indexes itself (OCI-Subject). */
  referrersApi: string[];
  /** Registry destination: fallback tags written (read, merged, pushed). */
  fallbackTags: string[];
  cosignTags: string[];
  /** Layout destination: conventions the referrers were recorded in (or a hauler store's kind). */
  conventions: RecordedIn[];
  warnings: string[];
}

/**
 * Copy what `source` names, with its whole graph, to `destination`. The destination tag: the one
 * asked for, else the source's (see ContentSource.resolveRoot). A registry digest source's root
 * goes into a layout under containerd's digest-only name `REPOSITORY@DIGEST` (spec-notes/names.md).
 * A layout destination is opened (or created) only after the plan succeeded.
 * Idempotent: what the destination has is skipped. On failure no tag is added and what this copy
 * placed in a layout is taken back (spec-notes/copy.md, failure contract).
 * Throws what planCopy throws, E_INVALID_TAG, E_DIGEST_MISMATCH, E_LOCK_TIMEOUT, E_REGISTRY…
 */
export async function copyContent(
  source: ContentSource,
  destination: CopyDestination,
  options: CopyOptions = {},
): Promise<CopyResult> {
  try {
    return await copyTo(source, destination, options);
  } finally {
    // What a failed copy saw is as true as what a finished one saw.
    options.blobLocations?.save();
  }
}

async function copyTo(
  source: ContentSource,
  destination: CopyDestination,
  options: CopyOptions,
): Promise<CopyResult> {
  const explicit = destination.tag;
  const check = destination.kind === 'registry' ? assertValidTag : assertWritableName;
  // containerd's digest-only name is no tag a user picks: a layout takes it only for the very
  // content it names (checked once the root is known).
  const explicitDigestName =
    explicit !== undefined && destination.kind === 'layout' && isDigestName(explicit);
  if (explicit !== undefined && !explicitDigestName) check(explicit);
  const plan = await planCopy(source, options);
  for (const w of plan.warnings) options.onEvent?.({ type: 'warning', message: w });
  if (explicitDigestName) assertNamesRoot(explicit, plan);
  let tag = explicit ?? plan.sourceTag;
  if (tag !== undefined && isDigestName(tag)) {
    // A digest-only name (sync or copy by digest, a layout entry named so) means, to containerd,
    // "pulled from REPO by this digest". A layout keeps it only for the very manifest it names: a
    // --platform filter stores a new index the repository never had, so that root goes untagged
    // (naming it REPO@<new digest> would send a pull by that name to a manifest that does not
    // exist). A registry takes the manifest by digest, an archive lists it untagged, as before.
    const asked = splitImageName(tag)!.digest!;
    const stored = plan.root.descriptor.digest;
    if (destination.kind === 'layout' && asked !== stored) {
      options.onEvent?.({
        type: 'warning',
        message: `${tag}: --platform stored a filtered index ${stored}, not the ${asked} asked for; it is stored untagged (give a tag to name it)`,
      });
    }
    tag =
      destination.kind === 'layout' && asked === stored
        ? digestName(splitImageName(tag)!.repository, stored)
        : undefined;
  } else {
    // A layout's full name goes to a registry as its tag: the repository is the destination's.
    if (tag !== undefined && destination.kind === 'registry' && !isBareName(tag))
      tag = tagOfName(tag);
    if (tag !== undefined) check(tag);
  }
  const result = emptyResult(source, destination, plan, tag);
  options.onEvent?.({
    type: 'plan',
    blobs: plan.blobs.length,
    bytes: plan.blobs.reduce((n, b) => n + b.size, 0),
    manifests: plan.docs.length,
    referrers: plan.edges.length,
  });
  if (destination.kind === 'layout') {
    // Created only now: a source that fails to resolve never leaves an empty layout behind.
    const layout = destination.open();
    result.destination = layout.root;
    return intoLayout(layout, source, plan, tag, result, options);
  }
  if (destination.kind === 'archive') {
    const platform = options.platforms?.length === 1 ? options.platforms[0] : undefined;
    ArchiveSink.check(destination, plan, tag, platform);
    // A private layout, created only now, tarred once complete (archive-sink.ts).
    const sink = ArchiveSink.open(destination);
    try {
      // Blobs are hashed once, as the tar is written (unless --no-verify): a link into the private
      // layout need not be re-hashed first, it is read whole right after. Streamed blobs are
      // verified by the ingest anyway.
      await intoLayout(sink.layout, source, plan, tag, result, { ...options, verify: false });
      // The private layout holds exactly this copy: exported whole (oci) or as the root's one
      // `docker load` image (docker: `platform` picks it from an index), as `export` writes it.
      const root = tag ?? plan.root.descriptor.digest;
      const written = await exportArchive(sink.layout.root, destination.output, {
        format: destination.format,
        verify: options.verify,
        ...(destination.format === 'docker'
          ? { refs: [root], name: destination.name, platform }
          : {}),
      });
      for (const w of written.warnings) {
        result.warnings.push(w);
        options.onEvent?.({ type: 'warning', message: w });
      }
    } finally {
      sink.close();
    }
    return result;
  }
  if (options.noClobber === true && tag !== undefined) {
    // A registry has no compare-and-swap for tags: this HEAD narrows the window, as crane's -n does.
    const there = await destination.client.headManifest(destination.repository, tag);
    if (there?.digest !== undefined && there.digest !== plan.root.descriptor.digest)
      throw clobberRefused(tag, { digest: there.digest }, plan.root.descriptor);
  }
  const sink = new RegistrySink(
    destination.client,
    destination.repository,
    options.chunkSize,
    options.blobLocations,
  );
  // With nothing to push after it (no referrers, no cosign tags), the root, last of the
  // manifests, goes up once, under its tag: a PUT by digest first is the same bytes again, one
  // more round trip in which the registry checks every blob it names a second time.
  const rootTag =
    tag !== undefined &&
    plan.edges.length === 0 &&
    plan.cosign.length === 0 &&
    plan.docs.at(-1)?.descriptor.digest === plan.root.descriptor.digest
      ? tag
      : undefined;
  const subjects = await transfer(
    source,
    sink,
    plan,
    result,
    options,
    rootTag === undefined ? undefined : (root) => sink.putManifest(root, source, rootTag),
  );
  // Tags last, each after everything it names is there: fallback tags, cosign tags, the root tag.
  await maintainReferrers(sink, plan, subjects, options.referrersMode ?? 'auto', result);
  for (const c of plan.cosign) await sink.putManifest(c.doc, source, c.tag);
  if (tag !== undefined && rootTag === undefined) await sink.putManifest(plan.root, source, tag);
  return result;
}

/** A digest-only destination name must name the source's root (before any --platform filter). */
function assertNamesRoot(name: string, plan: CopyPlan): void {
  const named = splitImageName(name)!.digest!;
  const root = (plan.filteredFrom ?? plan.root.descriptor).digest;
  if (named === root) return;
  throw new UsageError(
    'E_INVALID_TAG',
    `${name} names ${named}, not the copied image ${root}`,
    { tag: name, digest: root },
    { hint: 'a name REPOSITORY@DIGEST names that digest only; pick a tag to name other content' },
  );
}

/**
 * The layout half of copyContent: blobs, then ONE index.json commit (root tag, cosign tags,
 * referrers in the layout's convention); a failure takes back what this copy placed.
 */
function intoLayout(
  layout: Layout,
  source: ContentSource,
  plan: CopyPlan,
  tag: string | undefined,
  result: CopyResult,
  options: CopyOptions,
): Promise<CopyResult> {
  // One operation lease: what this copy leases is protected until it settles (layout.ts).
  return layout.operation(async () => {
    const sink = new LayoutSink(layout);
    const policy = { noClobber: options.noClobber };
    let move: TagMove | undefined;
    try {
      // Fail fast before placing anything; the commit below checks again under the lock.
      if (options.noClobber === true && tag !== undefined) {
        const current = findExact(layout.readIndex(), tag);
        if (current !== undefined && !sameContent(current, plan.root.descriptor))
          throw clobberRefused(tag, current, plan.root.descriptor);
      }
      await transfer(source, sink, plan, result, options);
      [result.conventions, move] = await layout.updateIndex((index) => {
        const moved = recordRoot(index, plan.root.descriptor, tag, policy);
        for (const c of plan.cosign) setTag(index, c.tag, c.doc.descriptor);
        const used =
          plan.edges.length === 0
            ? []
            : applyReferrerEdges(layout, index, plan.edges, {
                convention: options.convention ?? 'auto',
              });
        return { index, result: [used, moved] as const };
      });
    } catch (err) {
      await sink.rollback();
      throw err;
    }
    const warning = move === undefined ? undefined : movedTagWarning(layout, move);
    if (warning !== undefined) options.onEvent?.({ type: 'warning', message: warning });
    return result;
  });
}

/**
 * Copy `target` of `src` into `dst` (a layout, or a function that opens or creates it once the
 * source checked out): copyContent for two layouts.
 */
export function copyLayout(
  src: Layout,
  target: Target,
  dst: Layout | (() => Layout),
  options: CopyOptions & { tag?: string | undefined } = {},
): Promise<CopyResult> {
  const { tag, ...rest } = options;
  const open = typeof dst === 'function' ? dst : (): Layout => dst;
  return copyContent(new LayoutSource(src, target), { kind: 'layout', open, tag }, rest);
}

/**
 * Point `tag` at `root` (moveTag: E_CONFLICT under noClobber; returns the move), or list `root`
 * untagged unless some entry lists it already.
 */
export function recordRoot(
  index: IndexFile,
  root: Descriptor,
  tag: string | undefined,
  policy: Pick<TagPolicy, 'noClobber'> = {},
): TagMove | undefined {
  if (tag !== undefined) return moveTag(index, tag, root, policy);
  listUntagged(index, root);
  return undefined;
}

/**
 * Blobs (`concurrency` at a time), then manifests children-first, by digest; the last one by
 * `putLast` when given (the root under its tag). Returns, per referrer digest, whether the
 * registry answered OCI-Subject for it.
 */
async function transfer(
  source: ContentSource,
  sink: ContentSink,
  plan: CopyPlan,
  result: CopyResult,
  options: CopyOptions,
  putLast?: (doc: SourceDoc) => ReturnType<ContentSink['putManifest']>,
): Promise<Map<string, boolean>> {
  const total = plan.blobs.length + plan.docs.length;
  let done = 0;
  const finish = (descriptor: Descriptor, outcome: BlobOutcome): void => {
    result.blobs[outcome] += 1;
    result.bytes[outcome] += descriptor.size;
    done += 1;
    options.onEvent?.({ type: 'blob-done', descriptor, outcome, done, total });
  };
  await sink.putBlobs(plan.blobs, source, {
    concurrency: options.concurrency,
    link: options.link,
    verify: options.verify,
    onProgress: (descriptor, transferred) =>
      options.onEvent?.({ type: 'blob-progress', descriptor, transferred }),
    onDone: (descriptor, outcome) => {
      if (options.blobLocations !== undefined)
        noteLocations(options.blobLocations, source, sink, descriptor, outcome);
      finish(descriptor, outcome);
    },
  });
  const referrerDigests = new Set(plan.edges.map((e) => e.referrer.digest));
  const ociSubject = new Map<string, boolean>();
  for (const doc of plan.docs) {
    const r =
      putLast !== undefined && doc === plan.docs.at(-1)
        ? await putLast(doc)
        : await sink.putManifest(doc, source);
    if (referrerDigests.has(doc.descriptor.digest)) {
      ociSubject.set(doc.descriptor.digest, r.ociSubject !== undefined);
    }
    finish(doc.descriptor, r.outcome);
  }
  result.manifests = plan.docs.length;
  return ociSubject;
}

/**
 * The one place the blob-location record learns (every copy, pull and push passes here): a blob
 * streamed from a registry source was read there (and verified by the sink); a blob a registry
 * sink uploaded, mounted or found by HEAD is in that repository now.
 */
function noteLocations(
  locations: BlobLocations,
  source: ContentSource,
  sink: ContentSink,
  descriptor: Descriptor,
  outcome: BlobOutcome,
): void {
  if (source.remote !== undefined && outcome === 'copied')
    locations.record(source.remote.client.registry, source.remote.repository, descriptor.digest);
  if (sink.remote !== undefined && outcome !== 'linked')
    locations.record(sink.remote.registry, sink.remote.repository, descriptor.digest);
}

/** Per subject: the registry's own referrers API, the fallback tag, or both (decision table). */
async function maintainReferrers(
  sink: RegistrySink,
  plan: CopyPlan,
  ociSubject: Map<string, boolean>,
  mode: ReferrersMode,
  result: CopyResult,
): Promise<void> {
  const bySubject = new Map<string, PlannedEdge[]>();
  for (const e of plan.edges)
    bySubject.set(e.subject.digest, [...(bySubject.get(e.subject.digest) ?? []), e]);
  const tagUpdates: [string, PlannedEdge[]][] = [];
  for (const [subject, edges] of bySubject) {
    const confirmed = edges.every((e) => ociSubject.get(e.referrer.digest) === true);
    if (confirmed) result.referrersApi.push(subject);
    if (mode === 'api' && !confirmed) {
      throw new RegistryError(
        'E_REGISTRY',
        `${sink.label} did not answer OCI-Subject when the referrers of ${subject} were pushed: it has no referrers API`,
        { registry: sink.client.registry, subject },
        {
          hint: 'use --referrers-mode auto (fallback tag when there is no API) or --referrers-mode tag',
        },
      );
    }
    const writeTag = mode === 'tag' || mode === 'both' || (mode === 'auto' && !confirmed);
    if (writeTag) tagUpdates.push([subject, edges]);
  }
  // Each update waits out settle delays to catch racing writers (remote-referrers.ts); the tags
  // of different subjects are independent, so they wait side by side.
  const tags: string[] = [];
  await forEachLimited(
    tagUpdates.map((u, i) => [i, u] as const),
    4,
    async ([i, [subject, edges]]) => {
      const update = await updateFallbackTag(
        sink.client,
        sink.repository,
        parseDigest(subject),
        edges.map((e) => e.listing),
      );
      tags[i] = update.tag;
    },
  );
  result.fallbackTags.push(...tags);
}

function emptyResult(
  source: ContentSource,
  destination: CopyDestination,
  plan: CopyPlan,
  tag: string | undefined,
): CopyResult {
  const counts = emptyCounts();
  return {
    source: source.label,
    destination:
      destination.kind === 'layout'
        ? 'layout'
        : destination.kind === 'archive'
          ? destination.label
          : `docker://${destination.client.registry}/${destination.repository}`,
    descriptor: plan.root.descriptor,
    tag,
    filteredFrom:
      plan.filteredFrom === undefined
        ? undefined
        : {
            digest: plan.filteredFrom.digest,
            platforms: (plan.root.parsed.kind === 'index' ? plan.root.parsed.doc.manifests : [])
              .map((d) => (d.platform === undefined ? '' : formatPlatform(d.platform)))
              .filter((p) => p !== '' && p !== 'unknown/unknown'),
          },
    blobs: counts.blobs,
    bytes: counts.bytes,
    manifests: 0,
    referrers: plan.edges.map((e) => ({
      subject: e.subject.digest,
      digest: e.referrer.digest,
      ...(e.listing.artifactType === undefined ? {} : { artifactType: e.listing.artifactType }),
    })),
    referrersFrom: plan.referrersVia,
    referrersApi: [],
    fallbackTags: [],
    cosignTags: plan.cosign.map((c) => c.tag),
    conventions: [],
    warnings: [...plan.warnings],
  };
}
