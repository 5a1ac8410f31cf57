// `export --ref … --referrers`: add every referrer of everything exported, recursively, recorded as
// the layout records it. Bookkeeping entries of exported subjects are copied as they are (same
// fallback-tag index, same annotated index, same per-manifest entries: same bytes); referrers the
// layout only lists elsewhere (nested in an index not exported) are recorded in the layout's own
// convention, with any new index blob kept in memory and written into the archive, never the layout.
import { parseDigest, type Digest } from '../digest.js';
import { walk, type ManifestSource } from '../layout/graph.js';
import type { Layout } from '../layout/layout.js';
import { Annotation } from '../media-types.js';
import { ConventionContext } from '../referrers/context.js';
import {
  CONVENTION_NAMES,
  DEFAULT_CONVENTION,
  detectConventions,
  type ConventionName,
} from '../referrers/convention.js';
import { COSIGN_TAG_SOURCE } from '../referrers/cosign-tag.js';
import { HAULER_KIND_SOURCE } from '../referrers/hauler-kind.js';
import { buildReferrerGraph } from '../referrers/discover.js';
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

/** Extend `entries` (taken from `index`, the layout's index.json) with their referrers. */
export function withReferrers(
  layout: Layout,
  index: IndexFile,
  entries: Descriptor[],
): WithReferrers {
  const ctx = new CapturingContext(layout, { dryRun: true });
  const graph = buildReferrerGraph(index, ctx);
  const bookkeepingOf = new Map<string, Descriptor[]>();
  for (const b of graph.bookkeeping) {
    if (b.subject === undefined) continue;
    bookkeepingOf.set(b.subject, [...(bookkeepingOf.get(b.subject) ?? []), b.entry]);
  }
  const included = new Set<Descriptor>();
  const pending: ReferrerEdge[] = [];
  const known = new Map<Digest, Descriptor>();
  const queue: Digest[] = [];
  const explore = (roots: Descriptor[]): void => {
    for (const [d, desc] of walk(layout, roots).nodes) {
      if (!known.has(d)) {
        known.set(d, desc);
        queue.push(d);
      }
    }
  };
  explore(entries);
  const done = new Set<Digest>();
  while (queue.length > 0) {
    const subject = queue.shift()!;
    if (done.has(subject)) continue;
    done.add(subject);
    const records = graph.recordsOf(subject);
    if (records.length === 0) continue;
    const add: Descriptor[] = [];
    for (const e of bookkeepingOf.get(subject) ?? []) {
      if (!included.has(e)) {
        included.add(e);
        add.push(e);
      }
    }
    for (const r of records) {
      // A cosign tag (or a hauler store's kind) is no `subject` a convention could record: these
      // travel as cosign tags (export-plan.ts, unless --no-cosign-tags), never re-recorded here.
      if (
        r.sources.size === 1 &&
        (r.sources.has(COSIGN_TAG_SOURCE) || r.sources.has(HAULER_KIND_SOURCE))
      )
        continue;
      const tagged = r.sources.has('tagged');
      if (tagged) {
        for (const e of index.manifests) {
          if (
            e.digest === r.descriptor.digest &&
            e.annotations?.[Annotation.RefName] !== undefined &&
            !included.has(e)
          ) {
            included.add(e);
            add.push(e);
          }
        }
      }
      if (!tagged && ![...r.sources].some((s) => CONVENTION_SOURCES.has(s))) {
        pending.push({ subject: known.get(subject)!, referrer: r.descriptor });
      }
      add.push(r.descriptor);
    }
    explore(add);
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
