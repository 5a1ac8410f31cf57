import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  deleteBlob,
  deleteManifest,
  listIngest,
  parseDigest,
  rootReaching,
  type Descriptor,
  type Layout,
} from '../../src/internal.js';
import { layoutSnapshot } from '../helpers/snapshot.js';
import { tmpLayout } from '../helpers/tmp.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

/** A lease as another running writer holds it (a young file we did not name: judged live). */
function leasedByAnotherWriter(layout: Layout, digest: string): void {
  mkdirSync(join(layout.root, 'ingest'), { recursive: true });
  writeFileSync(join(layout.root, 'ingest', 'another-writer.lease'), `${digest}\n`);
}

/** layer ← manifest (tag m) ← index (tag i). */
async function chain(layout: Layout): Promise<{ layer: Descriptor; manifest: Descriptor }> {
  const cfg = layout.blobs.putBytes(Buffer.from('{}'));
  const l = layout.blobs.putBytes(Buffer.from('layer'));
  const layer = {
    mediaType: 'application/vnd.oci.image.layer.v1.tar',
    digest: l.digest,
    size: l.size,
  };
  const config = { mediaType: 'application/vnd.oci.empty.v1+json', digest: cfg.digest, size: 2 };
  const m = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer] }),
  );
  const manifest = await layout.putManifest(m, { tag: 'm' });
  const i = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ ...manifest }] }),
  );
  await layout.putManifest(i, { tag: 'i' });
  return { layer, manifest };
}

describe('deleteManifest', () => {
  it('refuses while another entry reaches it, and names that entry', async () => {
    const layout = tmpLayout();
    const { manifest } = await chain(layout);
    const before = layoutSnapshot(layout.root);
    await expect(deleteManifest(layout, { tag: 'm' })).rejects.toMatchObject({
      code: 'E_CONFLICT',
      details: { tag: 'i' },
    });
    expect(layoutSnapshot(layout.root)).toEqual(before);
    expect(rootReaching(layout, parseDigest(manifest.digest))?.annotations).toMatchObject({
      'org.opencontainers.image.ref.name': 'i',
    });
  });

  it('deletes every entry for it and its blob when nothing else reaches it', async () => {
    const layout = tmpLayout();
    const { manifest } = await chain(layout);
    await layout.untag('i');
    await layout.tag({ tag: 'm' }, ['also']);
    const r = await deleteManifest(layout, { tag: 'm' });
    expect(r).toMatchObject({ digest: manifest.digest, tags: ['m', 'also'], entriesRemoved: 2 });
    expect(r.blobRemoved).toBe(true);
    expect(layout.tags()).toEqual([]);
  });

  it('removes every entry for the digest (tagged or not), leaving what it references to gc', async () => {
    const layout = tmpLayout();
    const { manifest, layer } = await chain(layout);
    await layout.untag('i');
    await layout.updateIndex((index) => {
      index.manifests.push({ ...manifest });
      return { index, result: undefined };
    });
    const r = await deleteManifest(layout, { digest: manifest.digest });
    expect(r).toEqual({
      digest: manifest.digest,
      tags: ['m'],
      entriesRemoved: 2,
      blobRemoved: true,
    });
    expect(layout.readIndex().manifests.map((e) => e.digest)).not.toContain(manifest.digest);
    expect(layout.blobs.has(parseDigest(layer.digest))).toBe(true);
  });

  it('deletes an unlisted manifest blob, then says E_NOT_FOUND', async () => {
    const layout = tmpLayout();
    const { manifest } = await chain(layout);
    await layout.untag('i');
    await layout.untag('m');
    const r = await deleteManifest(layout, { digest: manifest.digest });
    expect(r).toMatchObject({ entriesRemoved: 0, blobRemoved: true });
    await expect(deleteManifest(layout, { digest: manifest.digest })).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
    });
  });

  it('keeps the blob a running writer has leased (it may be about to commit it again)', async () => {
    const layout = tmpLayout();
    const { manifest } = await chain(layout);
    await layout.untag('i');
    leasedByAnotherWriter(layout, manifest.digest);
    const r = await deleteManifest(layout, { tag: 'm' });
    expect(r).toMatchObject({ entriesRemoved: 1, blobRemoved: false });
    expect(layout.tags()).toEqual([]);
    expect(layout.blobs.has(parseDigest(manifest.digest))).toBe(true);
    // Parked and put back: no parked copy is left behind in ingest/.
    expect(listIngest(layout.root).filter((e) => e.kind !== 'lease')).toEqual([]);
  });

  it('with force, deletes even when reached', async () => {
    const layout = tmpLayout();
    const { manifest } = await chain(layout);
    await deleteManifest(layout, { digest: manifest.digest }, { force: true });
    expect(layout.blobs.has(parseDigest(manifest.digest))).toBe(false);
  });
});

describe('deleteBlob', () => {
  it('refuses a reachable blob and a listed manifest; deletes an unreferenced one', async () => {
    const layout = tmpLayout();
    const { layer, manifest } = await chain(layout);
    const before = layoutSnapshot(layout.root);
    const conflict = { code: 'E_CONFLICT' };
    await expect(deleteBlob(layout, parseDigest(layer.digest))).rejects.toMatchObject(conflict);
    await expect(deleteBlob(layout, parseDigest(manifest.digest))).rejects.toMatchObject(conflict);
    expect(layoutSnapshot(layout.root)).toEqual(before);
    // Leased by this very process (putBytes): its own explicit delete goes ahead.
    const loose = layout.blobs.putBytes(Buffer.from('loose'));
    await deleteBlob(layout, loose.digest);
    expect(layout.blobs.has(loose.digest)).toBe(false);
    await expect(deleteBlob(layout, loose.digest)).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });

  it('refuses a blob another running writer has leased (E_CONFLICT), even with force', async () => {
    const layout = tmpLayout();
    const loose = layout.blobs.putBytes(Buffer.from('loose'));
    leasedByAnotherWriter(layout, loose.digest);
    for (const force of [false, true]) {
      await expect(deleteBlob(layout, loose.digest, { force })).rejects.toMatchObject({
        code: 'E_CONFLICT',
      });
      expect(layout.blobs.has(loose.digest)).toBe(true);
    }
  });
});
