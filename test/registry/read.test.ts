import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { digestOf, isOcilayoutError } from '../../src/internal.js';
import { pushBlob } from '../../src/registry/blob-push.js';
import { RegistryClient } from '../../src/registry/client.js';
import {
  remoteBlob,
  remoteReferrerTree,
  remoteReferrersResponseTree,
  remoteTags,
  type RemoteDiscovery,
} from '../../src/registry/read.js';
import type { Descriptor } from '../../src/schema/descriptor.js';
import { startReferrersServer, type ReferrersServer } from '../helpers/referrers-server.js';
import { blobOf, fastRetry, opener } from './helpers.js';

const opts = {
  dockerConfig: { path: '/nonexistent', credentials: new Map(), helpers: new Map() },
  retry: fastRetry(2),
};

async function drain(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of stream) parts.push(c);
  return Buffer.concat(parts);
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('remote read verbs', () => {
  let server: ReferrersServer | undefined;
  let raw: Server | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
    if (raw !== undefined) await new Promise((r) => raw!.close(r));
    raw = undefined;
  });

  it('remoteBlob streams the blob whole and verified', async () => {
    server = await startReferrersServer();
    const data = randomBytes(300_000);
    await pushBlob(new RegistryClient(server.host), 'a', blobOf(data), opener(data));
    const b = await remoteBlob(`docker://${server.host}/a@${digestOf(data)}`, opts);
    expect(b.size).toBe(data.length);
    expect((await drain(b.stream)).equals(data)).toBe(true);
  });

  /** A registry that answers HEAD and GET for any blob with `body` (its Content-Length honest). */
  async function servingBlob(body: Buffer): Promise<string> {
    raw = createServer((req, res) => {
      if (req.url === '/v2/') {
        res.writeHead(200).end();
        return;
      }
      res.writeHead(200, { 'content-length': String(body.length) });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    await new Promise<void>((r) => raw!.listen(0, '127.0.0.1', r));
    return `127.0.0.1:${(raw.address() as AddressInfo).port}`;
  }

  it('remoteBlob fails the stream when the registry serves other bytes', async () => {
    const data = randomBytes(10_000);
    const other = Buffer.from(data);
    other.writeUInt8(other.readUInt8(5_000) ^ 0xff, 5_000);
    const host = await servingBlob(other);
    const b = await remoteBlob(`docker://${host}/a@${digestOf(data)}`, opts);
    const err = await caught(drain(b.stream));
    expect(isOcilayoutError(err, 'E_DIGEST_MISMATCH')).toBe(true);
  });

  it('remoteBlob fails the stream when the size given is not what is served', async () => {
    const data = randomBytes(10_000);
    const host = await servingBlob(data);
    const b = await remoteBlob(`docker://${host}/a@${digestOf(data)}`, { ...opts, size: 9_999 });
    const err = await caught(drain(b.stream));
    expect(isOcilayoutError(err, 'E_SIZE_MISMATCH')).toBe(true);
  });

  it('remoteBlob and remoteTags refuse references of the wrong kind', async () => {
    const noDigest = await caught(remoteBlob('docker://127.0.0.1:1/a:v1', opts));
    expect(isOcilayoutError(noDigest, 'E_USAGE')).toBe(true);
    const tagged = await caught(remoteTags('docker://127.0.0.1:1/a:v1', opts));
    expect(isOcilayoutError(tagged, 'E_USAGE')).toBe(true);
  });

  it('remoteBlob says E_NOT_FOUND for a blob the repository lacks', async () => {
    server = await startReferrersServer();
    const err = await caught(remoteBlob(`docker://${server.host}/a@${digestOf('x')}`, opts));
    expect(isOcilayoutError(err, 'E_NOT_FOUND')).toBe(true);
  });

  describe('referrer trees', () => {
    const d = (n: number, artifactType = 'application/x-sig'): Descriptor => ({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: digestOf(String(n)),
      size: n,
      artifactType,
    });
    const subject = digestOf('subject');
    const a = d(1);
    const b = d(2, 'application/spdx+json');
    const c = d(3);
    // subject ← a, b; b ← c; c ← b (a cycle, listed but not walked again)
    const edges = new Map<string, Descriptor[]>([
      [subject, [b, a]],
      [b.digest, [c]],
      [c.digest, [b]],
    ]);
    const asked: string[] = [];
    const discovery: RemoteDiscovery = {
      subject,
      via: 'api',
      warnings: [],
      referrersOf: (x) => {
        asked.push(x);
        return Promise.resolve(edges.get(x) ?? []);
      },
    };

    it('the tree is sorted, filtered at every level, and stops at a cycle', async () => {
      const tree = await remoteReferrerTree(discovery);
      expect(tree.map((n) => n.descriptor.digest)).toEqual([a, b].map((x) => x.digest).sort());
      const nb = tree.find((n) => n.descriptor.digest === b.digest)!;
      expect(nb.referrers.map((n) => n.descriptor.digest)).toEqual([c.digest]);
      expect(nb.referrers[0]!.referrers).toEqual([]); // b is on the path
      const one = await remoteReferrerTree(discovery, { depth: 1 });
      expect(one.every((n) => n.referrers.length === 0)).toBe(true);
      const sboms = await remoteReferrerTree(discovery, { artifactType: 'application/spdx+json' });
      expect(sboms.map((n) => n.descriptor.digest)).toEqual([b.digest]);
      expect(sboms[0]!.referrers).toEqual([]); // c is not an SBOM
    });

    it('the response is the flat index at depth 1 and nests below', async () => {
      const flat = await remoteReferrersResponseTree(discovery, { depth: 1 });
      expect(flat.manifests.map((m) => m.digest)).toEqual([a, b].map((x) => x.digest).sort());
      expect(flat.manifests.some((m) => 'referrers' in m)).toBe(false);
      const deep = await remoteReferrersResponseTree(discovery, { depth: 2 });
      const nb = deep.manifests.find((m) => m.digest === b.digest)!;
      expect(nb.referrers?.map((m) => m.digest)).toEqual([c.digest]);
      expect(nb.referrers?.[0]).not.toHaveProperty('referrers');
    });
  });
});
