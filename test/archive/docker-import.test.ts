// docker-import.ts on its own: convertDockerArchive over a Staging filled by hand (no tar, no
// importer). One OCI manifest per manifest.json image, config and layers kept as staged, layer
// media types by compression, the diffID check for plain layers, and the index.json entries made
// from RepoTags. The whole import of real docker-save tars is import.test.ts.
import { gzipSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ArchiveContents } from '../../src/archive/contents.js';
import { convertDockerArchive } from '../../src/archive/docker-import.js';
import { Staging } from '../../src/archive/staging.js';
import { digestOf, parseDigest } from '../../src/digest.js';
import { Annotation, MediaType } from '../../src/media-types.js';
import type { Descriptor } from '../../src/schema/descriptor.js';
import { tmpLayout } from '../helpers/tmp.js';

const body = (b: string | Buffer) => Readable.from([Buffer.from(b)]) as never;

const open: Staging[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.discard();
});

interface ImageSpec {
  config?: Record<string, unknown>;
  repoTags?: string[] | null;
  layers?: Buffer[];
}

const LAYER = Buffer.from('plain layer tar bytes');

/** Stage a docker-save archive: `<n>.json` configs, `<n>-<i>.tar` layers, manifest.json. */
async function staged(
  images: ImageSpec[],
  manifestText?: string,
): Promise<{ staging: Staging; contents: ArchiveContents }> {
  const staging = Staging.open(tmpLayout());
  open.push(staging);
  const manifest = [];
  for (const [n, image] of images.entries()) {
    const layers = image.layers ?? [LAYER];
    const config = Buffer.from(
      JSON.stringify(
        image.config ?? {
          architecture: 'arm64',
          os: 'linux',
          rootfs: { type: 'layers', diff_ids: layers.map((l) => digestOf(l)) },
        },
      ),
    );
    await staging.stageFile(`${n}.json`, body(config), config.length);
    const names = [];
    for (const [i, l] of layers.entries()) {
      await staging.stageFile(`${n}-${i}.tar`, body(l), l.length);
      names.push(`${n}-${i}.tar`);
    }
    manifest.push({ Config: `${n}.json`, RepoTags: image.repoTags, Layers: names });
  }
  const text = Buffer.from(manifestText ?? JSON.stringify(manifest));
  await staging.bufferJson('manifest.json', body(text), text.length, 1 << 20);
  return { staging, contents: ArchiveContents.locate(staging, 'test.tar') };
}

function manifestOf(staging: Staging, d: Descriptor): Record<string, unknown> {
  return JSON.parse(
    staging.layout.blobs.readBytes(parseDigest(d.digest), 1 << 20).toString(),
  ) as Record<string, unknown>;
}

describe('convertDockerArchive', () => {
  it('writes an OCI manifest over the staged config and layers, with the platform', async () => {
    const { staging, contents } = await staged([
      {
        repoTags: ['example.com/app:v1'],
        config: {
          architecture: 'arm',
          os: 'linux',
          variant: 'v7',
          rootfs: { type: 'layers', diff_ids: [digestOf(LAYER)] },
        },
      },
    ]);
    const [entry, ...rest] = convertDockerArchive(contents, staging);
    expect(rest).toEqual([]);
    expect(entry).toMatchObject({
      mediaType: MediaType.ImageManifest,
      platform: { architecture: 'arm', os: 'linux', variant: 'v7' },
      annotations: {
        [Annotation.RefName]: 'v1',
        [Annotation.ContainerdImageName]: 'example.com/app:v1',
      },
    });
    const config = staging.files.get('0.json')!;
    expect(manifestOf(staging, entry!)).toEqual({
      schemaVersion: 2,
      mediaType: MediaType.ImageManifest,
      config: { mediaType: MediaType.ImageConfig, digest: config.digest, size: config.size },
      layers: [{ mediaType: MediaType.Layer, digest: digestOf(LAYER), size: LAYER.length }],
    });
  });

  it('labels gzip layers tar+gzip without holding them to the diffID', async () => {
    const gz = gzipSync(LAYER);
    const { staging, contents } = await staged([
      {
        layers: [gz],
        config: { rootfs: { type: 'layers', diff_ids: [digestOf(LAYER)] } },
      },
    ]);
    const [entry] = convertDockerArchive(contents, staging);
    expect(entry!.platform).toBeUndefined(); // the config names no os/architecture
    expect(manifestOf(staging, entry!)['layers']).toEqual([
      { mediaType: MediaType.LayerGzip, digest: digestOf(gz), size: gz.length },
    ]);
  });

  it('refuses a layer codec OCI has no media type for (E_UNSUPPORTED_MEDIA_TYPE)', async () => {
    const bz = Buffer.concat([Buffer.from('BZh9'), LAYER]);
    const { staging, contents } = await staged([
      { layers: [bz], config: { rootfs: { type: 'layers', diff_ids: [digestOf(bz)] } } },
    ]);
    expect(() => convertDockerArchive(contents, staging)).toThrow(
      expect.objectContaining({ code: 'E_UNSUPPORTED_MEDIA_TYPE' }),
    );
  });

  it('refuses a plain layer that is not its diffID, and a layer count mismatch', async () => {
    const wrong = await staged([
      { config: { rootfs: { type: 'layers', diff_ids: [digestOf('other')] } } },
    ]);
    expect(() => convertDockerArchive(wrong.contents, wrong.staging)).toThrow(
      expect.objectContaining({ code: 'E_DIGEST_MISMATCH' }),
    );
    const count = await staged([
      { config: { rootfs: { type: 'layers', diff_ids: [digestOf(LAYER), digestOf(LAYER)] } } },
    ]);
    expect(() => convertDockerArchive(count.contents, count.staging)).toThrow(
      expect.objectContaining({ code: 'E_CORRUPT_ARCHIVE' }),
    );
  });

  it.each([
    ['manifest.json not JSON', '[{', 'E_INVALID_JSON'],
    ['manifest.json of the wrong shape', '{"Config":"0.json"}', 'E_SCHEMA'],
    ['an image without Layers', '[{"Config":"0.json"}]', 'E_SCHEMA'],
    ['a Config the archive lacks', '[{"Config":"nope.json","Layers":[]}]', 'E_CORRUPT_ARCHIVE'],
  ])('refuses %s (%s)', async (_name, text, code) => {
    const { staging, contents } = await staged([{}], text);
    expect(() => convertDockerArchive(contents, staging)).toThrow(
      expect.objectContaining({ code }),
    );
  });

  it('refuses an image config without rootfs.diff_ids (E_SCHEMA)', async () => {
    const { staging, contents } = await staged([{ config: { os: 'linux' } }]);
    expect(() => convertDockerArchive(contents, staging)).toThrow(
      expect.objectContaining({ code: 'E_SCHEMA' }),
    );
  });

  describe('index.json entries', () => {
    const refNames = (entries: Descriptor[]): (string | undefined)[] =>
      entries.map((e) => e.annotations?.[Annotation.RefName]);

    it('gives one entry per RepoTag, once each, and one untagged entry per unnamed image', async () => {
      const { staging, contents } = await staged([
        { repoTags: ['a/x:v1', 'a/x:latest', 'a/x:v1'] },
        { repoTags: null },
        { repoTags: [] },
      ]);
      const entries = convertDockerArchive(contents, staging);
      // The second and third images are the same bytes: one untagged entry.
      expect(refNames(entries)).toEqual(['v1', 'latest', undefined]);
      expect(entries[2]!.annotations).toBeUndefined();
      expect(entries[2]!.digest).toBe(entries[0]!.digest);
    });

    it('keeps the full RepoTag as ref.name when two images share a bare tag, names in full', async () => {
      const other = Buffer.from('another layer');
      const { staging, contents } = await staged([
        { repoTags: ['a/x:v1', 'a/x:only-a'] },
        { repoTags: ['b/y:v1'], layers: [other] },
      ]);
      const entries = convertDockerArchive(contents, staging);
      // docker save writes familiar names; stored as containerd and podman store them.
      expect(refNames(entries)).toEqual(['docker.io/a/x:v1', 'only-a', 'docker.io/b/y:v1']);
      expect(entries.map((e) => e.annotations?.[Annotation.ContainerdImageName])).toEqual([
        'docker.io/a/x:v1',
        'docker.io/a/x:only-a',
        'docker.io/b/y:v1',
      ]);
    });

    it('stores a familiar RepoTag in full (alpine:3 → docker.io/library/alpine:3)', async () => {
      const { staging, contents } = await staged([{ repoTags: ['alpine:3', 'example.com/x:1'] }]);
      const entries = convertDockerArchive(contents, staging);
      expect(entries.map((e) => e.annotations?.[Annotation.ContainerdImageName])).toEqual([
        'docker.io/library/alpine:3',
        'example.com/x:1',
      ]);
    });
  });
});
