// convert: rewrite every recorded referrer of every subject into one convention, removing all
// conventions' bookkeeping first, in ONE index.json commit. Lossless, idempotent and deterministic:
// the result depends only on the non-bookkeeping entries (kept in order) and the referrer set.
import type { Layout } from '../layout/layout.js';
import type { Descriptor } from '../schema/descriptor.js';
import type { IndexFile } from '../schema/layout-files.js';
import { ConventionContext } from './context.js';
import {
  CONVENTIONS,
  CONVENTION_NAMES,
  type ConventionName,
  type SubjectReferrers,
} from './convention.js';
import { buildReferrerGraph } from './discover.js';
import { removeConvertFlags } from './shared.js';
import type { ReferrerSource } from './scan.js';

export interface ConvertOptions {
  /** Plan only: nothing is written, not even index blobs. */
  dryRun?: boolean | undefined;
  /** Also record referrer manifests found only in blobs/ (a blob scan). */
  adoptUnlisted?: boolean | undefined;
  /** Subject-annotation responses get `org.olareg.referrer.subject` (default: the PR #1171 key). */
  olaregKeys?: boolean | undefined;
}

export interface DroppedListing {
  /** The listed digest that is not carried over. */
  digest: string;
  /** The bookkeeping entry that listed it, and its convention. */
  listedIn: string;
  convention: ConventionName;
  reason: string;
}

export interface ConvertPlan {
  to: ConventionName;
  /** Conventions that had bookkeeping before. */
  from: ConventionName[];
  subjects: number;
  referrers: number;
  /** index.json entries removed and added (an unchanged entry is in neither). */
  removed: Descriptor[];
  added: Descriptor[];
  /** Index blobs the new bookkeeping points to (written unless dry run; existing ones reused). */
  blobs: Descriptor[];
  /** Referrers found only by the blob scan and now recorded (adoptUnlisted). */
  adopted: Descriptor[];
  /** Listings that name no verifiable referrer (missing blob, no subject), and are not carried. */
  dropped: DroppedListing[];
  changed: boolean;
  dryRun: boolean;
}

/** Sources that make a referrer "recorded": convert carries exactly these over. */
const RECORDED: ReadonlySet<ReferrerSource> = new Set<ReferrerSource>([
  ...CONVENTION_NAMES,
  'tagged',
]);

/**
 * Convert the layout's referrer bookkeeping to `to`. Throws E_CONFLICT when a fallback tag the
 * target needs is a user's tag on other content (nothing is written), lock errors.
 */
export async function convert(
  layout: Layout,
  to: ConventionName,
  options: ConvertOptions = {},
): Promise<ConvertPlan> {
  if (options.dryRun === true) {
    return planConversion(layout, structuredClone(layout.readIndex()), to, options);
  }
  return layout.operation(() =>
    layout.updateIndex((index) => {
      const plan = planConversion(layout, index, to, options);
      return { index: plan.changed ? index : undefined, result: plan };
    }),
  );
}

/** Rewrite `index` in place into convention `to` (index blobs written unless dryRun). */
export function planConversion(
  layout: Layout,
  index: IndexFile,
  to: ConventionName,
  options: ConvertOptions = {},
): ConvertPlan {
  const beforeText = JSON.stringify(index);
  const before = [...index.manifests];
  const probe = new ConventionContext(layout);
  const graph = buildReferrerGraph(index, probe, { scanBlobs: options.adoptUnlisted === true });
  const bookkeeping = graph.bookkeeping;
  const from = CONVENTION_NAMES.filter((n) => bookkeeping.some((b) => b.convention === n));
  // convert normalises: the key family is the caller's choice (PR #1171 key by default), never
  // inferred from the layout, so A→B→A gives back the same bytes. See spec-notes/referrers.md.
  const ctx = new ConventionContext(
    layout,
    { olaregKeys: options.olaregKeys === true, dryRun: options.dryRun },
    probe.docs,
  );

  const batch: SubjectReferrers[] = [];
  const adopted: Descriptor[] = [];
  let referrers = 0;
  for (const subject of graph.subjects()) {
    const list: Descriptor[] = [];
    for (const r of graph.recordsOf(subject)) {
      if ([...r.sources].some((s) => RECORDED.has(s))) {
        list.push(r.descriptor);
      } else if (options.adoptUnlisted === true && r.sources.has('blob-scan')) {
        list.push(r.descriptor);
        adopted.push(r.descriptor);
      }
    }
    if (list.length > 0) batch.push({ subject, referrers: list });
    referrers += list.length;
  }

  const dropped: DroppedListing[] = [];
  for (const b of bookkeeping) {
    if (b.problem !== undefined && b.listed.length === 0) {
      dropped.push({
        digest: b.entry.digest,
        listedIn: b.entry.digest,
        convention: b.convention,
        reason: b.problem,
      });
    }
    for (const d of b.listed) {
      const r = ctx.docs.read(d.digest, d.mediaType);
      const reason = !r.ok
        ? r.error.message
        : r.doc.subject === undefined
          ? 'no subject'
          : undefined;
      if (reason !== undefined && !dropped.some((x) => x.digest === d.digest)) {
        dropped.push({
          digest: d.digest,
          listedIn: b.entry.digest,
          convention: b.convention,
          reason,
        });
      }
    }
  }

  const isBookkeeping = new Set<Descriptor>(bookkeeping.map((b) => b.entry));
  index.manifests = index.manifests.filter((e) => !isBookkeeping.has(e));
  removeConvertFlags(index);
  const kept = index.manifests.length;
  const target = CONVENTIONS[to];
  target.add(index, batch, ctx);
  const appended = index.manifests
    .slice(kept)
    .sort((a, b) => compare(target.orderKey(a), target.orderKey(b)) || compare(a.digest, b.digest));
  index.manifests = [...index.manifests.slice(0, kept), ...appended];

  const { removed, added } = entryDiff(before, index.manifests);
  return {
    to,
    from,
    subjects: batch.length,
    referrers,
    removed,
    added,
    blobs: ctx.written,
    adopted,
    dropped,
    changed: JSON.stringify(index) !== beforeText,
    dryRun: options.dryRun === true,
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Entries only in `before` and only in `after`, compared by content (a multiset of JSON texts). */
function entryDiff(
  before: readonly Descriptor[],
  after: readonly Descriptor[],
): { removed: Descriptor[]; added: Descriptor[] } {
  const count = new Map<string, number>();
  for (const e of before) count.set(JSON.stringify(e), (count.get(JSON.stringify(e)) ?? 0) + 1);
  const added: Descriptor[] = [];
  for (const e of after) {
    const k = JSON.stringify(e);
    const n = count.get(k) ?? 0;
    if (n > 0) count.set(k, n - 1);
    else added.push(e);
  }
  const removed: Descriptor[] = [];
  for (const e of before) {
    const k = JSON.stringify(e);
    const n = count.get(k) ?? 0;
    if (n > 0) {
      removed.push(e);
      count.set(k, n - 1);
    }
  }
  return { removed, added };
}
