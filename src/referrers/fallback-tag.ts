// Convention "fallback-tag": distribution-spec's referrers tag schema inside a layout (regclient's
// ocidir). An index.json entry with ref.name `<alg>-<encoded>` points to an image index listing the
// referrer descriptors of that subject. See spec-notes/referrers.md "fallback-tag".
import { tryParseDigest, type Digest } from '../digest.js';
import { ConflictError } from '../errors.js';
import { Annotation, MediaType, isIndexMediaType } from '../media-types.js';
import { canonicalDescriptor, type Descriptor } from '../schema/descriptor.js';
import type { Finding } from '../maintenance/findings.js';
import type { IndexFile } from '../schema/layout-files.js';
import { taggedEntry } from '../layout/tags.js';
import type { ConventionContext } from './context.js';
import type { Claim, ReferrerConvention, SubjectReferrers } from './convention.js';
import { checkListing, indexFinding } from './checks.js';
import { isFallbackTagName } from './fallback-tag-name.js';
import {
  hasSubjectKey,
  removeConvertFlags,
  removeFromIndexes,
  writeMergedResponse,
} from './shared.js';

const NOT_TAG_CHAR = /[^a-zA-Z0-9._-]/g;

/**
 * The referrers tag of a subject (distribution-spec main, PR #563): the algorithm cut to 32
 * characters, `-`, the encoded part cut to 64, every character outside `[a-zA-Z0-9._-]` made `-`.
 * sha256 → `sha256-<64 hex>`; sha512 → `sha512-<first 64 hex>` (not unique: verify subjects).
 */
export function fallbackTagFor(subject: string): string {
  const colon = subject.indexOf(':');
  const alg = subject.slice(0, colon).replace(NOT_TAG_CHAR, '-').slice(0, 32);
  const encoded = subject
    .slice(colon + 1)
    .replace(NOT_TAG_CHAR, '-')
    .slice(0, 64);
  return `${alg}-${encoded}`;
}

/**
 * The subject a fallback tag names when nothing was cut off: any sha256 tag, and the untruncated
 * `sha512-<128 hex>` that oras-go and go-containerregistry write. A truncated sha512 tag names none.
 */
export function subjectOfFallbackTag(tag: string): Digest | undefined {
  const dash = tag.indexOf('-');
  return dash < 0 ? undefined : tryParseDigest(`${tag.slice(0, dash)}:${tag.slice(dash + 1)}`);
}

function refNameOf(entry: Descriptor): string | undefined {
  return entry.annotations?.[Annotation.RefName];
}

/**
 * The subject of a fallback entry: from the tag when it is whole; for a truncated sha512 tag, the
 * subject of a listed manifest that maps to this tag, else a stored blob whose digest does.
 */
function subjectOf(tag: string, listed: Descriptor[], ctx: ConventionContext): Digest | undefined {
  const exact = subjectOfFallbackTag(tag);
  if (exact !== undefined) return exact;
  const candidates = new Set<Digest>();
  for (const d of listed) {
    const s = ctx.docs.doc(d.digest, d.mediaType)?.subject;
    if (s !== undefined && fallbackTagFor(s) === tag) candidates.add(s);
  }
  if (candidates.size === 0) {
    const dash = tag.indexOf('-');
    for (const d of ctx.blobsWithPrefix(tag.slice(0, dash), tag.slice(dash + 1))) {
      const p = tryParseDigest(d);
      if (p !== undefined) candidates.add(p);
    }
  }
  return [...candidates].sort()[0];
}

export const fallbackTagConvention = {
  name: 'fallback-tag',
  lists: true,

  /**
   * Ours when: a fallback-shaped ref.name, an index media type, no subject-annotation key, and every
   * readable listed manifest has a `subject` (olareg's test, loosened: a stale entry still counts).
   * An index of subject-less manifests under such a name is a user's image, left alone.
   */
  claim(entry: Descriptor, ctx: ConventionContext): Claim | undefined {
    const tag = refNameOf(entry);
    if (tag === undefined || !isFallbackTagName(tag) || hasSubjectKey(entry)) return undefined;
    if (!isIndexMediaType(entry.mediaType)) return undefined;
    const r = ctx.docs.read(entry.digest, entry.mediaType);
    if (!r.ok) {
      return { entry, subject: subjectOf(tag, [], ctx), listed: [], problem: r.error.message };
    }
    if (r.doc.kind !== 'index') return undefined;
    for (const child of r.doc.children) {
      const doc = ctx.docs.doc(child.digest, child.mediaType);
      if (doc !== undefined && doc.subject === undefined) return undefined;
    }
    return { entry, subject: subjectOf(tag, r.doc.children, ctx), listed: r.doc.children };
  },

  add(index: IndexFile, batch: readonly SubjectReferrers[], ctx: ConventionContext): void {
    const wanted = new Map<string, Descriptor[]>();
    for (const { subject, referrers } of batch) {
      const tag = fallbackTagFor(subject);
      wanted.set(tag, [...(wanted.get(tag) ?? []), ...referrers]);
    }
    const existing = new Map<string, Descriptor[]>();
    for (const e of index.manifests) {
      const tag = refNameOf(e);
      if (tag !== undefined && wanted.has(tag))
        existing.set(tag, [...(existing.get(tag) ?? []), e]);
    }
    for (const [tag, referrers] of [...wanted].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const entries = existing.get(tag) ?? [];
      const listed: Descriptor[] = [];
      for (const e of entries) {
        const claim = this.claim(e, ctx);
        if (claim === undefined || claim.problem !== undefined) {
          throw new ConflictError(
            'E_CONFLICT',
            `tag ${tag} names ${e.digest}, which is not a referrers index`,
            { tag, digest: e.digest },
            { hint: `remove or rename that tag (\`ocilayout untag ${tag}\`), then retry` },
          );
        }
        listed.push(...claim.listed);
      }
      const have = new Set(listed.map((d) => d.digest));
      if (entries.length === 1 && referrers.every((r) => have.has(r.digest))) continue;
      writeMergedResponse(index, entries, listed, referrers, ctx, (first, blob) =>
        first === undefined ? taggedEntry(blob, tag) : pointedAt(first, blob),
      );
      // olareg skips converting fallback tags once this flag is set; a new tag makes it false.
      removeConvertFlags(index);
    }
  },

  remove(index: IndexFile, referrers: ReadonlySet<string>, ctx: ConventionContext): void {
    removeFromIndexes(index, referrers, ctx, (e) => this.claim(e, ctx), pointedAt);
  },

  orderKey(entry: Descriptor): string {
    return refNameOf(entry) ?? entry.digest;
  },

  /**
   * Each fallback index: readable, listing manifests whose subject maps to its tag, mirroring them.
   * And entries that only look like fallback tags (unclaimed): not indexes, or not of referrers.
   */
  check(own, index, ctx, claimed): Finding[] {
    const out: Finding[] = [];
    for (const b of own) {
      const tag = refNameOf(b.entry);
      const where = `fallback tag ${tag}`;
      if (b.problem !== undefined) {
        out.push(
          indexFinding('REFERRER_INDEX_UNREADABLE', `${where}: ${b.problem}`, b.entry.digest),
        );
        continue;
      }
      out.push(
        ...checkListing(b, ctx, {
          where,
          wrongSubject: (doc) => doc.subject === undefined || fallbackTagFor(doc.subject) !== tag,
          mismatchCode: 'FALLBACK_SUBJECT_MISMATCH',
          subjectLabel: b.subject ?? tag ?? '',
        }),
      );
    }
    for (const e of index.manifests) {
      const tag = refNameOf(e);
      if (tag === undefined || !isFallbackTagName(tag) || claimed.has(e)) continue;
      out.push(lookalike(e, tag, ctx));
    }
    return out;
  },
} satisfies ReferrerConvention;

/** An unclaimed entry whose tag has the fallback shape. */
function lookalike(e: Descriptor, tag: string, ctx: ConventionContext): Finding {
  if (tag === fallbackTagFor(e.digest)) {
    // A digest tag naming the manifest itself, as registry mirrors write (regclient's own test
    // layout has one on purpose). Not referrer bookkeeping, and discovery ignores it: worth a
    // note, not a failed check.
    return indexFinding(
      'DIGEST_TAG_NAMES_ITSELF',
      `tag ${tag} names ${e.digest} itself (a digest tag, as registry mirrors write), not a referrers index; discovery ignores it`,
      e.digest,
    );
  }
  const doc = ctx.docs.doc(e.digest, e.mediaType);
  if (!isIndexMediaType(e.mediaType) || doc?.kind !== 'index') {
    return indexFinding(
      'FALLBACK_NOT_INDEX',
      `fallback tag ${tag} names ${e.digest}, which is not an image index`,
      e.digest,
    );
  }
  return indexFinding(
    'FALLBACK_TAG_NOT_REFERRERS',
    `tag ${tag} has the shape of a fallback tag but names an index of manifests without subject`,
    e.digest,
  );
}

/** The tag's entry pointed at a new referrers index, its other annotations (and tag) kept. */
function pointedAt(entry: Descriptor, blob: Descriptor): Descriptor {
  return canonicalDescriptor({
    ...entry,
    mediaType: MediaType.ImageIndex,
    digest: blob.digest,
    size: blob.size,
  });
}
