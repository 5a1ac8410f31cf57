// What a docker-format export carries: single-platform images only, written as the layout `docker
// save` has produced since Docker 25 — an OCI layout (blobs stored as they are, digests kept) plus
// manifest.json (Config/RepoTags/Layers as paths into blobs/) and the legacy `repositories` map.
// docker load and skopeo's docker-archive: read it; so does any OCI tool. See spec-notes/archives.md.
import { parseDigest, type Digest } from '../digest.js';
import { NotFoundError, UsageError, IntegrityError, isOcilayoutError } from '../errors.js';
import type { ManifestSource } from '../layout/graph.js';
import type { Layout } from '../layout/layout.js';
import {
  Annotation,
  MAX_MANIFEST_BYTES,
  MediaType,
  isImageManifestMediaType,
  isIndexMediaType,
} from '../media-types.js';
import {
  formatPlatform,
  parsePlatform,
  platformMatches,
  type PlatformSpec,
} from '../layout/platform.js';
import { isFallbackTagName } from '../referrers/fallback-tag-name.js';
import { canonicalDescriptor, type Descriptor, type Platform } from '../schema/descriptor.js';
import { ImageConfigSchema } from '../schema/docker-archive.js';
import { parseJson, type ImageManifest } from '../schema/manifest.js';
import { serializeIndex } from '../store/index-store.js';
import { blobRelPath } from '../store/paths.js';
import { listTags } from '../layout/tags.js';
import { exportRepoTag, isDigestName, nameAnnotations } from '../layout/names.js';
import { assertRepositoryName, defaultRepositoryName, splitRepoTag } from './docker-names.js';
import {
  assertDistinctNames,
  newIndex,
  resolveRef,
  uniqueEntries,
  type ResolvedRef,
} from './export-entries.js';

export interface DockerExportOptions {
  /**
   * Repository for every RepoTag (`--name`, over stored full names too). Default: a stored full
   * name as it is, a bare tag under the layout directory's name.
   */
  name?: string | undefined;
  /** `os/arch[/variant]`, to pick one image from a multi-platform index. */
  platform?: string | undefined;
}

const IMAGE_CONFIG_TYPES: ReadonlySet<string> = new Set([
  MediaType.ImageConfig,
  MediaType.DockerConfig,
]);
const LAYER_TYPE =
  /^application\/vnd\.(?:oci\.image\.layer\.(?:nondistributable\.)?v1\.tar(?:\+gzip|\+zstd)?|docker\.image\.rootfs\.(?:foreign\.)?diff\.tar(?:\.gzip)?)$/;

/** What a docker-format archive lists; its blobs are the copy plan of `images`. */
export interface DockerExport {
  /** The image manifests chosen (one per image; a platform's from an index). */
  images: Descriptor[];
  /** index.json: one entry per RepoTag. */
  entries: Descriptor[];
  indexBytes: Buffer;
  repoTags: string[];
  /** manifest.json and repositories. */
  extraFiles: Map<string, Buffer>;
  warnings: string[];
}

interface Chosen {
  manifest: Descriptor;
  doc: ImageManifest;
  /** RepoTags, `repository:tag`. */
  tags: string[];
}

/**
 * The images and listing of a docker-format export of `refs` (default: every tag naming an image;
 * other tags are skipped with a warning); their blobs are the copy plan's (transfer/export.ts).
 * Throws E_UNSUPPORTED_MEDIA_TYPE for an artifact named explicitly, E_USAGE for a multi-platform
 * index without --platform, E_NOT_FOUND for no matching platform or no image at all.
 */
export function planDockerExport(
  layout: Layout,
  refs: readonly string[],
  options: DockerExportOptions = {},
): DockerExport {
  const override = options.name !== undefined ? assertRepositoryName(options.name) : undefined;
  const repository = override ?? defaultRepositoryName(layout.root);
  // docker needs `repository:tag`: a stored full name is one already (docker load and podman load
  // then restore it), a bare tag takes the repository; --name replaces every repository. A
  // digest-only name has no tag: its image goes untagged (see the loop below).
  const repoTagOf = (stored: string): string | undefined =>
    exportRepoTag(stored, repository, override !== undefined);
  const platform = options.platform !== undefined ? parsePlatform(options.platform) : undefined;
  const index = layout.readIndex();
  const warnings: string[] = [];
  const explicit = refs.length > 0;
  const resolved: ResolvedRef[] = explicit
    ? refs.map((r) => resolveRef(layout, index, r))
    : listTags(index)
        .filter((t) => !isFallbackTagName(t))
        .map((t) => resolveRef(layout, index, t));
  const chosen = new Map<string, Chosen>();
  for (const ref of resolved) {
    let image: { manifest: Descriptor; doc: ImageManifest };
    try {
      image = pickImage(layout, ref, platform);
    } catch (err) {
      // Only "not an image" skips a tag; a damaged manifest fails the export.
      if (explicit || !isOcilayoutError(err, 'E_UNSUPPORTED_MEDIA_TYPE')) throw err;
      warnings.push(`skipped tag ${ref.tag ?? ref.entry.digest}: ${err.message}`);
      continue;
    }
    const c = chosen.get(image.manifest.digest) ?? { ...image, tags: [] };
    if (ref.tag !== undefined && isDigestName(ref.tag)) {
      // docker load takes only NAME:TAG in RepoTags (a `REPO@sha256:…` there fails the load): the
      // image goes as `docker save` writes an image saved by ID, untagged.
      warnings.push(
        `${ref.tag} names its image by digest only; a docker archive lists NAME:TAG only, so it is exported untagged (use --format oci to keep the name)`,
      );
    }
    const repoTag = ref.tag === undefined ? undefined : repoTagOf(ref.tag);
    if (repoTag !== undefined && !c.tags.includes(repoTag)) c.tags.push(repoTag);
    chosen.set(image.manifest.digest, c);
  }
  if (chosen.size === 0) {
    throw new NotFoundError(
      'E_NOT_FOUND',
      `${layout.root} has no tagged image to export`,
      {
        layout: layout.root,
      },
      { hint: 'name one with --ref, or use --format oci for artifacts' },
    );
  }
  const images = [...chosen.values()];
  assertDistinctNames(
    images.flatMap((c) => c.tags.map((name) => ({ name, digest: c.manifest.digest }))),
    override,
  );
  const entries = uniqueEntries(images.flatMap((c) => indexEntriesFor(c)));
  return {
    images: images.map((c) => c.manifest),
    entries,
    indexBytes: Buffer.from(serializeIndex(newIndex(entries)), 'utf8'),
    repoTags: images.flatMap((c) => c.tags),
    extraFiles: new Map<string, Buffer>([
      ['manifest.json', Buffer.from(JSON.stringify(images.map((c) => dockerManifestEntry(c))))],
      ['repositories', Buffer.from(JSON.stringify(repositories(layout, images)))],
    ]),
    warnings,
  };
}

/** docker load needs every layer: an image with layers the layout lacks (`urls`) cannot go. */
export function externalLayersError(external: readonly Descriptor[]): IntegrityError {
  return new IntegrityError(
    'E_UNSUPPORTED_MEDIA_TYPE',
    `the image has ${external.length} external (non-distributable) layer(s) the layout does not hold; docker load needs every layer`,
    { external: external.map((d) => d.digest) },
    { hint: 'use --format oci' },
  );
}

/** A platform for messages: `unknown` when a descriptor names none. */
function platformLabel(p: Platform | undefined): string {
  return p === undefined ? 'unknown' : formatPlatform(p);
}

/**
 * The image `ref` names, for a docker archive: a manifest, or the one image (or the `platform` one)
 * of an index; read through `layout` alone, so copy can ask its plan before writing anything.
 * Throws E_USAGE (a multi-platform index without `platform`), E_NOT_FOUND, E_UNSUPPORTED_MEDIA_TYPE.
 */
export function pickImage(
  layout: ManifestSource,
  ref: ResolvedRef,
  platform: PlatformSpec | undefined,
): { manifest: Descriptor; doc: ImageManifest } {
  const what = ref.tag ?? ref.entry.digest;
  let desc = ref.entry;
  let parsed = layout.readManifest(desc);
  if (parsed.kind === 'index' && isIndexMediaType(parsed.mediaType)) {
    const images = parsed.doc.manifests.filter(
      (m) =>
        isImageManifestMediaType(m.mediaType) &&
        m.platform?.os !== 'unknown' &&
        m.annotations?.[Annotation.DockerReferenceType] === undefined,
    );
    const available = images.map((m) => platformLabel(m.platform)).join(', ');
    let child: Descriptor | undefined;
    if (platform !== undefined) {
      child = images.find((m) => platformMatches(m.platform, platform));
      if (child === undefined) {
        throw new NotFoundError(
          'E_NOT_FOUND',
          `${what} has no image for ${formatPlatform(platform)} (it has: ${available || 'none'})`,
          {
            ref: what,
          },
        );
      }
    } else if (images.length === 1) {
      child = images[0];
    } else {
      // The message itself names --platform, not only the hint: it is the line read first.
      const example = images[0] === undefined ? 'OS/ARCH' : platformLabel(images[0].platform);
      throw new UsageError(
        'E_USAGE',
        `${what} is a multi-platform index (${available || 'no images'}); docker archives hold one platform per image: choose one with --platform`,
        {
          ref: what,
          platforms: images.map((m) => platformLabel(m.platform)),
        },
        {
          hint: `e.g. --platform ${example}, or use --format oci to keep the whole index`,
        },
      );
    }
    desc = { ...child!, annotations: undefined };
    parsed = layout.readManifest(desc);
  }
  if (parsed.kind !== 'manifest') throw notAnImage(what, `it is a ${parsed.mediaType}`);
  const doc = parsed.doc;
  if (doc.artifactType !== undefined)
    throw notAnImage(what, `it is an artifact (${doc.artifactType})`);
  if (!IMAGE_CONFIG_TYPES.has(doc.config.mediaType)) {
    throw notAnImage(what, `its config is ${doc.config.mediaType}, not an image config`);
  }
  const odd = doc.layers.find((l) => !LAYER_TYPE.test(l.mediaType));
  if (odd !== undefined)
    throw notAnImage(what, `layer ${odd.digest} is ${odd.mediaType}, not a layer tar`);
  const manifest: Descriptor = {
    mediaType: parsed.mediaType,
    digest: desc.digest,
    size: desc.size,
  };
  if (desc.platform !== undefined) manifest.platform = desc.platform;
  return { manifest, doc };
}

function notAnImage(what: string, why: string): IntegrityError {
  return new IntegrityError(
    'E_UNSUPPORTED_MEDIA_TYPE',
    `${what} cannot go into a docker archive: ${why}`,
    { ref: what },
    { hint: 'docker archives hold container images only; use --format oci for artifacts' },
  );
}

/** One entry per RepoTag, the full name in both annotations (as an OCI export writes it). */
function indexEntriesFor(c: Chosen): Descriptor[] {
  if (c.tags.length === 0) return [canonicalDescriptor({ ...c.manifest })];
  return c.tags.map((repoTag) =>
    canonicalDescriptor({ ...c.manifest, annotations: nameAnnotations(repoTag) }),
  );
}

function dockerManifestEntry(c: Chosen): Record<string, unknown> {
  return {
    Config: blobRelPath(parseDigest(c.doc.config.digest)),
    RepoTags: c.tags,
    Layers: c.doc.layers.map((l) => blobRelPath(parseDigest(l.digest))),
  };
}

/** The legacy map repository → tag → top layer id; we use the top layer's diffID (loaders ignore it when manifest.json exists). */
function repositories(layout: Layout, images: Chosen[]): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const c of images) {
    if (c.tags.length === 0) continue;
    const config = layout.blobs.readBytes(parseDigest(c.doc.config.digest), MAX_MANIFEST_BYTES);
    const r = ImageConfigSchema.safeParse(
      parseJson(config.toString('utf8'), `config ${c.doc.config.digest}`),
    );
    const top: Digest | undefined = r.success
      ? (r.data.rootfs.diff_ids.at(-1) as Digest | undefined)
      : undefined;
    for (const repoTag of c.tags) {
      const { repository, tag } = splitRepoTag(repoTag);
      (out[repository] ??= {})[tag] = top === undefined ? '' : top.slice(top.indexOf(':') + 1);
    }
  }
  return out;
}
