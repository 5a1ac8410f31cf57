// Layout → layout copy of a manifest or index with everything it reaches: blobs first (hard links on
// the same filesystem, else verified streams), children before parents, then ONE index.json commit in
// the destination. Endpoint kinds (a registry later) are told apart by parseCopyEndpoint only.
// Decisions (verification of linked blobs, durability, ordering): spec-notes/copy.md.
import { placeBlobs, type BlobCounts, type PlaceOptions } from './copy-blobs.js';
import { parseDigest, type Digest } from './digest.js';
import { IntegrityError, NotFoundError, UsageError } from './errors.js';
import { successors, walk } from './graph.js';
import type { Layout, Target } from './layout.js';
import { Annotation } from './media-types.js';
import type { ConventionName } from './referrers/convention.js';
import { referrerGraph } from './referrers/discover.js';
import { applyReferrerEdges, type ReferrerEdge } from './referrers/record.js';
import { assertValidTag, isValidTag, parseLayoutRef, type LayoutRef } from './refs.js';
import { canonicalDescriptor, type Descriptor } from './schema/descriptor.js';
import type { IndexFile } from './schema/layout-files.js';
import type { ParsedManifest } from './schema/manifest.js';
import { setTag, tagOfName } from './tags.js';

export interface CopyOptions extends PlaceOptions {
  /** Destination tag. Default: the source tag; a digest source without a tag is listed untagged. */
  tag?: string | undefined;
  /** Also copy every referrer of everything copied, recursively (referrers of referrers). */
  referrers?: boolean | undefined;
  /** Where referrers are recorded in the destination (default `auto`: its own convention). */
  convention?: ConventionName | 'auto' | undefined;
}

export interface CopyResult extends BlobCounts {
  /** What the destination entry points at (the source's descriptor of the root). */
  descriptor: Descriptor;
  /** The destination tag, or undefined for an untagged entry. */
  tag: string | undefined;
  /** Referrer manifests copied (with `referrers`), by digest. */
  referrers: Descriptor[];
  /** Conventions the destination recorded them in. */
  conventions: ConventionName[];
}

/** Everything a copy of `root` moves, in a safe order. */
export interface CopyPlan {
  root: Descriptor;
  /** Every blob, children before parents: configs and layers, then manifests bottom-up. */
  blobs: Descriptor[];
  /** Referrer edges to record in the destination (empty unless planned with `referrers`). */
  edges: ReferrerEdge[];
}

export interface PlanOptions {
  /** Add every referrer of every manifest in the plan, recursively. */
  referrers?: boolean | undefined;
}

/**
 * A layout endpoint of `copy`. Registry references (`docker://…`) are not parsed here: the CLI sends
 * them to the registry bridge (registry/copy-refs.ts) before calling this (spec-notes/copy.md).
 */
export type CopyEndpoint = { kind: 'layout' } & LayoutRef;

/** Throws E_USAGE for a URL-style argument (`s3://…`, `docker://…`), which is not a layout. */
export function parseCopyEndpoint(input: string): CopyEndpoint {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//.exec(input);
  if (scheme !== null) {
    throw new UsageError(
      'E_USAGE',
      `${input} is not a layout directory (${scheme[1]}:// endpoints are not layouts)`,
      { endpoint: input },
      { hint: 'copy takes layout directories (DIR:TAG, DIR@DIGEST) and docker://HOST/REPO:TAG' },
    );
  }
  return { kind: 'layout', ...parseLayoutRef(input) };
}

/**
 * Walk `target` in `src` and list what a copy moves; with `referrers`, also every referrer (as the
 * source's conventions record them, all read at once) of every manifest reached, and theirs in turn.
 * Every manifest/index is read and verified; every other blob must exist with its declared size.
 * Throws E_NOT_FOUND (naming the missing blob and its parent), E_SIZE_MISMATCH, E_DIGEST_MISMATCH
 * (a corrupt manifest), E_SCHEMA.
 */
export function planCopy(src: Layout, target: Target, options: PlanOptions = {}): CopyPlan {
  const root = src.resolve(target);
  const graph = new PlanGraph(src);
  const pending = graph.add([root]);
  const edges: ReferrerEdge[] = [];
  if (options.referrers === true) {
    const referrers = referrerGraph(src);
    // Breadth-first over subjects; a referrer's own manifests (and their referrers) join the queue.
    for (let i = 0; i < pending.length; i++) {
      const subject = pending[i]!;
      for (const referrer of referrers.referrersOf(subject)) {
        edges.push({ subject: graph.nodes.get(subject)!, referrer });
        if (!graph.nodes.has(referrer.digest as Digest)) pending.push(...graph.add([referrer]));
      }
    }
  }
  graph.checkBlobs();
  const roots = [root, ...edges.map((e) => e.referrer)];
  return { root, blobs: childrenFirst(roots, graph.nodes, graph.manifests), edges };
}

/** The union of several walks of one source, remembering who referenced each blob first. */
class PlanGraph {
  readonly nodes = new Map<Digest, Descriptor>();
  readonly manifests = new Map<Digest, ParsedManifest>();
  private readonly parents = new Map<Digest, Descriptor | undefined>();

  constructor(private readonly src: Layout) {}

  /** Walk from `roots`; returns the manifests/indexes that were not in the graph yet. */
  add(roots: Descriptor[]): Digest[] {
    const added: Digest[] = [];
    const w = walk(this.src, roots, {
      visit: (d, _parsed, parent) => {
        if (!this.parents.has(d.digest as Digest)) this.parents.set(d.digest as Digest, parent);
      },
    });
    for (const [digest, desc] of w.nodes) {
      if (this.nodes.has(digest)) continue;
      this.nodes.set(digest, desc);
      const parsed = w.manifests.get(digest);
      if (parsed !== undefined) {
        this.manifests.set(digest, parsed);
        added.push(digest);
      }
    }
    return added;
  }

  /**
   * Every non-manifest blob exists with its declared size (walk() verified the manifests). Throws
   * E_NOT_FOUND (an incomplete source) or E_SIZE_MISMATCH, naming the manifest that references it.
   */
  checkBlobs(): void {
    const root = this.src.root;
    for (const [digest, desc] of this.nodes) {
      if (this.manifests.has(digest)) continue;
      const stat = this.src.blobs.stat(digest);
      const parent = this.parents.get(digest);
      const where = parent === undefined ? '' : ` (referenced by ${parent.digest})`;
      if (stat === undefined) {
        throw new NotFoundError(
          'E_NOT_FOUND',
          `blob ${digest}${where} is not in ${root}; the source layout is incomplete`,
          { digest, layout: root, parent: parent?.digest },
          { hint: `check the source with \`ocilayout fsck ${root}\`` },
        );
      }
      if (stat.size !== desc.size) {
        throw new IntegrityError(
          'E_SIZE_MISMATCH',
          `blob ${digest}${where} in ${root}: descriptor says ${desc.size} bytes, file has ${stat.size}`,
          { digest, expected: desc.size, found: stat.size },
          { hint: `check the source with \`ocilayout fsck ${root}\`` },
        );
      }
    }
  }
}

/**
 * Copy `target` of `src`, with its whole graph, into `dst`, then record it there in one index.json
 * commit (tag, or an untagged entry). `dst` may be a function that opens or creates the destination:
 * it is called only after the source checked out, so a bad source never creates an empty layout.
 * Idempotent: blobs already in `dst` are skipped and an unchanged index.json is not rewritten. A
 * failure leaves `dst`'s index.json untouched; blobs already placed are unreferenced garbage for gc.
 * Throws what planCopy throws, E_DIGEST_MISMATCH for corrupt content, E_INVALID_TAG, E_LOCK_TIMEOUT.
 */
export async function copyLayout(
  src: Layout,
  target: Target,
  dst: Layout | (() => Layout),
  options: CopyOptions = {},
): Promise<CopyResult> {
  const plan = planCopy(src, target, { referrers: options.referrers });
  const tag = destinationTag(target, plan.root, options.tag);
  const destination = typeof dst === 'function' ? dst() : dst;
  const { counts, conventions } = await destination.operation(async () => {
    const placed = await placeBlobs(src, destination, plan.blobs, options);
    // Tag and referrer bookkeeping in ONE commit: a crash leaves all of it or none of it.
    const used = await destination.updateIndex((index) => {
      recordRoot(index, plan.root, tag);
      const result =
        plan.edges.length === 0
          ? []
          : applyReferrerEdges(destination, index, plan.edges, {
              convention: options.convention ?? 'auto',
            });
      return { index, result };
    });
    return { counts: placed, conventions: used };
  });
  const referrers = [...new Map(plan.edges.map((e) => [e.referrer.digest, e.referrer])).values()];
  return { descriptor: plan.root, tag, ...counts, referrers, conventions };
}

/**
 * The tag to write: the one asked for, else the source tag; `copy SRC DST` of a single-entry layout
 * keeps that entry's tag when it is a valid one. A digest source stays untagged.
 */
function destinationTag(
  target: Target,
  root: Descriptor,
  explicit: string | undefined,
): string | undefined {
  if (explicit !== undefined) return assertValidTag(explicit);
  if (target.tag !== undefined) return assertValidTag(target.tag);
  if (target.digest !== undefined) return undefined;
  const name = root.annotations?.[Annotation.RefName];
  const implied = name === undefined ? undefined : tagOfName(name);
  return implied !== undefined && isValidTag(implied) ? implied : undefined;
}

/** Point `tag` at `root`, or list `root` untagged unless some entry lists it already. */
export function recordRoot(index: IndexFile, root: Descriptor, tag: string | undefined): void {
  if (tag !== undefined) {
    setTag(index, tag, root);
    return;
  }
  if (index.manifests.some((e) => e.digest === root.digest)) return;
  // The source entry's annotations name the source's tag; an untagged copy carries none of them.
  const { mediaType, digest, size, platform, artifactType } = root;
  index.manifests.push(
    canonicalDescriptor({
      mediaType,
      digest,
      size,
      ...(platform === undefined ? {} : { platform }),
      ...(artifactType === undefined ? {} : { artifactType }),
    }),
  );
}

/** Post-order over the graph: a parent comes after everything it references; leaves first. */
function childrenFirst(
  roots: readonly Descriptor[],
  nodes: Map<Digest, Descriptor>,
  manifests: Map<Digest, ParsedManifest>,
): Descriptor[] {
  const ordered: Descriptor[] = [];
  const done = new Set<Digest>();
  // Iterative DFS: hostile layouts may nest deeply; walk() already bounded depth and broke cycles.
  const stack = [...roots]
    .reverse()
    .map((r) => ({ digest: parseDigest(r.digest), expanded: false }));
  while (stack.length > 0) {
    const top = stack.pop()!;
    if (done.has(top.digest)) continue;
    const parsed = manifests.get(top.digest);
    if (top.expanded || parsed === undefined) {
      done.add(top.digest);
      ordered.push(nodes.get(top.digest)!);
      continue;
    }
    stack.push({ digest: top.digest, expanded: true });
    for (const child of successors(parsed).reverse()) {
      const d = child.digest as Digest;
      if (!done.has(d) && nodes.has(d)) stack.push({ digest: d, expanded: false });
    }
  }
  // Leaves (configs, layers) first so big transfers start early; manifests keep post-order.
  const isDoc = (d: Descriptor): boolean => manifests.has(d.digest as Digest);
  return [...ordered.filter((d) => !isDoc(d)), ...ordered.filter(isDoc)];
}
