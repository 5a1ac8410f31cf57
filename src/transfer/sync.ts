// `sync IMAGES LAYOUT`: collect every image of a list from its registry into one layout, each under
// its full name, with its referrers and cosign signatures — the connected side of an air-gap
// transfer. Each image is one copy through the engine (copyContent); images run a few at a time,
// one image's failure neither stops nor undoes the others, and a re-run skips what is there (the
// engine skips every blob the layout holds, so only manifests are read again). spec-notes/sync.md.
import { isOcilayoutError, type OcilayoutError } from '../errors.js';
import { Layout, type LayoutOptions } from '../layout/layout.js';
import { formatPlatform } from '../layout/platform.js';
import { openRegistryClient, type RemoteReadOptions } from '../registry/read.js';
import type { BlobLocations } from '../registry/blob-locations.js';
import type { RegistryClient } from '../registry/client.js';
import { loadDockerConfig } from '../registry/docker-config.js';
import { formatRegistryRef, type RegistryRef } from '../registry/reference.js';
import { copyContent, type CopyEvent, type CopyOptions } from './copy.js';
import { forEachLimited } from './for-each-limited.js';
import type { ImageListEntry } from './image-list.js';
import type { BlobOutcome } from './place-blobs.js';
import { RegistrySource } from './sources.js';

export interface SyncOptions extends RemoteReadOptions {
  /** Images copied at once (default 2; each copies its blobs `concurrency` at a time). */
  images?: number | undefined;
  /** Blobs per image at once (default 4). */
  concurrency?: number | undefined;
  /** Referrers of every image, recursively (default true). */
  referrers?: boolean | undefined;
  /** cosign's `sha256-<hex>.sig|.att|.sbom` tags (default true). */
  cosignTags?: boolean | undefined;
  layout?: LayoutOptions | undefined;
  /** Record where each pulled blob was read (see CopyOptions.blobLocations). */
  blobLocations?: BlobLocations | undefined;
  onImage?: ((event: SyncImageEvent) => void) | undefined;
  onEvent?: ((image: string, event: CopyEvent) => void) | undefined;
}

export type SyncImageEvent =
  | { type: 'start'; image: string; index: number; total: number }
  | { type: 'done'; result: SyncImageResult; done: number; total: number };

export interface SyncImageResult {
  /** The image as synced: its full name with tag or digest. */
  image: string;
  status: 'copied' | 'up-to-date' | 'failed';
  /** What the layout's entry for `image` points at (absent when it failed). */
  digest?: string | undefined;
  platforms: string[];
  /** Bytes this run transferred (what was already there is not counted). */
  bytes: number;
  referrers: number;
  cosignTags: string[];
  warnings: string[];
  /** Why it failed (its JSON form is `{code, message, details, hint}`). */
  error?: OcilayoutError | undefined;
}

export interface SyncResult {
  layout: string;
  images: SyncImageResult[];
  copied: number;
  upToDate: number;
  failed: number;
  bytes: number;
}

const TRANSFERRED: readonly BlobOutcome[] = ['copied', 'linked', 'mounted'];

/**
 * Copy every image of `entries` into the layout at `dir` (created if missing), each under its full
 * name. An entry without tag or digest stands for every tag of its repository (listed first).
 * Never throws for one image's failure: the result lists it (and the caller decides the exit
 * status); throws only what stops everything (the list of tags of a repository cannot be read, the
 * layout cannot be created).
 */
export async function syncImages(
  entries: readonly ImageListEntry[],
  dir: string,
  options: SyncOptions = {},
): Promise<SyncResult> {
  const clients = new Map<string, RegistryClient>();
  const dockerConfig =
    options.credentials === undefined ? (options.dockerConfig ?? loadDockerConfig()) : undefined;
  const clientFor = (registry: string): RegistryClient => {
    let c = clients.get(registry);
    if (c === undefined) {
      c = openRegistryClient(registry, { ...options, dockerConfig });
      clients.set(registry, c);
    }
    return c;
  };
  const work = await expandRepositories(entries, clientFor);
  const images: SyncImageResult[] = new Array<SyncImageResult>(work.length);
  let done = 0;
  const copyOptions: CopyOptions = {
    referrers: options.referrers ?? true,
    cosignTags: options.cosignTags ?? true,
    concurrency: options.concurrency,
    blobLocations: options.blobLocations,
  };
  // Created before the images run: N parallel first copies would otherwise race to create it.
  Layout.init(dir, options.layout);
  const lanes = Math.max(1, options.images ?? 2);
  await forEachLimited([...work.keys()], lanes, async (index) => {
    const entry = work[index]!;
    const image = imageName(entry.ref);
    options.onImage?.({ type: 'start', image, index, total: work.length });
    const result = await syncOne(
      entry,
      image,
      dir,
      clientFor,
      {
        ...copyOptions,
        platforms: entry.platforms.map(formatPlatform),
        onEvent: options.onEvent && ((e) => options.onEvent?.(image, e)),
      },
      options.layout,
    );
    images[index] = result;
    options.onImage?.({ type: 'done', result, done: ++done, total: work.length });
  });
  return {
    layout: dir,
    images,
    copied: images.filter((i) => i.status === 'copied').length,
    upToDate: images.filter((i) => i.status === 'up-to-date').length,
    failed: images.filter((i) => i.status === 'failed').length,
    bytes: images.reduce((n, i) => n + i.bytes, 0),
  };
}

async function syncOne(
  entry: ImageListEntry,
  image: string,
  dir: string,
  clientFor: (registry: string) => RegistryClient,
  copyOptions: CopyOptions,
  layoutOptions: LayoutOptions | undefined,
): Promise<SyncImageResult> {
  const platforms = entry.platforms.map(formatPlatform);
  // An image asked for by digest gets containerd's digest-only name `REGISTRY/REPO@DIGEST` from
  // the copy (RegistrySource, copy.ts): no tag, but its repository, so info shows it and a copy
  // to a registry host pushes it by digest (spec-notes/names.md).
  const byDigest = entry.ref.digest !== undefined;
  try {
    const result = await copyContent(
      new RegistrySource(clientFor(entry.ref.registry), entry.ref),
      {
        kind: 'layout',
        open: () => Layout.open(dir, layoutOptions),
        tag: byDigest ? undefined : image,
      },
      copyOptions,
    );
    const bytes = TRANSFERRED.reduce((n, o) => n + result.bytes[o], 0);
    const blobs = TRANSFERRED.reduce((n, o) => n + result.blobs[o], 0);
    return {
      image,
      status: blobs === 0 ? 'up-to-date' : 'copied',
      digest: result.descriptor.digest,
      platforms,
      bytes,
      referrers: result.referrers.length,
      cosignTags: result.cosignTags,
      warnings: result.warnings,
    };
  } catch (err) {
    if (!isOcilayoutError(err)) throw err;
    return failure(image, platforms, err);
  }
}

function failure(image: string, platforms: string[], err: OcilayoutError): SyncImageResult {
  return {
    image,
    status: 'failed',
    platforms,
    bytes: 0,
    referrers: 0,
    cosignTags: [],
    warnings: [],
    error: err,
  };
}

/** `registry/repo:tag` or `registry/repo@digest`: the name users and other tools know it by. */
export function imageName(ref: RegistryRef): string {
  return formatRegistryRef(ref).slice('docker://'.length);
}

/** Entries without tag or digest become one entry per tag of the repository. */
async function expandRepositories(
  entries: readonly ImageListEntry[],
  clientFor: (registry: string) => RegistryClient,
): Promise<ImageListEntry[]> {
  const out: ImageListEntry[] = [];
  for (const e of entries) {
    if (e.ref.tag !== undefined || e.ref.digest !== undefined) {
      out.push(e);
      continue;
    }
    const tags = await clientFor(e.ref.registry).listTags(e.ref.repository);
    for (const tag of tags) out.push({ ...e, ref: { ...e.ref, tag } });
  }
  return out;
}
