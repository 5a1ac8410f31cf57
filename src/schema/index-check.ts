// index.json's schema check without zod on the way that succeeds. zod's pass over a large index
// cost more than parsing it, twice per commit (figures: spec-notes/performance.md, index.json
// commit). This hand check accepts only what IndexFileSchema accepts (it is, if anything,
// stricter: an object with an odd prototype or a `__proto__` key is left to zod); whatever it
// does not accept goes through zod, so a refusal carries zod's issues exactly as before and the
// schema stays the single source of truth.
import { DIGEST_GRAMMAR } from './descriptor.js';
import { IndexFileSchema, type IndexFile } from './layout-files.js';
import { schemaError } from './manifest.js';

/**
 * Throws E_SCHEMA naming `what` (zod's first issues) unless `json` matches IndexFileSchema.
 * Does not change `json`.
 */
export function checkIndexFile(json: unknown, what: string): asserts json is IndexFile {
  if (isIndexFile(json)) return;
  const r = IndexFileSchema.safeParse(json);
  if (!r.success) throw schemaError(what, r.error);
}

/** True only if IndexFileSchema accepts `v` (false: ask zod). */
export function isIndexFile(v: unknown): boolean {
  if (!isObject(v)) return false;
  if (v['schemaVersion'] !== 2) return false;
  if (!optionalString(v['mediaType']) || !optionalString(v['artifactType'])) return false;
  const manifests = v['manifests'];
  if (!Array.isArray(manifests)) return false;
  for (let i = 0; i < manifests.length; i++) if (!isDescriptor(manifests[i])) return false;
  const subject = v['subject'];
  if (subject !== undefined && !isDescriptor(subject)) return false;
  const annotations = v['annotations'];
  return annotations === undefined || isStringRecord(annotations);
}

/** DescriptorSchema: a loose object. */
function isDescriptor(v: unknown): boolean {
  if (!isObject(v)) return false;
  const mediaType = v['mediaType'];
  const digest = v['digest'];
  const size = v['size'];
  if (typeof mediaType !== 'string' || mediaType.length < 1) return false;
  if (typeof digest !== 'string' || !DIGEST_GRAMMAR.test(digest)) return false;
  // z.number().int(): a safe integer; .nonnegative(): >= 0.
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return false;
  if (!optionalStringArray(v['urls'])) return false;
  const annotations = v['annotations'];
  if (annotations !== undefined && !isStringRecord(annotations)) return false;
  if (!optionalString(v['data']) || !optionalString(v['artifactType'])) return false;
  const platform = v['platform'];
  return platform === undefined || isPlatform(platform);
}

/** PlatformSchema: a loose object. */
function isPlatform(v: unknown): boolean {
  return (
    isObject(v) &&
    typeof v['architecture'] === 'string' &&
    typeof v['os'] === 'string' &&
    optionalString(v['os.version']) &&
    optionalStringArray(v['os.features']) &&
    optionalString(v['variant']) &&
    optionalStringArray(v['features'])
  );
}

/** zod's object check: any non-array object. */
function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optionalString(v: unknown): boolean {
  return v === undefined || typeof v === 'string';
}

function optionalStringArray(v: unknown): boolean {
  if (v === undefined) return true;
  if (!Array.isArray(v)) return false;
  for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'string') return false;
  return true;
}

/**
 * AnnotationsSchema, z.record(z.string(), z.string()): stricter than zod's plain-object test (the
 * prototype must be Object.prototype or null), every own key a string and every value a string.
 * getOwnPropertyNames + getOwnPropertySymbols, not Reflect.ownKeys: the faster of the two on
 * this path (spec-notes/performance.md).
 */
function isStringRecord(v: unknown): boolean {
  if (!isObject(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return false;
  const keys = Object.getOwnPropertyNames(v);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (key === '__proto__' || typeof v[key] !== 'string') return false;
  }
  return Object.getOwnPropertySymbols(v).length === 0;
}
