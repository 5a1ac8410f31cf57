// How two read dialects name things in index.json, which name resolution in the core needs:
// cosign's signature tags (`sha256-<hex>.sig|.att|.sbom`) and hauler's `kind` annotation (its
// signature entries carry their image's names). What they mean as referrers is
// referrers/cosign-tag.ts's and referrers/hauler-kind.ts's; this is only their names' grammar.
import { tryParseDigest, type Digest } from '../digest.js';
import { Annotation } from '../media-types.js';
import type { Descriptor } from '../schema/descriptor.js';
import type { IndexFile } from '../schema/layout-files.js';

export type CosignKind = 'sig' | 'att' | 'sbom';

export interface CosignTag {
  subject: Digest;
  kind: CosignKind;
}

// cosign's tag is the subject digest with ':' → '-' (sha256 in practice; any registered algorithm
// whose encoded part validates is accepted), then the kind suffix.
const TAG = /^([a-z0-9]+)-([0-9a-f]+)\.(sig|att|sbom)$/;

/** The subject and kind a tag names, when it is a cosign tag. */
export function parseCosignTag(name: string): CosignTag | undefined {
  const m = TAG.exec(name);
  if (m === null) return undefined;
  const subject = tryParseDigest(`${m[1]}:${m[2]}`);
  return subject === undefined ? undefined : { subject, kind: m[3] as CosignKind };
}

/** hauler's annotation marking what an index.json entry is. */
export const HAULER_KIND = 'kind';
// hauler 2.x prefix, and hauler 1.x's (cosign save's), which hauler itself still maps to 2.x's.
export const HAULER_PREFIX = 'dev.hauler/';
export const HAULER_LEGACY_PREFIX = 'dev.cosignproject.cosign/';
const PREFIXES = [HAULER_PREFIX, HAULER_LEGACY_PREFIX];

export type HaulerRole = 'sigs' | 'atts' | 'sboms' | 'referrers';

/** What an entry's `kind` says: an image (image, imageIndex) or a referrer of one. */
export type HaulerKind = { image: true } | { image: false; role: HaulerRole };

/** hauler's role of each cosign kind (its sigs, atts and sboms entries play cosign's tags). */
export const COSIGN_ROLE: Readonly<Record<CosignKind, HaulerRole>> = {
  sig: 'sigs',
  att: 'atts',
  sbom: 'sboms',
};

/** hauler's kind of an entry, when its `kind` annotation is one of hauler's. */
export function haulerKindOf(entry: Descriptor): HaulerKind | undefined {
  const kind = entry.annotations?.[HAULER_KIND];
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
export function carriedName(entry: Descriptor): string | undefined {
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
