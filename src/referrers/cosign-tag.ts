// cosign's tag-based dialect: a manifest tagged `sha256-<hex>.sig` (`.att`, `.sbom`) is a signature
// (attestation, SBOM) of the manifest `sha256:<hex>`. cosign writes no `subject`; the tag is the only
// link, and cosign finds these by tag, so we list them as referrers, keep them while their subject
// lives (gc), report a missing subject (fsck), remove them (detach) and carry them (copy, export), but
// never write new ones or convert them (spec-notes/referrers.md "cosign tags"). Not a
// ReferrerConvention: attach and convert have nothing to do with it.
import type { Digest } from '../digest.js';
import { Annotation } from '../media-types.js';
import { canonicalDescriptor, sortedRecord, type Descriptor } from '../schema/descriptor.js';
import type { ConventionContext } from './context.js';
import type { DocInfo } from './documents.js';
import { referrerDescriptor } from './response.js';
import { parseCosignTag, type CosignKind, type CosignTag } from '../layout/dialect-names.js';

export { parseCosignTag, type CosignKind, type CosignTag };

/** The referrer source (scan.ts) and source-annotation value of a referrer found by cosign tag. */
export const COSIGN_TAG_SOURCE = 'cosign-tag';

/** Annotation on a referrers-API descriptor we synthesised from something other than `subject`. */
export const REFERRER_SOURCE_ANNOTATION = 'dev.ocilayout.referrer.source';

/** The artifact types cosign itself writes for these in its OCI 1.1 referrers mode. */
export const COSIGN_ARTIFACT_TYPES: Readonly<Record<CosignKind, string>> = {
  sig: 'application/vnd.dev.cosign.artifact.sig.v1+json',
  att: 'application/vnd.dev.cosign.artifact.att.v1+json',
  sbom: 'application/vnd.dev.cosign.artifact.sbom.v1+json',
};

const COSIGN_KINDS: readonly CosignKind[] = ['sig', 'att', 'sbom'];

/** cosign's tags for `subject`: its signature, attestation and SBOM tags, in that order. */
export function cosignTagsFor(subject: Digest): string[] {
  const name = subject.replace(':', '-');
  return COSIGN_KINDS.map((kind) => `${name}.${kind}`);
}

/** The subject and kind an index.json entry's tag names, when it is a cosign tag. */
export function cosignTagOf(entry: Descriptor): CosignTag | undefined {
  const name = entry.annotations?.[Annotation.RefName];
  return name === undefined ? undefined : parseCosignTag(name);
}

/**
 * The link an index.json entry makes as a cosign tag: its tag is cosign's and names a manifest with
 * no `subject` of its own (one with a subject is filed under it, and the cosign-shaped tag is a plain
 * tag). An entry whose manifest cannot be read links nothing: gc leaves it an ordinary root and
 * fsck reports the missing or broken blob on its own. Callers pass only entries no convention claims.
 */
export function cosignLinkOf(entry: Descriptor, ctx: ConventionContext): CosignTag | undefined {
  const tag = cosignTagOf(entry);
  if (tag === undefined) return undefined;
  const doc = ctx.docs.doc(entry.digest, entry.mediaType);
  return doc !== undefined && doc.subject === undefined ? tag : undefined;
}

/** Whether a referrer descriptor was found through a cosign tag (no `subject` backs it). */
export function isCosignTagReferrer(d: Descriptor): boolean {
  return d.annotations?.[REFERRER_SOURCE_ANNOTATION] === COSIGN_TAG_SOURCE;
}

/**
 * The referrers-API descriptor of a cosign-tagged manifest: its own artifactType when it has one,
 * else cosign's type for the kind (not the generic image config type, so an artifactType filter
 * finds it), and the source annotation so a reader knows no `subject` backs the edge.
 */
export function cosignReferrerDescriptor(doc: DocInfo, kind: CosignKind): Descriptor {
  const d = referrerDescriptor(doc);
  d.artifactType = doc.artifactType ?? COSIGN_ARTIFACT_TYPES[kind];
  d.annotations = sortedRecord({
    ...(d.annotations ?? {}),
    [REFERRER_SOURCE_ANNOTATION]: COSIGN_TAG_SOURCE,
  });
  return canonicalDescriptor(d);
}
