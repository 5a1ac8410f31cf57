// zod schemas for the `docker save` archive format (manifest.json, repositories) and the part of an
// image config we read (rootfs.diff_ids, platform). Loose: writers add fields (LayerSources, Parent).
import { z } from 'zod';
import { DigestStringSchema } from './descriptor.js';

export const DockerArchiveImageSchema = z.lazy(() =>
  z.looseObject({
    Config: z.string().min(1),
    RepoTags: z.array(z.string()).nullable().optional(),
    Layers: z.array(z.string().min(1)),
  }),
);

/** manifest.json: one entry per saved image. */
export const DockerArchiveManifestSchema = z.lazy(() => z.array(DockerArchiveImageSchema));

/** repositories: repository name → tag → legacy top-layer id. */
export const DockerRepositoriesSchema = z.lazy(() =>
  z.record(z.string(), z.record(z.string(), z.string())),
);

/** The fields of an image config (OCI or Docker) that archives need. */
export const ImageConfigSchema = z.lazy(() =>
  z.looseObject({
    architecture: z.string().optional(),
    os: z.string().optional(),
    variant: z.string().optional(),
    rootfs: z.looseObject({
      type: z.string(),
      diff_ids: z.array(DigestStringSchema),
    }),
  }),
);

export type DockerArchiveImage = z.infer<typeof DockerArchiveImageSchema>;
export type DockerArchiveManifest = z.infer<typeof DockerArchiveManifestSchema>;
export type DockerRepositories = z.infer<typeof DockerRepositoriesSchema>;
export type ImageConfig = z.infer<typeof ImageConfigSchema>;
