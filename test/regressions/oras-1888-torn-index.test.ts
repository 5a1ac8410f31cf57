// oras#1888: oras writes index.json in place (os.WriteFile), so a reader racing a writer — parallel
// Lambdas on a shared EFS cache — saw `{"med{"mediaType"…` and failed with invalid JSON. Our
// writes are temp file + fsync + rename under the layout lock: a reader polling index.json while
// several processes rewrite it must always see a complete, valid document.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IndexStore } from '../../src/store/index-store.js';
import { compileChildLib, type ChildLib } from '../helpers/child-lib.js';
import { makeLayout } from '../helpers/make-layout.js';

const WRITERS = 4;
const UPDATES = 30;

let lib: ChildLib;
beforeAll(() => {
  lib = compileChildLib(['store/index-store.ts']);
});
afterAll(() => lib.dispose());

describe('regression: torn index.json under concurrent writers (oras#1888)', () => {
  it('never shows a reader a partial index.json', async () => {
    const fx = makeLayout();
    const path = join(fx.root, 'index.json');
    // Each entry carries ~2 KiB of annotation so index.json grows to a few hundred KiB: large
    // enough that an in-place write would be seen half-done.
    const writer = lib.script(
      'writer',
      `import { IndexStore } from './store/index-store.js';
const [root, id, count] = process.argv.slice(2);
const store = new IndexStore(root);
const pad = 'x'.repeat(2048);
for (let i = 0; i < Number(count); i++) {
  await store.update((index) => {
    index.manifests.push({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: 'sha256:' + (id + '-' + i).padEnd(64, '0').replace(/[^0-9a-f]/g, 'a'),
      size: i,
      annotations: { 'org.opencontainers.image.ref.name': id + '-' + i, 'vnd.pad': pad },
    });
    return { index, result: undefined };
  });
}
`,
    );
    let running = true;
    const writers = Promise.all(
      Array.from({ length: WRITERS }, (_, w) =>
        lib.run(writer, [fx.root, `w${w}`, String(UPDATES)]),
      ),
    ).finally(() => {
      running = false;
    });
    let reads = 0;
    const torn: string[] = [];
    const sizes = new Set<number>();
    const store = new IndexStore(fx.root);
    while (running) {
      const text = readFileSync(path, 'utf8');
      try {
        JSON.parse(text);
        store.read();
        sizes.add(text.length);
      } catch {
        torn.push(text.slice(0, 80));
      }
      reads++;
      await new Promise((r) => setImmediate(r));
    }
    const results = await writers;
    for (const r of results) expect(r, r.stderr).toMatchObject({ code: 0, stderr: '' });
    expect(torn).toEqual([]);
    // The reader really ran alongside the writers and saw the file change many times.
    expect(reads).toBeGreaterThan(50);
    expect(sizes.size).toBeGreaterThan(10);
    expect(store.read().index.manifests).toHaveLength(WRITERS * UPDATES);
  });
});
