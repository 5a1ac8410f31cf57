// sinks.ts: where a copy writes. LayoutSink hard-links from a layout source on the same filesystem,
// else stores verified blobs (skipping what is there), reports progress, and rolls back only what it
// added (linked blobs included) and nobody else needs; RegistrySink
// uploads, skips, mounts from the same registry, and puts manifests by digest or tag.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { digestOf, parseDigest } from '../../src/digest.js';
import { MediaType } from '../../src/media-types.js';
import { RegistryClient } from '../../src/registry/client.js';
import { LayoutSink, RegistrySink } from '../../src/transfer/sinks.js';
import { LayoutSource, RegistrySource, type ContentSource } from '../../src/transfer/sources.js';
import { releaseLease } from '../../src/store/ingest.js';
import { ownerToken } from '../../src/store/liveness.js';
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
import { layoutSnapshot } from '../helpers/snapshot.js';
import { fastRetry } from '../registry/helpers.js';

function source(): MadeLayout {
  return makeLayout({
    blobs: imageBlobs('a'),
    index: (d) => imageIndex([tagged(d['amanifest']!, 'v1')]),
  });
}

const sinks: string[] = [];
afterEach(() => {
  for (const root of sinks.splice(0)) releaseLease(root);
});

function emptySink(): { sink: LayoutSink; dst: MadeLayout } {
  const dst = makeLayout();
  sinks.push(dst.root);
  return { sink: new LayoutSink(dst.open()), dst };
}

/** A lease file owned by a live process other than this one (our parent). */
function foreignLease(root: string, digests: string[]): void {
  const stat = readFileSync(`/proc/${process.ppid}/stat`, 'utf8');
  const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
  const host = ownerToken().split('.')[0]!;
  const name = `${host}.${process.ppid}.${start}.0123456789ab.lease`;
  writeFileSync(join(root, 'ingest', name), digests.map((d) => `${d}\n`).join(''));
}

describe('LayoutSink', () => {
  it('copies a blob with progress, then skips it', async () => {
    const src = source();
    const { sink, dst } = emptySink();
    const from = new LayoutSource(src.open(), {});
    const progress: number[] = [];
    const layer = src.d['alayer']!;
    expect(await sink.putBlob(layer, from, (n) => progress.push(n))).toBe('copied');
    expect(progress.at(-1)).toBe(layer.size);
    expect(dst.open().blobs.has(parseDigest(layer.digest))).toBe(true);
    const unopenable = {
      openBlob: () => {
        throw new Error('a present blob is not read again');
      },
    } as unknown as ContentSource;
    expect(await sink.putBlob(layer, unopenable, () => undefined)).toBe('skipped');
    expect(sink.label).toBe(dst.root);
  });

  it('refuses bytes that do not match the descriptor and stores nothing', async () => {
    const src = source();
    const { sink, dst } = emptySink();
    const before = layoutSnapshot(dst.root);
    const evil = {
      openBlob: async function* () {
        await Promise.resolve();
        yield Buffer.from('layer of b'); // same size as 'layer of a', other bytes
      },
    } as unknown as ContentSource;
    await expect(sink.putBlob(src.d['alayer']!, evil, () => undefined)).rejects.toMatchObject({
      code: 'E_DIGEST_MISMATCH',
    });
    expect(layoutSnapshot(dst.root)).toEqual(before);
    expect(await sink.rollback()).toBe(0);
  });

  it('stores manifests by their bytes, verified against the descriptor', async () => {
    const src = source();
    const { sink, dst } = emptySink();
    const doc = await new LayoutSource(src.open(), { tag: 'v1' }).resolveRoot();
    expect(await sink.putManifest(doc)).toEqual({ outcome: 'copied' });
    expect(await sink.putManifest(doc)).toEqual({ outcome: 'skipped' });
    expect(dst.open().blobs.has(parseDigest(doc.descriptor.digest))).toBe(true);
    const bad = { ...doc, descriptor: { ...doc.descriptor, digest: digestOf('x') } };
    // (putManifest throws synchronously from its Promise-returning signature; callers await.)
    await expect((async () => sink.putManifest(bad))()).rejects.toMatchObject({
      code: 'E_DIGEST_MISMATCH',
    });
  });

  it.each([true, false])(
    'from a layout source (link %s): hard links blobs and manifests, and rolls them back',
    async (link) => {
      const src = source();
      const { sink, dst } = emptySink();
      const before = layoutSnapshot(dst.root);
      const from = new LayoutSource(src.open(), { tag: 'v1' });
      const outcomes: string[] = [];
      const blobs = [src.d['aconfig']!, src.d['alayer']!];
      await sink.putBlobs(blobs, from, { link, onDone: (_d, o) => outcomes.push(o) });
      const doc = await from.resolveRoot();
      outcomes.push((await sink.putManifest(doc, from)).outcome);
      const kind = link ? 'linked' : 'copied';
      expect(outcomes).toEqual([kind, kind, kind]);
      for (const d of [...blobs, doc.descriptor]) {
        const ino = (l: MadeLayout): number =>
          statSync(l.open().blobs.path(parseDigest(d.digest))).ino;
        expect(ino(dst) === ino(src), d.digest).toBe(link);
      }
      expect(await sink.rollback()).toBe(3);
      expect(layoutSnapshot(dst.root)).toEqual(before);
      expect(src.open().blobs.has(parseDigest(doc.descriptor.digest))).toBe(true);
    },
  );

  it('rolls back only the blobs it added and nothing index.json or another writer needs', async () => {
    const src = source();
    const from = new LayoutSource(src.open(), {});
    // The destination already holds the config; index.json there lists image b, which shares
    // the layer of a (same bytes as a's layer).
    const dst = makeLayout({
      blobs: {
        config: { architecture: 'amd64', os: 'linux', seed: 'a' },
        blayer: 'layer of a',
        bmanifest: (d) => imageManifest(d['config']!, [d['blayer']!]),
      },
      index: (d) => imageIndex([tagged(d['bmanifest']!, 'b')]),
    });
    sinks.push(dst.root);
    const before = layoutSnapshot(dst.root);
    // The shared layer was already there: rollback must not take it.
    const sink = new LayoutSink(dst.open());
    for (const n of ['aconfig', 'alayer']) await sink.putBlob(src.d[n]!, from, () => undefined);
    const doc = await from.manifest(src.d['amanifest']!);
    await sink.putManifest(doc);
    expect(await sink.rollback()).toBe(1); // only the manifest was new
    expect(layoutSnapshot(dst.root)).toEqual(before);
    expect(await sink.rollback()).toBe(0);
  });

  it('keeps on rollback a blob another live process leased', async () => {
    const src = source();
    const { sink, dst } = emptySink();
    const from = new LayoutSource(src.open(), {});
    for (const n of ['aconfig', 'alayer']) await sink.putBlob(src.d[n]!, from, () => undefined);
    foreignLease(dst.root, [src.d['alayer']!.digest]);
    expect(await sink.rollback()).toBe(1);
    const layout = dst.open();
    expect(layout.blobs.has(parseDigest(src.d['alayer']!.digest))).toBe(true);
    expect(layout.blobs.has(parseDigest(src.d['aconfig']!.digest))).toBe(false);
  });

  it('keeps what a manifest it added references once index.json lists that manifest', async () => {
    // Another process copied the same image meanwhile: it found our blobs present, committed a
    // tag on the manifest and exited (no lease left). Rollback parks the manifest before it reads
    // index.json, so it must read the parked copy to see that the config and layer are needed.
    const src = source();
    const { sink, dst } = emptySink();
    const from = new LayoutSource(src.open(), {});
    for (const n of ['aconfig', 'alayer']) await sink.putBlob(src.d[n]!, from, () => undefined);
    await sink.putManifest(await from.manifest(src.d['amanifest']!));
    writeFileSync(
      join(dst.root, 'index.json'),
      JSON.stringify(imageIndex([tagged(src.d['amanifest']!, 'v1')])),
    );
    expect(await sink.rollback()).toBe(0);
    const layout = dst.open();
    for (const n of ['aconfig', 'alayer', 'amanifest'])
      expect(layout.blobs.has(parseDigest(src.d[n]!.digest)), n).toBe(true);
  });

  it('keeps everything it added when index.json cannot be read', async () => {
    const src = source();
    const { sink, dst } = emptySink();
    await sink.putBlob(src.d['alayer']!, new LayoutSource(src.open(), {}), () => undefined);
    writeFileSync(join(dst.root, 'index.json'), '{');
    expect(await sink.rollback()).toBe(0);
    expect(dst.open().blobs.has(parseDigest(src.d['alayer']!.digest))).toBe(true);
  });
});

describe('RegistrySink', () => {
  let server: ReferrersServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('uploads, skips what the repository has, and mounts from a source on the same registry', async () => {
    server = await startReferrersServer();
    const client = new RegistryClient(server.host, { retry: fastRetry(2) });
    const src = source();
    const layer = src.d['alayer']!;
    const sink = new RegistrySink(client, 'dst');
    const from = new LayoutSource(src.open(), {});
    const progress: number[] = [];
    expect(await sink.putBlob(layer, from, (n) => progress.push(n))).toBe('copied');
    expect(progress.at(-1)).toBe(layer.size);
    expect(server.blobs.get(`dst@${layer.digest}`)?.toString()).toBe('layer of a');
    expect(await sink.putBlob(layer, from, () => undefined)).toBe('skipped');
    const remote = new RegistrySource(client, { registry: server.host, repository: 'dst' });
    expect(await new RegistrySink(client, 'other').putBlob(layer, remote, () => undefined)).toBe(
      'mounted',
    );
    expect(server.blobs.has(`other@${layer.digest}`)).toBe(true);
    expect(sink.label).toBe(`${server.host}/dst`);
  });

  it('mounts from repositories the blob-location record names on its own registry only', async () => {
    server = await startReferrersServer();
    const client = new RegistryClient(server.host, { retry: fastRetry(2) });
    const src = source();
    const layer = src.d['alayer']!;
    const from = new LayoutSource(src.open(), {});
    expect(await new RegistrySink(client, 'seen').putBlob(layer, from, () => undefined)).toBe(
      'copied',
    );
    const asked: string[] = [];
    const locations = {
      lookup: (registry: string, digest: string) => {
        asked.push(`${registry} ${digest}`);
        // The record's entries are per registry: the sink asks for its own host only.
        return registry === server!.host ? ['gone', 'dst', 'seen'] : ['elsewhere'];
      },
      record: () => undefined,
      save: () => undefined,
    };
    const before = server.log.length;
    const sink = new RegistrySink(client, 'dst', undefined, locations);
    expect(await sink.putBlob(layer, from, () => undefined)).toBe('mounted');
    expect(asked).toEqual([`${server.host} ${layer.digest}`]);
    // Its own repository is never a mount source; `gone` is refused (202, cancelled), `seen` mounts.
    expect(server.log.slice(before).filter((l) => !l.startsWith('HEAD '))).toEqual([
      `POST /v2/dst/blobs/uploads/?mount=${layer.digest}&from=gone`,
      'DELETE /v2/dst/blobs/uploads/u1',
      `POST /v2/dst/blobs/uploads/?mount=${layer.digest}&from=seen`,
    ]);
    expect(sink.remote).toEqual({ registry: server.host, repository: 'dst' });
  });

  it('puts a manifest by digest (default) or by a tag, and returns OCI-Subject', async () => {
    server = await startReferrersServer();
    const client = new RegistryClient(server.host, { retry: fastRetry(2) });
    const empty = { mediaType: MediaType.Empty, digest: digestOf('{}'), size: 2 };
    server.blobs.set(`r@${empty.digest}`, Buffer.from('{}'));
    const subjectBytes = bytesOf(imageManifest(empty, [empty]));
    const subject = {
      mediaType: MediaType.ImageManifest,
      digest: digestOf(subjectBytes),
      size: subjectBytes.length,
    };
    const sink = new RegistrySink(client, 'r');
    const doc = (bytes: Buffer) => ({
      descriptor: {
        mediaType: MediaType.ImageManifest,
        digest: digestOf(bytes),
        size: bytes.length,
      },
      bytes,
      parsed: {
        kind: 'manifest' as const,
        mediaType: MediaType.ImageManifest,
        doc: JSON.parse(bytes.toString()),
      },
    });
    expect(await sink.putManifest(doc(subjectBytes), undefined, 'v1')).toEqual({
      outcome: 'copied',
      ociSubject: undefined,
    });
    expect(server.tags.get('r:v1')).toBe(subject.digest);
    const sig = bytesOf(imageManifest(empty, [empty], { subject }));
    expect(await sink.putManifest(doc(sig))).toEqual({
      outcome: 'copied',
      ociSubject: subject.digest,
    });
    expect(server.manifests.has(`r@${digestOf(sig)}`)).toBe(true);
    expect([...server.tags.keys()]).toEqual(['r:v1']);
  });
});
