// zod schemas for descriptors and platforms: the single source of truth for these JSON types.
// Objects are loose so unknown fields survive a read-modify-write (peers add their own).
import { z } from 'zod';

/** image-spec descriptor.md digest grammar; algorithm support is checked later by parseDigest. */
export const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export const DigestStringSchema = z.lazy(() =>
  z.string().regex(DIGEST_GRAMMAR, 'not a digest (algorithm:encoded)'),
);

export const AnnotationsSchema = z.lazy(() => z.record(z.string(), z.string()));

export const PlatformSchema = z.lazy(() =>
  z.looseObject({
    architecture: z.string(),
    os: z.string(),
    'os.version': z.string().optional(),
    'os.features': z.array(z.string()).optional(),
    variant: z.string().optional(),
    features: z.array(z.string()).optional(),
  }),
);

export const DescriptorSchema = z.lazy(() =>
  z.looseObject({
    mediaType: z.string().min(1),
    digest: DigestStringSchema,
    size: z.number().int().nonnegative(),
    urls: z.array(z.string()).optional(),
    annotations: AnnotationsSchema.optional(),
    data: z.string().optional(),
    platform: PlatformSchema.optional(),
    artifactType: z.string().optional(),
  }),
);

export type Platform = z.infer<typeof PlatformSchema>;
export type Descriptor = z.infer<typeof DescriptorSchema>;
export type Annotations = z.infer<typeof AnnotationsSchema>;

/** The fields that identify content: what a reference resolves to. */
export interface ContentRef {
  mediaType: string;
  digest: string;
  size: number;
}

/**
 * A descriptor with keys in the order Go's image-spec structs marshal them (and annotation keys
 * sorted, as Go maps marshal), so what we write matches what oras/regctl would write byte for byte.
 * Unknown fields keep their relative order after the known ones.
 */
export function canonicalDescriptor(d: Descriptor): Descriptor {
  const { mediaType, digest, size, urls, annotations, data, platform, artifactType, ...rest } = d;
  const out: Record<string, unknown> = { mediaType, digest, size };
  if (urls !== undefined) out['urls'] = urls;
  if (annotations !== undefined) out['annotations'] = sortedRecord(annotations);
  if (data !== undefined) out['data'] = data;
  if (platform !== undefined) out['platform'] = platform;
  if (artifactType !== undefined) out['artifactType'] = artifactType;
  return { ...out, ...rest } as Descriptor;
}

export function sortedRecord<V>(r: Record<string, V>): Record<string, V> {
  const out: Record<string, V> = {};
  for (const k of Object.keys(r).sort()) out[k] = r[k] as V;
  return out;
}

/** Same content (digest, size and media type); annotations and platform are not compared. */
export function sameContent(a: ContentRef, b: ContentRef): boolean {
  return a.digest === b.digest && a.size === b.size && a.mediaType === b.mediaType;
}
