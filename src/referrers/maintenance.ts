// What gc and fsck need to know about referrer bookkeeping, through maintenance/policy.ts's extension
// points: gc keeps each bookkeeping entry (and each cosign tag) only while its subject lives; fsck
// checks each convention's bookkeeping against the manifests it names, through the convention's own
// `check`, and each cosign tag for its subject.
import type { Layout } from '../layout/layout.js';
import { Annotation } from '../media-types.js';
import type { Finding } from '../maintenance/findings.js';
import type { FsckCheck, RootEntry, RootPolicy } from '../maintenance/policy.js';
import type { Descriptor } from '../schema/descriptor.js';
import type { IndexFile } from '../schema/layout-files.js';
import { ConventionContext } from './context.js';
import { CONVENTIONS, CONVENTION_NAMES, classifyIndex, type Bookkeeping } from './convention.js';
import { cosignLinkOf } from './cosign-tag.js';
import { haulerLinks } from './hauler-kind.js';
import { indexFinding } from './checks.js';

/**
 * Every index.json entry; bookkeeping entries (fallback-tag entries, subject-annotation responses,
 * untagged per-manifest referrer entries) and cosign tags (`sha256-<hex>.sig|.att|.sbom`, which name
 * their subject by digest as a fallback tag does) carry `keepWhileReachable: <subject>`, so a
 * signature lives exactly as long as what it signs. Bookkeeping whose subject cannot be told stays an
 * ordinary root.
 */
export const referrerRootPolicy: RootPolicy = {
  classify(layout: Layout, index: IndexFile): RootEntry[] {
    const { ctx, bookkeeping } = analysis(layout, index);
    const byEntry = new Map(bookkeeping.map((b) => [b.entry, b]));
    const hauler = haulerLinks(index);
    return index.manifests.map((descriptor) => {
      const b = byEntry.get(descriptor);
      // A hauler signature entry lives while its image does; one whose image entry is gone has no
      // subject we can tell, and stays an ordinary root (fsck reports it).
      const subject =
        b !== undefined
          ? b.subject
          : (cosignLinkOf(descriptor, ctx)?.subject ?? hauler.get(descriptor)?.subject);
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

/**
 * A cosign tag whose subject is not in the layout: a warning, as for a convention's recorded subject
 * (a layout may hold signatures before, or without, what they sign); gc drops the tag unless told to
 * keep orphans.
 */
const checkCosignTags: FsckCheck = (layout, index) => {
  const { ctx, bookkeeping } = analysis(layout, index);
  const claimed = new Set<Descriptor>(bookkeeping.map((b) => b.entry));
  return index.manifests.flatMap((entry) => {
    const link = claimed.has(entry) ? undefined : cosignLinkOf(entry, ctx);
    if (link === undefined || layout.blobs.has(link.subject)) return [];
    return [
      indexFinding(
        'COSIGN_TAG_SUBJECT_MISSING',
        `cosign tag ${entry.annotations![Annotation.RefName]} (${link.kind}) names ${link.subject}, which is not in the layout`,
        link.subject,
      ),
    ];
  });
};

/**
 * A hauler signature (attestation, SBOM, referrer) entry whose name no image entry carries, or whose
 * image is not in the layout: a warning, as for a cosign tag. Without the image entry the signature
 * has no subject we can tell, so gc keeps it (an ordinary root) until the user removes it.
 */
const checkHaulerKinds: FsckCheck = (layout, index) => {
  const out: Finding[] = [];
  for (const [entry, link] of haulerLinks(index)) {
    if (link.subject !== undefined && layout.blobs.has(link.subject)) continue;
    out.push(
      indexFinding(
        'HAULER_SUBJECT_MISSING',
        link.subject === undefined
          ? `hauler ${link.role} entry ${entry.digest} is filed under ${link.name}, which no image entry carries`
          : `hauler ${link.role} entry ${entry.digest} is filed under ${link.name}, whose image ${link.subject} is not in the layout`,
        link.subject ?? entry.digest,
      ),
    );
  }
  return out;
};

export const referrerFsckChecks: readonly FsckCheck[] = [
  checkConventions,
  checkCosignTags,
  checkHaulerKinds,
];
