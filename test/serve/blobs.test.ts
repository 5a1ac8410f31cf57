import { createHash } from 'node:crypto';
import { chmodSync, truncateSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Digest } from '../../src/digest.js';
import { parseRange } from '../../src/serve/blobs.js';
import { tmpDir } from '../helpers/tmp.js';
import { pushBlob, startServe } from './helpers.js';

describe('parseRange', () => {
  it('serves one range, a suffix or an open end; ignores what it does not serve', () => {
    expect(parseRange(undefined, 10)).toBeUndefined();
    expect(parseRange('bytes=0-0', 10)).toEqual({ start: 0, end: 0 });
    expect(parseRange('bytes=2-100', 10)).toEqual({ start: 2, end: 9 });
    expect(parseRange('bytes=4-', 10)).toEqual({ start: 4, end: 9 });
    expect(parseRange('bytes=-20', 10)).toEqual({ start: 0, end: 9 });
    expect(parseRange('bytes=0-1,3-4', 10)).toBeUndefined();
    expect(parseRange('items=0-1', 10)).toBeUndefined();
    expect(parseRange('bytes=5-2', 10)).toBeUndefined();
  });
  it('past the end, or an empty suffix, is unsatisfiable', () => {
    expect(parseRange('bytes=10-', 10)).toBe('unsatisfiable');
    expect(parseRange('bytes=-0', 10)).toBe('unsatisfiable');
    expect(parseRange('bytes=0-', 0)).toBe('unsatisfiable');
  });
});

describe('a size-0 blob file', () => {
  const digestOfEmpty = (alg: 'sha256' | 'sha512'): string =>
    `${alg}:${createHash(alg).update('').digest('hex')}`;

  it('is served, without reading, only under the empty content digest', async () => {
    const reg = await startServe(tmpDir());
    expect(await pushBlob(reg.url, 'app', new Uint8Array(0))).toBe(digestOfEmpty('sha256'));
    reg.repositories
      .open('app')
      .blobs.putBytes(Buffer.alloc(0), { digest: digestOfEmpty('sha512'), size: 0 });
    for (const alg of ['sha256', 'sha512'] as const) {
      for (const method of ['GET', 'HEAD']) {
        const res = await fetch(`${reg.url}/v2/app/blobs/${digestOfEmpty(alg)}`, { method });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-length')).toBe('0');
        expect(res.headers.get('docker-content-digest')).toBe(digestOfEmpty(alg));
        expect((await res.arrayBuffer()).byteLength).toBe(0);
      }
    }
  });

  it('under any other digest is a truncated blob: 500 (reported), never complete', async () => {
    const reg = await startServe(tmpDir());
    const digest = await pushBlob(reg.url, 'app', Buffer.from('some layer bytes'));
    const path = reg.repositories.open('app').blobs.path(digest as Digest);
    chmodSync(path, 0o644);
    truncateSync(path, 0);
    for (const method of ['GET', 'HEAD']) {
      const res = await fetch(`${reg.url}/v2/app/blobs/${digest}`, { method });
      expect(res.status, method).toBe(500);
      expect(res.headers.get('docker-content-digest')).toBeNull();
      await res.arrayBuffer();
    }
    expect(reg.internal.map((e) => (e as { code?: string }).code)).toEqual([
      'E_DIGEST_MISMATCH',
      'E_DIGEST_MISMATCH',
    ]);
    reg.internal.splice(0);
  });
});
