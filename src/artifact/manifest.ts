// OCI 1.1 artifact manifests built from files (what `push` and `attach` store).
import { EMPTY_DIGEST, EMPTY_JSON, MediaType, Annotation } from '../media-types.js';
import {
  canonicalDescriptor,
  sortedRecord,
  type Annotations,
  type Descriptor,
} from '../schema/descriptor.js';
import type { ImageManifest } from '../schema/manifest.js';
import { goJsonStringify } from '../schema/go-json.js';

/** Default artifactType when a caller gives none and the config is empty (oras uses the same). */
export const DEFAULT_ARTIFACT_TYPE = 'application/vnd.unknown.artifact.v1';
/** Default media type of a file pushed without one (oras's default). */
export const DEFAULT_FILE_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar';

/** The empty JSON descriptor (image-spec manifest.md "Guidance for an Empty Descriptor"). */
export function emptyDescriptor(): Descriptor {
  return {
    mediaType: MediaType.Empty,
    digest: EMPTY_DIGEST,
    size: 2,
    data: Buffer.from(EMPTY_JSON).toString('base64'),
  };
}

export interface ArtifactSpec {
  artifactType?: string | undefined;
  /** Layer descriptors (already stored); none means one empty layer, as the spec advises. */
  layers: Descriptor[];
  config?: Descriptor | undefined;
  annotations?: Annotations | undefined;
  subject?: Descriptor | undefined;
}

/**
 * Build the manifest JSON for an artifact. Deterministic: the same inputs give the same bytes, so
 * pushing or attaching the same thing twice yields the same digest (a no-op, not a duplicate).
 */
export function buildArtifactManifest(spec: ArtifactSpec): {
  manifest: ImageManifest;
  bytes: Buffer;
} {
  const config = spec.config ?? emptyDescriptor();
  const artifactType =
    spec.artifactType ?? (config.mediaType === MediaType.Empty ? DEFAULT_ARTIFACT_TYPE : undefined);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ImageManifest,
    ...(artifactType === undefined ? {} : { artifactType }),
    config: canonicalDescriptor(config),
    layers: (spec.layers.length > 0 ? spec.layers : [emptyDescriptor()]).map(canonicalDescriptor),
    ...(spec.subject === undefined
      ? {}
      : {
          subject: canonicalDescriptor({
            mediaType: spec.subject.mediaType,
            digest: spec.subject.digest,
            size: spec.subject.size,
          }),
        }),
    ...(spec.annotations === undefined || Object.keys(spec.annotations).length === 0
      ? {}
      : { annotations: sortedRecord(spec.annotations) }),
  };
  return { manifest, bytes: Buffer.from(goJsonStringify(manifest), 'utf8') };
}

/** The layer descriptor of a file: its media type, digest, size and title annotation. */
export function fileLayer(
  stored: { digest: string; size: number },
  mediaType: string,
  title: string,
): Descriptor {
  return {
    mediaType,
    digest: stored.digest,
    size: stored.size,
    annotations: { [Annotation.Title]: title },
  };
}
