// How an archive's referrers land in the target: when the target already records referrers in some
// convention (or is a hauler store, which files them in its own kind), the archive's bookkeeping
// entries are dropped and its referrer edges recorded in the target's convention(s)
// (applyReferrerEdges, 'auto'); when the target records none, the archive's entries are kept
// exactly as they come, so a round trip into a new layout changes nothing.
import { parseDigest, type Digest } from '../digest.js';
import type { Layout } from '../layout/layout.js';
import { ConventionContext } from '../referrers/context.js';
import { CONVENTION_NAMES, detectConventions } from '../referrers/convention.js';
import { buildReferrerGraph } from '../referrers/discover.js';
import { applyReferrerEdges, type ReferrerEdge } from '../referrers/record.js';
import { haulerKindPrefix } from '../layout/hauler-write.js';
import type { Descriptor } from '../schema/descriptor.js';
import type { IndexFile } from '../schema/layout-files.js';
import { mergeEntries, type ConflictPolicy, type MergeReport } from './merge.js';

export interface IncomingEntries {
  /** The archive's index.json entries, in order. */
  all: Descriptor[];
  /** The archive index.json's other top-level fields (annotations, peers' extensions). */
  top: Record<string, unknown>;
  /** The same without the archive's referrer bookkeeping. */
  plain: Descriptor[];
  /** Referrer edges the archive's bookkeeping records. */
  edges: ReferrerEdge[];
}

export interface IncomingMerge extends MergeReport {
  /** Conventions the archive's referrers were recorded in (empty when kept as they came). */
  conventions: string[];
}

const CONVENTION_SOURCES: ReadonlySet<string> = new Set(CONVENTION_NAMES);

/** Split the archive's entries (`staged` holds every blob they reach) into plain entries and edges. */
export function readIncoming(staged: Layout, index: IndexFile): IncomingEntries {
  const entries = index.manifests;
  const { schemaVersion: _v, mediaType: _m, manifests: _e, ...top } = index;
  const graph = buildReferrerGraph(index, new ConventionContext(staged));
  const bookkeeping = new Set(graph.bookkeeping.map((b) => b.entry));
  const edges: ReferrerEdge[] = [];
  for (const r of graph.records()) {
    if (![...r.sources].some((s) => CONVENTION_SOURCES.has(s))) continue;
    edges.push({ subject: subjectDescriptor(staged, r.subject), referrer: r.descriptor });
  }
  return { all: entries, top, plain: entries.filter((e) => !bookkeeping.has(e)), edges };
}

/**
 * Apply the archive's entries to `index` (inside the target's IndexStore.update; referrer index
 * blobs are written to the target first). Throws E_CONFLICT per the policy, or when a convention's
 * name is taken by unrelated content.
 */
export function mergeIncoming(
  target: Layout,
  index: IndexFile,
  incoming: IncomingEntries,
  policy: ConflictPolicy,
  options: { dryRun?: boolean } = {},
): IncomingMerge {
  adoptTopLevel(index, incoming.top);
  const targetConventions = detectConventions(target, index);
  // A hauler store records referrers in its own kind (record.ts), with no convention in use.
  const recordsReferrers = targetConventions.length > 0 || haulerKindPrefix(index) !== undefined;
  if (!recordsReferrers || incoming.edges.length === 0) {
    return { ...mergeEntries(index, incoming.all, policy), conventions: [] };
  }
  const report = mergeEntries(index, incoming.plain, policy);
  if (options.dryRun === true) return { ...report, conventions: [...targetConventions] };
  const conventions = applyReferrerEdges(target, index, incoming.edges, { convention: 'auto' });
  return { ...report, conventions };
}

/**
 * A target without entries takes the archive's top-level fields (olareg's convert flags, its
 * history...), so a round trip into a new layout keeps them; a populated target keeps its own.
 */
function adoptTopLevel(index: IndexFile, top: Record<string, unknown>): void {
  if (index.manifests.length > 0) return;
  const target = index as Record<string, unknown>;
  for (const [key, value] of Object.entries(top)) {
    if (!Object.hasOwn(target, key)) target[key] = structuredClone(value);
  }
}

/** A descriptor for an edge's subject; only its digest is used to record the edge. */
function subjectDescriptor(staged: Layout, subject: Digest): Descriptor {
  try {
    return staged.describeBlob(parseDigest(subject));
  } catch {
    // The subject is not in the archive (a dangling subject); the target may hold it.
    return { mediaType: 'application/octet-stream', digest: subject, size: 0 };
  }
}
