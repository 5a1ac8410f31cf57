import { afterEach, describe, expect, it, vi } from 'vitest';
import { IndexCache } from '../../src/serve/index-cache.js';
import { RACY_SLACK_NS } from '../../src/store/file-version.js';
import { IndexStore } from '../../src/store/index-store.js';
import { tmpLayout } from '../helpers/tmp.js';

// The cache's view of the wall clock, moved ahead to make what was just written count as settled.
const clock = vi.hoisted(() => ({ aheadNs: 0n }));
vi.mock('../../src/store/file-version.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/store/file-version.js')>();
  return { ...real, wallClockNs: () => real.wallClockNs() + clock.aheadNs };
});

describe('IndexCache', () => {
  afterEach(() => {
    clock.aheadNs = 0n;
    vi.restoreAllMocks();
  });

  it('reads a settled index.json once, frozen, until the file changes', async () => {
    const layout = tmpLayout();
    const cache = new IndexCache();
    const reads = vi.spyOn(IndexStore.prototype, 'readVersion');
    clock.aheadNs = 2n * RACY_SLACK_NS;
    const first = cache.read(layout);
    expect(cache.read(layout)).toBe(first);
    expect(reads).toHaveBeenCalledTimes(1);
    expect(Object.isFrozen(first.manifests)).toBe(true);
    await layout.updateIndex((index) => ({
      index: { ...index, annotations: { changed: 'yes' } },
      result: undefined,
    }));
    expect(cache.read(layout).annotations).toEqual({ changed: 'yes' });
  });

  it('keeps no index.json changed too recently for its ctime to be trusted', () => {
    const layout = tmpLayout();
    const cache = new IndexCache();
    const reads = vi.spyOn(IndexStore.prototype, 'readVersion');
    cache.read(layout);
    cache.read(layout);
    expect(reads).toHaveBeenCalledTimes(2);
    expect(cache.size).toBe(0);
  });

  it('holds at most maxChars of index.json text', () => {
    const cache = new IndexCache(10);
    clock.aheadNs = 2n * RACY_SLACK_NS;
    cache.read(tmpLayout()); // its index.json is longer than 10 characters
    expect(cache.size).toBe(0);
  });
});
