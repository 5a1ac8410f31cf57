// The tag resolver over index.json: which entry a tag names, listing, tagging and untagging.
// Pure functions over an IndexFile; Layout applies them inside IndexStore.update.
import { ConflictError } from '../errors.js';
import { Annotation } from '../media-types.js';
import { canonicalDescriptor, sameContent, type Descriptor } from '../schema/descriptor.js';
import type { IndexFile } from '../schema/layout-files.js';

/** How strongly an index.json entry names `tag`: exact ref.name beats a full-reference suffix. */
export function tagMatch(entry: Descriptor, tag: string): 'exact' | 'suffix' | undefined {
  const refName = entry.annotations?.[Annotation.RefName];
  if (refName === tag) return 'exact';
  // skopeo/podman/crane write full references (`docker.io/library/alpine:3`); containerd and
  // BuildKit put the full name in io.containerd.image.name. Match `…:TAG` in either.
  if (refName !== undefined && tagOfName(refName) === tag) return 'suffix';
  const imageName = entry.annotations?.[Annotation.ContainerdImageName];
  if (imageName !== undefined && tagOfName(imageName) === tag) return 'suffix';
  return undefined;
}

/**
 * The tag part of a ref.name: itself if bare, the text after the last `:` of a full reference
 * (`docker.io/library/alpine:3` → `3`), undefined for a reference without a tag (`host:5000/repo`,
 * containerd's `repo@sha256:…` for digest-only images). A `@digest` suffix is never a tag.
 */
export function tagOfName(name: string): string | undefined {
  const at = name.indexOf('@');
  const base = at < 0 ? name : name.slice(0, at);
  const colon = base.lastIndexOf(':');
  if (colon < 0) return at < 0 ? name : undefined;
  const tail = base.slice(colon + 1);
  // `host:5000/repo` has a `:` in the host part, not a tag.
  if (tail === '' || tail.includes('/')) return undefined;
  return tail;
}

/**
 * The entry a tag resolves to: an exact ref.name match first, else a full-reference match; among
 * several, the last one in index.json (the most recent append by any peer). See spec-notes/tags.md.
 */
export function findTagged(index: IndexFile, tag: string): Descriptor | undefined {
  let suffix: Descriptor | undefined;
  let exact: Descriptor | undefined;
  for (const entry of index.manifests) {
    const m = tagMatch(entry, tag);
    if (m === 'exact') exact = entry;
    else if (m === 'suffix') suffix = entry;
  }
  return exact ?? suffix;
}

/**
 * Every tag named in index.json (bare tags, the tag part of full references and of containerd's
 * image names: exactly the names findTagged resolves), sorted, unique.
 */
export function listTags(index: IndexFile): string[] {
  const tags = new Set<string>();
  for (const entry of index.manifests) {
    for (const key of [Annotation.RefName, Annotation.ContainerdImageName]) {
      const name = entry.annotations?.[key];
      const t = name === undefined ? undefined : tagOfName(name);
      if (t !== undefined) tags.add(t);
    }
  }
  return [...tags].sort();
}

/** The index.json entry we write for a tag: the target's identity plus the ref.name annotation. */
export function taggedEntry(target: Descriptor, tag: string): Descriptor {
  const entry: Descriptor = {
    mediaType: target.mediaType,
    digest: target.digest,
    size: target.size,
    annotations: { [Annotation.RefName]: tag },
  };
  if (target.platform !== undefined) entry.platform = target.platform;
  if (target.artifactType !== undefined) entry.artifactType = target.artifactType;
  return canonicalDescriptor(entry);
}

/**
 * Point `tag` at `target`. Only entries whose ref.name is exactly `tag` are ours to change: the
 * first one is replaced in place (stable order) — or kept byte for byte when it already names the
 * same content, so re-tagging never drops a peer's annotations — and later duplicates are removed;
 * a new tag is appended. Full references of other tools that merely end in `:tag` are left alone
 * (they may name other repositories); the exact entry shadows them on read. See spec-notes/tags.md.
 * Returns whether anything changed.
 */
export function setTag(index: IndexFile, tag: string, target: Descriptor): boolean {
  let placed = false;
  let changed = false;
  const out: Descriptor[] = [];
  for (const e of index.manifests) {
    if (e.annotations?.[Annotation.RefName] !== tag) {
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
  if (!placed) {
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
 * comparison and the move are one commit (no peer can move the tag in between). Compares with what
 * the tag resolves to now (findTagged), so a peer's full-reference entry counts too. Throws
 * E_CONFLICT under `noClobber` when the tag names other content; returns the move, if any.
 */
export function moveTag(
  index: IndexFile,
  tag: string,
  target: Descriptor,
  policy: Pick<TagPolicy, 'noClobber'> = {},
): TagMove | undefined {
  const current = findTagged(index, tag);
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

/** Remove every entry naming `tag`. Returns the removed entries (empty when the tag was absent). */
export function removeTag(index: IndexFile, tag: string): Descriptor[] {
  const removed = index.manifests.filter((e) => tagMatch(e, tag) !== undefined);
  if (removed.length > 0)
    index.manifests = index.manifests.filter((e) => tagMatch(e, tag) === undefined);
  return removed;
}
