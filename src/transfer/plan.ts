// What a copy moves, whatever the source and destination: the root's graph (optionally a
// platform-filtered index), with --referrers every referrer of every manifest in it (recursively,
// each verified by its own `subject`), and (unless --no-cosign-tags) cosign's
// `sha256-<hex>.sig|.att|.sbom` images of every manifest carried (and their referrers, with --referrers). ONE walk (graph.ts's): manifests are fetched
// once, verified, and listed children before parents; every other blob is listed once and checked by the source.
// Decisions: spec-notes/copy.md.
import { parseDigest } from '../digest.js';
import { IntegrityError, isOcilayoutError } from '../errors.js';
import { walkAsync, type WalkResult } from '../layout/graph.js';
import { isManifestMediaType } from '../media-types.js';
import { parsePlatform } from '../layout/platform.js';
import { cosignTagsFor } from '../referrers/cosign-tag.js';
import { listingDescriptor, type ReferrersVia } from '../registry/remote-referrers.js';
import type { Descriptor } from '../schema/descriptor.js';
import { parseManifest } from '../schema/manifest.js';
import { filterIndex } from './platform-filter.js';
import type { ContentSource, SourceDoc } from './sources.js';

export interface PlanOptions {
  referrers?: boolean | undefined;
  /** Default true (see CopyOptions.cosignTags). */
  cosignTags?: boolean | undefined;
  /** `OS/ARCH[/VARIANT]` entries to keep of a multi-arch index. */
  platforms?: readonly string[] | undefined;
}

export interface PlannedEdge {
  subject: Descriptor;
  referrer: Descriptor;
  /** The descriptor a referrers listing (API answer, fallback index) carries for it. */
  listing: Descriptor;
}

/** What a walk collects, from one root or several. */
export interface PlannedGraph {
  /** Every manifest and index, children before parents. */
  docs: SourceDoc[];
  /** Every other blob (configs, layers), once each. */
  blobs: Descriptor[];
  edges: PlannedEdge[];
  cosign: { tag: string; doc: SourceDoc }[];
  referrersVia: ReferrersVia[];
  warnings: string[];
}

export interface CopyPlan extends PlannedGraph {
  root: SourceDoc;
  sourceTag: string | undefined;
  /** The source index the root was filtered from (--platform), if it was. */
  filteredFrom: Descriptor | undefined;
}

const MAX_DEPTH = 64;

/**
 * Plan a copy of `source`'s root. Nothing is written. Throws E_USAGE for a malformed platform (before
 * the source is read), E_NOT_FOUND for a platform the root index lacks or a missing blob,
 * E_SIZE_MISMATCH, E_DIGEST_MISMATCH (a corrupt manifest), E_SCHEMA, and what the source throws.
 */
export async function planCopy(
  source: ContentSource,
  options: PlanOptions = {},
): Promise<CopyPlan> {
  const platforms = (options.platforms ?? []).map(parsePlatform);
  const resolved = await source.resolveRoot();
  let root: SourceDoc = resolved;
  let filteredFrom: Descriptor | undefined;
  if (platforms.length > 0 && resolved.parsed.kind === 'index') {
    const f = filterIndex(resolved.bytes, resolved.parsed.doc, resolved.descriptor, platforms);
    filteredFrom = resolved.descriptor;
    root = {
      descriptor: f.descriptor,
      bytes: f.bytes,
      parsed: parseManifest(f.bytes, 'filtered index', f.descriptor.mediaType),
    };
  }
  const plan: CopyPlan = {
    root,
    sourceTag: resolved.tag,
    filteredFrom,
    docs: [],
    blobs: [],
    edges: [],
    cosign: [],
    referrersVia: [],
    warnings: [],
  };
  if (platforms.length > 0 && resolved.parsed.kind !== 'index') {
    plan.warnings.push(
      `--platform ignored: ${resolved.descriptor.digest} is a single manifest, not an index`,
    );
  }
  const walker = new GraphCollector(source, plan);
  const rootDocs = await walker.add(root);
  if (options.cosignTags !== false) {
    await addCosignTags(source, plan, walker, rootDocs);
    if (filteredFrom !== undefined) {
      // Said, not silent: a policy on the far side would find the image unsigned at this level.
      for (const tag of cosignTagsFor(parseDigest(filteredFrom.digest))) {
        if ((await source.tagged(tag)) === undefined) continue;
        plan.warnings.push(
          `cosign tag ${tag} not carried: it signs index ${filteredFrom.digest}, which --platform replaced with ${root.descriptor.digest}`,
        );
      }
    }
  }
  if (options.referrers === true) {
    // Referrers of the cosign images too: the queue starts with every manifest planned so far.
    await addReferrers(source, plan, walker, [...plan.docs]);
  }
  walker.checkBlobs();
  return plan;
}

export interface RootsPlanOptions extends Omit<PlanOptions, 'platforms'> {
  /**
   * A non-distributable layer (one with `urls`) the source lacks goes to `external` instead of
   * failing the plan: an archive may leave it out, as the image spec allows (export).
   */
  external?: boolean | undefined;
}

/** The plan of several roots: one graph, each manifest and blob once, whatever shares them. */
export interface RootsPlan extends PlannedGraph {
  /** Layers with `urls` the source does not hold (only with `external`). */
  external: Descriptor[];
}

/**
 * Plan several roots at once (`export` of a whole layout or of several refs): the same walk,
 * cosign tags and referrers as planCopy, over every root, each digest once. A root whose media
 * type is no manifest's (an index.json entry naming a plain blob) is carried as a blob.
 * Throws what planCopy throws.
 */
export async function planRoots(
  source: ContentSource,
  roots: readonly Descriptor[],
  options: RootsPlanOptions = {},
): Promise<RootsPlan> {
  const plan: RootsPlan = {
    docs: [],
    blobs: [],
    edges: [],
    cosign: [],
    referrersVia: [],
    external: [],
    warnings: [],
  };
  const walker = new GraphCollector(
    source,
    plan,
    options.external === true ? plan.external : undefined,
  );
  const rootDocs: SourceDoc[] = [];
  for (const root of roots) {
    if (isManifestMediaType(root.mediaType))
      rootDocs.push(...(await walker.add(await source.manifest(root))));
    else walker.addBlob(root, undefined);
  }
  if (options.cosignTags !== false) await addCosignTags(source, plan, walker, rootDocs);
  if (options.referrers === true) await addReferrers(source, plan, walker, [...plan.docs]);
  walker.checkBlobs();
  return plan;
}

/** The cosign tags of exactly the manifests carried, with their images. */
async function addCosignTags(
  source: ContentSource,
  plan: PlannedGraph,
  walker: GraphCollector,
  docs: readonly SourceDoc[],
): Promise<void> {
  // A --platform filtered index has a new digest, so the source index's signature (which would
  // not verify against it) is not among them.
  for (const doc of docs) {
    for (const tag of cosignTagsFor(parseDigest(doc.descriptor.digest))) {
      const found = await source.tagged(tag);
      if (found === undefined) continue;
      await walker.add(found);
      plan.cosign.push({ tag, doc: found });
    }
  }
}

/** Breadth-first over subjects: each referrer's own manifests join the queue (referrers of referrers). */
async function addReferrers(
  source: ContentSource,
  plan: PlannedGraph,
  walker: GraphCollector,
  start: SourceDoc[],
): Promise<void> {
  const queue = [...start];
  const via = new Set<ReferrersVia>();
  const seenEdges = new Set<string>();
  for (let i = 0; i < queue.length; i++) {
    const subject = queue[i]!;
    const subjectDigest = parseDigest(subject.descriptor.digest);
    const listed = await source.referrers(subjectDigest);
    via.add(listed.via);
    if (listed.warning !== undefined) plan.warnings.push(listed.warning);
    for (const entry of listed.descriptors) {
      if (!isManifestMediaType(entry.mediaType)) {
        plan.warnings.push(
          `referrer ${entry.digest} of ${subjectDigest} has media type ${entry.mediaType}; skipped`,
        );
        continue;
      }
      const doc = await source.manifest(entry);
      // A listing (a fallback index especially) may be stale or wrong: the manifest's own subject decides.
      if (doc.parsed.doc.subject?.digest !== subjectDigest) {
        plan.warnings.push(
          `${entry.digest} is listed as a referrer of ${subjectDigest} but its subject is ${doc.parsed.doc.subject?.digest ?? 'absent'}; skipped`,
        );
        continue;
      }
      const key = `${subjectDigest} ${doc.descriptor.digest}`;
      if (seenEdges.has(key)) continue;
      seenEdges.add(key);
      plan.edges.push({
        subject: identity(subject.descriptor),
        referrer: identity(doc.descriptor),
        listing: listingDescriptor(doc.descriptor, doc.parsed),
      });
      queue.push(...(await walker.add(doc)));
    }
  }
  plan.referrersVia = [...via].sort();
}

function identity(d: Descriptor): Descriptor {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}

/**
 * Fetches a graph once per digest (graph.ts's walk, kept across `add` calls), appending docs in
 * post-order and blobs once.
 */
class GraphCollector {
  private walked: WalkResult | undefined;
  /** Every manifest/index read, by digest, as the source returned it. */
  private readonly fetched = new Map<string, SourceDoc>();
  private readonly blobs = new Set<string>();
  /** The size every descriptor of a digest must state: the first one's (blobs are verified by it). */
  private readonly sizes = new Map<string, number>();
  /** The manifest that first referenced each non-manifest blob (for messages). */
  private readonly parents = new Map<string, Descriptor>();

  constructor(
    private readonly source: ContentSource,
    private readonly plan: PlannedGraph,
    /** Where absent layers with `urls` go, when the plan may leave them out (else they fail it). */
    private readonly external?: Descriptor[],
  ) {}

  /** Add `doc` and everything it reaches; returns the manifests/indexes that were new. */
  async add(doc: SourceDoc): Promise<SourceDoc[]> {
    const added: SourceDoc[] = [];
    const root = doc.descriptor;
    this.walked = await walkAsync(
      async (desc) => {
        // The root is already read (and may be a filtered index the source does not hold).
        const got = desc === root ? doc : await this.source.manifest(desc);
        this.holdSize(got.descriptor);
        this.fetched.set(got.descriptor.digest, got);
        return got.parsed;
      },
      [root],
      {
        from: this.walked,
        maxDepth: MAX_DEPTH,
        // The root is a document whatever its descriptor says; below it, the media type decides.
        isDocument: (d, parent) => parent === undefined || isManifestMediaType(d.mediaType),
        // The root's size is held when it is read (a root walked before is not held again).
        reach: (child, parent) => {
          if (parent === undefined) return;
          this.holdSize(child);
          if (isManifestMediaType(child.mediaType)) return;
          // Its digest is checked by the walk right after (E_INVALID_DIGEST ends the plan).
          this.addBlob(child, parent);
        },
        leave: (desc) => {
          const got = this.fetched.get(desc.digest)!;
          this.plan.docs.push(got);
          added.push(got);
        },
      },
    );
    return added;
  }

  /** A non-manifest blob, listed once (`parent`: the manifest naming it, for messages). */
  addBlob(desc: Descriptor, parent: Descriptor | undefined): void {
    if (this.blobs.has(desc.digest)) return;
    this.blobs.add(desc.digest);
    if (parent !== undefined) this.parents.set(desc.digest, parent);
    this.plan.blobs.push(desc);
  }

  /** Every non-manifest blob is in the source with its size (manifests were read and verified). */
  checkBlobs(): void {
    const external = this.external;
    for (const b of this.plan.blobs) {
      try {
        this.source.checkBlob(b, this.parents.get(b.digest));
      } catch (err) {
        if (external === undefined || (b.urls?.length ?? 0) === 0) throw err;
        if (!isOcilayoutError(err, 'E_NOT_FOUND')) throw err;
        external.push(b);
      }
    }
    if (external !== undefined && external.length > 0) {
      const left = new Set(external);
      this.plan.blobs = this.plan.blobs.filter((b) => !left.has(b));
    }
  }

  /**
   * Two descriptors of one digest that state different sizes: the content can match only one, and
   * committing the other would leave a layout fsck rejects (DESCRIPTOR_SIZE_MISMATCH).
   * Throws E_SIZE_MISMATCH.
   */
  private holdSize(desc: Descriptor): void {
    const known = this.sizes.get(desc.digest);
    if (known === undefined) {
      this.sizes.set(desc.digest, desc.size);
    } else if (known !== desc.size) {
      throw new IntegrityError(
        'E_SIZE_MISMATCH',
        `the source describes ${desc.digest} with two sizes (${known} and ${desc.size} bytes)`,
        { digest: desc.digest, expected: known, found: desc.size },
        { hint: 'the source image is inconsistent; nothing was copied' },
      );
    }
  }
}
