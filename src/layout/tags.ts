// The tag resolver over index.json: which entry a name (bare tag or full image name) names,
// listing, tagging and untagging. Pure functions over an IndexFile; Layout applies them inside
// IndexStore.update. What a name is and how it matches an entry is names.ts's.
import { ConflictError, UsageError } from '../errors.js';
import { Annotation } from '../media-types.js';
import { haulerEntryForCosignTag } from './dialect-names.js';
import { haulerReplaced, setHaulerTag } from './hauler-write.js';
import { entryName, isListedName, nameAnnotations, nameMatch, ownsName } from './names.js';
import { canonicalDescriptor, sameContent, type Descriptor } from '../schema/descriptor.js';
import type { IndexFile } from '../schema/layout-files.js';

/**
 * The entry a name resolves to. A full name: the entries carrying exactly it. A bare tag: the
 * entries whose name is that bare tag; failing that, the entries whose full name has that tag,
 * provided they are all one name (`latest` with both `docker.io/library/a:latest` and
 * `…/b:latest` is ambiguous: E_INVALID_REFERENCE listing them). Among several entries of the
 * winning name, the last one in index.json (the most recent append by any peer). A cosign tag
 * (`sha256-<hex>.sig`) no entry carries finds a hauler store's signature entry of that image, which
 * is what the tag names in cosign's terms. See spec-notes/names.md.
 */
export function findTagged(index: IndexFile, tag: string): Descriptor | undefined {
  let exact: Descriptor | undefined;
  const byName = new Map<string, Descriptor>();
  for (const entry of index.manifests) {
    const m = nameMatch(entry, tag);
    if (m === 'exact') exact = entry;
    else if (m === 'tag') byName.set(entryName(entry)!, entry);
  }
  if (exact !== undefined) return exact;
  if (byName.size === 0) return haulerEntryForCosignTag(index, tag);
  if (byName.size > 1) throw ambiguousTag(tag, [...byName.keys()]);
  return [...byName.values()][0];
}

/**
 * The entry `name` names exactly (never through a full name's tag): what a write of it replaces.
 * In a hauler store that includes a hauler image under the same ref.name (hauler-write.ts).
 */
export function findExact(index: IndexFile, name: string): Descriptor | undefined {
  const hauler = haulerReplaced(index, name);
  if (hauler !== undefined) return hauler.entry;
  let found: Descriptor | undefined;
  for (const entry of index.manifests) if (ownsName(entry, name)) found = entry;
  return found;
}

function ambiguousTag(tag: string, names: string[]): UsageError {
  const sorted = [...names].sort();
  return new UsageError(
    'E_INVALID_REFERENCE',
    `tag ${tag} is ambiguous: ${sorted.length} images have it (${sorted.join(', ')})`,
    { tag, names: sorted },
    { hint: `name one in full, e.g. LAYOUT:${sorted[0]}` },
  );
}

/**
 * Every name in index.json, sorted, each once: a bare tag bare, a full name in full (the name
 * entryName reads: containerd's when set). Containerd's digest-only names (`repo@sha256:…`) are
 * left out; they are addressed by digest.
 */
export function listTags(index: IndexFile): string[] {
  const names = new Set<string>();
  for (const entry of index.manifests) {
    const name = entryName(entry);
    if (name !== undefined && isListedName(name)) names.add(name);
  }
  return [...names].sort();
}

/**
 * Every entry name, sorted, each once, containerd's digest-only names included: what maps names
 * to repositories (serve) needs them; a tag list does not (listTags).
 */
export function listNames(index: IndexFile): string[] {
  const names = new Set<string>();
  for (const entry of index.manifests) {
    const name = entryName(entry);
    if (name !== undefined) names.add(name);
  }
  return [...names].sort();
}

/**
 * The index.json entry we write for a name: the target's identity plus the name's annotations
 * (a bare tag in ref.name; a full name in ref.name and io.containerd.image.name, see names.ts).
 */
export function taggedEntry(target: Descriptor, tag: string): Descriptor {
  const entry: Descriptor = {
    mediaType: target.mediaType,
    digest: target.digest,
    size: target.size,
    annotations: nameAnnotations(tag),
  };
  if (target.platform !== undefined) entry.platform = target.platform;
  if (target.artifactType !== undefined) entry.artifactType = target.artifactType;
  return canonicalDescriptor(entry);
}

/**
 * Point `tag` (a bare tag or a full name) at `target`. Only entries that carry exactly that name
 * are ours to change (ownsName): the first one is replaced in place (stable order) — or kept byte
 * for byte when it already names the same content, so re-tagging never drops a peer's annotations
 * — and later duplicates are removed; a new name is appended. Entries whose full name merely ends
 * in `:tag` are left alone (they name other repositories); a bare entry shadows them on read. See
 * spec-notes/tags.md. In a hauler store the entry takes hauler's shape (hauler-write.ts). Returns
 * whether anything changed.
 */
export function setTag(index: IndexFile, tag: string, target: Descriptor): boolean {
  const hauler = setHaulerTag(index, tag, target);
  if (hauler !== undefined) return hauler;
  let placed = false;
  let changed = false;
  const out: Descriptor[] = [];
  for (const e of index.manifests) {
    if (!ownsName(e, tag)) {
      out.push(e);
    } else if (!placed) {
      placed = true;
      if (sameContent(e, target)) {
        out.push(e);
      } else {
        out.push(taggedEntry(target, tag));
        changed = true;
      }
    } else {
      changed = true; // a later duplicate of the tag: dropped
    }
  }
  // containerd, BuildKit and docker 25+ put the bare tag in ref.name beside their full name:
  // tagging that very content with that tag again already holds, and adds no second entry.
  if (
    !placed &&
    !out.some((e) => e.annotations?.[Annotation.RefName] === tag && sameContent(e, target))
  ) {
    out.push(taggedEntry(target, tag));
    changed = true;
  }
  if (changed) index.manifests = out;
  return changed;
}

/** A tag that now names other content than before (`from` is what findTagged resolved before). */
export interface TagMove {
  tag: string;
  from: Descriptor;
  to: Descriptor;
}

/** How a verb that points tags (push, tag, copy, putManifest) treats a tag that names other content. */
export interface TagPolicy {
  /** Refuse with E_CONFLICT, changing nothing, when the tag already names other content. */
  noClobber?: boolean | undefined;
  /** Told, after the commit, of each tag moved off other content (e.g. to warn about referrers). */
  onTagMoved?: ((move: TagMove) => void) | undefined;
}

/**
 * setTag behind the one clobbering check every verb shares: run inside the index update, so the
 * comparison and the move are one commit (no peer can move the tag in between). Compares with the
 * entry the name names exactly (findExact): a bare `v1` does not clobber `docker.io/x:v1`, which
 * setTag leaves alone. Throws E_CONFLICT under `noClobber` when the name names other content;
 * returns the move, if any.
 */
export function moveTag(
  index: IndexFile,
  tag: string,
  target: Descriptor,
  policy: Pick<TagPolicy, 'noClobber'> = {},
): TagMove | undefined {
  const current = findExact(index, tag);
  const move =
    current === undefined || sameContent(current, target)
      ? undefined
      : { tag, from: current, to: target };
  if (move !== undefined && policy.noClobber === true) throw clobberRefused(tag, move.from, target);
  setTag(index, tag, target);
  return move;
}

/** The E_CONFLICT of --no-clobber (also thrown for a registry tag, which has no index.json). */
export function clobberRefused(
  tag: string,
  current: { digest: string },
  target: { digest: string },
): ConflictError {
  return new ConflictError(
    'E_CONFLICT',
    `tag ${tag} already names ${current.digest}; --no-clobber leaves it there`,
    { tag, digest: current.digest, wanted: target.digest },
    { hint: 'pick another tag, or drop --no-clobber to move it' },
  );
}

/**
 * Remove the name `tag` resolves through: every entry carrying it exactly, or — for a bare tag no
 * entry carries — every entry of the one full name with that tag (E_INVALID_REFERENCE when several
 * have it, as findTagged). Returns the removed entries (empty when the name was absent).
 */
export function removeTag(index: IndexFile, tag: string): Descriptor[] {
  const found = findTagged(index, tag);
  if (found === undefined) return [];
  // Found by a name it does not carry (a hauler signature by its cosign tag): that entry alone.
  if (!ownsName(found, tag) && entryName(found) === undefined) {
    index.manifests = index.manifests.filter((e) => e !== found);
    return [found];
  }
  const name = ownsName(found, tag) ? tag : entryName(found)!;
  const removed = index.manifests.filter((e) => ownsName(e, name));
  index.manifests = index.manifests.filter((e) => !ownsName(e, name));
  return removed;
}

/**
 * List `target` untagged unless some entry lists it already (so gc keeps it). Only its identity
 * goes in: the source entry's annotations name the source's tag, which an untagged entry must not.
 * Returns whether an entry was added.
 */
export function listUntagged(index: IndexFile, target: Descriptor): boolean {
  if (index.manifests.some((e) => e.digest === target.digest)) return false;
  const { mediaType, digest, size, platform, artifactType } = target;
  index.manifests.push(
    canonicalDescriptor({
      mediaType,
      digest,
      size,
      ...(platform === undefined ? {} : { platform }),
      ...(artifactType === undefined ? {} : { artifactType }),
    }),
  );
  return true;
}
