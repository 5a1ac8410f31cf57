// Small pieces the conventions share: the subject-annotation keys, the top-level convert flags,
// refreshing listed descriptors from the manifests they name, and the entry edits of the two
// conventions that keep referrers in an index blob (fallback-tag, subject-annotation).
import { Annotation } from '../media-types.js';
import type { Descriptor } from '../schema/descriptor.js';
import type { IndexFile } from '../schema/layout-files.js';
import type { ConventionContext } from './context.js';
import type { Claim } from './convention.js';
import { byDigest, mergeByDigest, referrerDescriptor, responseBytes } from './response.js';

/** Both spellings of the subject annotation, the PR #1171 one first (olareg wrote it until 2024-03). */
export const SUBJECT_KEYS = [Annotation.ReferrerSubject, Annotation.OlaregReferrerSubject] as const;
export type SubjectKey = (typeof SUBJECT_KEYS)[number];

/** Top-level index.json flags meaning "fallback tags were converted" (PR #1171 draft, olareg). */
export const CONVERT_FLAGS = [
  Annotation.ReferrerConvert,
  Annotation.OlaregReferrerConvert,
] as const;

/** The subject-annotation key an entry carries (the PR #1171 one wins when both are present). */
export function subjectKeyOf(entry: Descriptor): SubjectKey | undefined {
  const a = entry.annotations;
  if (a === undefined) return undefined;
  return SUBJECT_KEYS.find((k) => a[k] !== undefined);
}

export function hasSubjectKey(entry: Descriptor): boolean {
  return subjectKeyOf(entry) !== undefined;
}

/**
 * Remove both convert flags. They promise that no unconverted fallback tag exists; once we write a
 * fallback tag (or rewrite all bookkeeping) the promise is ours to keep, and we keep it by not
 * making it: olareg re-derives it on load. The `annotations` object itself is kept.
 * Returns whether a flag was removed.
 */
export function removeConvertFlags(index: IndexFile): boolean {
  const a = index.annotations;
  if (a === undefined) return false;
  let removed = false;
  for (const k of CONVERT_FLAGS) {
    if (k in a) {
      delete a[k];
      removed = true;
    }
  }
  return removed;
}

/**
 * Listed descriptors brought in line with the manifests they name (distribution-spec: the listing
 * must mirror the manifest's artifactType and annotations). Unreadable ones are kept as listed.
 */
export function refreshListed(listed: readonly Descriptor[], ctx: ConventionContext): Descriptor[] {
  return listed.map((d) => {
    const doc = ctx.docs.doc(d.digest, d.mediaType);
    return doc === undefined ? d : referrerDescriptor(doc);
  });
}

/**
 * Put `updated` where the first of `entries` stands (stable order) and drop the others; append it
 * when there are none. One subject ends up with one bookkeeping entry, however many it had.
 */
export function replaceEntries(
  index: IndexFile,
  entries: readonly Descriptor[],
  updated: Descriptor,
): void {
  const [first, ...others] = entries;
  if (first === undefined) {
    index.manifests.push(updated);
    return;
  }
  index.manifests = index.manifests
    .filter((e) => !others.includes(e))
    .map((e) => (e === first ? updated : e));
}

/**
 * Store the response listing `listed` (refreshed) plus `referrers`, and let it replace `entries`:
 * `entryFor(first, blob)` is the one entry that stays (a new one when `first` is undefined).
 */
export function writeMergedResponse(
  index: IndexFile,
  entries: readonly Descriptor[],
  listed: readonly Descriptor[],
  referrers: Descriptor[],
  ctx: ConventionContext,
  entryFor: (first: Descriptor | undefined, blob: Descriptor) => Descriptor,
): void {
  const blob = ctx.putIndexBlob(
    responseBytes(mergeByDigest(refreshListed(listed, ctx), referrers)),
  );
  replaceEntries(index, entries, entryFor(entries[0], blob));
}

/**
 * Stop listing `referrers` in every referrers index `claim` owns. An index left empty is removed:
 * an empty response says nothing an absent one does not (the API answers an empty list). Any other
 * is rewritten in digest order to a new blob, and its entry becomes `relabel(entry, blob)`.
 */
export function removeFromIndexes(
  index: IndexFile,
  referrers: ReadonlySet<string>,
  ctx: ConventionContext,
  claim: (entry: Descriptor) => Claim | undefined,
  relabel: (entry: Descriptor, blob: Descriptor) => Descriptor,
): void {
  for (const entry of [...index.manifests]) {
    const owned = claim(entry);
    if (owned === undefined || !owned.listed.some((d) => referrers.has(d.digest))) continue;
    const rest = owned.listed.filter((d) => !referrers.has(d.digest));
    if (rest.length === 0) {
      index.manifests = index.manifests.filter((e) => e !== entry);
      continue;
    }
    const blob = ctx.putIndexBlob(responseBytes(refreshListed(rest, ctx).sort(byDigest)));
    replaceEntries(index, [entry], relabel(entry, blob));
  }
}
