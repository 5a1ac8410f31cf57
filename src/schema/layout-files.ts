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

/**
 * The `imageLayoutVersion` of a parsed oci-layout file, or undefined when OciLayoutSchema refuses
 * it. Every layout command checks the file, and zod's first use of a schema (building it) cost
 * more than the rest of a small command's layout work; so a plain object with a string version is
 * taken by hand, and only anything else goes to zod, which stays the judge.
 */
export function imageLayoutVersionOf(json: unknown): string | undefined {
  if (typeof json === 'object' && json !== null && !Array.isArray(json)) {
    const proto: unknown = Object.getPrototypeOf(json);
    const version = (json as { imageLayoutVersion?: unknown }).imageLayoutVersion;
    if ((proto === Object.prototype || proto === null) && typeof version === 'string')
      return version;
  }
  const r = OciLayoutSchema.safeParse(json);
  return r.success ? r.data.imageLayoutVersion : undefined;
}

/** index.json is an image index; loose so top-level fields like `org.olareg.history` survive. */
export const IndexFileSchema = ImageIndexSchema;
export type IndexFile = z.infer<typeof IndexFileSchema>;
