import { describe, expect, it } from 'vitest';
import { IoError, LockError, NotFoundError, UsageError } from '../../src/internal.js';
import { RegistryHttpError, errorReply } from '../../src/serve/http-errors.js';

describe('errorReply', () => {
  it('a protocol refusal is sent as it is', () => {
    const r = errorReply(
      new RegistryHttpError(416, 'BLOB_UPLOAD_INVALID', 'x', { a: 1 }, undefined, { Range: '0-1' }),
    );
    expect(r).toEqual({
      status: 416,
      headers: { Range: '0-1' },
      body: { errors: [{ code: 'BLOB_UPLOAD_INVALID', message: 'x', detail: { a: 1 } }] },
      internal: false,
    });
  });
  it('engine errors map to the spec codes; their messages (server paths) are not sent', () => {
    const nf = errorReply(
      new NotFoundError('E_NOT_FOUND', '/srv/secret/layout: gone'),
      'BLOB_UNKNOWN',
    );
    expect([nf.status, nf.body.errors[0]!.code]).toEqual([404, 'BLOB_UNKNOWN']);
    expect(JSON.stringify(nf.body)).not.toContain('/srv/secret');
    const lock = errorReply(new LockError('E_LOCK_TIMEOUT', 'busy'));
    expect([lock.status, lock.headers['Retry-After']]).toEqual([503, '1']);
    const io = errorReply(new IoError('E_IO', 'disk at /srv/secret failed'));
    expect([io.status, io.internal]).toEqual([500, true]);
    expect(JSON.stringify(io.body)).not.toContain('/srv/secret');
    const digest = errorReply(new UsageError('E_INVALID_DIGEST', 'bad'));
    expect(digest.body.errors[0]!.code).toBe('DIGEST_INVALID');
  });
  it('anything else is a 500 with nothing of its message', () => {
    const r = errorReply(new Error('secret detail'));
    expect(r.status).toBe(500);
    expect(r.internal).toBe(true);
    expect(JSON.stringify(r.body)).not.toContain('secret');
  });
});
