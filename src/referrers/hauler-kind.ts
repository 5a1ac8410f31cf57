// hauler's store dialect: hauler keeps an image's cosign signature, attestation and SBOM, and its
// OCI 1.1 referrers, as index.json entries under the image's own names (ref.name and
// io.containerd.image.name), told apart only by the `kind` annotation (`dev.hauler/sigs`, …;
// hauler 1.x wrote `dev.cosignproject.cosign/sigs`, …). Read as names, they would make the image's
// name ambiguous; read as this dialect, each is a referrer of the image entry that carries the same
// name with an image kind. Like cosign tags (cosign-tag.ts) it is read, kept by gc while the image
// lives, checked by fsck, carried out of the store by copy and export (as cosign tags). Writing into
// a hauler store in its shape is layout/hauler-write.ts's. See spec-notes/referrers.md "hauler stores".
import { canonicalDescriptor, sortedRecord, type Descriptor } from '../schema/descriptor.js';
import { COSIGN_ARTIFACT_TYPES, REFERRER_SOURCE_ANNOTATION } from './cosign-tag.js';
import { COSIGN_ROLE, type CosignKind, type HaulerRole } from '../layout/dialect-names.js';
import type { DocInfo } from './documents.js';
import { referrerDescriptor } from './response.js';

// The dialect's name grammar lives in the core (name resolution needs it); here is its face.
export {
  haulerEntryForCosignTag,
  haulerKindOf,
  haulerLinks,
  isHaulerIndex,
  isHaulerReferrerEntry,
  type HaulerKind,
  type HaulerLink,
  type HaulerRole,
} from '../layout/dialect-names.js';

/** The referrer source (scan.ts) and source-annotation value of a referrer found by hauler's kind. */
export const HAULER_KIND_SOURCE = 'hauler-kind';

/** Whether a referrer descriptor was found through hauler's kind (no `subject` backs it). */
export function isHaulerKindReferrer(d: Descriptor): boolean {
  return d.annotations?.[REFERRER_SOURCE_ANNOTATION] === HAULER_KIND_SOURCE;
}

/**
 * The referrers-API descriptor of a hauler signature/attestation/SBOM: its own artifactType, else the
 * type cosign writes for the kind in its OCI 1.1 mode (these are cosign's artifacts), and the source
 * annotation, as for cosign tags.
 */
export function haulerReferrerDescriptor(doc: DocInfo, role: HaulerRole): Descriptor {
  const d = referrerDescriptor(doc);
  const cosign = (Object.keys(COSIGN_ROLE) as CosignKind[]).find((k) => COSIGN_ROLE[k] === role);
  const type =
    doc.artifactType ?? (cosign === undefined ? undefined : COSIGN_ARTIFACT_TYPES[cosign]);
  if (type !== undefined) d.artifactType = type;
  d.annotations = sortedRecord({
    ...(d.annotations ?? {}),
    [REFERRER_SOURCE_ANNOTATION]: HAULER_KIND_SOURCE,
  });
  return canonicalDescriptor(d);
}
