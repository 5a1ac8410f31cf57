// A hauler store served as a repository: its names, cosign's tag of its signature, and the
// referrers API over what hauler saved beside the image.
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tmpDir } from '../helpers/tmp.js';
import { startServe } from './helpers.js';

const HAULER = fileURLToPath(new URL('../../testdata/hauler/', import.meta.url));
const V2 = (
  JSON.parse(readFileSync(join(HAULER, 'expected.json'), 'utf8')) as Record<
    string,
    { names: Record<string, string>; referrers: Record<string, Record<string, string[]>> }
  >
)['v2-store']!;
const IMG = V2.names['index.docker.io/library/alpine:3.20']!;

describe('serve a hauler store', () => {
  it('answers cosign tag lookups and the referrers API from hauler entries', async () => {
    const root = tmpDir();
    cpSync(join(HAULER, 'v2-store'), join(root, 'store'), { recursive: true });
    const reg = await startServe(root);
    const tags = (await (await fetch(`${reg.url}/v2/store/tags/list`)).json()) as {
      tags: string[];
    };
    expect(tags.tags).toEqual(Object.keys(V2.names).sort());
    const sig = await fetch(`${reg.url}/v2/store/manifests/${IMG.replace(':', '-')}.sig`, {
      headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    expect(sig.status).toBe(200);
    expect(sig.headers.get('docker-content-digest')).toBe(V2.referrers[IMG]!['sigs']![0]);
    const res = await fetch(`${reg.url}/v2/store/referrers/${IMG}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { manifests: { digest: string }[] };
    expect(body.manifests.map((d) => d.digest).sort()).toEqual(
      Object.values(V2.referrers[IMG]!).flat().sort(),
    );
  });
});
