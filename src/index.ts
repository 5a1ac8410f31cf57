// The public API of ocilayout, listed by name: open or create a layout, the verbs, the schemas and
// types, the errors. It is the package's only entry (package.json `exports`). Plumbing the CLI
// needs (durable writes, leases, stream helpers, internal planners) lives in internal.ts, which the
// package does not expose; test/index.test.ts keeps this list curated.

// Errors: typed families with stable codes, and the one code → exit status table.
export {
  ConflictError,
  ERROR_CODES,
  EXIT_CODE,
  ExitCode,
  IntegrityError,
  InternalError,
  IoError,
  LockError,
  NotFoundError,
  OcilayoutError,
  RegistryError,
  UnsafeInputError,
  UsageError,
  exitCodeFor,
  isOcilayoutError,
  type ErrorCode,
} from './errors.js';

// Digests, media types and the OCI JSON schemas (zod: the single source of the types).
export { digestOf, parseDigest, type Digest } from './digest.js';
export { Annotation, MediaType, isValidMediaType } from './media-types.js';
export {
  DescriptorSchema,
  PlatformSchema,
  type Annotations,
  type Descriptor,
  type Platform,
} from './schema/descriptor.js';
export {
  ImageIndexSchema,
  ImageManifestSchema,
  parseManifest,
  type ImageIndex,
  type ImageManifest,
  type ParsedManifest,
} from './schema/manifest.js';
export { IndexFileSchema, OciLayoutSchema, type IndexFile } from './schema/layout-files.js';

// A layout: open any peer's, create one, references and platforms.
export {
  Layout,
  type LayoutInit,
  type LayoutOptions,
  type PutManifestOptions,
  type StoredManifest,
  type Target,
} from './layout/layout.js';
export { parseLayoutRef, type LayoutRef } from './layout/refs.js';
export { formatPlatform, parsePlatform, type PlatformSpec } from './layout/platform.js';

// Artifacts: files in, files out.
export {
  pullFiles,
  pushFiles,
  type PullOptions,
  type PullResult,
  type PushFile,
  type PushOptions,
  type PushResult,
} from './artifact/push-pull.js';

// Referrers in every layout convention.
export {
  CONVENTION_NAMES,
  detectConventions,
  type ConventionName,
} from './referrers/convention.js';
export {
  discoverReferrers,
  referrerTree,
  referrersResponseTree,
  type ReferrerNode,
  type ReferrersResponseTree,
} from './referrers/discover.js';
export { referrersResponse } from './referrers/response.js';
export { fallbackTagFor } from './referrers/fallback-tag.js';
export {
  attach,
  detach,
  type AttachFile,
  type AttachOptions,
  type AttachResult,
  type DetachResult,
} from './referrers/attach.js';
export { convert, type ConvertOptions, type ConvertPlan } from './referrers/convert.js';
export { referrerSummary, type ReferrerSummary } from './referrers/summary.js';

// Moving content: copy between any two endpoints, archives.
export {
  REFERRERS_MODES,
  copyLayout,
  type CopyEvent,
  type CopyOptions,
  type CopyResult,
  type ReferrersMode,
} from './transfer/copy.js';
export {
  copyRefs,
  parseCopyEndpoint,
  type CopyEndpoint,
  type CopyRefsOptions,
} from './transfer/endpoints.js';
export {
  exportArchive,
  type ArchiveFormat,
  type ExportOptions,
  type ExportResult,
} from './archive/export.js';
export {
  archiveFromStream,
  importArchive,
  type ImportOptions,
  type ImportResult,
} from './archive/import.js';
export { openArchiveFile, type ArchiveInput } from './archive/tar-source.js';
export { CONFLICT_POLICIES, type ConflictPolicy } from './archive/merge.js';
export { DEFAULT_EXPANSION_LIMITS, type ExpansionLimits } from './archive/compression.js';
export { isRegistryRef, parseRegistryRef, type RegistryRef } from './registry/reference.js';

// Upkeep: gc and fsck with the referrer conventions wired in, deletes, a summary.
export { fsck, type FsckOptions, type FsckReport } from './maintenance/fsck.js';
export { gc, type GcOptions, type GcResult } from './maintenance/gc.js';
export type { Finding, FindingCode } from './maintenance/findings.js';
export {
  referrerRootPolicy as DEFAULT_ROOT_POLICY,
  referrerFsckChecks as DEFAULT_FSCK_CHECKS,
} from './referrers/maintenance.js';
export {
  deleteBlob,
  deleteManifest,
  type DeleteManifestResult,
  type DeleteOptions,
} from './maintenance/delete.js';
export { layoutInfo, type LayoutInfo } from './maintenance/info.js';
