// reachability.ts on its own: checkReachable walks from index.json and reports, per descriptor,
// what the blob scan cannot see: missing blobs (error, or warning when sparse or external), size
// and media-type disagreements, and unreadable documents; each cause once.
import { unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Digest } from '../../src/digest.js';
import { checkReachable, type ReachabilityOptions } from '../../src/maintenance/reachability.js';
import { MediaType } from '../../src/media-types.js';
import {
  imageBlobs,
  imageIndex,
  imageManifest,
  makeLayout,
  tagged,
  type MadeLayout,
} from '../helpers/make-layout.js';

const STRICT: ReachabilityOptions = { allowMissing: false, unusable: new Set(), parked: new Map() };

function check(m: MadeLayout, options: Partial<ReachabilityOptions> = {}) {
  return checkReachable(m.open(), JSON.parse(m.indexText()), { ...STRICT, ...options });
}

const file = (m: MadeLayout, n: string): string =>
  join(m.root, 'blobs', 'sha256', m.d[n]!.digest.slice(7));

/** image a behind an index (tagged), image b tagged directly and also listed in the index. */
function layout(): MadeLayout {
  return makeLayout({
    blobs: {
      ...imageBlobs('a'),
      ...imageBlobs('b'),
      idx: (d) => imageIndex([d['amanifest']!, d['bmanifest']!]),
    },
    index: (d) => imageIndex([tagged(d['idx']!, 'v1'), tagged(d['bmanifest']!, 'b')]),
  });
}

describe('checkReachable', () => {
  it('finds nothing in a sound layout and counts every descriptor followed', () => {
    const r = check(layout());
    expect(r.findings).toEqual([]);
    // 2 entries, then each distinct document's references once: idx 2, a 2, b 2 (b is
    // reached twice but read once).
    expect(r.descriptors).toBe(2 + 2 + 2 + 2);
  });

  it('reports a missing blob once, as an error, or a warning in a sparse layout', () => {
    const m = layout();
    unlinkSync(file(m, 'blayer'));
    const strict = check(m);
    expect(strict.findings).toEqual([
      expect.objectContaining({
        code: 'MISSING_BLOB',
        severity: 'error',
        digest: m.d['blayer']!.digest,
      }),
    ]);
    expect(check(m, { allowMissing: true }).findings[0]!.severity).toBe('warning');
  });

  it('reports each cause once however many documents share the descriptor', () => {
    const m = makeLayout({
      blobs: {
        ...imageBlobs('a'),
        one: (d) => imageManifest(d['aconfig']!, [{ ...d['alayer']!, size: 999 }], { n: 1 }),
        two: (d) => imageManifest(d['aconfig']!, [{ ...d['alayer']!, size: 999 }], { n: 2 }),
        gz: (d) =>
          imageManifest(d['aconfig']!, [{ ...d['aconfig']!, mediaType: MediaType.LayerGzip }]),
      },
      index: (d) =>
        imageIndex([tagged(d['one']!, 'one'), tagged(d['two']!, 'two'), tagged(d['gz']!, 'gz')]),
    });
    expect(check(m).findings.map((f) => f.code)).toEqual(['DESCRIPTOR_SIZE_MISMATCH']);
    unlinkSync(file(m, 'aconfig')); // referenced as config and as a gzip layer: one finding
    expect(
      check(m)
        .findings.map((f) => f.code)
        .sort(),
    ).toEqual(['DESCRIPTOR_SIZE_MISMATCH', 'MISSING_BLOB']);
  });

  it('names a parked copy of a missing blob, and warns only for external layers', () => {
    const foreign = {
      mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
      digest: `sha256:${'f'.repeat(64)}`,
      size: 3,
      urls: ['https://example.com/l'],
    };
    const m = makeLayout({
      blobs: { ...imageBlobs('a'), win: (d) => imageManifest(d['aconfig']!, [foreign]) },
      index: (d) => imageIndex([tagged(d['win']!, 'w'), tagged(d['amanifest']!, 'a')]),
    });
    unlinkSync(file(m, 'alayer'));
    const parked = new Map([[m.d['alayer']!.digest as Digest, join(m.root, 'ingest', 'x.trash')]]);
    const r = check(m, { parked });
    expect(r.findings.map((f) => [f.digest, f.severity])).toEqual([
      [foreign.digest, 'warning'],
      [m.d['alayer']!.digest, 'error'],
    ]);
    expect(r.findings[1]!.message).toContain(join('ingest', 'x.trash'));
  });

  it('reports a descriptor size that is not the blob’s, and a media type the document denies', () => {
    const m = makeLayout({
      blobs: {
        ...imageBlobs('a'),
        liar: (d) => imageManifest(d['aconfig']!, [{ ...d['alayer']!, size: 999 }]),
      },
      index: (d) =>
        imageIndex([
          tagged(d['liar']!, 'liar'),
          tagged({ ...d['amanifest']!, mediaType: MediaType.DockerManifest }, 'wrongtype'),
        ]),
    });
    expect(
      check(m)
        .findings.map((f) => f.code)
        .sort(),
    ).toEqual(['DESCRIPTOR_SIZE_MISMATCH', 'MEDIA_TYPE_MISMATCH']);
  });

  it('turns unreadable documents and bad digests into findings, leaving blob causes to the scan', () => {
    const m = makeLayout({
      blobs: { ...imageBlobs('a'), notjson: 'not json at all' },
      index: (d) =>
        imageIndex([
          tagged({ ...d['notjson']!, mediaType: MediaType.ImageManifest }, 'bad'),
          tagged({ ...d['amanifest']!, digest: `sha256:${'Z'.repeat(64)}` }, 'baddigest'),
          tagged({ ...d['amanifest']!, digest: `blake3:${'a'.repeat(64)}` }, 'otheralg'),
        ]),
    });
    const r = check(m);
    expect(r.findings.map((f) => [f.code, f.severity])).toEqual([
      ['MANIFEST_INVALID', 'error'],
      ['DESCRIPTOR_INVALID_DIGEST', 'error'],
      ['DESCRIPTOR_UNSUPPORTED_ALGORITHM', 'warning'],
    ]);
    // A corrupt blob is the blob scan's finding (BLOB_DIGEST_MISMATCH), not this check's.
    const c = layout();
    writeFileSync(file(c, 'bmanifest'), 'x'.repeat(c.d['bmanifest']!.size));
    expect(check(c).findings).toEqual([]);
  });

  it('skips digests the blob scan found unusable', () => {
    const m = layout();
    unlinkSync(file(m, 'alayer'));
    const unusable = new Set([m.d['alayer']!.digest as Digest]);
    expect(check(m, { unusable }).findings).toEqual([]);
  });
});
