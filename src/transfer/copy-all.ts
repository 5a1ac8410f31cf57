// Whole-layout copies: `copy LAYOUT DEST` with no tag or digest in the source copies every image of
// the layout, not one. Into a layout every name is kept (untagged entries go by digest); into
// `docker://HOST/REPO` every image goes to REPO under its tag (a full name's tag); into
// `docker://HOST` every full name goes to its own repository there (the source registry replaced,
// the path kept, `--prefix` in front), as hauler and mindthegap push a bundle. Each image is one
// copyContent, a few at a time, with its referrers and cosign tags; one failure neither stops nor
// undoes the others, and a re-run skips what is there. The shape and approach are sync's
// (sync.ts). Decisions: spec-notes/copy.md "Whole-layout copies".
import { ConflictError, UsageError, isOcilayoutError, type OcilayoutError } from '../errors.js';
import { Layout, type LayoutOptions } from '../layout/layout.js';
import {
  entryName,
  isBareName,
  isDigestName,
  isValidTag,
  isWritableName,
  normalizeImageName,
  splitImageName,
  tagOfName,
} from '../layout/names.js';
import { readIncoming } from '../archive/import-referrers.js';
import { isDialectReferrerEntry } from '../referrers/dialects.js';
import { openRegistryClient } from '../registry/read.js';
import type { RegistryClient } from '../registry/client.js';
import { loadDockerConfig, type LoadedDockerConfig } from '../registry/docker-config.js';
import type { Descriptor } from '../schema/descriptor.js';
import { copyContent, type CopyDestination, type CopyEvent, type CopyOptions } from './copy.js';
import { parseCopyEndpoint, type CopyEndpoint, type CopyRefsOptions } from './endpoints.js';
import { forEachLimited } from './for-each-limited.js';
import type { BlobOutcome } from './place-blobs.js';
import { LayoutSource } from './sources.js';

export interface CopyAllOptions extends Omit<CopyRefsOptions, 'onEvent'> {
  /** Images copied at once (default 2; each copies its blobs `concurrency` at a time). */
  images?: number | undefined;
  /** `docker://HOST` only: repositories go under this path (`mirror` → HOST/mirror/…). */
  prefix?: string | undefined;
  onImage?: ((event: CopyAllImageEvent) => void) | undefined;
  onEvent?: ((image: string, event: CopyEvent) => void) | undefined;
}

export type CopyAllImageEvent =
  | { type: 'start'; image: string; index: number; total: number }
  | { type: 'done'; result: CopyAllImage; done: number; total: number };

export interface CopyAllImage {
  /** The entry's name in the source layout, or its digest when untagged. */
  source: string;
  /** Where it goes: `DIR:NAME`, `DIR@DIGEST`, `docker://HOST/REPO:TAG`; absent when skipped. */
  destination?: string | undefined;
  status: 'copied' | 'up-to-date' | 'failed' | 'skipped';
  /** What the destination names now (absent when it failed); the source's digest when skipped. */
  digest?: string | undefined;
  /** Bytes this run transferred (what was already there is not counted). */
  bytes: number;
  referrers: number;
  cosignTags: string[];
  warnings: string[];
  /** Why it was skipped. */
  reason?: string | undefined;
  /** Why it failed (its JSON form is `{code, message, details, hint}`). */
  error?: OcilayoutError | undefined;
}

export interface CopyAllResult {
  source: string;
  destination: string;
  images: CopyAllImage[];
  copied: number;
  upToDate: number;
  failed: number;
  skipped: number;
  bytes: number;
}

const TRANSFERRED: readonly BlobOutcome[] = ['copied', 'linked', 'mounted'];

/** One image of the source and where it goes (or why it does not). */
interface Item {
  entry: Descriptor;
  source: string;
  to?: { label: string; key: string; target: (ctx: TargetContext) => CopyDestination };
  reason?: string;
}

type ClientFor = (registry: string) => RegistryClient;

interface TargetContext {
  clientFor: ClientFor;
  layout: LayoutOptions | undefined;
}

/**
 * Whether `copy SOURCE DESTINATION` is a whole-layout copy: a layout source naming no tag or
 * digest, unless it lists exactly one entry and the destination names a repository or layout (that
 * is the one-image copy it always was). Never reads more than the source's index.json.
 */
export function isWholeLayoutCopy(source: string, destination: string): boolean {
  const src = parseCopyEndpoint(source, 'source');
  if (src.kind !== 'layout' || src.tag !== undefined || src.digest !== undefined) return false;
  if (parseCopyEndpoint(destination, 'destination').kind === 'registry-host') return true;
  return Layout.open(src.layout).readIndex().manifests.length !== 1;
}

/**
 * Copy every image of the layout `source` (no tag or digest) to `destination`: a layout, a
 * `docker://HOST/REPO` or a `docker://HOST`. Referrers are copied unless `referrers: false`, cosign
 * tags unless `cosignTags: false`. Never throws for one image's failure: the result lists it.
 * Throws E_USAGE for a source naming a tag or digest, a destination naming one or an archive,
 * `prefix` without a `docker://HOST` destination, or nothing to copy; E_CONFLICT (nothing copied)
 * when two different images would get one destination name; and what opening the layouts throws.
 */
export async function copyAll(
  source: string,
  destination: string,
  options: CopyAllOptions = {},
): Promise<CopyAllResult> {
  const src = parseCopyEndpoint(source, 'source');
  const dst = parseCopyEndpoint(destination, 'destination');
  if (src.kind !== 'layout' || src.tag !== undefined || src.digest !== undefined) {
    throw new UsageError(
      'E_USAGE',
      `${source}: a whole-layout copy takes a layout alone, without :TAG or @DIGEST`,
      { source },
    );
  }
  checkDestination(dst, destination, options.prefix);
  const layout = Layout.open(src.layout, options.layout);
  const items = planItems(layout, dst, options.prefix);
  refuseCollisions(items);
  if (!items.some((i) => i.to !== undefined)) {
    const why = items.length === 0 ? 'it lists no image' : items[0]!.reason!;
    throw new UsageError('E_USAGE', `${source}: nothing to copy to ${destination}: ${why}`, {
      source,
      destination,
    });
  }

  let config: LoadedDockerConfig | undefined = options.dockerConfig;
  const clients = new Map<string, RegistryClient>();
  const clientFor: ClientFor = (registry) => {
    let c = clients.get(registry);
    if (c === undefined) {
      config ??= options.credentials === undefined ? loadDockerConfig() : undefined;
      c = openRegistryClient(registry, { ...options, dockerConfig: config });
      clients.set(registry, c);
    }
    return c;
  };
  // Created before the images run: parallel first copies would otherwise race to create it.
  if (dst.kind === 'layout') Layout.init(dst.layout, options.layout);

  const results = new Array<CopyAllImage>(items.length);
  const work: number[] = [];
  items.forEach((item, index) => {
    if (item.to === undefined) results[index] = skipped(item);
    else work.push(index);
  });
  let done = 0;
  const copyOptions: CopyOptions = {
    referrers: options.referrers ?? true,
    cosignTags: options.cosignTags ?? true,
    referrersMode: options.referrersMode,
    platforms: options.platforms,
    convention: options.convention,
    concurrency: options.concurrency,
    link: options.link,
    verify: options.verify,
    chunkSize: options.chunkSize,
    noClobber: options.noClobber,
  };
  await forEachLimited(work, Math.max(1, options.images ?? 2), async (index) => {
    const item = items[index]!;
    options.onImage?.({ type: 'start', image: item.source, index, total: work.length });
    const ctx = { clientFor, layout: options.layout };
    const result = await copyOne(item, layout, ctx, {
      ...copyOptions,
      onEvent: options.onEvent && ((e) => options.onEvent?.(item.source, e)),
    });
    results[index] = result;
    options.onImage?.({ type: 'done', result, done: ++done, total: work.length });
  });
  const count = (s: CopyAllImage['status']): number => results.filter((r) => r.status === s).length;
  return {
    source: layout.root,
    destination:
      dst.kind === 'layout'
        ? dst.layout
        : dst.kind === 'registry-host'
          ? `docker://${dst.registry}${options.prefix === undefined ? '' : `/${options.prefix}`}`
          : destination,
    images: results,
    copied: count('copied'),
    upToDate: count('up-to-date'),
    failed: count('failed'),
    skipped: count('skipped'),
    bytes: results.reduce((n, r) => n + r.bytes, 0),
  };
}

function checkDestination(dst: CopyEndpoint, destination: string, prefix: string | undefined) {
  if (dst.kind === 'archive') {
    throw new UsageError(
      'E_USAGE',
      `${destination}: a whole layout goes into an archive with export`,
      { destination },
      { hint: 'ocilayout export LAYOUT FILE (or name one image: LAYOUT:TAG)' },
    );
  }
  const named =
    dst.kind === 'layout'
      ? (dst.tag ?? dst.digest)
      : dst.kind === 'registry'
        ? (dst.ref.tag ?? dst.ref.digest)
        : undefined;
  if (named !== undefined) {
    throw new UsageError(
      'E_USAGE',
      `${destination} names ${named}; a whole-layout copy keeps every image's own name`,
      { destination },
      { hint: 'name no tag in the destination, or name one image in the source (LAYOUT:TAG)' },
    );
  }
  if (prefix !== undefined) {
    if (dst.kind !== 'registry-host') {
      throw new UsageError('E_USAGE', '--prefix applies to a docker://HOST destination only', {
        prefix,
      });
    }
    if (
      !/^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/.test(
        prefix,
      )
    ) {
      throw new UsageError(
        'E_INVALID_REFERENCE',
        `--prefix ${JSON.stringify(prefix)} is not a repository path`,
        { prefix },
        {
          hint: 'lowercase components of [a-z0-9] joined by ".", "_", "__" or "-", separated by "/"',
        },
      );
    }
  }
}

/**
 * The layout's images (not referrer bookkeeping, not cosign tags: those travel with their
 * subjects), one per name (the last entry of a name wins, as tags.ts resolves), untagged entries
 * once per digest unless a named entry carries that digest anyway; each mapped to its destination.
 */
function planItems(layout: Layout, dst: CopyEndpoint, prefix: string | undefined): Item[] {
  const index = layout.readIndex();
  const plain = readIncoming(layout, index).plain.filter((e) => !isDialectReferrerEntry(e));
  const byName = new Map<string, Descriptor>();
  const untagged = new Map<string, Descriptor>();
  for (const e of plain) {
    const name = entryName(e);
    if (name === undefined) untagged.set(e.digest, e);
    else byName.set(name, e);
  }
  const named = new Set([...byName.values()].map((e) => e.digest));
  const items: Item[] = [...byName].map(([name, entry]) => mapItem(name, entry, dst, prefix));
  for (const [digest, entry] of untagged) {
    if (!named.has(digest)) items.push(mapItem(undefined, entry, dst, prefix));
  }
  return items;
}

function mapItem(
  name: string | undefined,
  entry: Descriptor,
  dst: CopyEndpoint,
  prefix: string | undefined,
): Item {
  const source = name ?? entry.digest;
  switch (dst.kind) {
    case 'layout': {
      // A name we would not write (`app:v1`, `app@sha256:…`): its normalised form when that is
      // writable (what docker means by it), else the image goes untagged. containerd's
      // digest-only name `repo@sha256:…` is kept (copy.ts checks it names the image).
      const keeps = (n: string): boolean => isWritableName(n) || isDigestName(n);
      const normal = name === undefined ? undefined : normalizeImageName(name);
      const tag =
        name !== undefined && keeps(name)
          ? name
          : normal !== undefined && keeps(normal)
            ? normal
            : undefined;
      const dir = dst.layout;
      return {
        entry,
        source,
        to: {
          label: tag === undefined ? `${dir}@${entry.digest}` : `${dir}:${tag}`,
          key: tag ?? entry.digest,
          target: (ctx) => ({ kind: 'layout', open: () => Layout.open(dir, ctx.layout), tag }),
        },
      };
    }
    case 'registry': {
      const tag = name === undefined ? undefined : tagOfName(name);
      if (tag === undefined || !isValidTag(tag)) {
        return { entry, source, reason: untaggedReason(name) };
      }
      const { registry, repository } = dst.ref;
      return registryItem(entry, source, registry, repository, tag);
    }
    case 'registry-host': {
      if (name === undefined) return { entry, source, reason: untaggedReason(name) };
      if (isBareName(name)) {
        return {
          entry,
          source,
          reason: `bare tag ${name} names no repository: copy it with docker://${dst.registry}/REPO`,
        };
      }
      const split = splitImageName(normalizeImageName(name))!;
      const slash = split.repository.indexOf('/');
      const path = split.repository.slice(slash + 1);
      const repository = prefix === undefined ? path : `${prefix}/${path}`;
      if (split.tag === undefined || !isValidTag(split.tag)) {
        if (split.digest === undefined) return { entry, source, reason: untaggedReason(name) };
        // containerd's digest-only name `repo@sha256:…`: pushed into its repository by digest.
        return registryItem(entry, source, dst.registry, repository, undefined);
      }
      return registryItem(entry, source, dst.registry, repository, split.tag);
    }
    case 'archive':
      throw new UsageError('E_USAGE', 'a whole layout goes into an archive with export');
  }
}

function registryItem(
  entry: Descriptor,
  source: string,
  registry: string,
  repository: string,
  tag: string | undefined,
): Item {
  const base = `docker://${registry}/${repository}`;
  return {
    entry,
    source,
    to: {
      label: tag === undefined ? `${base}@${entry.digest}` : `${base}:${tag}`,
      key: `${repository}:${tag ?? entry.digest}`,
      target: (ctx) => ({
        kind: 'registry',
        client: ctx.clientFor(registry),
        repository,
        tag,
      }),
    },
  };
}

function untaggedReason(name: string | undefined): string {
  return name === undefined
    ? 'untagged: a registry would list it under no name (tag it in the layout to copy it)'
    : `${name} has no tag to push it under`;
}

/** Two different images for one destination name: refused before anything moves. */
function refuseCollisions(items: readonly Item[]): void {
  const byKey = new Map<string, Item[]>();
  for (const i of items) {
    if (i.to === undefined) continue;
    byKey.set(i.to.key, [...(byKey.get(i.to.key) ?? []), i]);
  }
  for (const [, same] of byKey) {
    if (new Set(same.map((i) => i.entry.digest)).size < 2) continue;
    const names = same.map((i) => i.source);
    throw new ConflictError(
      'E_CONFLICT',
      `${names.join(' and ')} would both be copied to ${same[0]!.to!.label}`,
      { names, destination: same[0]!.to!.label },
      {
        hint: 'copy to docker://HOST to keep their repositories apart, or copy each by name (LAYOUT:NAME)',
      },
    );
  }
}

async function copyOne(
  item: Item,
  layout: Layout,
  ctx: TargetContext,
  options: CopyOptions,
): Promise<CopyAllImage> {
  const to = item.to!;
  try {
    const target = to.target(ctx);
    // A registry takes every manifest PUT anew (copy.ts pushes them without asking), so there "up
    // to date" means: no blob moved and the tag (or digest) named this content before.
    const before =
      target.kind === 'registry'
        ? await target.client
            .headManifest(target.repository, target.tag ?? item.entry.digest)
            .catch(() => undefined)
        : undefined;
    let planned = 0;
    let blobBytes = 0;
    let moved = 0;
    const result = await copyContent(
      new LayoutSource(layout, { digest: item.entry.digest }),
      target,
      {
        ...options,
        onEvent: (e) => {
          if (e.type === 'plan') planned = e.blobs;
          // Blobs finish before the first manifest starts (transfer in copy.ts): the first
          // `planned` completions are layers and configs.
          if (e.type === 'blob-done' && TRANSFERRED.includes(e.outcome)) {
            const manifest = e.done > planned;
            if (!manifest) moved += 1;
            if (!manifest || target.kind !== 'registry') blobBytes += e.descriptor.size;
          }
          options.onEvent?.(e);
        },
      },
    );
    const transferred = TRANSFERRED.reduce((n, o) => n + result.blobs[o], 0);
    const upToDate =
      target.kind === 'registry'
        ? moved === 0 && before?.digest === result.descriptor.digest
        : transferred === 0;
    return {
      source: item.source,
      destination: to.label,
      status: upToDate ? 'up-to-date' : 'copied',
      digest: result.descriptor.digest,
      bytes: blobBytes,
      referrers: result.referrers.length,
      cosignTags: result.cosignTags,
      warnings: result.warnings,
    };
  } catch (err) {
    if (!isOcilayoutError(err)) throw err;
    return {
      source: item.source,
      destination: to.label,
      status: 'failed',
      bytes: 0,
      referrers: 0,
      cosignTags: [],
      warnings: [],
      error: err,
    };
  }
}

function skipped(item: Item): CopyAllImage {
  return {
    source: item.source,
    status: 'skipped',
    digest: item.entry.digest,
    bytes: 0,
    referrers: 0,
    cosignTags: [],
    warnings: [],
    reason: item.reason,
  };
}
