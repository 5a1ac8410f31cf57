// `export --ref … --referrers`: list in the archive the referrers the copy plan carries (every
// referrer of everything exported, recursively; cosign tags travel as tags), as the layout records
// them. Bookkeeping entries of exported subjects are copied as they are (same
// fallback-tag index, same annotated index, same per-manifest entries: same bytes); referrers the
// layout only lists elsewhere (nested in an index not exported) are recorded in the layout's own
// convention, with any new index blob kept in memory and written into the archive, never the layout.
import { parseDigest, type Digest } from '../digest.js';
import type { ManifestSource } from '../layout/graph.js';
import type { Layout } from '../layout/layout.js';
import { Annotation } from '../media-types.js';
import { ConventionContext } from '../referrers/context.js';
import {
  CONVENTION_NAMES,
  DEFAULT_CONVENTION,
  detectConventions,
  type ConventionName,
} from '../referrers/convention.js';
import { buildReferrerGraph, type ReferrerGraph } from '../referrers/discover.js';
import { applyReferrerEdges, type ReferrerEdge } from '../referrers/record.js';
import type { Descriptor } from '../schema/descriptor.js';
import type { IndexFile } from '../schema/layout-files.js';
import { parseManifest, type ParsedManifest } from '../schema/manifest.js';

/** A dry-run context that keeps the bytes of index blobs a convention would store. */
class CapturingContext extends ConventionContext {
  readonly captured = new Map<Digest, Buffer>();
  override putIndexBlob(bytes: Buffer): Descriptor {
    const d = super.putIndexBlob(bytes);
    this.captured.set(parseDigest(d.digest), bytes);
    return d;
  }
}

export interface WithReferrers {
  /** The archive's index.json entries: `entries`, then added bookkeeping, in layout order. */
  entries: Descriptor[];
  /** Index blobs made for the archive only (not in the layout), by digest. */
  memoryBlobs: Map<Digest, Buffer>;
  /** Reads manifests from the layout or from memoryBlobs. */
  source: ManifestSource;
}

const CONVENTION_SOURCES: ReadonlySet<string> = new Set(CONVENTION_NAMES);

/**
 * Record in the archive's index.json (`entries`, taken from `index`, the layout's index.json) the
 * referrer `edges` the copy plan found (planRoots: which referrers travel is decided there, this
 * only says how the archive lists them). An edge's `referrer` is its listing descriptor; `graph`
 * is `index`'s referrer graph (the plan's, so that it is not built twice).
 */
export function withReferrers(
  layout: Layout,
  index: IndexFile,
  entries: Descriptor[],
  edges: readonly ReferrerEdge[],
  graph: ReferrerGraph = buildReferrerGraph(index, new ConventionContext(layout)),
): WithReferrers {
  const ctx = new CapturingContext(layout, { dryRun: true });
  const bookkeepingOf = new Map<string, Descriptor[]>();
  for (const b of graph.bookkeeping) {
    if (b.subject === undefined) continue;
    bookkeepingOf.set(b.subject, [...(bookkeepingOf.get(b.subject) ?? []), b.entry]);
  }
  const included = new Set<Descriptor>();
  const pending: ReferrerEdge[] = [];
  for (const edge of edges) {
    for (const e of bookkeepingOf.get(edge.subject.digest) ?? []) included.add(e);
    const record = graph
      .recordsOf(edge.subject.digest)
      .find((r) => r.descriptor.digest === edge.referrer.digest);
    const sources: ReadonlySet<string> = record?.sources ?? new Set();
    const tagged = sources.has('tagged');
    if (tagged) {
      for (const e of index.manifests) {
        if (e.digest === edge.referrer.digest && e.annotations?.[Annotation.RefName] !== undefined)
          included.add(e);
      }
    }
    // Listed only where no convention records it (nested in an index not exported): recorded anew.
    if (!tagged && ![...sources].some((s) => CONVENTION_SOURCES.has(s)))
      pending.push({ subject: edge.subject, referrer: record?.descriptor ?? edge.referrer });
  }
  const archiveIndex: IndexFile = {
    schemaVersion: 2,
    manifests: [...entries, ...index.manifests.filter((e) => included.has(e))],
  };
  if (pending.length > 0) {
    const conventions = detectConventions(layout, index);
    const convention: ConventionName = conventions[0] ?? DEFAULT_CONVENTION;
    applyReferrerEdges(layout, archiveIndex, pending, { convention }, ctx);
  }
  const memoryBlobs = ctx.captured;
  const source: ManifestSource = {
    readManifest(desc: Descriptor): ParsedManifest {
      const bytes = memoryBlobs.get(parseDigest(desc.digest));
      if (bytes === undefined) return layout.readManifest(desc);
      return parseManifest(bytes, `index ${desc.digest}`, desc.mediaType);
    },
  };
  return { entries: archiveIndex.manifests, memoryBlobs, source };
}
