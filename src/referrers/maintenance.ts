// What gc and fsck need to know about referrer bookkeeping, through maintenance/policy.ts's extension
// points: gc keeps each bookkeeping entry only while its subject lives; fsck checks each
// convention's bookkeeping against the manifests it names. Findings are data, never thrown.
import type { Layout } from '../layout.js';
import { finding as makeFinding, type FindingCode } from '../maintenance/findings.js';
import type { Finding, FsckCheck, RootEntry, RootPolicy } from '../maintenance/policy.js';
import { Annotation, isIndexMediaType } from '../media-types.js';
import { sortedRecord, type Descriptor } from '../schema/descriptor.js';
import type { IndexFile } from '../schema/layout-files.js';
import { INDEX_FILE } from '../store/paths.js';
import { ConventionContext } from './context.js';
import { classifyIndex, type Bookkeeping } from './convention.js';
import { fallbackTagFor } from './fallback-tag.js';
import { isFallbackTagName } from './fallback-tag-name.js';
import { referrerDescriptor } from './response.js';

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

function finding(code: FindingCode, message: string, digest?: string): Finding {
  return makeFinding(code, message, { path: INDEX_FILE, digest });
}

/** Listings of fallback indexes and responses: dangling, wrong subject, or not mirroring the manifest. */
const checkListings: FsckCheck = (layout, index) => {
  const { ctx, bookkeeping } = analysis(layout, index);
  const out: Finding[] = [];
  for (const b of bookkeeping) {
    if (b.convention === 'per-manifest') continue;
    const where =
      b.convention === 'fallback-tag'
        ? `fallback tag ${refName(b.entry)}`
        : `referrers response ${b.entry.digest}`;
    if (b.problem !== undefined) {
      const code =
        b.subject === undefined && b.convention === 'subject-annotation'
          ? 'REFERRER_ANNOTATION_INVALID'
          : 'REFERRER_INDEX_UNREADABLE';
      out.push(finding(code, `${where}: ${b.problem}`, b.entry.digest));
      continue;
    }
    for (const d of b.listed) {
      const doc = ctx.docs.doc(d.digest, d.mediaType);
      if (doc === undefined) {
        out.push(
          finding(
            'REFERRER_DANGLING_DESCRIPTOR',
            `${where} lists ${d.digest}, which is missing or unreadable`,
            d.digest,
          ),
        );
        continue;
      }
      const wrong =
        b.convention === 'fallback-tag'
          ? doc.subject === undefined || fallbackTagFor(doc.subject) !== refName(b.entry)
          : doc.subject !== b.subject;
      if (wrong) {
        const code =
          b.convention === 'fallback-tag'
            ? 'FALLBACK_SUBJECT_MISMATCH'
            : 'REFERRER_ANNOTATION_MISMATCH';
        out.push(
          finding(
            code,
            `${where} lists ${d.digest}, whose subject is ${doc.subject ?? '(none)'}, not ${b.subject ?? refName(b.entry)}`,
            d.digest,
          ),
        );
        continue;
      }
      if (JSON.stringify(pick(d)) !== JSON.stringify(pick(referrerDescriptor(doc)))) {
        out.push(
          finding(
            'REFERRER_DESCRIPTOR_STALE',
            `${where} lists ${d.digest} with a media type, size, artifactType or annotations that differ from the manifest`,
            d.digest,
          ),
        );
      }
    }
    if (b.subject !== undefined && !ctx.layout.blobs.has(b.subject)) {
      out.push(
        finding(
          'REFERRER_SUBJECT_MISSING',
          `${where} records referrers of ${b.subject}, which is not in the layout`,
          b.subject,
        ),
      );
    }
  }
  const responses = bookkeeping.filter(
    (b) => b.convention === 'subject-annotation' && b.subject !== undefined,
  );
  for (const b of responses) {
    if (responses.find((o) => o.subject === b.subject) !== b) {
      out.push(
        finding(
          'REFERRER_RESPONSE_DUPLICATE',
          `more than one referrers response for ${b.subject}`,
          b.entry.digest,
        ),
      );
    }
  }
  return out;
};

/** Entries that look like fallback tags but are not referrers indexes. */
const checkFallbackShapes: FsckCheck = (layout, index) => {
  const { ctx, bookkeeping } = analysis(layout, index);
  const claimed = new Set<Descriptor>(bookkeeping.map((b) => b.entry));
  const out: Finding[] = [];
  for (const e of index.manifests) {
    const tag = refName(e);
    if (tag === undefined || !isFallbackTagName(tag) || claimed.has(e)) continue;
    const doc = ctx.docs.doc(e.digest, e.mediaType);
    if (tag === fallbackTagFor(e.digest)) {
      // A digest tag naming the manifest itself, as registry mirrors write (regclient's own
      // test layout has one on purpose). Not referrer bookkeeping, and discovery ignores it: worth
      // a note, not a failed check.
      out.push(
        finding(
          'DIGEST_TAG_NAMES_ITSELF',
          `tag ${tag} names ${e.digest} itself (a digest tag, as registry mirrors write), not a referrers index; discovery ignores it`,
          e.digest,
        ),
      );
      continue;
    }
    if (!isIndexMediaType(e.mediaType) || doc?.kind !== 'index') {
      out.push(
        finding(
          'FALLBACK_NOT_INDEX',
          `fallback tag ${tag} names ${e.digest}, which is not an image index`,
          e.digest,
        ),
      );
    } else {
      out.push(
        finding(
          'FALLBACK_TAG_NOT_REFERRERS',
          `tag ${tag} has the shape of a fallback tag but names an index of manifests without subject`,
          e.digest,
        ),
      );
    }
  }
  return out;
};

/** Per-manifest entries: a containerd hint naming another subject, or a hinted entry whose manifest is gone. */
const checkPerManifest: FsckCheck = (layout, index) => {
  const { ctx, bookkeeping } = analysis(layout, index);
  const out: Finding[] = [];
  for (const b of bookkeeping) {
    if (b.convention !== 'per-manifest') continue;
    if (b.problem !== undefined) {
      out.push(
        finding(
          'REFERRER_DANGLING_DESCRIPTOR',
          `index.json lists referrer ${b.entry.digest}: ${b.problem}`,
          b.entry.digest,
        ),
      );
      continue;
    }
    const hint = b.entry.annotations?.[Annotation.ContainerdManifestSubject];
    if (hint !== undefined && hint !== b.subject) {
      out.push(
        finding(
          'REFERRER_ANNOTATION_MISMATCH',
          `entry ${b.entry.digest} says ${Annotation.ContainerdManifestSubject}=${hint}, but its subject is ${b.subject ?? '(none)'}`,
          b.entry.digest,
        ),
      );
    }
    if (b.subject !== undefined && !ctx.layout.blobs.has(b.subject)) {
      out.push(
        finding(
          'REFERRER_SUBJECT_MISSING',
          `referrer ${b.entry.digest} has subject ${b.subject}, which is not in the layout`,
          b.subject,
        ),
      );
    }
  }
  return out;
};

function refName(e: Descriptor): string | undefined {
  return e.annotations?.[Annotation.RefName];
}

function pick(d: Descriptor): unknown {
  return [d.mediaType, d.digest, d.size, d.artifactType ?? null, sortedRecord(d.annotations ?? {})];
}

export const referrerFsckChecks: readonly FsckCheck[] = [
  checkListings,
  checkFallbackShapes,
  checkPerManifest,
];
