// What fsck checks of a convention's listings, shared by the conventions whose bookkeeping entries
// are indexes of referrer descriptors (fallback-tag, subject-annotation): each listed descriptor
// must name a readable manifest of the right subject and mirror it. Each convention calls it from
// its own `check` with its wording and codes; findings are data, never thrown.
import { finding as makeFinding, type Finding, type FindingCode } from '../maintenance/findings.js';
import { Annotation } from '../media-types.js';
import { sortedRecord, type Descriptor } from '../schema/descriptor.js';
import { INDEX_FILE } from '../store/paths.js';
import type { ConventionContext } from './context.js';
import type { Bookkeeping } from './convention.js';
import type { DocInfo } from './documents.js';
import { referrerDescriptor } from './response.js';

/** A finding about index.json (bookkeeping lives there). */
export function indexFinding(code: FindingCode, message: string, digest?: string): Finding {
  return makeFinding(code, message, { path: INDEX_FILE, digest });
}

export interface ListingRules {
  /** How messages name the entry: "fallback tag sha256-…", "referrers response sha256:…". */
  where: string;
  /** Whether a listed manifest's subject is not the one this entry records. */
  wrongSubject(doc: DocInfo): boolean;
  /** The code for a listed manifest of another subject. */
  mismatchCode: FindingCode;
  /** The subject as messages name it. */
  subjectLabel: string;
}

/** Listed descriptors: dangling, wrong subject, or not mirroring the manifest; a missing subject. */
export function checkListing(
  b: Bookkeeping,
  ctx: ConventionContext,
  rules: ListingRules,
): Finding[] {
  const out: Finding[] = [];
  for (const d of b.listed) {
    const doc = ctx.docs.doc(d.digest, d.mediaType);
    if (doc === undefined) {
      out.push(
        indexFinding(
          'REFERRER_DANGLING_DESCRIPTOR',
          `${rules.where} lists ${d.digest}, which is missing or unreadable`,
          d.digest,
        ),
      );
      continue;
    }
    if (rules.wrongSubject(doc)) {
      out.push(
        indexFinding(
          rules.mismatchCode,
          `${rules.where} lists ${d.digest}, whose subject is ${doc.subject ?? '(none)'}, not ${rules.subjectLabel}`,
          d.digest,
        ),
      );
      continue;
    }
    if (JSON.stringify(pick(d)) !== JSON.stringify(pick(referrerDescriptor(doc)))) {
      out.push(
        indexFinding(
          'REFERRER_DESCRIPTOR_STALE',
          `${rules.where} lists ${d.digest} with a media type, size, artifactType or annotations that differ from the manifest`,
          d.digest,
        ),
      );
    }
  }
  out.push(...subjectMissing(b, ctx, `${rules.where} records referrers of ${b.subject}`));
  return out;
}

/** A recorded subject that is not in the layout (a warning: referrers may arrive before it). */
export function subjectMissing(b: Bookkeeping, ctx: ConventionContext, what: string): Finding[] {
  if (b.subject === undefined || ctx.layout.blobs.has(b.subject)) return [];
  return [
    indexFinding('REFERRER_SUBJECT_MISSING', `${what}, which is not in the layout`, b.subject),
  ];
}

export function refName(e: Descriptor): string | undefined {
  return e.annotations?.[Annotation.RefName];
}

function pick(d: Descriptor): unknown {
  return [d.mediaType, d.digest, d.size, d.artifactType ?? null, sortedRecord(d.annotations ?? {})];
}
