// The public API of ocilayout: everything the CLI uses, and nothing else, is exported from here.
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
export { withLayoutLock, type HeldLock, type LockOptions } from './store/lock.js';
export { listIngest, liveLeasedDigests, releaseLease, type IngestEntry } from './store/ingest.js';
export { writeFileDurable, fsyncDir } from './store/durable.js';
export * from './store/paths.js';
export * from './refs.js';
export * from './tags.js';
export * from './graph.js';
export * from './artifact.js';
export * from './layout.js';
export * from './copy.js';
export * from './push-pull.js';
export * from './output-file.js';
export * from './layout-info.js';
export * from './delete.js';
export * from './blob-lookup.js';
export { isFallbackTagName } from './referrers/fallback-tag-name.js';
