// zod schemas for OCI image manifests and indexes and their Docker v2 equivalents, and the one
// function that turns manifest bytes into a typed document (size-capped, JSON- and schema-checked).
import { z } from 'zod';
import { IntegrityError, UnsafeInputError } from '../errors.js';
import { MAX_MANIFEST_BYTES, MediaType, isIndexMediaType } from '../media-types.js';
import { AnnotationsSchema, DescriptorSchema } from './descriptor.js';

export const ImageManifestSchema = z.lazy(() =>
  z.looseObject({
    schemaVersion: z.literal(2),
    mediaType: z.string().optional(),
    artifactType: z.string().optional(),
    config: DescriptorSchema,
    layers: z.array(DescriptorSchema),
    subject: DescriptorSchema.optional(),
    annotations: AnnotationsSchema.optional(),
  }),
);

export const ImageIndexSchema = z.lazy(() =>
  z.looseObject({
    schemaVersion: z.literal(2),
    mediaType: z.string().optional(),
    artifactType: z.string().optional(),
    manifests: z.array(DescriptorSchema),
    subject: DescriptorSchema.optional(),
    annotations: AnnotationsSchema.optional(),
  }),
);

export type ImageManifest = z.infer<typeof ImageManifestSchema>;
export type ImageIndex = z.infer<typeof ImageIndexSchema>;

export type ParsedManifest =
  | { kind: 'manifest'; mediaType: string; doc: ImageManifest }
  | { kind: 'index'; mediaType: string; doc: ImageIndex };

/**
 * Parse JSON text, turning a syntax error into E_INVALID_JSON naming `what`. The message quotes
 * V8's reason, which excerpts the input: made printable and capped, since the input may be a
 * layer's binary bytes on their way to a terminal.
 */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new IntegrityError(
      'E_INVALID_JSON',
      `${what} is not valid JSON: ${printable((err as Error).message, MAX_REASON_CHARS)}`,
      { what },
      {
        cause: err,
      },
    );
  }
}

const MAX_REASON_CHARS = 160;
const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

/**
 * `text` with control, format (bidi, zero-width) and separator characters escaped (`\x1b`,
 * `\u202e`) and cut to `max` characters plus an ellipsis.
 */
function printable(text: string, max: number): string {
  let out = '';
  for (const ch of text) {
    if (out.length >= max) return `${out}…`;
    out += NON_PRINTABLE.test(ch) ? escapeChar(ch) : ch;
  }
  return out;
}

function escapeChar(ch: string): string {
  const cp = ch.codePointAt(0)!;
  return cp <= 0xff
    ? `\\x${cp.toString(16).padStart(2, '0')}`
    : `\\u${cp.toString(16).padStart(4, '0')}`;
}

/** The E_SCHEMA error for `what`, naming the first five zod issues (path: message). */
export function schemaError(what: string, error: z.ZodError): IntegrityError {
  const issues = error.issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  return new IntegrityError('E_SCHEMA', `${what} does not match the schema: ${issues.join('; ')}`, {
    what,
    issues,
  });
}

/**
 * Parse manifest or index bytes. The media type comes from the document's own `mediaType`, else
 * from `hintMediaType` (the descriptor that pointed here), else from its shape.
 * Throws E_TOO_LARGE over 4 MiB, E_INVALID_JSON, E_SCHEMA.
 */
export function parseManifest(
  bytes: Uint8Array,
  what: string,
  hintMediaType?: string,
): ParsedManifest {
  if (bytes.byteLength > MAX_MANIFEST_BYTES) {
    throw new UnsafeInputError(
      'E_TOO_LARGE',
      `${what} is ${bytes.byteLength} bytes, over the 4 MiB manifest limit`,
      {
        what,
        size: bytes.byteLength,
      },
    );
  }
  const json = parseJson(
    Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'),
    what,
  );
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new IntegrityError('E_SCHEMA', `${what} is not a JSON object`, { what });
  }
  const own = (json as { mediaType?: unknown }).mediaType;
  const mediaType =
    typeof own === 'string'
      ? own
      : (hintMediaType ?? ('manifests' in json ? MediaType.ImageIndex : MediaType.ImageManifest));
  const looksLikeIndex =
    isIndexMediaType(mediaType) || (!('config' in json) && 'manifests' in json);
  if (looksLikeIndex) {
    const r = ImageIndexSchema.safeParse(json);
    if (!r.success) throw schemaError(what, r.error);
    return { kind: 'index', mediaType, doc: r.data };
  }
  const r = ImageManifestSchema.safeParse(json);
  if (!r.success) throw schemaError(what, r.error);
  return { kind: 'manifest', mediaType, doc: r.data };
}

/**
 * The artifactType a referrers response reports for a manifest: its own `artifactType`, else (image
 * manifests only) its config media type (distribution-spec "Listing Referrers").
 */
export function effectiveArtifactType(m: ParsedManifest): string | undefined {
  if (m.doc.artifactType !== undefined) return m.doc.artifactType;
  return m.kind === 'manifest' ? m.doc.config.mediaType : undefined;
}
