// Convention "subject-annotation" (image-spec PR #1171, olareg): one referrers-response index per
// subject, listed untagged in index.json with `org.opencontainers.image.referrer.subject` (or olareg's
// `org.olareg.referrer.subject`) naming the subject. Both keys are read; one family is written.
import { tryParseDigest } from '../digest.js';
import { Annotation, MediaType } from '../media-types.js';
import { canonicalDescriptor, type Descriptor } from '../schema/descriptor.js';
import type { Finding } from '../maintenance/findings.js';
import type { IndexFile } from '../schema/layout-files.js';
import { checkListing, indexFinding } from './checks.js';
import type { ConventionContext } from './context.js';
import type { Claim, ReferrerConvention, SubjectReferrers } from './convention.js';
import { byDigest } from './response.js';
import {
  SUBJECT_KEYS,
  removeFromIndexes,
  subjectKeyOf,
  writeMergedResponse,
  type SubjectKey,
} from './shared.js';

/**
 * The key family to write: explicit when the caller chose; otherwise the family of the entry being
 * updated, else the family the layout already uses (olareg's only when no PR #1171 key is present),
 * else the PR #1171 key.
 */
function keyFor(
  entry: Descriptor | undefined,
  layoutFamily: SubjectKey,
  ctx: ConventionContext,
): SubjectKey {
  const chosen = ctx.options.olaregKeys;
  if (chosen === true) return Annotation.OlaregReferrerSubject;
  if (chosen === false) return Annotation.ReferrerSubject;
  return (entry === undefined ? undefined : subjectKeyOf(entry)) ?? layoutFamily;
}

function layoutFamilyOf(index: IndexFile): SubjectKey {
  const keys = new Set(index.manifests.map(subjectKeyOf));
  return keys.has(Annotation.OlaregReferrerSubject) && !keys.has(Annotation.ReferrerSubject)
    ? Annotation.OlaregReferrerSubject
    : Annotation.ReferrerSubject;
}

/** A response entry: the index's identity and the one subject key (no tag, no created time). */
function responseEntry(blob: Descriptor, key: SubjectKey, subject: string): Descriptor {
  return canonicalDescriptor({
    mediaType: MediaType.ImageIndex,
    digest: blob.digest,
    size: blob.size,
    annotations: { [key]: subject },
  });
}

/** The updated first entry: new blob, key family switched if needed, other annotations kept. */
function relabel(
  entry: Descriptor,
  blob: Descriptor,
  key: SubjectKey,
  subject: string,
): Descriptor {
  const annotations = { ...entry.annotations };
  for (const k of SUBJECT_KEYS) delete annotations[k];
  annotations[key] = subject;
  return canonicalDescriptor({
    ...entry,
    mediaType: MediaType.ImageIndex,
    digest: blob.digest,
    size: blob.size,
    annotations,
  });
}

export const subjectAnnotationConvention = {
  name: 'subject-annotation',
  lists: true,

  /** Ours when the entry carries either subject key, whatever it points to (fsck judges that). */
  claim(entry: Descriptor, ctx: ConventionContext): Claim | undefined {
    const key = subjectKeyOf(entry);
    if (key === undefined) return undefined;
    const value = entry.annotations?.[key];
    const subject = tryParseDigest(value);
    const r = ctx.docs.read(entry.digest, entry.mediaType);
    const problem =
      subject === undefined
        ? `${key} is not a digest: ${JSON.stringify(value)}`
        : !r.ok
          ? r.error.message
          : r.doc.kind !== 'index'
            ? `${entry.digest} is not an image index`
            : undefined;
    const listed = r.ok && r.doc.kind === 'index' ? r.doc.children : [];
    return { entry, subject, listed, problem };
  },

  add(index: IndexFile, batch: readonly SubjectReferrers[], ctx: ConventionContext): void {
    const family = layoutFamilyOf(index);
    const bySubject = new Map<string, { entries: Descriptor[]; listed: Descriptor[] }>();
    for (const { subject } of batch) bySubject.set(subject, { entries: [], listed: [] });
    for (const e of index.manifests) {
      const claim = this.claim(e, ctx);
      const slot = claim?.subject === undefined ? undefined : bySubject.get(claim.subject);
      if (claim === undefined || slot === undefined) continue;
      slot.entries.push(e);
      slot.listed.push(...claim.listed);
    }
    for (const { subject, referrers } of [...batch].sort((a, b) =>
      byDigest({ digest: a.subject }, { digest: b.subject }),
    )) {
      const { entries, listed } = bySubject.get(subject)!;
      const key = keyFor(entries[0], family, ctx);
      const have = new Set(listed.map((d) => d.digest));
      const sameKey = entries[0] !== undefined && subjectKeyOf(entries[0]) === key;
      if (entries.length === 1 && sameKey && referrers.every((r) => have.has(r.digest))) continue;
      writeMergedResponse(index, entries, listed, referrers, ctx, (first, blob) =>
        first === undefined
          ? responseEntry(blob, key, subject)
          : relabel(first, blob, key, subject),
      );
      bySubject.set(subject, { entries: [], listed: [] });
    }
  },

  remove(index: IndexFile, referrers: ReadonlySet<string>, ctx: ConventionContext): void {
    removeFromIndexes(
      index,
      referrers,
      ctx,
      (e) => this.claim(e, ctx),
      (entry, blob) => {
        const key = subjectKeyOf(entry)!;
        return relabel(entry, blob, key, entry.annotations?.[key] ?? '');
      },
    );
  },

  orderKey(entry: Descriptor): string {
    const key = subjectKeyOf(entry);
    return (key === undefined ? undefined : entry.annotations?.[key]) ?? entry.digest;
  },

  /** Each response: a valid subject key, readable, listing that subject's manifests; one per subject. */
  check(own, _index, ctx): Finding[] {
    const out: Finding[] = [];
    for (const b of own) {
      const where = `referrers response ${b.entry.digest}`;
      if (b.problem !== undefined) {
        const code =
          b.subject === undefined ? 'REFERRER_ANNOTATION_INVALID' : 'REFERRER_INDEX_UNREADABLE';
        out.push(indexFinding(code, `${where}: ${b.problem}`, b.entry.digest));
        continue;
      }
      out.push(
        ...checkListing(b, ctx, {
          where,
          wrongSubject: (doc) => doc.subject !== b.subject,
          mismatchCode: 'REFERRER_ANNOTATION_MISMATCH',
          subjectLabel: b.subject ?? '',
        }),
      );
    }
    const responses = own.filter((b) => b.subject !== undefined);
    for (const b of responses) {
      if (responses.find((o) => o.subject === b.subject) !== b) {
        out.push(
          indexFinding(
            'REFERRER_RESPONSE_DUPLICATE',
            `more than one referrers response for ${b.subject}`,
            b.entry.digest,
          ),
        );
      }
    }
    return out;
  },
} satisfies ReferrerConvention;
