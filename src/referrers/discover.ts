// Discovery: the union of every convention (plus nested listings and, on request, a blob scan),
// de-duplicated by digest and verified by each referrer's own `subject`, shaped as the
// distribution-spec referrers API answers. One pass builds the graph for the whole layout.
import { parseDigest, type Digest } from '../digest.js';
import type { Layout } from '../layout/layout.js';
import type { TagMove } from '../layout/tags.js';
import type { Descriptor } from '../schema/descriptor.js';
import type { IndexFile } from '../schema/layout-files.js';
import { ConventionContext } from './context.js';
import type { Bookkeeping } from './convention.js';
import type { ImageIndex } from '../schema/manifest.js';
import { byDigest, referrersResponse } from './response.js';
import {
  scanLayout,
  type Attestation,
  type LayoutScan,
  type ReferrerRecord,
  type ReferrerSource,
} from './scan.js';

export interface GraphOptions {
  /** Also read every blob that could be a manifest (finds referrers listed nowhere). */
  scanBlobs?: boolean | undefined;
}

/** Every referrer edge of a layout. Built once; read-only. */
export class ReferrerGraph {
  constructor(private readonly scan: LayoutScan) {}

  /** Referrers of `subject` as the referrers API lists them: deduped, subject-verified, by digest. */
  referrersOf(subject: string): Descriptor[] {
    return this.recordsOf(subject).map((r) => r.descriptor);
  }

  /** The records behind referrersOf, with where each was found. */
  recordsOf(subject: string): ReferrerRecord[] {
    const m = this.scan.records.get(subject as Digest);
    return m === undefined
      ? []
      : [...m.values()].sort((a, b) => byDigest(a.descriptor, b.descriptor));
  }

  /** Subjects that have at least one referrer, sorted. */
  subjects(): Digest[] {
    return [...this.scan.records.keys()].sort();
  }

  /** Every referrer record of the layout, by subject then referrer digest. */
  records(): ReferrerRecord[] {
    return this.subjects().flatMap((s) => this.recordsOf(s));
  }

  /** Legacy BuildKit attestations (no `subject`) naming `subject`; never in referrersOf. */
  attestationsOf(subject: string): Attestation[] {
    return [...(this.scan.attestations.get(subject as Digest) ?? [])].sort((a, b) =>
      byDigest(a.descriptor, b.descriptor),
    );
  }

  /** Every legacy BuildKit attestation of the layout. */
  attestations(): Attestation[] {
    return [...this.scan.attestations.keys()].sort().flatMap((s) => this.attestationsOf(s));
  }

  /** Every convention's bookkeeping entry, in index.json order. */
  get bookkeeping(): readonly Bookkeeping[] {
    return this.scan.bookkeeping;
  }
}

/** Build the referrer graph of `index` (internal: callers inside an IndexStore.update pass theirs). */
export function buildReferrerGraph(
  index: IndexFile,
  ctx: ConventionContext,
  options: GraphOptions = {},
): ReferrerGraph {
  return new ReferrerGraph(scanLayout(index, ctx, options));
}

/** The referrer graph of a layout's current index.json (sync reads; one pass). */
export function referrerGraph(layout: Layout, options: GraphOptions = {}): ReferrerGraph {
  return buildReferrerGraph(layout.readIndex(), new ConventionContext(layout), options);
}

/**
 * The referrers of `subject`, filtered by artifactType when given. Throws E_INVALID_DIGEST for a
 * malformed subject; an unknown subject has no referrers (an empty list, as the API answers).
 */
export function discoverReferrers(
  layout: Layout,
  subject: Digest | string,
  options: GraphOptions & { artifactType?: string | undefined } = {},
): Descriptor[] {
  const all = referrerGraph(layout, options).referrersOf(parseDigest(subject));
  const at = options.artifactType;
  return at === undefined ? all : all.filter((d) => d.artifactType === at);
}

/**
 * The warning for a tag moved off a subject that has referrers, or undefined when it has none.
 * The referrers stay; when nothing in index.json lists the subject any more, only its digest
 * reaches them and gc takes them with it: say so, with the command that lists them.
 */
export function movedTagWarning(layout: Layout, move: TagMove): string | undefined {
  const n = discoverReferrers(layout, move.from.digest).length;
  if (n === 0) return undefined;
  const listed = layout.readIndex().manifests.some((e) => e.digest === move.from.digest);
  return (
    `tag ${move.tag} moved off ${move.from.digest}, which has ${n} referrer${n === 1 ? '' : 's'} ` +
    '(signatures, SBOMs…)' +
    (listed
      ? '; another entry still lists it. '
      : ' no tag reaches any more; gc removes them with it unless it is tagged again. ') +
    `List them: ocilayout discover ${layout.root}@${move.from.digest}`
  );
}

export interface ReferrerNode {
  descriptor: Descriptor;
  sources: ReferrerSource[];
  /** Listed as a BuildKit attestation; `legacy` ones have no `subject` (named by annotation only). */
  buildkit: boolean;
  legacy: boolean;
  referrers: ReferrerNode[];
}

/**
 * Referrers of `subject` and, down to `depth` levels (default: all), their referrers. The filter
 * applies at every level, as oras discover does. A digest seen on the current path is not repeated.
 */
export function referrerTree(
  graph: ReferrerGraph,
  subject: string,
  options: { depth?: number | undefined; artifactType?: string | undefined } = {},
): ReferrerNode[] {
  const maxDepth = options.depth ?? Number.POSITIVE_INFINITY;
  const walk = (s: string, level: number, path: ReadonlySet<string>): ReferrerNode[] => {
    if (level > maxDepth) return [];
    const nodes: ReferrerNode[] = [];
    for (const r of graph.recordsOf(s)) {
      nodes.push(node(r.descriptor, [...r.sources].sort(), r.buildkit, false));
    }
    for (const a of graph.attestationsOf(s)) nodes.push(node(a.descriptor, ['nested'], true, true));
    const out: ReferrerNode[] = [];
    for (const n of nodes.sort((a, b) => byDigest(a.descriptor, b.descriptor))) {
      const at = options.artifactType;
      if (at !== undefined && n.descriptor.artifactType !== at) continue;
      if (path.has(n.descriptor.digest)) continue;
      n.referrers = walk(n.descriptor.digest, level + 1, new Set([...path, n.descriptor.digest]));
      out.push(n);
    }
    return out;
  };
  return walk(subject, 1, new Set([subject]));
}

function node(
  descriptor: Descriptor,
  sources: ReferrerSource[],
  buildkit: boolean,
  legacy: boolean,
): ReferrerNode {
  return { descriptor, sources, buildkit, legacy, referrers: [] };
}

/** A referrers-API descriptor that, above the depth asked for, carries its own referrers. */
export type NestedReferrer = Descriptor & { referrers?: NestedReferrer[] };

/** referrersResponse's image index, its descriptors nested as referrersResponseTree makes them. */
export type ReferrersResponseTree = Omit<ImageIndex, 'manifests'> & { manifests: NestedReferrer[] };

/**
 * The referrers response of `subject`, each of whose descriptors carries `referrers`: the
 * `manifests` of its own response, nested the same way, down to `depth` levels. Depth 1 is the
 * flat response exactly (no `referrers` keys); below that the key is present on every descriptor
 * that was looked at, `[]` when it has none, and absent on the last level (not looked at). The
 * artifactType filter applies at every level, as referrerTree's. A digest already on the path is
 * listed but not descended into. See spec-notes/cli.md (discover).
 */
export function referrersResponseTree(
  graph: ReferrerGraph,
  subject: string,
  options: { depth: number; artifactType?: string | undefined },
): ReferrersResponseTree {
  const filter = { artifactType: options.artifactType };
  const responseOf = (s: string): ImageIndex => referrersResponse(graph.referrersOf(s), filter);
  // `d` sits at level `depth`; `path` holds the subjects above it.
  const nest = (d: Descriptor, depth: number, path: ReadonlySet<string>): NestedReferrer => {
    if (depth >= options.depth || path.has(d.digest)) return d;
    const below = new Set([...path, d.digest]);
    return {
      ...d,
      referrers: responseOf(d.digest).manifests.map((r) => nest(r, depth + 1, below)),
    };
  };
  const top = responseOf(subject);
  return { ...top, manifests: top.manifests.map((d) => nest(d, 1, new Set([subject]))) };
}
