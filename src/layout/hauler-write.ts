// Writing into a hauler store in hauler's own shape. hauler rebuilds index.json from a map keyed by
// ref.name and `kind`, and reads an entry without `kind` as an image (an entry without ref.name it
// drops; hauler 1.x refuses the whole store). So in a layout that already carries hauler kinds, a
// name we write becomes a hauler image entry (kind, ref.name without the registry, the full name in
// io.containerd.image.name), a cosign tag of such an image becomes its sigs/atts/sboms entry under
// the image's names, and an OCI 1.1 referrer of it its `referrers/<hex>` entry. Reading the same
// shape is dialect-names.ts's and referrers/hauler-kind.ts's. See spec-notes/referrers.md
// "Writing into a hauler store".
import type { Digest } from '../digest.js';
import { Annotation, isIndexMediaType } from '../media-types.js';
import { canonicalDescriptor, sameContent, type Descriptor } from '../schema/descriptor.js';
import type { IndexFile } from '../schema/layout-files.js';
import {
  COSIGN_ROLE,
  HAULER_KIND,
  HAULER_LEGACY_PREFIX,
  HAULER_PREFIX,
  carriedName,
  haulerKindOf,
  parseCosignTag,
} from './dialect-names.js';
import { entryName, isBareName, ownsName, registryHostOf, splitImageName } from './names.js';

/**
 * The kind prefix to write in `index`, or undefined when it is no hauler store (no entry carries a
 * hauler kind). hauler 2.x's `dev.hauler/` as soon as one entry has it (2.x has written the store
 * and rewrites every kind to its own on its next save); hauler 1.x's `dev.cosignproject.cosign/`
 * when only that one is there: 1.x knows no other, and 2.x maps it on load.
 */
export function haulerKindPrefix(index: Pick<IndexFile, 'manifests'>): string | undefined {
  let legacy = false;
  for (const e of index.manifests) {
    if (haulerKindOf(e) === undefined) continue;
    if (e.annotations?.[HAULER_KIND]?.startsWith(HAULER_PREFIX) === true) return HAULER_PREFIX;
    legacy = true;
  }
  return legacy ? HAULER_LEGACY_PREFIX : undefined;
}

/** Whether an entry is a hauler image: an image kind, or (hauler's reading) a name and no kind. */
function isImageEntry(e: Descriptor): boolean {
  const kind = haulerKindOf(e);
  if (kind !== undefined) return kind.image;
  if (e.annotations?.[HAULER_KIND] !== undefined) return false;
  const name = entryName(e);
  return name !== undefined && parseCosignTag(name) === undefined;
}

/**
 * hauler's two names for a name we write: ref.name without the registry, the full name in
 * io.containerd.image.name (what `hauler store save` requires). A name without a registry gets
 * docker's (hauler's parser defaults to it: `index.docker.io`, `docker.io` in 1.x stores, whose
 * names were written by cosign). A bare tag stays a bare ref.name, as hauler's files and charts.
 */
function haulerNames(name: string, prefix: string): Record<string, string> {
  if (isBareName(name)) return { [Annotation.RefName]: name };
  const host = registryHostOf(splitImageName(name)?.repository ?? name);
  if (host !== undefined) {
    return {
      [Annotation.ContainerdImageName]: name,
      [Annotation.RefName]: name.slice(host.length + 1),
    };
  }
  const registry = prefix === HAULER_LEGACY_PREFIX ? 'docker.io' : 'index.docker.io';
  return { [Annotation.ContainerdImageName]: `${registry}/${name}`, [Annotation.RefName]: name };
}

/** An image entry's own two names, as hauler gives them to what it files beside the image. */
function namesOf(image: Descriptor): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of [Annotation.RefName, Annotation.ContainerdImageName]) {
    const v = image.annotations?.[key];
    if (v !== undefined && v !== '') out[key] = v;
  }
  return out;
}

function entryOf(target: Descriptor, annotations: Record<string, string>): Descriptor {
  const entry: Descriptor = {
    mediaType: target.mediaType,
    digest: target.digest,
    size: target.size,
    annotations,
  };
  if (target.platform !== undefined) entry.platform = target.platform;
  if (target.artifactType !== undefined) entry.artifactType = target.artifactType;
  return canonicalDescriptor(entry);
}

/** A kind with hauler 1.x's prefix read as 2.x's (hauler's own NormalizeLegacyKind). */
function normalKind(kind: string | undefined): string | undefined {
  return kind?.startsWith(HAULER_LEGACY_PREFIX) === true
    ? HAULER_PREFIX + kind.slice(HAULER_LEGACY_PREFIX.length)
    : kind;
}

/**
 * The names an image written as `name` gets, and which entries hauler keys the same (so a write of
 * `name` replaces them): those owning the name, and hauler image entries with the same ref.name.
 * The names of the image it replaces are kept (its own ref.name and containerd name).
 */
function haulerKey(
  index: IndexFile,
  name: string,
  prefix: string,
): { names: Record<string, string>; owned: (e: Descriptor) => boolean } {
  let current: Descriptor | undefined;
  for (const e of index.manifests) if (ownsName(e, name)) current = e;
  const names =
    current !== undefined && haulerKindOf(current)?.image === true
      ? namesOf(current)
      : haulerNames(name, prefix);
  const ref = names[Annotation.RefName];
  const owned = (e: Descriptor): boolean =>
    ownsName(e, name) ||
    (haulerKindOf(e)?.image === true && e.annotations?.[Annotation.RefName] === ref);
  return { names, owned };
}

/**
 * The entry a write of `name` replaces in a hauler store (the last hauler keys the same), for
 * --no-clobber and the moved-tag warning; undefined when `index` is no hauler store or `name` is a
 * cosign tag (those are hauler's to replace as signatures accumulate, see setHaulerTag).
 */
export function haulerReplaced(
  index: IndexFile,
  name: string,
): { entry: Descriptor | undefined } | undefined {
  const prefix = haulerKindPrefix(index);
  if (prefix === undefined || parseCosignTag(name) !== undefined) return undefined;
  const { owned } = haulerKey(index, name, prefix);
  let entry: Descriptor | undefined;
  for (const e of index.manifests) if (owned(e)) entry = e;
  return { entry };
}

/**
 * Point `name` at `target` in hauler's shape; undefined when `index` is no hauler store, or `name`
 * is a cosign tag whose image no entry names (then it stays a plain cosign tag). A cosign tag of a
 * named image files the manifest as that image's sigs/atts/sboms entry. Any other name becomes an
 * image entry that replaces, in place, every entry hauler would key the same: those owning the
 * name, and hauler images with the same ref.name; the names of the image it replaces are kept.
 * When the content changes, the hauler referrer entries filed under the replaced names go too:
 * they are the old image's (hauler's map would leave them to describe the new one). Returns
 * whether anything changed.
 */
export function setHaulerTag(
  index: IndexFile,
  name: string,
  target: Descriptor,
): boolean | undefined {
  const prefix = haulerKindPrefix(index);
  if (prefix === undefined) return undefined;
  const cosign = parseCosignTag(name);
  if (cosign !== undefined) {
    return fileBesideImages(index, cosign.subject, target, prefix + COSIGN_ROLE[cosign.kind]);
  }
  const { names, owned } = haulerKey(index, name, prefix);
  const kind = prefix + (isIndexMediaType(target.mediaType) ? 'imageIndex' : 'image');
  const entry = entryOf(target, { [HAULER_KIND]: kind, ...names });
  // What each replaced name named (the last of its entries, as hauler and names.ts read them).
  const named = new Map<string, Descriptor>();
  for (const e of index.manifests) {
    const n = carriedName(e);
    if (n !== undefined && owned(e)) named.set(n, e);
  }
  const stale = new Set([...named].filter(([, e]) => !sameContent(e, target)).map(([n]) => n));
  let placed = false;
  let changed = false;
  const out: Descriptor[] = [];
  for (const e of index.manifests) {
    if (!owned(e)) {
      out.push(e);
      continue;
    }
    if (placed) {
      changed = true; // a later entry of the same key: hauler keeps one
    } else {
      placed = true;
      const same =
        sameContent(e, target) && normalKind(e.annotations?.[HAULER_KIND]) === normalKind(kind);
      out.push(same ? e : entry);
      changed ||= !same;
    }
  }
  if (!placed) {
    out.push(entry);
    changed = true;
  }
  const kept = out.filter((e) => {
    const k = haulerKindOf(e);
    if (k === undefined || k.image) return true;
    const n = carriedName(e);
    return n === undefined || !stale.has(n);
  });
  if (changed || kept.length !== out.length) index.manifests = kept;
  return changed || kept.length !== out.length;
}

/**
 * File an OCI 1.1 referrer of `subject` as hauler does: a `referrers/<hex>` entry under the names
 * of each image entry of `subject`. Undefined when `index` is no hauler store or no image entry
 * names `subject` (the caller records it another way); else whether anything changed.
 */
export function addHaulerReferrer(
  index: IndexFile,
  subject: Digest,
  referrer: Descriptor,
): boolean | undefined {
  if (haulerKindPrefix(index) === undefined) return undefined;
  const hex = referrer.digest.slice(referrer.digest.indexOf(':') + 1);
  // Only 2.x knows OCI referrers, and no hauler wrote them with 1.x's prefix: always 2.x's kind.
  return fileBesideImages(index, subject, referrer, `${HAULER_PREFIX}referrers/${hex}`);
}

/**
 * One entry of `kind` for `target` under the names of each image entry of `subject` (hauler keys
 * by name and kind: an entry of the same name and kind is replaced, in place). Undefined when no
 * image entry has `subject`'s digest.
 */
function fileBesideImages(
  index: IndexFile,
  subject: Digest,
  target: Descriptor,
  kind: string,
): boolean | undefined {
  const images = index.manifests.filter((e) => e.digest === subject && isImageEntry(e));
  if (images.length === 0) return undefined;
  let changed = false;
  for (const image of images) {
    const name = carriedName(image);
    const entry = entryOf(
      { mediaType: target.mediaType, digest: target.digest, size: target.size },
      { [HAULER_KIND]: kind, ...namesOf(image) },
    );
    const sameKey = (e: Descriptor): boolean =>
      haulerKindOf(e)?.image === false &&
      carriedName(e) === name &&
      normalKind(e.annotations?.[HAULER_KIND]) === normalKind(kind);
    let placed = false;
    const out: Descriptor[] = [];
    for (const e of index.manifests) {
      if (!sameKey(e)) out.push(e);
      else if (!placed) {
        placed = true;
        const same = sameContent(e, target);
        out.push(same ? e : entry);
        changed ||= !same;
      } else changed = true;
    }
    if (!placed) {
      out.push(entry);
      changed = true;
    }
    index.manifests = out;
  }
  return changed;
}
