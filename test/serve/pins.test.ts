// A blob pushed through serve is kept from gc until a manifest references it: pins lease it in
// the layout's ordinary lease protocol, for the grace period, in any process's gc.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_ROOT_POLICY,
  Layout,
  fsck,
  gc,
  liveLeasedDigests,
  type Digest,
} from '../../src/internal.js';
import { BlobPins } from '../../src/serve/pins.js';
import { tmpDir, tmpLayout } from '../helpers/tmp.js';
import { pushBlob, pushImage, sha256, startServe, testImage } from './helpers.js';

const leases = (layout: Layout): string[] =>
  readdirSync(layout.ingestPath).filter((n) => n.endsWith('.lease'));

describe('pinned blobs and gc', () => {
  it('gc keeps a pushed blob no manifest references yet; it goes once the server stops', async () => {
    const root = tmpDir();
    const reg = await startServe(root);
    const d = (await pushBlob(reg.url, 'app', Buffer.from('layer pushed first'))) as Digest;
    const layout = Layout.open(join(root, 'app'));
    await gc(layout, { policy: DEFAULT_ROOT_POLICY });
    expect(layout.blobs.has(d)).toBe(true);
    await reg.close(); // releases every pin
    expect(leases(layout)).toEqual([]);
    await gc(layout, { policy: DEFAULT_ROOT_POLICY });
    expect(layout.blobs.has(d)).toBe(false);
  });

  it('the manifest pushed within the grace period keeps its blobs for good', async () => {
    const root = tmpDir();
    const reg = await startServe(root, { limits: { blobGraceMs: 100 } });
    const img = testImage('graced');
    await pushImage(reg.url, 'app', img, 'v1');
    await new Promise((r) => setTimeout(r, 250)); // the pins have expired
    const layout = Layout.open(join(root, 'app'));
    expect(leases(layout)).toEqual([]);
    await gc(layout, { policy: DEFAULT_ROOT_POLICY });
    expect((await fetch(`${reg.url}/v2/app/manifests/v1`)).status).toBe(200);
    const blob = await fetch(`${reg.url}/v2/app/blobs/${sha256(img.layer)}`);
    expect(await blob.text()).toBe(img.layer.toString());
  });

  it('a pin outlives the operation it was taken in, and unpin keeps the rest of its batch', async () => {
    const layout = tmpLayout();
    const pins = new BlobPins(60_000);
    try {
      await layout.operation(async () => {
        await pins.pin(layout.root, 'sha256:aa');
        await pins.pin(layout.root, 'sha256:bb');
      });
      expect(pins.isPinned(layout.root, 'sha256:aa')).toBe(true);
      expect(leases(layout)).toHaveLength(1);
      await pins.unpin(layout.root, 'sha256:aa');
      expect(pins.isPinned(layout.root, 'sha256:aa')).toBe(false);
      expect(pins.isPinned(layout.root, 'sha256:bb')).toBe(true);
      await new Promise((r) => setTimeout(r, 20)); // the old lease's release settles
      expect([...liveLeasedDigests(layout.root)]).toEqual(['sha256:bb']);
    } finally {
      pins.close();
    }
  });
});

describe('gc while clients push', () => {
  it('gc running in a loop during pushes through serve loses nothing; fsck is clean after', async () => {
    const root = tmpDir();
    const reg = await startServe(root);
    await pushImage(reg.url, 'app', testImage('seed'), 'seed'); // the layout exists for gc
    const layout = Layout.open(join(root, 'app'));
    let stop = false;
    let runs = 0;
    const collector = (async () => {
      while (!stop) {
        await gc(layout, { policy: DEFAULT_ROOT_POLICY });
        runs++;
      }
    })();
    const images = Array.from({ length: 8 }, (_, i) => testImage(`concurrent-${i}`));
    try {
      for (const [i, img] of images.entries()) {
        expect((await pushImage(reg.url, 'app', img, `t${i}`)).status).toBe(201);
      }
    } finally {
      stop = true;
      await collector;
    }
    expect(runs).toBeGreaterThan(0);
    await reg.close();
    await gc(layout, { policy: DEFAULT_ROOT_POLICY });
    for (const [i, img] of images.entries()) {
      expect(layout.resolve({ tag: `t${i}` }).digest).toBe(img.digest);
      expect(layout.blobs.has(sha256(img.layer) as Digest)).toBe(true);
      expect(layout.blobs.has(sha256(img.config) as Digest)).toBe(true);
    }
    const report = await fsck(layout.root);
    expect(report.findings.filter((f) => f.severity === 'error')).toEqual([]);
  });
});
