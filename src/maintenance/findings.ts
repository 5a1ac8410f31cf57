// fsck's finding codes: one typed union, and the one table of their severities (as errors.ts has
// the one table of exit codes). An error finding makes fsck exit 4; a warning never does.
// spec-notes/gc-fsck.md explains each code.

export type Severity = 'error' | 'warning';

export const FINDING_SEVERITY = {
  // The layout's own files (fsck.ts).
  LAYOUT_HEADER_MISSING: 'error',
  LAYOUT_HEADER_INVALID: 'error',
  LAYOUT_VERSION_UNSUPPORTED: 'error',
  INDEX_MISSING: 'error',
  INDEX_INVALID_JSON: 'error',
  INDEX_SCHEMA: 'error',
  INDEX_TOO_LARGE: 'error',
  INDEX_NOT_REGULAR: 'error',
  INDEX_UNREADABLE: 'error',
  INDEX_MEDIA_TYPE: 'warning',
  CHECKS_SKIPPED: 'warning',
  CHECK_FAILED: 'error',
  INGEST_UNSAFE: 'error',
  INGEST_ABANDONED: 'warning',
  LOCK_NOT_DIRECTORY: 'error',
  LOCK_IN_FUTURE: 'warning',
  LOCK_STALE: 'warning',
  // blobs/ (blob-files.ts).
  BLOBS_DIR_MISSING: 'error',
  BLOBS_DIR_UNREADABLE: 'error',
  BLOBS_DIR_UNSAFE: 'error',
  BLOB_UNVERIFIABLE: 'warning',
  BLOB_DIGEST_MISMATCH: 'error',
  BLOB_STRAY: 'warning',
  BLOB_NOT_REGULAR: 'error',
  BLOB_UNREADABLE: 'error',
  // The graph from index.json (reachability.ts).
  DESCRIPTOR_SIZE_MISMATCH: 'error',
  MEDIA_TYPE_MISMATCH: 'error',
  MISSING_BLOB: 'error',
  DESCRIPTOR_INVALID_DIGEST: 'error',
  DESCRIPTOR_UNSUPPORTED_ALGORITHM: 'warning',
  MANIFEST_INVALID: 'error',
  WALK_ERROR: 'error',
  // Referrer bookkeeping (each convention's checks).
  REFERRER_ANNOTATION_INVALID: 'error',
  REFERRER_INDEX_UNREADABLE: 'error',
  REFERRER_DANGLING_DESCRIPTOR: 'error',
  FALLBACK_SUBJECT_MISMATCH: 'error',
  REFERRER_ANNOTATION_MISMATCH: 'error',
  REFERRER_DESCRIPTOR_STALE: 'warning',
  REFERRER_SUBJECT_MISSING: 'warning',
  REFERRER_RESPONSE_DUPLICATE: 'warning',
  FALLBACK_NOT_INDEX: 'error',
  FALLBACK_TAG_NOT_REFERRERS: 'warning',
  DIGEST_TAG_NAMES_ITSELF: 'warning',
  // cosign's tag-based signatures (referrers/maintenance.ts).
  COSIGN_TAG_SUBJECT_MISSING: 'warning',
  // hauler's signature entries filed under an image's name (referrers/maintenance.ts).
  HAULER_SUBJECT_MISSING: 'warning',
  HAULER_STORE_NO_OCI_LAYOUT: 'warning',
} as const satisfies Record<string, Severity>;

export type FindingCode = keyof typeof FINDING_SEVERITY;

export interface Finding {
  code: FindingCode;
  severity: Severity;
  message: string;
  path?: string | undefined;
  digest?: string | undefined;
}

/**
 * A finding with its code's severity. `tolerated` turns an error into a warning where the user
 * said the condition is expected (a sparse layout's missing blobs under --allow-missing).
 */
export function finding(
  code: FindingCode,
  message: string,
  where: { path?: string | undefined; digest?: string | undefined; tolerated?: boolean } = {},
): Finding {
  const severity: Severity = where.tolerated === true ? 'warning' : FINDING_SEVERITY[code];
  const out: Finding = { code, severity, message };
  if (where.path !== undefined) out.path = where.path;
  if (where.digest !== undefined) out.digest = where.digest;
  return out;
}
