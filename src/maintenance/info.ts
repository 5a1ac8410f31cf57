// A summary of one layout for `ocilayout info`: what index.json lists, what blobs/ and ingest/ hold.
// Read-only; cheap (one stat per blob, no hashing). Integrity is fsck's job.
import type { Layout } from '../layout/layout.js';
import { isDigestName } from '../layout/names.js';
import { listNames } from '../layout/tags.js';
import { isFallbackTagName } from '../referrers/fallback-tag-name.js';
import { IMAGE_LAYOUT_VERSION } from '../schema/layout-files.js';
import { listIngest } from '../store/ingest.js';

export interface LayoutInfo {
  layout: string;
  imageLayoutVersion: string;
  /** Entries in index.json `manifests`, tagged or not. */
  indexEntries: number;
  /** User tags, sorted (referrers fallback tags are counted separately). */
  tags: string[];
  /** containerd's digest-only names (`REGISTRY/REPO@sha256:…`, images synced by digest), sorted. */
  digestNames: string[];
  fallbackTags: number;
  blobs: { count: number; totalBytes: number };
  /** Files under blobs/ whose names are not digests we support. */
  strays: string[];
  ingest: { files: number; live: number; abandoned: number };
}

/** Throws E_INVALID_JSON / E_SCHEMA for a malformed index.json (the file is named). */
export function layoutInfo(layout: Layout): LayoutInfo {
  const index = layout.readIndex();
  const allTags = layout.tags();
  const { blobs, strays } = layout.blobs.list();
  let totalBytes = 0;
  for (const d of blobs) totalBytes += layout.blobs.stat(d)?.size ?? 0;
  const ingest = listIngest(layout.root);
  const live = ingest.filter((e) => e.live).length;
  return {
    layout: layout.root,
    // Layout.open refuses any other version, so an opened layout has exactly this one.
    imageLayoutVersion: IMAGE_LAYOUT_VERSION,
    indexEntries: index.manifests.length,
    tags: allTags.filter((t) => !isFallbackTagName(t)),
    digestNames: listNames(index).filter(isDigestName),
    fallbackTags: allTags.filter(isFallbackTagName).length,
    blobs: { count: blobs.length, totalBytes },
    strays,
    ingest: { files: ingest.length, live, abandoned: ingest.length - live },
  };
}
