// Media types and annotation keys we read or write, spelled exactly as the specs and peers spell them,
// and the media-type grammar we accept from users.
import { UsageError } from './errors.js';

export const MediaType = {
  ImageIndex: 'application/vnd.oci.image.index.v1+json',
  ImageManifest: 'application/vnd.oci.image.manifest.v1+json',
  ImageConfig: 'application/vnd.oci.image.config.v1+json',
  Layer: 'application/vnd.oci.image.layer.v1.tar',
  LayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  LayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  Empty: 'application/vnd.oci.empty.v1+json',
  LayoutHeader: 'application/vnd.oci.layout.header.v1+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  OctetStream: 'application/octet-stream',
} as const;

export const Annotation = {
  RefName: 'org.opencontainers.image.ref.name',
  Title: 'org.opencontainers.image.title',
  Created: 'org.opencontainers.image.created',
  /** image-spec PR #1171 spelling of the subject-annotation convention. */
  ReferrerSubject: 'org.opencontainers.image.referrer.subject',
  ReferrerConvert: 'org.opencontainers.image.referrer.convert',
  /** olareg's spelling since 2024-03 (pending PR #1171). */
  OlaregReferrerSubject: 'org.olareg.referrer.subject',
  OlaregReferrerConvert: 'org.olareg.referrer.convert',
  /** containerd export marks listed referrers with their subject. */
  ContainerdManifestSubject: 'io.containerd.manifest.subject',
  ContainerdImageName: 'io.containerd.image.name',
  /** BuildKit attestation manifests inside an image index. */
  DockerReferenceDigest: 'vnd.docker.reference.digest',
  DockerReferenceType: 'vnd.docker.reference.type',
  /** cosign save marks every entry with a kind. */
  CosignKind: 'kind',
} as const;

export const EMPTY_JSON = '{}';
export const EMPTY_DIGEST =
  'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

const INDEX_TYPES: ReadonlySet<string> = new Set([
  MediaType.ImageIndex,
  MediaType.DockerManifestList,
]);
const MANIFEST_TYPES: ReadonlySet<string> = new Set([
  MediaType.ImageManifest,
  MediaType.DockerManifest,
]);

export function isIndexMediaType(mt: string | undefined): boolean {
  return mt !== undefined && INDEX_TYPES.has(mt);
}
export function isImageManifestMediaType(mt: string | undefined): boolean {
  return mt !== undefined && MANIFEST_TYPES.has(mt);
}
/** Manifest or index: JSON documents we read whole (capped) and walk. */
export function isManifestMediaType(mt: string | undefined): boolean {
  return isIndexMediaType(mt) || isImageManifestMediaType(mt);
}

/** The largest manifest or index we read into memory (distribution-spec interop floor). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

// RFC 6838 restricted-name for type and subtype; parameters (`;charset=…`) are not accepted.
const MEDIA_TYPE =
  /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

/** True when `s` is `type/subtype` in RFC 6838 syntax (no parameters). */
export function isValidMediaType(s: string): boolean {
  return MEDIA_TYPE.test(s);
}

/** Throws E_USAGE unless `s` is a valid media type; `what` names the flag or argument. */
export function assertMediaType(s: string, what: string): string {
  if (!isValidMediaType(s)) {
    throw new UsageError(
      'E_USAGE',
      `${what}: ${JSON.stringify(s)} is not a media type`,
      { mediaType: s },
      { hint: 'a media type looks like type/subtype, e.g. application/vnd.example.sbom+json' },
    );
  }
  return s;
}
