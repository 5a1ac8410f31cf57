import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findReachableDescriptor, parseDigest, pushFiles } from '../../src/internal.js';
import { tmpDir, tmpLayout } from '../helpers/tmp.js';

describe('findReachableDescriptor', () => {
  it('finds the descriptor a reachable manifest declares, and nothing for a loose blob', async () => {
    const layout = tmpLayout();
    const src = join(tmpDir(), 'f.txt');
    writeFileSync(src, 'content');
    const { manifest } = await pushFiles(layout, [{ path: src, mediaType: 'text/plain' }], {
      tag: 'v1',
    });
    const layer = manifest.layers[0]!;
    expect(findReachableDescriptor(layout, parseDigest(layer.digest))).toMatchObject({
      mediaType: 'text/plain',
      size: 7,
    });
    const loose = layout.blobs.putBytes(Buffer.from('loose'));
    expect(findReachableDescriptor(layout, loose.digest)).toBeUndefined();
    await layout.untag('v1');
    expect(findReachableDescriptor(layout, parseDigest(layer.digest))).toBeUndefined();
  });
});
