// The public API of ocilayout, listed by name: open or create a layout, the verbs, the schemas and
// types, the errors. It is the package's only entry (package.json `exports`). Plumbing the CLI
// needs (durable writes, leases, stream helpers, internal planners) lives in internal.ts, which the
// package does not expose. This file only picks names from it; test/index.test.ts keeps the
// list curated.

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
} from './internal.js';

// Digests, media types and the OCI JSON schemas (zod: the single source of the types).
export {
  digestOf,
  parseDigest,
  Annotation,
  MediaType,
  isValidMediaType,
  DescriptorSchema,
  PlatformSchema,
  ImageIndexSchema,
  ImageManifestSchema,
  parseManifest,
  IndexFileSchema,
  OciLayoutSchema,
  type Digest,
  type Annotations,
  type Descriptor,
  type Platform,
  type ImageIndex,
  type ImageManifest,
  type ParsedManifest,
  type IndexFile,
} from './internal.js';

// A layout: open any peer's, create one, references and platforms.
export {
  Layout,
  parseLayoutRef,
  formatPlatform,
  parsePlatform,
  type LayoutInit,
  type LayoutOptions,
  type PutManifestOptions,
  type StoredManifest,
  type Target,
  type LayoutRef,
  type PlatformSpec,
} from './internal.js';

// Artifacts: files in, files out.
export {
  pullFiles,
  pushFiles,
  type PullOptions,
  type PullResult,
  type PushFile,
  type PushOptions,
  type PushResult,
} from './internal.js';

// Referrers in every layout convention.
export {
  CONVENTION_NAMES,
  detectConventions,
  discoverReferrers,
  referrerTree,
  referrersResponseTree,
  referrersResponse,
  fallbackTagFor,
  attach,
  detach,
  convert,
  referrerSummary,
  type ConventionName,
  type ReferrerNode,
  type ReferrersResponseTree,
  type AttachFile,
  type AttachOptions,
  type AttachResult,
  type DetachResult,
  type ConvertOptions,
  type ConvertPlan,
  type ReferrerSummary,
} from './internal.js';

// Moving content: copy between any two endpoints, archives.
export {
  REFERRERS_MODES,
  copyLayout,
  copyRefs,
  copyAll,
  parseCopyEndpoint,
  exportArchive,
  archiveFromStream,
  importArchive,
  openArchiveFile,
  CONFLICT_POLICIES,
  DEFAULT_EXPANSION_LIMITS,
  isRegistryRef,
  parseRegistryRef,
  openBlobLocations,
  userBlobLocationsPath,
  type BlobLocations,
  type CopyEvent,
  type CopyOptions,
  type CopyResult,
  type CopyAllOptions,
  type CopyAllResult,
  type CopyAllImage,
  type ReferrersMode,
  type CopyEndpoint,
  type ArchiveEndpoint,
  type CopyRefsOptions,
  type ArchiveFormat,
  type ExportOptions,
  type ExportResult,
  type ImportOptions,
  type ImportResult,
  type ArchiveInput,
  type ConflictPolicy,
  type ExpansionLimits,
  type RegistryRef,
} from './internal.js';

// Upkeep: gc and fsck with the referrer conventions wired in, deletes, a summary.
export {
  fsck,
  gc,
  DEFAULT_ROOT_POLICY,
  DEFAULT_FSCK_CHECKS,
  deleteBlob,
  deleteManifest,
  layoutInfo,
  type FsckOptions,
  type FsckReport,
  type GcOptions,
  type GcResult,
  type Finding,
  type FindingCode,
  type DeleteManifestResult,
  type DeleteOptions,
  type LayoutInfo,
} from './internal.js';
