// The archive reader's one exception to "an OCI archive has oci-layout": `hauler store save`, which
// tars a hauler 2.x store (no oci-layout, a docker-save manifest.json beside index.json).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Layout, discoverReferrers } from '../../src/internal.js';
import { layoutTar } from '../helpers/make-tar.js';
import { tmpDir } from '../helpers/tmp.js';
import { requireTools } from '../helpers/tools.js';
import { importBytes } from './fixtures.js';

const HAULER = fileURLToPath(new URL('../../testdata/hauler/', import.meta.url));
const EXPECTED = JSON.parse(readFileSync(join(HAULER, 'expected.json'), 'utf8')) as Record<
  string,
  { names: Record<string, string>; referrers: Record<string, Record<string, string[]>> }
>;
const V2 = EXPECTED['v2-store']!;

describe('hauler store save archives', () => {
  it.runIf(requireTools('zstd'))(
    'import reads haul.tar.zst (decompressed) as OCI, names and signatures kept',
    async () => {
      const z = spawnSync('zstd', ['-dc', join(HAULER, 'haul.tar.zst')], { maxBuffer: 64 << 20 });
      expect(z.status).toBe(0);
      const dir = join(tmpDir(), 'loaded');
      const r = await importBytes(z.stdout, dir);
      // OCI, though a docker-save manifest.json is there (index.json decides); store.json is reported.
      expect(r.format).toBe('oci');
      expect(r.warnings).toContain('ignored archive entry store.json');
      const layout = Layout.open(dir);
      expect(layout.tags()).toEqual(Object.keys(V2.names).sort());
      for (const [subject, kinds] of Object.entries(V2.referrers)) {
        expect(
          discoverReferrers(layout, subject as never)
            .map((d) => d.digest)
            .sort(),
        ).toEqual(Object.values(kinds).flat().sort());
      }
    },
  );

  it('an index.json without oci-layout and without hauler kinds is still refused', async () => {
    const index = JSON.parse(readFileSync(join(HAULER, 'v2-store', 'index.json'), 'utf8')) as {
      manifests: { annotations: Record<string, string> }[];
    };
    for (const e of index.manifests) delete e.annotations['kind'];
    const tar = layoutTar(join(HAULER, 'v2-store'), {
      override: { 'index.json': JSON.stringify(index) },
    });
    await expect(importBytes(tar, join(tmpDir(), 'x'))).rejects.toMatchObject({
      code: 'E_CORRUPT_ARCHIVE',
    });
    // The same store with its kinds is read.
    const ok = layoutTar(join(HAULER, 'v2-store'));
    await importBytes(ok, join(tmpDir(), 'y'));
  });
});
