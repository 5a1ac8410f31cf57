// sources.ts: the two ContentSources a cross-boundary copy reads from. Both hand out manifests
// checked against the pointing descriptor's size (keeping its identity, the document's media type),
// tags only when the reference carried one, referrers, cosign-style tags, and blobs from an offset.
import { afterEach, describe, expect, it } from 'vitest';
import { rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { digestOf, parseDigest, type Digest } from '../../src/digest.js';
import { MediaType } from '../../src/media-types.js';
import { RegistryClient } from '../../src/registry/client.js';
import { LayoutSource, RegistrySource } from '../../src/transfer/sources.js';
import type { Descriptor } from '../../src/schema/descriptor.js';
import {
  bytesOf,
  imageBlobs,
  imageIndex,
  imageManifest,
  makeLayout,
  tagged,
  type MadeLayout,
} from '../helpers/make-layout.js';
import { startReferrersServer, type ReferrersServer } from '../helpers/referrers-server.js';
import { fastRetry } from '../registry/helpers.js';

async function collect(it: AsyncIterable<Uint8Array>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of it) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks).toString('utf8');
}

/** image a tagged v1 (with a platform on the entry), a referrer of it listed untagged. */
function sourceLayout(): MadeLayout {
  return makeLayout({
    blobs: {
      ...imageBlobs('a'),
      sig: (d) => imageManifest(d['aconfig']!, [], { subject: d['amanifest'] }),
    },
    index: (d) =>
      imageIndex([
        {
          ...tagged(d['amanifest']!, 'v1', { extra: 'x' }),
          platform: { os: 'linux', architecture: 'amd64' },
        },
        d['sig']!,
      ]),
  });
}

describe('LayoutSource', () => {
  it('resolves a tag to a clean descriptor, carrying the tag', async () => {
    const m = sourceLayout();
    const root = await new LayoutSource(m.open(), { tag: 'v1' }).resolveRoot();
    expect(root.tag).toBe('v1');
    expect(root.descriptor).toEqual({
      ...m.d['amanifest'],
      platform: { os: 'linux', architecture: 'amd64' },
    });
    expect(root.parsed.kind).toBe('manifest');
    expect(digestOf(root.bytes)).toBe(m.d['amanifest']!.digest);
  });

  it('carries no tag for a digest, and the entry name for a bare layout', async () => {
    const one = makeLayout({
      blobs: imageBlobs('a'),
      index: (d) => imageIndex([tagged(d['amanifest']!, 'docker.io/library/app:1.0')]),
    });
    const digest = parseDigest(one.d['amanifest']!.digest);
    expect((await new LayoutSource(one.open(), { digest }).resolveRoot()).tag).toBeUndefined();
    // The full name, as written: a layout destination keeps it, a registry takes its tag.
    expect((await new LayoutSource(one.open(), {}).resolveRoot()).tag).toBe(
      'docker.io/library/app:1.0',
    );
  });

  it("keeps the pointing descriptor but takes the document's media type", async () => {
    const m = sourceLayout();
    const src = new LayoutSource(m.open(), {});
    const pointing: Descriptor = { ...m.d['amanifest']!, mediaType: 'application/x.other' };
    const doc = await src.manifest({ ...pointing, annotations: { a: 'b' } });
    expect(doc.descriptor).toEqual({
      ...m.d['amanifest'],
      mediaType: MediaType.ImageManifest,
      annotations: { a: 'b' },
    });
  });

  it('refuses a descriptor whose size differs from the document (E_SIZE_MISMATCH)', async () => {
    const m = sourceLayout();
    const src = new LayoutSource(m.open(), {});
    const wrong = { ...m.d['amanifest']!, size: m.d['amanifest']!.size + 1 };
    // (LayoutSource throws synchronously from its Promise-returning methods; callers await.)
    await expect((async () => src.manifest(wrong))()).rejects.toMatchObject({
      code: 'E_SIZE_MISMATCH',
    });
  });

  it('lists referrers from the layout and finds tagged manifests', async () => {
    const m = sourceLayout();
    const src = new LayoutSource(m.open(), {});
    const r = await src.referrers(parseDigest(m.d['amanifest']!.digest));
    expect(r.via).toBe('layout');
    expect(r.descriptors.map((d) => d.digest)).toEqual([m.d['sig']!.digest]);
    expect((await src.tagged('v1'))?.descriptor.digest).toBe(m.d['amanifest']!.digest);
    expect(await src.tagged('nope')).toBeUndefined();
  });

  it('reads index.json once for all its tag lookups, whatever changes after', async () => {
    const m = sourceLayout();
    const layout = m.open();
    let reads = 0;
    const readIndex = layout.readIndex.bind(layout);
    layout.readIndex = () => (reads++, readIndex());
    const src = new LayoutSource(layout, {});
    for (const tag of ['v1', 'nope', 'v1', 'sha256-x.sig']) await src.tagged(tag);
    expect(reads).toBe(1);
    await layout.untag('v1');
    expect((await src.tagged('v1'))?.descriptor.digest).toBe(m.d['amanifest']!.digest);
  });

  it('names the layout and the way to check it when a manifest is missing', async () => {
    const m = sourceLayout();
    rmSync(join(m.root, 'blobs', 'sha256', m.d['amanifest']!.digest.slice(7)));
    const src = new LayoutSource(m.open(), {});
    const err = await Promise.resolve()
      .then(() => src.manifest(m.d['amanifest']!))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'E_NOT_FOUND',
      message: expect.stringContaining('the source layout is incomplete'),
      details: { digest: m.d['amanifest']!.digest, layout: m.root },
      hint: expect.stringContaining('fsck'),
    });
    expect((err as Error).cause).toMatchObject({ code: 'E_NOT_FOUND' });
  });

  it('opens blobs verified from the start, or raw from an offset', async () => {
    const m = sourceLayout();
    const src = new LayoutSource(m.open(), {});
    const layer = m.d['alayer']!;
    expect(await collect(src.openBlob(layer, 0))).toBe('layer of a');
    expect(await collect(src.openBlob(layer, 6))).toBe('of a');
    await expect(collect(src.openBlob({ ...layer, size: 3 }, 0))).rejects.toMatchObject({
      code: 'E_SIZE_MISMATCH',
    });
    // A resumed upload reads through the blob store too: a symlinked blob is refused at any offset.
    const path = join(m.root, 'blobs', 'sha256', layer.digest.slice('sha256:'.length));
    rmSync(path);
    symlinkSync('/etc/hostname', path);
    expect(() => src.openBlob(layer, 6)).toThrow(
      expect.objectContaining({ code: 'E_UNSAFE_ENTRY' }),
    );
  });
});

describe('RegistrySource', () => {
  let server: ReferrersServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function pushed(): Promise<{
    client: RegistryClient;
    manifest: Descriptor;
    layer: Descriptor;
  }> {
    server = await startReferrersServer();
    const client = new RegistryClient(server.host, { retry: fastRetry(2) });
    const layerBytes = Buffer.from('remote layer bytes');
    const layer = { mediaType: MediaType.Layer, digest: digestOf(layerBytes), size: 18 };
    server.blobs.set(`app@${layer.digest}`, layerBytes);
    const config = { mediaType: MediaType.Empty, digest: digestOf('{}'), size: 2 };
    server.blobs.set(`app@${config.digest}`, Buffer.from('{}'));
    const bytes = bytesOf(imageManifest(config, [layer]));
    const put = await client.putManifest('app', 'v1', bytes, MediaType.ImageManifest);
    const manifest = { mediaType: MediaType.ImageManifest, digest: put.digest, size: bytes.length };
    return { client, manifest, layer };
  }

  it('resolves a tag (carried) or a digest (its digest-only name, even beside a tag), verified', async () => {
    const { client, manifest } = await pushed();
    const byTag = await new RegistrySource(client, {
      registry: server!.host,
      repository: 'app',
      tag: 'v1',
    }).resolveRoot();
    expect(byTag).toMatchObject({ tag: 'v1', descriptor: { digest: manifest.digest } });
    const byDigest = await new RegistrySource(client, {
      registry: server!.host,
      repository: 'app',
      tag: 'v1', // app:v1@sha256:…: the digest wins, and no tag is carried over
      digest: manifest.digest as Digest,
    }).resolveRoot();
    // containerd's name for an image pulled by digest (copy.ts decides what each destination keeps).
    expect(byDigest.tag).toBe(`${server!.host}/app@${manifest.digest}`);
    expect(byDigest.descriptor.digest).toBe(manifest.digest);
  });

  it('checks manifest sizes, answers undefined for an absent tag, reads blobs from an offset', async () => {
    const { client, manifest, layer } = await pushed();
    const src = new RegistrySource(client, { registry: server!.host, repository: 'app' });
    expect(src.label).toContain('/app');
    expect(src.remote).toEqual({ client, repository: 'app' });
    expect((await src.manifest(manifest)).descriptor).toEqual(manifest);
    await expect(src.manifest({ ...manifest, size: 1 })).rejects.toMatchObject({
      code: 'E_SIZE_MISMATCH',
    });
    expect(await src.tagged('nope')).toBeUndefined();
    expect((await src.tagged('v1'))?.descriptor.digest).toBe(manifest.digest);
    expect(await collect(src.openBlob(layer, 0))).toBe('remote layer bytes');
    expect(await collect(src.openBlob(layer, 7))).toBe('layer bytes');
  });

  it('lists referrers through the registry', async () => {
    const { client, manifest } = await pushed();
    const sig = bytesOf(
      imageManifest({ mediaType: MediaType.Empty, digest: digestOf('{}'), size: 2 }, [], {
        subject: manifest,
        artifactType: 'application/x.sig',
      }),
    );
    await client.putManifest('app', digestOf(sig), sig, MediaType.ImageManifest);
    const src = new RegistrySource(client, { registry: server!.host, repository: 'app' });
    const r = await src.referrers(manifest.digest as Digest);
    expect(r).toMatchObject({ via: 'api', descriptors: [{ digest: digestOf(sig) }] });
  });
});
