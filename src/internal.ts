// Everything the CLI (and the tests) use from the library: the public API plus plumbing. Not part
// of the package: package.json exports only index.ts, the curated public API.
export * from './errors.js';
export * from './digest.js';
export * from './media-types.js';
export * from './schema/descriptor.js';
export * from './schema/manifest.js';
export * from './schema/layout-files.js';
export {
  BlobStore,
  type PutExpectation,
  type PutResult,
  type PutOptions,
  type BlobListing,
} from './store/blob-store.js';
export {
  IndexStore,
  serializeIndex,
  MAX_INDEX_BYTES,
  type IndexSnapshot,
  type UpdateResult,
} from './store/index-store.js';
export {
  withLayoutLock,
  MAX_LOCK_TIMEOUT_MS,
  type HeldLock,
  type LockOptions,
} from './store/lock.js';
export { listIngest, liveLeasedDigests, releaseLease, type IngestEntry } from './store/ingest.js';
export { writeFileDurable, fsyncDir } from './store/durable.js';
export * from './store/paths.js';
export * from './layout/names.js';
export * from './layout/refs.js';
export * from './layout/tags.js';
export * from './layout/graph.js';
export * from './artifact/manifest.js';
export * from './artifact/files.js';
export * from './layout/layout.js';
export * from './artifact/push-pull.js';
export * from './layout/platform.js';
export * from './output/bytes.js';
export * from './output/file.js';
export * from './output/stream.js';
export * from './maintenance/info.js';
export * from './maintenance/delete.js';
export * from './layout/blob-lookup.js';
// gc and fsck (src/maintenance/). The CLI runs them with DEFAULT_ROOT_POLICY and
// DEFAULT_FSCK_CHECKS: the one place where referrer conventions plug into gc and fsck.
export * from './maintenance/policy.js';
export { FINDING_SEVERITY, type FindingCode, type Severity } from './maintenance/findings.js';
export { fsck, type FsckOptions, type FsckReport } from './maintenance/fsck.js';
export { gc, type GcOptions, type GcPhase, type GcResult } from './maintenance/gc.js';
export { listAbandoned, type AbandonedFile } from './maintenance/abandoned.js';
export {
  referrerRootPolicy as DEFAULT_ROOT_POLICY,
  referrerFsckChecks as DEFAULT_FSCK_CHECKS,
} from './referrers/maintenance.js';
export { isFallbackTagName } from './referrers/fallback-tag-name.js';
// Referrers in every layout convention (src/referrers/).
export {
  CONVENTIONS,
  CONVENTION_NAMES,
  classifyIndex,
  detectConventions,
  isConventionName,
  type Bookkeeping,
  type ConventionName,
  type ReferrerConvention,
  type SubjectReferrers,
} from './referrers/convention.js';
export { ConventionContext, type ContextOptions } from './referrers/context.js';
export { fallbackTagFor, subjectOfFallbackTag } from './referrers/fallback-tag.js';
export { parseCosignTag, type CosignKind, type CosignTag } from './referrers/cosign-tag.js';
export {
  ReferrerGraph,
  buildReferrerGraph,
  discoverReferrers,
  movedTagWarning,
  referrerGraph,
  referrerTree,
  referrersResponseTree,
  type GraphOptions,
  type NestedReferrer,
  type ReferrerNode,
  type ReferrersResponseTree,
} from './referrers/discover.js';
export type { Attestation, ReferrerRecord, ReferrerSource } from './referrers/scan.js';
export {
  FILTERS_APPLIED_ANNOTATION,
  referrerDescriptor,
  referrersResponse,
} from './referrers/response.js';
export {
  applyReferrerEdges,
  recordReferrers,
  type RecordOptions,
  type ReferrerEdge,
} from './referrers/record.js';
export {
  attach,
  detach,
  type AttachFile,
  type AttachOptions,
  type AttachResult,
  type DetachResult,
} from './referrers/attach.js';
export {
  convert,
  planConversion,
  type ConvertOptions,
  type ConvertPlan,
  type DroppedListing,
} from './referrers/convert.js';
export { referrerRootPolicy, referrerFsckChecks } from './referrers/maintenance.js';
export {
  referrerSummary,
  type ConventionCount,
  type ReferrerSummary,
} from './referrers/summary.js';
// Archives: export/import of oci-archive and docker-archive tars (src/archive/; import's verb sits
// with the copy engine it uses, src/transfer/).
export {
  exportArchive,
  type ArchiveFormat,
  type ExportOptions,
  type ExportResult,
} from './transfer/export.js';
export { importArchive, type ImportOptions, type ImportResult } from './transfer/import.js';
export { archiveFromStream } from './archive/read-archive.js';
export { openArchiveFile, type ArchiveInput } from './archive/tar-source.js';
export { CONFLICT_POLICIES, type ConflictPolicy, type MergeReport } from './archive/merge.js';
export type { IncomingMerge } from './archive/import-referrers.js';
export { judgeEntry, normalizeEntryName, type EntryVerdict } from './archive/safe-entry.js';
export { DEFAULT_EXPANSION_LIMITS, type ExpansionLimits } from './archive/compression.js';
// Registry bridge (src/registry/): distribution-spec client and copy across the boundary.
export {
  REGISTRY_PREFIX,
  formatRegistryRef,
  isRegistryRef,
  parseRegistryRef,
  parseRegistryHost,
  type RegistryRef,
} from './registry/reference.js';
export { RegistryClient, type FetchedManifest } from './registry/client.js';
export { type TransportOptions, type RetryInfo } from './registry/transport.js';
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from './registry/retry.js';
export {
  dockerConfigPath,
  findCredentials,
  loadDockerConfig,
  type Credentials,
  type FoundCredentials,
  type LoadedDockerConfig,
} from './registry/docker-config.js';
export { runCredentialHelper } from './registry/credential-helper.js';
export {
  BLOB_LOCATIONS_FILE,
  openBlobLocations,
  userBlobLocationsPath,
  type BlobLocationLimits,
  type BlobLocations,
} from './registry/blob-locations.js';
export {
  openRegistryClient,
  openRemoteReferrers,
  remoteBlob,
  remoteManifest,
  remoteReferrerTree,
  remoteReferrersResponseTree,
  remoteResolve,
  remoteTags,
  type RemoteBlob,
  type RemoteDiscovery,
  type RemoteReadOptions,
} from './registry/read.js';
// copy (src/transfer/): one engine for every source/destination pair.
export {
  REFERRERS_MODES,
  copyContent,
  copyLayout,
  recordRoot,
  type CopyDestination,
  type CopyEvent,
  type CopyOptions,
  type CopyResult,
  type ReferrersMode,
} from './transfer/copy.js';
export {
  copyRefs,
  parseCopyEndpoint,
  type ArchiveEndpoint,
  type CopyEndpoint,
  type CopyRefsOptions,
  type RegistryHostEndpoint,
  type SourceEndpoint,
} from './transfer/endpoints.js';
export {
  copyAll,
  isWholeLayoutCopy,
  type CopyAllImage,
  type CopyAllImageEvent,
  type CopyAllOptions,
  type CopyAllResult,
} from './transfer/copy-all.js';
export { planCopy, type CopyPlan, type PlanOptions, type PlannedEdge } from './transfer/plan.js';
export { isYamlList, parseImageList, type ImageListEntry } from './transfer/image-list.js';
export {
  imageName,
  syncImages,
  type SyncImageEvent,
  type SyncImageResult,
  type SyncOptions,
  type SyncResult,
} from './transfer/sync.js';
export {
  placeBlobs,
  type BlobCounts,
  type BlobOutcome,
  type CopyBlobEvent,
  type PlaceOptions,
} from './transfer/place-blobs.js';
export {
  LayoutSource,
  RegistrySource,
  type ContentSource,
  type SourceDoc,
} from './transfer/sources.js';
// serve: layouts as a distribution-spec registry (src/serve/).
export {
  DEFAULT_LIMITS,
  serveLayouts,
  type AccessLogEntry,
  type RunningRegistry,
  type ServeLimits,
  type ServeOptions,
} from './serve/server.js';
export {
  ANONYMOUS,
  ANY_USER,
  AccessControl,
  parseAccessRules,
  parseHtpasswd,
  type AccessControlOptions,
  type AccessRule,
  type Principal,
} from './serve/auth.js';
export {
  DEFAULT_LISTEN,
  assertSafeExposure,
  isLoopbackListen,
  parseListen,
  type ListenAddress,
} from './serve/listen.js';
