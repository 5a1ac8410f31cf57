// The one model of a name in index.json: what name an entry carries (from both annotations), how a
// name the user asks for matches entries, and the grammar of bare tags and full image names.
// tags.ts resolves and writes with it, refs.ts parses command lines with it, the archive code names
// images with it. See spec-notes/names.md.
import { matchesDigestGrammar } from '../digest.js';
import { UsageError } from '../errors.js';
import { Annotation } from '../media-types.js';
import type { Descriptor } from '../schema/descriptor.js';
import { isHaulerReferrerEntry } from './dialect-names.js';

/** distribution-spec tag grammar; we write only tags that match it. */
const TAG_GRAMMAR = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

// distribution/reference: an optional domain (host[:port]/), then lowercase path components.
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOMAIN =
  '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)';
const REPOSITORY = new RegExp(`^${DOMAIN}?${COMPONENT}(?:/${COMPONENT})*$`);

export function isValidTag(tag: string): boolean {
  return TAG_GRAMMAR.test(tag);
}

/** Throws E_INVALID_TAG unless `tag` matches `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`. */
export function assertValidTag(tag: string): string {
  if (!isValidTag(tag)) {
    throw new UsageError(
      'E_INVALID_TAG',
      `invalid tag ${JSON.stringify(tag)}`,
      { tag },
      {
        hint: 'a tag is 1-128 characters of [A-Za-z0-9_.-] and does not start with . or -',
      },
    );
  }
  return tag;
}

/** A repository name docker accepts: `[host[:port]/]path`, lowercase path components, ≤ 255. */
export function isValidRepositoryName(name: string): boolean {
  return name.length <= 255 && REPOSITORY.test(name);
}

/** A bare tag as a name: no `:`, `/` or `@` (oras, regctl, umoci, skopeo `oci:DIR:TAG`, us). */
export function isBareName(name: string): boolean {
  return !/[:/@]/.test(name);
}

/**
 * A full image name we accept from a user and write: `REPOSITORY:TAG` in the distribution grammar
 * (`docker.io/library/app:v1`, `localhost:5000/app:v1`, `app:v1`). Names without a tag or with a
 * digest are read from peers' entries; the one we also write is containerd's digest-only name
 * (isDigestName), for an image copied by digest, never as a user's tag.
 */
export function isFullImageName(name: string): boolean {
  const split = splitImageName(name);
  return (
    split !== undefined &&
    split.digest === undefined &&
    split.tag !== undefined &&
    isValidTag(split.tag) &&
    isValidRepositoryName(split.repository)
  );
}

/**
 * containerd's name for an image pulled by digest: `REPOSITORY@DIGEST`, no tag, the repository in
 * the distribution grammar with a `/` (`docker.io/library/app@sha256:…`). It names exactly one
 * manifest, so it is never a tag: not listed among tags, never a registry tag, never a tag's owner.
 */
export function isDigestName(name: string): boolean {
  const split = splitImageName(name);
  return (
    split !== undefined &&
    split.tag === undefined &&
    split.digest !== undefined &&
    matchesDigestGrammar(split.digest) &&
    split.repository.includes('/') &&
    isValidRepositoryName(split.repository)
  );
}

/**
 * The digest-only name we record for `digest` taken from `repository` (sync or copy by digest,
 * no tag asked for): `REPOSITORY@DIGEST`, the repository in full as normalizeImageName writes it.
 * Undefined when the repository is outside the grammar (the image then goes untagged).
 */
export function digestName(repository: string, digest: string): string | undefined {
  const name = normalizeImageName(`${repository}@${digest}`);
  return isDigestName(name) ? name : undefined;
}

/**
 * A name we write into index.json: a bare tag in the tag grammar, or a full image name whose
 * repository has a `/` (`example.com/app:v1`, `library/app:v1`). Without the `/` (`app:v1`) the
 * name could not be written back as `LAYOUT:NAME` (refs.ts reads that as directory `LAYOUT:app`),
 * and docker would read it as `docker.io/library/app:v1` anyway: we refuse it and say so.
 */
export function isWritableName(name: string): boolean {
  if (isBareName(name)) return isValidTag(name);
  return isFullImageName(name) && splitImageName(name)!.repository.includes('/');
}

/** Throws E_INVALID_TAG unless isWritableName. */
export function assertWritableName(name: string): string {
  if (isBareName(name)) return assertValidTag(name);
  if (isWritableName(name)) return name;
  throw new UsageError(
    'E_INVALID_TAG',
    `invalid name ${JSON.stringify(name)}: neither a tag nor a full image name REPOSITORY/PATH:TAG`,
    { tag: name },
    {
      hint: 'a tag is 1-128 characters of [A-Za-z0-9_.-]; a full name is e.g. example.com/team/app:v1 or docker.io/library/app:v1 (lowercase repository with a /)',
    },
  );
}

/**
 * Split a full name: `docker.io/library/a:3@sha256:…` → repository, tag `3`, digest. The tag is
 * what follows the last `:` of the part before `@`, unless it contains `/` (`localhost:5000/app`:
 * the `:` is the port). Undefined for a bare name.
 */
export function splitImageName(
  name: string,
): { repository: string; tag?: string; digest?: string } | undefined {
  if (isBareName(name)) return undefined;
  const at = name.indexOf('@');
  const base = at < 0 ? name : name.slice(0, at);
  const digest = at < 0 ? undefined : name.slice(at + 1);
  const colon = base.lastIndexOf(':');
  const tail = colon < 0 ? '' : base.slice(colon + 1);
  const out: { repository: string; tag?: string; digest?: string } =
    colon < 0 || tail.includes('/')
      ? { repository: base }
      : { repository: base.slice(0, colon), tag: tail };
  if (digest !== undefined) out.digest = digest;
  return out;
}

/**
 * The tag part of a name: itself if bare, the text after the last `:` of a full name
 * (`docker.io/library/alpine:3` → `3`), undefined for a name without a tag (`host:5000/repo`,
 * containerd's `repo@sha256:…` for digest-only images; a name ending in `:`). A name without `:`
 * or `@` but with `/` (umoci lets users write `library/alpine`) is its own tag, as before.
 */
export function tagOfName(name: string): string | undefined {
  if (!name.includes(':') && !name.includes('@')) return name;
  const split = splitImageName(name);
  return split?.tag === '' ? undefined : split?.tag;
}

/**
 * The name an index.json entry carries: `io.containerd.image.name` when set (containerd, BuildKit
 * and docker 25+ put the full name there and only the bare tag in ref.name), else ref.name as it
 * is (a bare tag, or a full name as podman, skopeo and crane write it). Undefined for an untagged
 * entry. This is the entry's identity: two entries collide only when their names are equal.
 * hauler's signature, attestation, SBOM and referrer entries carry their image's names beside the
 * image's own entry; those names are the image's, so such an entry is untagged (hauler-kind.ts).
 */
export function entryName(entry: Descriptor): string | undefined {
  if (isHaulerReferrerEntry(entry)) return undefined;
  const image = entry.annotations?.[Annotation.ContainerdImageName];
  if (image !== undefined && image !== '') return image;
  const ref = entry.annotations?.[Annotation.RefName];
  return ref === '' ? undefined : ref;
}

/** Every name an entry answers to in full: its entryName, and a full ref.name that differs. */
export function entryFullNames(entry: Descriptor): string[] {
  const out: string[] = [];
  for (const key of [Annotation.ContainerdImageName, Annotation.RefName]) {
    const n = entry.annotations?.[key];
    if (n !== undefined && !isBareName(n) && !out.includes(n)) out.push(n);
  }
  return out;
}

/**
 * How an entry answers to `wanted`. A full name matches an entry carrying exactly that name
 * (`exact`). A bare tag matches an entry whose name is that bare tag (`exact`), or an entry whose
 * full name has that tag (`tag`): `latest` finds `docker.io/library/a:latest` when nothing is
 * named plain `latest`.
 */
export function nameMatch(entry: Descriptor, wanted: string): 'exact' | 'tag' | undefined {
  const name = entryName(entry);
  if (name === undefined) return undefined;
  if (!isBareName(wanted)) return entryFullNames(entry).includes(wanted) ? 'exact' : undefined;
  if (name === wanted) return 'exact';
  if (!isBareName(name) && tagOfName(name) === wanted) return 'tag';
  return undefined;
}

/** Whether `wanted` names this entry exactly (the entries a write of `wanted` may replace). */
export function ownsName(entry: Descriptor, wanted: string): boolean {
  return nameMatch(entry, wanted) === 'exact';
}

/**
 * Whether an entry is named by containerd's digest-only name (sync or copy by digest): a name of
 * its own without ref.name, so the referrer conventions must not take it for untagged bookkeeping.
 */
export function carriesDigestName(entry: Descriptor): boolean {
  const name = entryName(entry);
  return name !== undefined && isDigestName(name);
}

/** A name to list: every entry name but containerd's digest-only `repo@sha256:…` (a digest ref). */
export function isListedName(name: string): boolean {
  return splitImageName(name)?.digest === undefined;
}

/** The annotations we write for a name: a bare tag in ref.name; a full name in both annotations. */
export function nameAnnotations(name: string): Record<string, string> {
  // podman and containers/image match `oci-archive:FILE:NAME` against ref.name, containerd's
  // importer names an image only by io.containerd.image.name (a full ref.name without it is
  // dropped unless it starts with ctr's --base-name), and podman load reads the containerd name
  // first: a full name goes in both.
  if (isBareName(name)) return { [Annotation.RefName]: name };
  // A digest-only name is containerd's alone, where containerd writes it: ref.name is read as a
  // tag (umoci lists it as one, regctl matches `:TAG` in it), which this name is not.
  if (isDigestName(name)) return { [Annotation.ContainerdImageName]: name };
  return { [Annotation.ContainerdImageName]: name, [Annotation.RefName]: name };
}

/**
 * The full image name an export gives a name: a full name as it is, a bare tag as `REPO:TAG` with
 * `repository` (undefined: the bare tag stays bare). With `override`, every name takes that
 * repository and keeps its tag (`--name`). Undefined when a name has no tag to keep.
 */
export function exportName(
  name: string,
  repository: string | undefined,
  override = false,
): string | undefined {
  if (isBareName(name)) return repository === undefined ? name : `${repository}:${name}`;
  if (!override || repository === undefined) return name;
  if (isDigestName(name)) return digestName(repository, splitImageName(name)!.digest!);
  const tag = tagOfName(name);
  return tag === undefined || !isValidTag(tag) ? undefined : `${repository}:${tag}`;
}

/**
 * The `NAME:TAG` a docker archive lists for a name (manifest.json's RepoTags, `repositories`):
 * exportName's, but undefined for a digest-only name, which has no tag to give. docker load
 * accepts only `NAME:TAG` in RepoTags, and `docker save` of an image by ID lists it untagged.
 */
export function exportRepoTag(
  name: string,
  repository: string | undefined,
  override = false,
): string | undefined {
  if (isDigestName(name)) return undefined;
  const repoTag = exportName(name, repository, override);
  return repoTag === undefined || isDigestName(repoTag) ? undefined : repoTag;
}

/**
 * The registry host leading `name` (`host[:port]/path…`): its first `/`-separated component when
 * that has a `.` or `:` or is `localhost`, docker's rule (distribution/reference) for telling a
 * registry from a path component; undefined when there is no `/` or the component is a path.
 */
export function registryHostOf(name: string): string | undefined {
  const slash = name.indexOf('/');
  if (slash < 0) return undefined;
  const first = name.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost' ? first : undefined;
}

/**
 * docker's familiar names in full, as containerd and podman store them: a first component without
 * `.` or `:` that is not `localhost` is no registry, so `alpine:3` is `docker.io/library/alpine:3`
 * and `team/app:v1` is `docker.io/team/app:v1`. `docker save` writes familiar RepoTags; stored in
 * full they are the names the engines give the same images, and writable (see isWritableName).
 * Bare tags and names outside the grammar are returned as they are.
 */
export function normalizeImageName(name: string): string {
  const split = splitImageName(name);
  if (split === undefined || !isValidRepositoryName(split.repository)) return name;
  if (registryHostOf(split.repository) !== undefined) return name;
  const path = split.repository.includes('/') ? split.repository : `library/${split.repository}`;
  return `docker.io/${path}${name.slice(split.repository.length)}`;
}
