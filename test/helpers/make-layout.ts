// Declarative fixture layouts (cacache's CacheContent idea): name some blobs, write an index.json
// over their descriptors, get a real directory. Blobs are written straight to blobs/<alg>/<hex>,
// bypassing BlobStore on purpose, so tests can also build what our writers never would.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { onTestFinished } from 'vitest';
import { digestOf } from '../../src/digest.js';
import { Layout } from '../../src/layout/layout.js';
import { Annotation, MediaType } from '../../src/media-types.js';
import type { Descriptor } from '../../src/schema/descriptor.js';

/**
 * A fresh temp dir removed when the test ends. (test/helpers/tmp.ts does the same but imports the
 * whole public API; core unit tests import only the modules they test.)
 */
export function freshDir(prefix = 'ocilayout-core-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export type JsonObject = { [key: string]: unknown };
export type BlobContent = string | Uint8Array | JsonObject;
export type Descs = Record<string, Descriptor>;

export interface LayoutSpec {
  /** Named blobs, written in order; a function sees the descriptors of the blobs before it. */
  blobs?: Record<string, BlobContent | ((d: Descs) => BlobContent)>;
  /** index.json: an object (compact JSON), raw text, or null for none. Default: empty index. */
  index?: JsonObject | string | null | ((d: Descs) => JsonObject | string);
  /** oci-layout: object, raw text, or null for none. Default `{"imageLayoutVersion":"1.0.0"}`. */
  ociLayout?: JsonObject | string | null;
  /** Extra files, relative to the root, written last (so they may overwrite a blob: corruption). */
  files?: Record<string, string | Uint8Array>;
  algorithm?: 'sha256' | 'sha512';
}

export interface MadeLayout {
  root: string;
  /** Descriptor of each named blob (media type guessed from the content, see mediaTypeOf). */
  d: Descs;
  open(): Layout;
  indexText(): string;
}

/** The bytes a blob spec stands for: JSON objects are compact JSON, strings are UTF-8. */
export function bytesOf(content: BlobContent): Buffer {
  if (typeof content === 'string') return Buffer.from(content, 'utf8');
  if (content instanceof Uint8Array) return Buffer.from(content);
  return Buffer.from(JSON.stringify(content), 'utf8');
}

/** Own mediaType, else manifest/index by shape, else config for other JSON, layer for raw bytes. */
export function mediaTypeOf(content: BlobContent): string {
  if (typeof content === 'string' || content instanceof Uint8Array) return MediaType.Layer;
  if (typeof content['mediaType'] === 'string') return content['mediaType'];
  if ('config' in content && 'layers' in content) return MediaType.ImageManifest;
  if ('manifests' in content) return MediaType.ImageIndex;
  return MediaType.ImageConfig;
}

export function descOf(
  content: BlobContent,
  mediaType = mediaTypeOf(content),
  algorithm: 'sha256' | 'sha512' = 'sha256',
): Descriptor {
  const bytes = bytesOf(content);
  return { mediaType, digest: digestOf(bytes, algorithm), size: bytes.byteLength };
}

export function imageManifest(
  config: Descriptor,
  layers: Descriptor[],
  extra: JsonObject = {},
): JsonObject {
  return { schemaVersion: 2, mediaType: MediaType.ImageManifest, config, layers, ...extra };
}

export function imageIndex(manifests: Descriptor[], extra: JsonObject = {}): JsonObject {
  return { schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests, ...extra };
}

/** An index.json entry: the descriptor with a ref.name (and any other annotations). */
export function tagged(
  d: Descriptor,
  refName: string,
  annotations: Record<string, string> = {},
): Descriptor {
  return { ...d, annotations: { ...annotations, [Annotation.RefName]: refName } };
}

/** A small image: config + one layer + manifest, named `${prefix}config` etc. */
export function imageBlobs(prefix = '', seed = prefix): Record<string, (d: Descs) => BlobContent> {
  return {
    [`${prefix}config`]: () => ({ architecture: 'amd64', os: 'linux', seed }),
    [`${prefix}layer`]: () => `layer of ${seed}`,
    [`${prefix}manifest`]: (d) =>
      imageManifest(d[`${prefix}config`]!, [d[`${prefix}layer`]!], { annotations: { seed } }),
  };
}

/**
 * Image `win` (tagged win): config `aconfig`, a non-distributable layer `foreign` (with urls) the
 * layout does not hold, and `alayer`, which it does.
 */
export function externalLayerLayout(): MadeLayout & { foreign: Descriptor } {
  const foreign = {
    mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
    digest: digestOf('windows base layer'),
    size: 1000,
    urls: ['https://example.com/layer'],
  };
  const m = makeLayout({
    blobs: {
      ...imageBlobs('a'),
      win: (d) => imageManifest(d['aconfig']!, [foreign, d['alayer']!]),
    },
    index: (d) => imageIndex([tagged(d['win']!, 'win')]),
  });
  return Object.assign(m, { foreign });
}

/** The platforms multiPlatformLayout() lists, by blob-name prefix. */
export const PLATFORMS = {
  amd64: { os: 'linux', architecture: 'amd64' },
  arm64: { os: 'linux', architecture: 'arm64' },
  armv7: { os: 'linux', architecture: 'arm', variant: 'v7' },
} as const;

/**
 * One image for three platforms (`amd64manifest`, `arm64manifest`, `armv7manifest`, each with its
 * config and layer) under an image index `idx`, tagged `v1`: what a multi-platform build exports.
 */
export function multiPlatformLayout(root?: string): MadeLayout {
  const blobs: Record<string, (d: Descs) => BlobContent> = {};
  for (const [name, p] of Object.entries(PLATFORMS)) {
    blobs[`${name}config`] = () => ({ ...p, rootfs: { type: 'layers', diff_ids: [] } });
    blobs[`${name}layer`] = () => `layer for ${name}`;
    blobs[`${name}manifest`] = (d) => imageManifest(d[`${name}config`]!, [d[`${name}layer`]!]);
  }
  blobs['idx'] = (d) =>
    imageIndex(
      Object.entries(PLATFORMS).map(([name, p]) => ({ ...d[`${name}manifest`]!, platform: p })),
    );
  return makeLayout({ blobs, index: (d) => imageIndex([tagged(d['idx']!, 'v1')]) }, root);
}

export function makeLayout(
  spec: LayoutSpec = {},
  root: string = join(freshDir(), 'layout'),
): MadeLayout {
  const alg = spec.algorithm ?? 'sha256';
  const d: Descs = {};
  mkdirSync(join(root, 'blobs', alg), { recursive: true });
  for (const [name, value] of Object.entries(spec.blobs ?? {})) {
    const content = typeof value === 'function' ? value(d) : value;
    const desc = descOf(content, mediaTypeOf(content), alg);
    const hex = desc.digest.slice(desc.digest.indexOf(':') + 1);
    writeFileSync(join(root, 'blobs', alg, hex), bytesOf(content));
    d[name] = desc;
  }
  const ociLayout = spec.ociLayout === undefined ? { imageLayoutVersion: '1.0.0' } : spec.ociLayout;
  if (ociLayout !== null) {
    writeFileSync(
      join(root, 'oci-layout'),
      typeof ociLayout === 'string' ? ociLayout : JSON.stringify(ociLayout),
    );
  }
  const indexSpec = spec.index === undefined ? imageIndex([]) : spec.index;
  if (indexSpec !== null) {
    const index = typeof indexSpec === 'function' ? indexSpec(d) : indexSpec;
    writeFileSync(
      join(root, 'index.json'),
      typeof index === 'string' ? index : JSON.stringify(index),
    );
  }
  for (const [rel, content] of Object.entries(spec.files ?? {})) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), content);
  }
  return {
    root,
    d,
    open: () => Layout.open(root),
    indexText: () => readFileSync(join(root, 'index.json'), 'utf8'),
  };
}
