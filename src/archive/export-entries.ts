// What an export's index.json says: the layout's own (bytes as they are, names completed), or the
// entries of the named refs (a full name in both annotations, --name, --platform's child manifest)
// and the cosign tags the plan carries. Which blobs travel is the copy plan's (transfer/plan.ts);
// this is only the listing. See spec-notes/archives.md.
import { matchesDigestGrammar, parseDigest, type Digest } from '../digest.js';
import { NotFoundError, UsageError } from '../errors.js';
import {
  formatPlatform,
  parsePlatform,
  platformMatches,
  type PlatformSpec,
} from '../layout/platform.js';
import type { Layout } from '../layout/layout.js';
import { Annotation, MediaType } from '../media-types.js';
import { canonicalDescriptor, type Descriptor } from '../schema/descriptor.js';
import type { IndexFile } from '../schema/layout-files.js';
import { serializeIndex } from '../store/index-store.js';
import { findTagged, taggedEntry } from '../layout/tags.js';
import { entryName, exportName, isBareName, nameAnnotations } from '../layout/names.js';

/** Everything an archive holds, ready for the archive sink (transfer/archive-sink.ts). */
export interface ArchiveContents {
  /** index.json bytes for the archive. */
  indexBytes: Buffer;
  /** The entries of that index.json. */
  entries: Descriptor[];
  /** Blobs to write, by digest, with sizes. */
  blobs: Map<Digest, number>;
  /** Non-distributable layers (with urls) absent from the layout: not carried. */
  external: Descriptor[];
  /** Extra top-level files (docker format: manifest.json, repositories; a delta's marker). */
  extraFiles: Map<string, Buffer>;
  /** Blobs that exist only in memory (referrers indexes made for the archive), by digest. */
  memoryBlobs: Map<Digest, Buffer>;
  /** Blobs that are manifests or indexes (oci: a delta export carries them whatever its base has). */
  documents: ReadonlySet<Digest>;
  /** What the user should know (oci --platform: a tag now names a manifest, not its index). */
  warnings: string[];
}

/** One `--ref`: a name (a bare tag or a full name, see findTagged) or a digest. */
export interface ResolvedRef {
  /**
   * The name the export gives it: the entry's own full name when it has one (a bare `latest`
   * asked for `docker.io/library/a:latest` is exported as that), else the tag as asked;
   * undefined for a digest ref.
   */
  tag: string | undefined;
  /** The layout's index.json entry (or, for an unlisted digest, the blob's descriptor). */
  entry: Descriptor;
}

/** Throws E_NOT_FOUND / E_INVALID_DIGEST. */
export function resolveRef(layout: Layout, index: IndexFile, ref: string): ResolvedRef {
  if (matchesDigestGrammar(ref)) {
    const digest = parseDigest(ref);
    return { tag: undefined, entry: layout.resolve({ digest }, index) };
  }
  const entry = findTagged(index, ref);
  if (entry === undefined) {
    throw new NotFoundError(
      'E_NOT_FOUND',
      `tag ${ref} not found in ${layout.root}`,
      { tag: ref, layout: layout.root },
      { hint: `list tags with \`ocilayout tags ${layout.root}\`` },
    );
  }
  const own = entryName(entry);
  return { tag: own !== undefined && !isBareName(own) ? own : ref, entry };
}

/**
 * The archive's index.json entry for a ref: the layout's entry with its other annotations, named
 * by `name` (see exportedNames): a full name in ref.name and io.containerd.image.name — podman's
 * `oci-archive:FILE:NAME` matches ref.name, containerd's importer reads only its own annotation,
 * podman load reads it first — a bare tag in ref.name.
 */
function exportedEntry(entry: Descriptor, name: string | undefined): Descriptor {
  if (name === undefined) return canonicalDescriptor({ ...entry });
  const annotations = { ...entry.annotations };
  if (isBareName(name)) delete annotations[Annotation.ContainerdImageName];
  return canonicalDescriptor({
    ...entry,
    annotations: { ...annotations, ...nameAnnotations(name) },
  });
}

/** Whether `entry` already carries `name` as exportedEntry would write it. */
function namedAs(entry: Descriptor, name: string): boolean {
  return Object.entries(nameAnnotations(name)).every(([k, v]) => entry.annotations?.[k] === v);
}

/**
 * The names an OCI export writes, by the entry's name: a full name in full, a bare tag bare or,
 * with `repository` (`--name`), as `REPOSITORY:TAG` (overriding a full name's repository too).
 * Throws E_USAGE when `--name` would give two different images one name.
 */
function exportedNames(
  named: { name: string | undefined; entry: Descriptor }[],
  repository: string | undefined,
): (string | undefined)[] {
  const out = named.map((n) =>
    n.name === undefined ? undefined : exportName(n.name, repository, true),
  );
  // Without --name the names are the layout's own (an appender's duplicate included): as they are.
  if (repository !== undefined) {
    assertDistinctNames(
      out.map((name, i) => ({ name, digest: named[i]!.entry.digest })),
      repository,
    );
  }
  return out;
}

/**
 * E_USAGE when one name would be given to two different digests (`--name` folding repositories;
 * `repository` is that --name, for the message).
 */
export function assertDistinctNames(
  names: readonly { name: string | undefined; digest: string }[],
  repository: string | undefined,
): void {
  const seen = new Map<string, string>();
  for (const { name, digest } of names) {
    if (name === undefined) continue;
    const before = seen.get(name);
    if (before !== undefined && before !== digest) {
      throw new UsageError(
        'E_USAGE',
        repository === undefined
          ? `two images would both be exported as ${name} (${before} and ${digest})`
          : `--name ${repository} would name two images ${name} (${before} and ${digest})`,
        { name, digests: [before, digest] },
        {
          hint:
            repository === undefined
              ? 'export them separately, or rename one with `ocilayout tag`'
              : 'drop --name to keep each image’s own repository, or export them separately',
        },
      );
    }
    seen.set(name, digest);
  }
}

/**
 * For `--platform`: a ref naming an image index becomes its child for `platform` (the first match,
 * as the docker format picks), named by the same tag; a ref naming a manifest stays. The tag's
 * digest changes, so signatures on the index no longer apply: said in `warnings`.
 * Throws E_NOT_FOUND when the index has no manifest for the platform.
 */
export function platformRef(
  layout: Layout,
  ref: ResolvedRef,
  platform: PlatformSpec,
  warnings: string[],
): ResolvedRef {
  const parsed = layout.readManifest(ref.entry);
  if (parsed.kind !== 'index') return ref;
  const what = ref.tag ?? ref.entry.digest;
  const children = parsed.doc.manifests;
  const child = children.find((c) => platformMatches(c.platform, platform));
  if (child === undefined) {
    const available = children
      .flatMap((c) => (c.platform === undefined ? [] : [formatPlatform(c.platform)]))
      .join(', ');
    throw new NotFoundError(
      'E_NOT_FOUND',
      `${what} has no manifest for ${formatPlatform(platform)} (it has: ${available || 'none'})`,
      { ref: what, platform: formatPlatform(platform) },
    );
  }
  // The index's own annotations describe the index, not the child: only identity and platform.
  const { mediaType, digest, size, platform: p, artifactType } = child;
  warnings.push(
    `${what}: exported the ${formatPlatform(platform)} manifest ${digest} in place of index ` +
      `${ref.entry.digest}; the digest changed, so signatures on the index no longer apply`,
  );
  return {
    tag: ref.tag,
    entry: canonicalDescriptor({
      mediaType,
      digest,
      size,
      ...(p === undefined ? {} : { platform: p }),
      ...(artifactType === undefined ? {} : { artifactType }),
    }),
  };
}

/**
 * The whole layout's index.json: as it is (it already lists every recorded referrer), with an
 * entry whose name its ref.name does not say in full (containerd, docker 25: bare ref.name beside
 * the full name) written with the full name, so per-name readers find it; with nothing to rename,
 * the bytes as they are. `repository`: `--name`.
 */
export function wholeLayoutIndex(
  snapshot: { index: IndexFile; text: string },
  repository: string | undefined,
): { entries: Descriptor[]; indexBytes: Buffer } {
  const stored = snapshot.index.manifests;
  const names = exportedNames(
    stored.map((entry) => ({ name: entryName(entry), entry })),
    repository,
  );
  const entries = stored.map((e, i) =>
    names[i] === undefined || namedAs(e, names[i]) ? e : exportedEntry(e, names[i]),
  );
  const renamed = entries.some((e, i) => e !== stored[i]);
  return {
    entries,
    indexBytes: renamed
      ? Buffer.from(serializeIndex({ ...snapshot.index, manifests: entries }), 'utf8')
      : Buffer.from(snapshot.text, 'utf8'),
  };
}

/**
 * The archive's entries for `refs` (tags or digests of `index`, the layout's): each named as it
 * is exported (see exportedNames), with `platform` an index's child manifest (see platformRef,
 * which says so in `warnings`), exact duplicates once. `platform` needs refs: E_USAGE without (a
 * whole index.json also lists referrer bookkeeping indexes).
 */
export function refEntries(
  layout: Layout,
  index: IndexFile,
  refs: readonly string[],
  options: { platform?: string | undefined; name?: string | undefined },
  warnings: string[],
): Descriptor[] {
  const wanted = options.platform === undefined ? undefined : parsePlatform(options.platform);
  if (wanted !== undefined && refs.length === 0) {
    throw new UsageError(
      'E_USAGE',
      '--platform with --format oci needs --ref: name the tags to take one platform of',
      {},
      { hint: `e.g. --ref v1 --platform ${options.platform}` },
    );
  }
  const resolved = refs.map((r) => {
    const ref = resolveRef(layout, index, r);
    return wanted === undefined ? ref : platformRef(layout, ref, wanted, warnings);
  });
  const names = exportedNames(
    resolved.map((r) => ({ name: r.tag, entry: r.entry })),
    options.name,
  );
  return uniqueEntries(resolved.map((r, i) => exportedEntry(r.entry, names[i])));
}

/**
 * The layout's entries for the cosign tags (`<alg>-<hex>.sig|.att|.sbom`) the plan carries, as
 * they are. An entry found by the tag without carrying it (a hauler store's signature, filed under
 * its image's name) is exported as the cosign tag it plays, which every reader understands.
 */
export function cosignTagEntries(index: IndexFile, tags: readonly string[]): Descriptor[] {
  return tags.flatMap((tag) => {
    const entry = findTagged(index, tag);
    if (entry === undefined) return [];
    return [
      entry.annotations?.[Annotation.RefName] === tag
        ? canonicalDescriptor({ ...entry })
        : taggedEntry(entry, tag),
    ];
  });
}

export function newIndex(entries: Descriptor[]): IndexFile {
  return { schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: entries };
}

/** Drop exact duplicates (the same ref given twice), keeping the first. */
export function uniqueEntries(entries: Descriptor[]): Descriptor[] {
  const seen = new Set<string>();
  return entries.filter((e) => {
    const key = JSON.stringify(e);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
