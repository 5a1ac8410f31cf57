// umoci#146, oras#149, containers/image#1028: peers read index.json, change it in memory and write
// it back with no cross-process lock, so concurrent writers silently drop each other's tags.
// Here 8 real processes each add 25 tags through Layout.tag (lock, re-read, write); all 200 must
// survive, and index.json must hold exactly the original entry plus one entry per tag.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Layout } from '../../src/layout/layout.js';
import { listTags } from '../../src/layout/tags.js';
import { compileChildLib, type ChildLib } from '../helpers/child-lib.js';
import { imageBlobs, makeLayout, tagged } from '../helpers/make-layout.js';

const WORKERS = 8;
const TAGS_EACH = 25;

let lib: ChildLib;
beforeAll(() => {
  lib = compileChildLib();
});
afterAll(() => lib.dispose());

describe('regression: lost updates between concurrent writers (umoci#146, oras#149, c/image#1028)', () => {
  it(`keeps all ${WORKERS * TAGS_EACH} tags added by ${WORKERS} processes at once`, async () => {
    const fx = makeLayout({
      blobs: imageBlobs(),
      index: (d) => ({ schemaVersion: 2, manifests: [tagged(d['manifest']!, 'base')] }),
    });
    const digest = fx.d['manifest']!.digest;
    const worker = lib.script(
      'tagger',
      `import { Layout } from './layout/layout.js';
const [root, prefix, count, digest] = process.argv.slice(2);
const layout = Layout.open(root);
for (let i = 0; i < Number(count); i++) await layout.tag({ digest }, [prefix + '-' + i]);
`,
    );
    const results = await Promise.all(
      Array.from({ length: WORKERS }, (_, w) =>
        lib.run(worker, [fx.root, `w${w}`, String(TAGS_EACH), digest]),
      ),
    );
    for (const r of results) expect(r, r.stderr).toMatchObject({ code: 0, stderr: '' });

    const index = Layout.open(fx.root).readIndex();
    const expected = ['base'];
    for (let w = 0; w < WORKERS; w++)
      for (let i = 0; i < TAGS_EACH; i++) expected.push(`w${w}-${i}`);
    expect(listTags(index)).toEqual(expected.sort());
    expect(index.manifests).toHaveLength(WORKERS * TAGS_EACH + 1);
    expect(new Set(index.manifests.map((e) => e.digest))).toEqual(new Set([digest]));
  });
});
