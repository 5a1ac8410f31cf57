// export-entries.ts on its own: resolveRef (tag, full reference, digest) and uniqueEntries. What
// an export lists and carries as a whole is planExport's (transfer/export.test.ts).
import { describe, expect, it } from 'vitest';
import { resolveRef, uniqueEntries } from '../../src/archive/export-entries.js';
import { digestOf } from '../../src/digest.js';
import { refsLayout as layout } from './fixtures.js';

describe('resolveRef', () => {
  it('finds a tag by ref.name or by a full name ending in :TAG, named by its full name', () => {
    const m = layout();
    const l = m.open();
    const index = l.readIndex();
    expect(resolveRef(l, index, 'rc')).toEqual({ tag: 'rc', entry: index.manifests[1] });
    const full = { tag: 'example.com/app:v1', entry: index.manifests[0] };
    expect(resolveRef(l, index, 'v1')).toEqual(full);
    expect(resolveRef(l, index, 'example.com/app:v1')).toEqual(full);
  });

  it('resolves a digest, listed or only in blobs/, with no tag', () => {
    const m = layout();
    const l = m.open();
    const index = l.readIndex();
    expect(resolveRef(l, index, m.d['bmanifest']!.digest)).toMatchObject({
      tag: undefined,
      entry: { digest: m.d['bmanifest']!.digest },
    });
    expect(resolveRef(l, index, m.d['cmanifest']!.digest).entry.digest).toBe(
      m.d['cmanifest']!.digest,
    );
  });

  it('refuses an unknown tag and an absent digest (E_NOT_FOUND)', () => {
    const m = layout();
    const l = m.open();
    expect(() => resolveRef(l, l.readIndex(), 'nope')).toThrow(
      expect.objectContaining({ code: 'E_NOT_FOUND' }),
    );
    expect(() => resolveRef(l, l.readIndex(), `sha256:${'0'.repeat(64)}`)).toThrow(
      expect.objectContaining({ code: 'E_NOT_FOUND' }),
    );
  });
});

describe('uniqueEntries', () => {
  it('drops exact duplicates only, keeping the first', () => {
    const a = { mediaType: 'x', digest: digestOf('a'), size: 1 };
    const named = { ...a, annotations: { n: '1' } };
    expect(uniqueEntries([a, named, { ...a }, named])).toEqual([a, named]);
  });
});
