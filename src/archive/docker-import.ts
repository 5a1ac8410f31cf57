// Converts a `docker save` archive (manifest.json + config + layer tars) into OCI layout entries.
// Config and layers are kept byte for byte (their digests are the docker image ID and the diffIDs
// for plain layer tars); only a new OCI image manifest is written, so umoci and skopeo read the
// result. See spec-notes/archives.md "docker-archive import".
import { parseDigest, type Digest } from '../digest.js';
import { IntegrityError } from '../errors.js';
import { Annotation, MediaType } from '../media-types.js';
import { canonicalDescriptor, type Descriptor } from '../schema/descriptor.js';
import {
  DockerArchiveManifestSchema,
  ImageConfigSchema,
  type ImageConfig,
} from '../schema/docker-archive.js';
import { parseJson, schemaError } from '../schema/manifest.js';
import { DOCKER_MANIFEST_NAME, type ArchiveContents } from './contents.js';
import type { Compression } from './compression.js';
import { bareTagOf } from './docker-names.js';
import { normalizeImageName } from '../layout/names.js';
import type { Staging } from './staging.js';
import { goJsonStringify } from '../schema/go-json.js';

/** Image configs larger than this are refused (real ones are KiBs; history can make them MiBs). */
const MAX_CONFIG_BYTES = 8 * 1024 * 1024;

const LAYER_MEDIA_TYPE: Partial<Record<Compression, string>> = {
  none: MediaType.Layer,
  gzip: MediaType.LayerGzip,
  zstd: MediaType.LayerZstd,
};

interface ConvertedImage {
  descriptor: Descriptor;
  repoTags: string[];
}

/**
 * Build one OCI manifest per manifest.json entry (stored in the staging layout) and return the
 * index.json entries: one per RepoTag (ref.name = the bare tag, io.containerd.image.name = the
 * RepoTag in full, `alpine:3` → `docker.io/library/alpine:3` as containerd and podman store it; the
 * full RepoTag as ref.name when two images in the archive share a bare tag), or one
 * untagged entry for an image saved without a name. Throws E_INVALID_JSON / E_SCHEMA /
 * E_CORRUPT_ARCHIVE (missing file, layer count) / E_DIGEST_MISMATCH (plain layer ≠ its diffID).
 */
export function convertDockerArchive(contents: ArchiveContents, staging: Staging): Descriptor[] {
  const raw = contents.json(DOCKER_MANIFEST_NAME)!;
  const what = `archive ${DOCKER_MANIFEST_NAME}`;
  const parsed = DockerArchiveManifestSchema.safeParse(parseJson(raw.toString('utf8'), what));
  if (!parsed.success) throw schemaError(what, parsed.error);
  const images: ConvertedImage[] = parsed.data.map((image) => ({
    descriptor: convertImage(contents, staging, image.Config, image.Layers),
    repoTags: image.RepoTags ?? [],
  }));
  return indexEntries(images);
}

function convertImage(
  contents: ArchiveContents,
  staging: Staging,
  configName: string,
  layerNames: string[],
): Descriptor {
  const configFile = contents.dockerFile(configName);
  const config = readConfig(staging, configFile.digest, configName);
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== layerNames.length) {
    throw new IntegrityError(
      'E_CORRUPT_ARCHIVE',
      `image config ${configName} lists ${diffIds.length} layers but manifest.json names ${layerNames.length}`,
      { config: configName },
    );
  }
  const layers = layerNames.map((name, i): Descriptor => {
    const file = contents.dockerFile(name);
    const mediaType = LAYER_MEDIA_TYPE[file.compression];
    if (mediaType === undefined) {
      throw new IntegrityError(
        'E_UNSUPPORTED_MEDIA_TYPE',
        `layer ${name} is ${file.compression}-compressed; layers must be plain, gzip or zstd tars`,
        { layer: name },
      );
    }
    // A plain layer tar IS its diffID; a mismatch means the config does not describe this layer.
    if (file.compression === 'none' && file.digest !== diffIds[i]) {
      throw new IntegrityError(
        'E_DIGEST_MISMATCH',
        `layer ${name} hashes to ${file.digest} but the image config expects diffID ${diffIds[i]}`,
        { layer: name, expected: diffIds[i], found: file.digest },
      );
    }
    return { mediaType, digest: file.digest, size: file.size };
  });
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ImageManifest,
    config: { mediaType: MediaType.ImageConfig, digest: configFile.digest, size: configFile.size },
    layers,
  };
  const bytes = Buffer.from(goJsonStringify(manifest), 'utf8');
  const stored = staging.layout.blobs.putBytes(bytes, {}, { deferDirSync: true });
  const descriptor: Descriptor = {
    mediaType: MediaType.ImageManifest,
    digest: stored.digest,
    size: stored.size,
  };
  if (config.os !== undefined && config.architecture !== undefined) {
    descriptor.platform = {
      architecture: config.architecture,
      os: config.os,
      ...(config.variant === undefined ? {} : { variant: config.variant }),
    };
  }
  return descriptor;
}

function readConfig(staging: Staging, digest: Digest, name: string): ImageConfig {
  const bytes = staging.layout.blobs.readBytes(parseDigest(digest), MAX_CONFIG_BYTES);
  const what = `image config ${name}`;
  const r = ImageConfigSchema.safeParse(parseJson(bytes.toString('utf8'), what));
  if (!r.success) throw schemaError(what, r.error);
  return r.data;
}

function indexEntries(images: ConvertedImage[]): Descriptor[] {
  // A bare tag names one image only; when two images share it, each keeps its full RepoTag.
  const owners = new Map<string, Set<string>>();
  for (const { descriptor, repoTags } of images) {
    for (const rt of repoTags) {
      const bare = bareTagOf(rt);
      if (bare === undefined) continue;
      const set = owners.get(bare) ?? new Set<string>();
      set.add(descriptor.digest);
      owners.set(bare, set);
    }
  }
  const out: Descriptor[] = [];
  const seen = new Set<string>();
  for (const { descriptor, repoTags } of images) {
    if (repoTags.length === 0) {
      if (!seen.has(descriptor.digest)) out.push(canonicalDescriptor({ ...descriptor }));
      seen.add(descriptor.digest);
      continue;
    }
    for (const familiar of repoTags) {
      const rt = normalizeImageName(familiar);
      const bare = bareTagOf(rt);
      const refName = bare !== undefined && owners.get(bare)?.size === 1 ? bare : rt;
      const key = `${descriptor.digest} ${refName}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(
        canonicalDescriptor({
          ...descriptor,
          annotations: { [Annotation.ContainerdImageName]: rt, [Annotation.RefName]: refName },
        }),
      );
    }
  }
  return out;
}
