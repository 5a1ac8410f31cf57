// What gc and fsck need to know about referrer bookkeeping, through maintenance/policy.ts's extension
// points: gc keeps each bookkeeping entry only while its subject lives; fsck checks each
// convention's bookkeeping against the manifests it names, through the convention's own `check`.
import type { Layout } from '../layout/layout.js';
import type { FsckCheck, RootEntry, RootPolicy } from '../maintenance/policy.js';
import type { Descriptor } from '../schema/descriptor.js';
import type { IndexFile } from '../schema/layout-files.js';
import { ConventionContext } from './context.js';
import { CONVENTIONS, CONVENTION_NAMES, classifyIndex, type Bookkeeping } from './convention.js';

/**
 * Every index.json entry; bookkeeping entries (fallback-tag entries, subject-annotation responses,
 * untagged per-manifest referrer entries) carry `keepWhileReachable: <subject>`, so a signature lives
 * exactly as long as what it signs. Bookkeeping whose subject cannot be told stays an ordinary root.
 */
export const referrerRootPolicy: RootPolicy = {
  classify(layout: Layout, index: IndexFile): RootEntry[] {
    const byEntry = new Map(bookkeepingOf(layout, index).map((b) => [b.entry, b]));
    return index.manifests.map((descriptor) => {
      const subject = byEntry.get(descriptor)?.subject;
      return subject === undefined ? { descriptor } : { descriptor, keepWhileReachable: subject };
    });
  },
};

// fsck runs several checks over one index; classify it once.
const cache = new WeakMap<IndexFile, { ctx: ConventionContext; bookkeeping: Bookkeeping[] }>();
function analysis(
  layout: Layout,
  index: IndexFile,
): { ctx: ConventionContext; bookkeeping: Bookkeeping[] } {
  let a = cache.get(index);
  if (a === undefined || a.ctx.layout !== layout) {
    const ctx = new ConventionContext(layout);
    a = { ctx, bookkeeping: classifyIndex(index, ctx) };
    cache.set(index, a);
  }
  return a;
}
function bookkeepingOf(layout: Layout, index: IndexFile): Bookkeeping[] {
  return analysis(layout, index).bookkeeping;
}

/**
 * Each convention's own checks of its bookkeeping (see ReferrerConvention.check), in the
 * conventions' display order; what one convention finds never depends on another's names.
 */
const checkConventions: FsckCheck = (layout, index) => {
  const { ctx, bookkeeping } = analysis(layout, index);
  const claimed = new Set<Descriptor>(bookkeeping.map((b) => b.entry));
  return CONVENTION_NAMES.flatMap((name) =>
    CONVENTIONS[name].check(
      bookkeeping.filter((b) => b.convention === name),
      index,
      ctx,
      claimed,
    ),
  );
};

export const referrerFsckChecks: readonly FsckCheck[] = [checkConventions];
