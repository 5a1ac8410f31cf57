// The record of where blobs were last seen: read back across processes (instances), newest first,
// bounded, merged with what another writer saved meanwhile, and never in the way: a missing,
// corrupt or unwritable file reads as empty and a failed save is silent.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  BLOB_LOCATIONS_FILE,
  openBlobLocations,
  userBlobLocationsPath,
} from '../../src/registry/blob-locations.js';
import { compileChildLib } from '../helpers/child-lib.js';
import { tmpDir } from '../helpers/tmp.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const D3 = `sha256:${'3'.repeat(64)}`;
const REG = '127.0.0.1:5000';

/** A clock that moves one millisecond per reading. */
function clock(start = 1_000): () => number {
  let t = start;
  return () => t++;
}

describe('blob locations', () => {
  it('reads back what another instance saved, newest first, per registry', () => {
    const path = join(tmpDir(), 'cache', 'ocilayout', BLOB_LOCATIONS_FILE);
    const now = clock();
    const a = openBlobLocations(path, { now });
    a.record(REG, 'team/a', D1);
    a.record('other.example', 'team/x', D1);
    a.record(REG, 'team/b', D1);
    expect(a.lookup(REG, D1)).toEqual(['team/b', 'team/a']); // before any save, too
    a.save();
    const b = openBlobLocations(path);
    expect(b.lookup(REG, D1)).toEqual(['team/b', 'team/a']);
    expect(b.lookup('other.example', D1)).toEqual(['team/x']);
    expect(b.lookup(REG, D2)).toEqual([]);
    // Seen again: it moves to the front instead of appearing twice.
    const c = openBlobLocations(path, { now: clock(5_000) });
    c.record(REG, 'team/a', D1);
    c.save();
    expect(openBlobLocations(path).lookup(REG, D1)).toEqual(['team/a', 'team/b']);
  });

  it('keeps at most perDigest locations and maxDigests digests, dropping the oldest', () => {
    const path = join(tmpDir(), BLOB_LOCATIONS_FILE);
    const r = openBlobLocations(path, { now: clock(), perDigest: 2, maxDigests: 2 });
    r.record(REG, 'a', D1);
    r.record(REG, 'b', D1);
    r.record(REG, 'c', D1);
    r.record(REG, 'a', D2);
    r.record(REG, 'a', D3);
    r.save();
    const back = openBlobLocations(path);
    expect(back.lookup(REG, D1)).toEqual([]); // the least recently seen digest went
    expect(back.lookup(REG, D2)).toEqual(['a']);
    expect(back.lookup(REG, D3)).toEqual(['a']);
    const doc = JSON.parse(readFileSync(path, 'utf8')) as { blobs: Record<string, unknown[]> };
    expect(Object.keys(doc.blobs).sort()).toEqual([D2, D3]);
    const lists = openBlobLocations(path, { now: clock(10_000), perDigest: 2 });
    lists.record(REG, 'x', D2);
    lists.record(REG, 'y', D2);
    lists.record(REG, 'z', D2);
    lists.save();
    expect(openBlobLocations(path).lookup(REG, D2)).toEqual(['z', 'y']);
  });

  it('merges what another writer saved between our read and our save', () => {
    const path = join(tmpDir(), BLOB_LOCATIONS_FILE);
    const mine = openBlobLocations(path, { now: clock(1_000) });
    expect(mine.lookup(REG, D1)).toEqual([]); // read now, before the other writer saves
    const theirs = openBlobLocations(path, { now: clock(2_000) });
    theirs.record(REG, 'theirs', D2);
    theirs.save();
    mine.record(REG, 'mine', D1);
    mine.save();
    const back = openBlobLocations(path);
    expect(back.lookup(REG, D1)).toEqual(['mine']);
    expect(back.lookup(REG, D2)).toEqual(['theirs']);
  });

  it('reads a missing, corrupt or foreign file as empty, and replaces it on save', () => {
    const dir = tmpDir();
    const path = join(dir, BLOB_LOCATIONS_FILE);
    expect(openBlobLocations(path).lookup(REG, D1)).toEqual([]);
    for (const text of [
      '{"version":1,"blobs":{"sha256:1',
      '\u0000\u0001garbage',
      'null',
      '{"version":2,"blobs":{}}',
      JSON.stringify({ version: 1, blobs: [] }),
    ]) {
      writeFileSync(path, text);
      expect(openBlobLocations(path).lookup(REG, D1)).toEqual([]);
    }
    // Entry by entry: a bad digest, a bad location or a repository off the grammar is skipped.
    writeFileSync(
      path,
      JSON.stringify({
        version: 1,
        blobs: {
          'not-a-digest': [[REG, 'a', 1]],
          [D1]: [[REG, 'good', 3], [REG, '../../etc', 2], [REG, 'a'], 'x', [REG, 'ok', 1]],
          [D2]: 'nope',
        },
      }),
    );
    const r = openBlobLocations(path);
    expect(r.lookup(REG, D1)).toEqual(['good', 'ok']);
    expect(r.lookup(REG, D2)).toEqual([]);
    writeFileSync(path, 'garbage');
    const w = openBlobLocations(path);
    w.record(REG, 'a', D3);
    w.save();
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ version: 1 });
    expect(openBlobLocations(path).lookup(REG, D3)).toEqual(['a']);
  });

  it('never throws when it cannot save, and records only digests and repository names', () => {
    const dir = tmpDir();
    writeFileSync(join(dir, 'file'), '');
    const under = openBlobLocations(join(dir, 'file', 'sub', BLOB_LOCATIONS_FILE));
    under.record(REG, 'a', D1);
    expect(() => under.save()).not.toThrow();
    if (process.getuid?.() !== 0) {
      const ro = join(dir, 'ro');
      mkdirSync(ro);
      chmodSync(ro, 0o500);
      const r = openBlobLocations(join(ro, BLOB_LOCATIONS_FILE));
      r.record(REG, 'a', D1);
      expect(() => r.save()).not.toThrow();
      expect(existsSync(join(ro, BLOB_LOCATIONS_FILE))).toBe(false);
      chmodSync(ro, 0o700);
    }
    const path = join(dir, BLOB_LOCATIONS_FILE);
    const r = openBlobLocations(path);
    r.record(REG, 'Not/Valid', D1);
    r.record(REG, 'a', 'sha256:short');
    r.record('', 'a', D1);
    r.save();
    expect(existsSync(path)).toBe(false); // nothing worth writing
  });

  it('is never torn by processes saving at once', async () => {
    const path = join(tmpDir(), BLOB_LOCATIONS_FILE);
    const lib = compileChildLib(['registry/blob-locations.ts']);
    onTestFinished(() => lib.dispose());
    // Each child records 200 digests under its own repository, saving after every 40.
    const script = lib.script(
      'writer',
      `import { openBlobLocations } from './registry/blob-locations.js';
      const [path, name] = process.argv.slice(2);
      for (let round = 0; round < 5; round++) {
        const r = openBlobLocations(path);
        for (let i = 0; i < 40; i++) {
          r.record('reg.example', name, 'sha256:' + (round * 40 + i).toString(16).padStart(64, '0'));
        }
        r.save();
      }`,
    );
    const runs = await Promise.all(['w0', 'w1', 'w2', 'w3'].map((n) => lib.run(script, [path, n])));
    expect(runs.map((r) => [r.code, r.stderr])).toEqual(runs.map(() => [0, '']));
    const doc = JSON.parse(readFileSync(path, 'utf8')) as { blobs: Record<string, unknown[]> };
    // Whole and well-formed; what a writer that lost a race saved may be missing (documented).
    const digests = Object.keys(doc.blobs);
    expect(digests.length).toBeGreaterThan(0);
    expect(digests.length).toBeLessThanOrEqual(200);
    const r = openBlobLocations(path);
    for (const d of digests) expect(r.lookup('reg.example', d).length).toBeGreaterThan(0);
  });
});

describe('userBlobLocationsPath', () => {
  it('follows XDG_CACHE_HOME, else ~/.cache, and is off when asked', () => {
    expect(userBlobLocationsPath({ XDG_CACHE_HOME: '/c' }, '/home/u')).toBe(
      `/c/ocilayout/${BLOB_LOCATIONS_FILE}`,
    );
    expect(userBlobLocationsPath({}, '/home/u')).toBe(
      `/home/u/.cache/ocilayout/${BLOB_LOCATIONS_FILE}`,
    );
    // A relative XDG_CACHE_HOME is invalid (XDG base directory spec) and ignored.
    expect(userBlobLocationsPath({ XDG_CACHE_HOME: 'rel' }, '/home/u')).toBe(
      `/home/u/.cache/ocilayout/${BLOB_LOCATIONS_FILE}`,
    );
    expect(userBlobLocationsPath({ OCILAYOUT_NO_BLOB_CACHE: '1' }, '/home/u')).toBeUndefined();
    expect(userBlobLocationsPath({ OCILAYOUT_NO_BLOB_CACHE: '0' }, '/home/u')).toBeDefined();
  });
});
