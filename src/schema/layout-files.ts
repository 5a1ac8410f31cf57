// zod schemas for the two layout files: `oci-layout` and `index.json`.
import { z } from 'zod';
import { ImageIndexSchema } from './manifest.js';

export const OciLayoutSchema = z.lazy(() =>
  z.looseObject({
    imageLayoutVersion: z.string(),
  }),
);
export type OciLayoutFile = z.infer<typeof OciLayoutSchema>;

export const IMAGE_LAYOUT_VERSION = '1.0.0';

/** index.json is an image index; loose so top-level fields like `org.olareg.history` survive. */
export const IndexFileSchema = ImageIndexSchema;
export type IndexFile = z.infer<typeof IndexFileSchema>;
