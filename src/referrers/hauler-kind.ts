// hauler's store dialect: hauler keeps an image's cosign signature, attestation and SBOM, and its
// OCI 1.1 referrers, as index.json entries under the image's own names (ref.name and
// io.containerd.image.name), told apart only by the `kind` annotation (`dev.hauler/sigs`, …;
// hauler 1.x wrote `dev.cosignproject.cosign/sigs`, …). Read as names, they would make the image's
// name ambiguous; read as this dialect, each is a referrer of the image entry that carries the same
// name with an image kind. Like cosign tags (cosign-tag.ts) it is read, kept by gc while the image
// lives, checked by fsck, carried by copy and export (as cosign tags), never written. Everything that
// knows hauler's annotations is here. See spec-notes/referrers.md "hauler stores".
import type { Digest } from '../digest.js';
import { tryParseDigest } from '../digest.js';
import { Annotation } from '../media-types.js';
import { canonicalDescriptor, sortedRecord, type Descriptor } from '../schema/descriptor.js';
import type { IndexFile } from '../schema/layout-files.js';
import {
  COSIGN_ARTIFACT_TYPES,
  REFERRER_SOURCE_ANNOTATION,
  parseCosignTag,
  type CosignKind,
} from './cosign-tag.js';
import type { DocInfo } from './documents.js';
import { referrerDescriptor } from './response.js';

/** The referrer source (scan.ts) and source-annotation value of a referrer found by hauler's kind. */
export const HAULER_KIND_SOURCE = 'hauler-kind';

/** hauler's annotation marking what an index.json entry is. */
const KIND = 'kind';
// hauler 2.x prefix, and hauler 1.x's (cosign save's), which hauler itself still maps to 2.x's.
const PREFIXES = ['dev.hauler/', 'dev.cosignproject.cosign/'];

export type HaulerRole = 'sigs' | 'atts' | 'sboms' | 'referrers';

/** What an entry's `kind` says: an image (image, imageIndex) or a referrer of one. */
export type HaulerKind = { image: true } | { image: false; role: HaulerRole };

const COSIGN_ROLE: Readonly<Record<CosignKind, HaulerRole>> = {
  sig: 'sigs',
  att: 'atts',
  sbom: 'sboms',
};

/** hauler's kind of an entry, when its `kind` annotation is one of hauler's. */
export function haulerKindOf(entry: Descriptor): HaulerKind | undefined {
  const kind = entry.annotations?.[KIND];
  if (kind === undefined) return undefined;
  const prefix = PREFIXES.find((p) => kind.startsWith(p));
  if (prefix === undefined) return undefined;
  const rest = kind.slice(prefix.length);
  if (rest === 'image' || rest === 'imageIndex') return { image: true };
  if (rest === 'sigs' || rest === 'atts' || rest === 'sboms') return { image: false, role: rest };
  // dev.hauler/referrers/<hex of the referrer manifest>
  if (prefix === PREFIXES[0] && rest.startsWith('referrers/'))
    return { image: false, role: 'referrers' };
  return undefined;
}

/**
 * Whether an entry is a hauler signature/attestation/SBOM/referrer entry: it carries its image's
 * names, which are not a name of its own (names.ts reads it as untagged).
 */
export function isHaulerReferrerEntry(entry: Descriptor): boolean {
  const k = haulerKindOf(entry);
  return k !== undefined && !k.image;
}

/** Whether an index.json is a hauler store's: some entry carries one of hauler's kinds. */
export function isHaulerIndex(index: Pick<IndexFile, 'manifests'>): boolean {
  return index.manifests.some((e) => haulerKindOf(e) !== undefined);
}

/** The name hauler files an entry under: its containerd name when set, else ref.name. */
function carriedName(entry: Descriptor): string | undefined {
  const a = entry.annotations;
  const n = a?.[Annotation.ContainerdImageName] || a?.[Annotation.RefName];
  return n === '' ? undefined : n;
}

export interface HaulerLink {
  /** The image's digest, or undefined when no image entry carries the name (fsck reports it). */
  subject: Digest | undefined;
  role: HaulerRole;
  /** The image name the entry carries. */
  name: string;
}

/**
 * Each hauler referrer entry of an index that carries a name, linked to the digest of the image
 * entry with the same name (an image kind, or no kind: hauler reads an entry without one as an
 * image); among several such image entries, the last (hauler 1.x left stale duplicates before the
 * current one, and later entries win everywhere in names.ts).
 */
export function haulerLinks(index: Pick<IndexFile, 'manifests'>): Map<Descriptor, HaulerLink> {
  const images = new Map<string, Digest>();
  const referrers: [Descriptor, HaulerRole, string][] = [];
  for (const entry of index.manifests) {
    const name = carriedName(entry);
    if (name === undefined) continue;
    const kind = haulerKindOf(entry);
    if (kind === undefined || kind.image) {
      const d = tryParseDigest(entry.digest);
      if (d !== undefined) images.set(name, d);
    } else {
      referrers.push([entry, kind.role, name]);
    }
  }
  const out = new Map<Descriptor, HaulerLink>();
  for (const [entry, role, name] of referrers)
    out.set(entry, { subject: images.get(name), role, name });
  return out;
}

/**
 * The hauler entry that plays cosign's tag `tag` (`sha256-<hex>.sig` → the `sigs` entry of the image
 * `sha256:<hex>`), so what looks a signature up by cosign's tag (copy, export, serve, cosign itself
 * through serve) finds hauler's. The last one when several. Undefined for any other tag.
 */
export function haulerEntryForCosignTag(
  index: Pick<IndexFile, 'manifests'>,
  tag: string,
): Descriptor | undefined {
  const cosign = parseCosignTag(tag);
  if (cosign === undefined) return undefined;
  let found: Descriptor | undefined;
  for (const [entry, link] of haulerLinks(index)) {
    if (link.subject === cosign.subject && link.role === COSIGN_ROLE[cosign.kind]) found = entry;
  }
  return found;
}

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
