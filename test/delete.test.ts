import { describe, expect, it } from 'vitest';
import {
  deleteBlob,
  deleteManifest,
  parseDigest,
  rootReaching,
  type Descriptor,
  type Layout,
} from '../src/index.js';
import { layoutSnapshot } from './helpers/snapshot.js';
import { tmpLayout } from './helpers/tmp.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

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
    expect(() => deleteBlob(layout, parseDigest(layer.digest))).toThrow(
      expect.objectContaining({ code: 'E_CONFLICT' }),
    );
    expect(() => deleteBlob(layout, parseDigest(manifest.digest))).toThrow(
      expect.objectContaining({ code: 'E_CONFLICT' }),
    );
    const loose = layout.blobs.putBytes(Buffer.from('loose'));
    deleteBlob(layout, loose.digest);
    expect(layout.blobs.has(loose.digest)).toBe(false);
    expect(() => deleteBlob(layout, loose.digest)).toThrow(
      expect.objectContaining({ code: 'E_NOT_FOUND' }),
    );
  });
});
