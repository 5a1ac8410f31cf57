// remote-referrers.ts against the in-memory registry: reading referrers (API, else the fallback
// tag, where anything but an index means "none" with a warning), the listing descriptor, and the
// fallback-tag update (merge, never drop or duplicate, refuse to overwrite a non-index).
import { afterEach, describe, expect, it } from 'vitest';
import { digestOf } from '../../src/digest.js';
import { MediaType } from '../../src/media-types.js';
import { RegistryClient } from '../../src/registry/client.js';
import {
  listingDescriptor,
  listRemoteReferrers,
  updateFallbackTag,
} from '../../src/registry/remote-referrers.js';
import type { Descriptor } from '../../src/schema/descriptor.js';
import { parseManifest } from '../../src/schema/manifest.js';
import { startReferrersServer, type ReferrersServer } from '../helpers/referrers-server.js';
import { fastRetry } from './helpers.js';

const EMPTY = { mediaType: MediaType.Empty, digest: digestOf('{}'), size: 2 };
const SUBJECT = digestOf('the subject');
const TAG = `sha256-${SUBJECT.slice(7)}`;

function manifestBytes(extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ImageManifest,
      config: EMPTY,
      layers: [EMPTY],
      ...extra,
    }),
  );
}

const ref = (n: number): Descriptor => ({
  mediaType: MediaType.ImageManifest,
  digest: digestOf(`referrer ${n}`),
  size: 100 + n,
  artifactType: 'application/x.sig',
});

let server: ReferrersServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function client(api: boolean): Promise<RegistryClient> {
  server = await startReferrersServer({ referrersApi: api });
  return new RegistryClient(server.host, { retry: fastRetry(2) });
}

async function putIndex(c: RegistryClient, doc: Record<string, unknown>): Promise<void> {
  const bytes = Buffer.from(JSON.stringify(doc));
  await c.putManifest('r', TAG, bytes, MediaType.ImageIndex);
}

describe('listRemoteReferrers', () => {
  it('uses the referrers API when the registry has one', async () => {
    const c = await client(true);
    const sig = manifestBytes({
      artifactType: 'application/x.sig',
      subject: { mediaType: MediaType.ImageManifest, digest: SUBJECT, size: 11 },
    });
    await c.putManifest('r', digestOf(sig), sig, MediaType.ImageManifest);
    const r = await listRemoteReferrers(c, 'r', SUBJECT);
    expect(r.via).toBe('api');
    expect(r.descriptors.map((d) => d.digest)).toEqual([digestOf(sig)]);
  });

  it('falls back to the tag: absent means none, an index lists them', async () => {
    const c = await client(false);
    expect(await listRemoteReferrers(c, 'r', SUBJECT)).toEqual({
      descriptors: [],
      via: 'fallback-tag',
    });
    await putIndex(c, { schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: [ref(1)] });
    expect(await listRemoteReferrers(c, 'r', SUBJECT)).toEqual({
      descriptors: [ref(1)],
      via: 'fallback-tag',
    });
  });

  it('reads a tag holding a manifest or an invalid document as none, with a warning', async () => {
    const c = await client(false);
    await c.putManifest('r', TAG, manifestBytes(), MediaType.ImageManifest);
    const manifest = await listRemoteReferrers(c, 'r', SUBJECT);
    expect(manifest).toMatchObject({ descriptors: [], via: 'fallback-tag' });
    expect(manifest.warning).toContain(TAG);
    await c.putManifest('r', TAG, Buffer.from('{"hello":1}'), MediaType.ImageIndex);
    const invalid = await listRemoteReferrers(c, 'r', SUBJECT);
    expect(invalid).toMatchObject({ descriptors: [], via: 'fallback-tag' });
    expect(invalid.warning).toContain(TAG);
  });

  it('passes other failures through', async () => {
    const c = await client(false);
    server!.failNext(10, 400);
    await expect(listRemoteReferrers(c, 'r', SUBJECT)).rejects.toMatchObject({
      code: 'E_REGISTRY',
    });
  });
});

describe('listingDescriptor', () => {
  it("carries the document's media type, sorted annotations and effective artifactType", () => {
    const bytes = manifestBytes({ annotations: { z: '1', a: '2' } });
    const parsed = parseManifest(bytes, 'm');
    const desc = { mediaType: 'x/y', digest: digestOf(bytes), size: bytes.length, urls: ['u'] };
    const d = listingDescriptor(desc, parsed);
    expect(d).toEqual({
      mediaType: MediaType.ImageManifest,
      digest: desc.digest,
      size: desc.size,
      annotations: { a: '2', z: '1' },
      artifactType: MediaType.Empty, // no artifactType: the config's media type
    });
    expect(Object.keys(d.annotations!)).toEqual(['a', 'z']);
    const plain = listingDescriptor(desc, parseManifest(manifestBytes({ annotations: {} }), 'm'));
    expect(plain.annotations).toBeUndefined();
  });
});

describe('updateFallbackTag', () => {
  it('creates the index when the tag is absent', async () => {
    const c = await client(false);
    const r = await updateFallbackTag(c, 'r', SUBJECT, [ref(2), ref(1), ref(2)]);
    expect(r).toEqual({
      tag: TAG,
      added: [ref(1).digest, ref(2).digest].sort(),
      kept: 0,
      writes: 1,
    });
    const listed = await listRemoteReferrers(c, 'r', SUBJECT);
    expect(listed.descriptors.map((d) => d.digest).sort()).toEqual(r.added);
  });

  it("appends only what is missing and keeps others' entries and fields as they were", async () => {
    const c = await client(false);
    const foreign = { ...ref(9), annotations: { by: 'someone else' } };
    await putIndex(c, {
      schemaVersion: 2,
      mediaType: MediaType.ImageIndex,
      manifests: [foreign, ref(1)],
      annotations: { keep: 'me' },
    });
    const r = await updateFallbackTag(c, 'r', SUBJECT, [ref(1), ref(3)]);
    expect(r).toEqual({ tag: TAG, added: [ref(3).digest], kept: 2, writes: 1 });
    const got = await c.getManifest('r', TAG);
    const doc = JSON.parse(got.bytes.toString()) as {
      manifests: Descriptor[];
      annotations: unknown;
    };
    expect(doc.manifests.map((d) => d.digest)).toEqual([
      foreign.digest,
      ref(1).digest,
      ref(3).digest,
    ]);
    expect(doc.manifests[0]).toEqual(foreign);
    expect(doc.annotations).toEqual({ keep: 'me' });
  });

  it('pushes nothing when every referrer is listed already', async () => {
    const c = await client(false);
    await putIndex(c, { schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: [ref(1)] });
    const puts = (): number => server!.log.filter((l) => l.startsWith('PUT')).length;
    const before = puts();
    expect(await updateFallbackTag(c, 'r', SUBJECT, [ref(1)])).toEqual({
      tag: TAG,
      added: [],
      kept: 1,
      writes: 0,
    });
    expect(puts()).toBe(before);
  });

  it('refuses to overwrite a tag that holds something else (E_REGISTRY), leaving it', async () => {
    const c = await client(false);
    await c.putManifest('r', TAG, manifestBytes(), MediaType.ImageManifest);
    const before = server!.tags.get(`r:${TAG}`);
    await expect(updateFallbackTag(c, 'r', SUBJECT, [ref(1)])).rejects.toMatchObject({
      code: 'E_REGISTRY',
      details: { tag: TAG },
    });
    await c.putManifest('r', TAG, Buffer.from('{"hello":1}'), MediaType.ImageIndex);
    const invalid = server!.tags.get(`r:${TAG}`);
    await expect(updateFallbackTag(c, 'r', SUBJECT, [ref(1)])).rejects.toMatchObject({
      code: 'E_REGISTRY',
    });
    expect(server!.tags.get(`r:${TAG}`)).toBe(invalid);
    expect(invalid).not.toBe(before);
  });
});

describe('updateFallbackTag with concurrent writers', () => {
  const noWait = { settleMs: 0, sleep: () => Promise.resolve() };
  const listed = async (c: RegistryClient): Promise<string[]> =>
    (await listRemoteReferrers(c, 'r', SUBJECT)).descriptors.map((d) => d.digest).sort();
  /** A racing writer's stale PUT landing: the tag now lists `entries` only. */
  const clobber = (c: RegistryClient, ...entries: Descriptor[]): Promise<void> =>
    putIndex(c, { schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: entries });

  it('merges back what a racing writer dropped after our write, keeping theirs', async () => {
    const c = await client(false);
    let waits = 0;
    const r = await updateFallbackTag(c, 'r', SUBJECT, [ref(1)], {
      ...noWait,
      sleep: async () => {
        if (waits++ === 0) await clobber(c, ref(9)); // read before our PUT, landed after it
      },
    });
    expect(r).toEqual({ tag: TAG, added: [ref(1).digest], kept: 0, writes: 2 });
    expect(await listed(c)).toEqual([ref(1).digest, ref(9).digest].sort());
  });

  it('checks that the index is stable: two reads a settle apart, the same, with ours', async () => {
    const c = await client(false);
    const gets = (): number =>
      server!.log.filter((l) => l.startsWith(`GET /v2/r/manifests/${TAG}`)).length;
    const r = await updateFallbackTag(c, 'r', SUBJECT, [ref(1)], noWait);
    expect(r.writes).toBe(1);
    expect(gets()).toBe(3); // the read, then two verifying reads
  });

  it('gives up with E_CONFLICT when the tag never settles with ours, leaving theirs', async () => {
    const c = await client(false);
    const err = await updateFallbackTag(c, 'r', SUBJECT, [ref(1), ref(2)], {
      ...noWait,
      maxWrites: 3,
      sleep: () => clobber(c, ref(9)),
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'E_CONFLICT',
      details: { tag: TAG, writes: 3, missing: [ref(1).digest, ref(2).digest].sort() },
    });
    expect(await listed(c)).toEqual([ref(9).digest]);
  });

  it('writes conditionally: a 412 re-reads and merges, so nobody is dropped', async () => {
    let landed = false;
    server = await startReferrersServer({
      referrersApi: false,
      conditionalPut: 'etag',
      beforeManifestPut: (_repo, ref) => {
        // Another writer's PUT lands between our read and our write: first one creates the tag.
        if (ref === TAG && !landed) {
          landed = true;
          const other = Buffer.from(
            JSON.stringify({
              schemaVersion: 2,
              mediaType: MediaType.ImageIndex,
              manifests: [ref9],
            }),
          );
          const d = digestOf(other);
          server!.manifests.set(`r@${d}`, { bytes: other, mediaType: MediaType.ImageIndex });
          server!.tags.set(`r:${TAG}`, d);
        }
      },
    });
    const ref9 = ref(9);
    const c = new RegistryClient(server.host, { retry: fastRetry(2) });
    const r = await updateFallbackTag(c, 'r', SUBJECT, [ref(1)], noWait);
    expect(r).toEqual({ tag: TAG, added: [ref(1).digest], kept: 0, writes: 2 });
    expect(await listed(c)).toEqual([ref(1).digest, ref(9).digest].sort());
    const puts = server.log.filter((l) => l.startsWith(`PUT /v2/r/manifests/${TAG}`));
    expect(puts).toHaveLength(2); // the refused create, then the merged write
  });

  it('stops sending a precondition the registry never matches, and still converges', async () => {
    server = await startReferrersServer({ referrersApi: false, conditionalPut: 'opaque' });
    const c = new RegistryClient(server.host, { retry: fastRetry(2) });
    await clobber(c, ref(9));
    const r = await updateFallbackTag(c, 'r', SUBJECT, [ref(1)], noWait);
    expect(r).toEqual({ tag: TAG, added: [ref(1).digest], kept: 1, writes: 2 });
    expect(await listed(c)).toEqual([ref(1).digest, ref(9).digest].sort());
  });
});
