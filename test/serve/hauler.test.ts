// A hauler store served as a repository: its names, cosign's tag of its signature, and the
// referrers API over what hauler saved beside the image.
import { cpSync, existsSync, readFileSync } from 'node:fs';
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

describe('push into a served hauler store', () => {
  it("files a pushed image, its cosign signature and its OCI referrer in hauler's shape", async () => {
    const root = tmpDir();
    const dir = join(root, 'store');
    cpSync(join(HAULER, 'v2-store'), dir, { recursive: true });
    const reg = await startServe(root);
    const blob = (d: string): Buffer => readFileSync(join(dir, 'blobs', 'sha256', d.slice(7)));
    const put = async (ref: string, digest: string, mediaType: string): Promise<number> =>
      (
        await fetch(`${reg.url}/v2/store/manifests/${ref}`, {
          method: 'PUT',
          headers: { 'Content-Type': mediaType },
          body: blob(digest),
        })
      ).status;
    const SIG = V2.referrers[IMG]!['sigs']![0]!;
    const REFERRER = V2.referrers[IMG]!['referrers']![0]!;
    const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
    expect(await put('edge', IMG, 'application/vnd.oci.image.index.v1+json')).toBe(201);
    expect(await put(`${IMG.replace(':', '-')}.sig`, SIG, OCI_MANIFEST)).toBe(201);
    expect(await put(REFERRER, REFERRER, OCI_MANIFEST)).toBe(201);
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as {
      manifests: { digest: string; annotations?: Record<string, string> }[];
    };
    // A bare tag stays a bare ref.name (hauler's files and charts have no containerd name).
    const edge = index.manifests.filter(
      (e) => e.annotations?.['org.opencontainers.image.ref.name'] === 'edge',
    );
    expect(edge.map((e) => [e.digest, e.annotations])).toEqual([
      [IMG, { kind: 'dev.hauler/imageIndex', 'org.opencontainers.image.ref.name': 'edge' }],
      [SIG, { kind: 'dev.hauler/sigs', 'org.opencontainers.image.ref.name': 'edge' }],
      [
        REFERRER,
        {
          kind: `dev.hauler/referrers/${REFERRER.slice(7)}`,
          'org.opencontainers.image.ref.name': 'edge',
        },
      ],
    ]);
    expect(existsSync(join(dir, 'oci-layout'))).toBe(false);
    const res = await fetch(`${reg.url}/v2/store/referrers/${IMG}`);
    const body = (await res.json()) as { manifests: { digest: string }[] };
    expect(body.manifests.map((d) => d.digest).sort()).toEqual(
      Object.values(V2.referrers[IMG]!).flat().sort(),
    );
  });
});
