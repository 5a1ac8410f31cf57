// `ocilayout init` run by several jobs of a CI matrix on one shared directory, each then tagging:
// an init that arrives late must not replace index.json (it used to be written with rename after
// an existsSync check), or the tags of the jobs that started earlier are lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Layout } from '../../src/layout/layout.js';
import { compileChildLib, type ChildLib } from '../helpers/child-lib.js';
import { freshDir } from '../helpers/make-layout.js';
import { join } from 'node:path';

let lib: ChildLib;
beforeAll(() => {
  lib = compileChildLib();
});
afterAll(() => lib.dispose());

describe('regression: concurrent init on one directory', () => {
  it('keeps every job’s tag (and some job reports that it created the layout)', async () => {
    const root = join(freshDir(), 'shared');
    const script = lib.script(
      'init-and-tag',
      `import { Layout } from './layout/layout.js';
const [root, tag] = process.argv.slice(2);
const { layout, created } = Layout.init(root);
const { digest } = layout.blobs.putBytes(Buffer.from('{}'));
const m = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
  artifactType: 'application/vnd.example', config: { mediaType: 'application/vnd.oci.empty.v1+json', digest, size: 2 },
  layers: [{ mediaType: 'application/vnd.oci.empty.v1+json', digest, size: 2 }] }));
await layout.putManifest(m, { tag });
console.log(created ? 'created' : 'existed');
`,
    );
    const jobs = 6;
    const runs = await Promise.all(
      Array.from({ length: jobs }, (_, i) => lib.run(script, [root, `job${i}`])),
    );
    for (const r of runs) expect(r, r.stderr).toMatchObject({ code: 0, stderr: '' });
    expect(runs.filter((r) => r.stdout.trim() === 'created').length).toBeGreaterThanOrEqual(1);
    expect(Layout.open(root).tags()).toEqual(Array.from({ length: jobs }, (_, i) => `job${i}`));
  });
});
