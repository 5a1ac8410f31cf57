import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RegistryHttpError } from '../../src/serve/http-errors.js';
import { UploadSessions } from '../../src/serve/uploads.js';
import { tmpLayout } from '../helpers/tmp.js';

const limits = { maxUploadBytes: 100, maxConcurrentUploads: 4, uploadIdleMs: 60_000 };

async function* chunks(...parts: (string | Error)[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) {
    await Promise.resolve(); // a network source: each chunk arrives later
    if (p instanceof Error) throw p;
    yield Buffer.from(p);
  }
}

describe('upload sessions', () => {
  it('a failed append keeps the session at its last whole write; it resumes and commits', async () => {
    const layout = tmpLayout();
    const sessions = new UploadSessions(limits);
    try {
      const s = sessions.create('app', layout);
      await s.append(chunks('hello '), limits.maxUploadBytes);
      await expect(s.append(chunks('wor', new Error('client went away')), 100)).rejects.toThrow(
        'client went away',
      );
      expect(s.offset).toBe(6);
      await s.append(chunks('world'), limits.maxUploadBytes);
      const digest = `sha256:${createHash('sha256').update('hello world').digest('hex')}`;
      const put = await layout.operation(() => s.commit(digest as never));
      expect(put.digest).toBe(digest);
      expect(layout.blobs.readBytes(put.digest, 100).toString()).toBe('hello world');
      sessions.drop(s);
      expect(existsSync(s.part)).toBe(false);
    } finally {
      sessions.close();
    }
  });

  it('over the size limit: 413, and what fit stays', async () => {
    const layout = tmpLayout();
    const sessions = new UploadSessions(limits);
    try {
      const s = sessions.create('app', layout);
      await s.append(chunks('x'.repeat(60)), limits.maxUploadBytes);
      const err = await s
        .append(chunks('y'.repeat(60)), limits.maxUploadBytes)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RegistryHttpError);
      expect((err as RegistryHttpError).status).toBe(413);
      expect(s.offset).toBe(60);
    } finally {
      sessions.close();
    }
  });

  it('completes under sha512 too (hashed from the part file)', async () => {
    const layout = tmpLayout();
    const sessions = new UploadSessions(limits);
    try {
      const s = sessions.create('app', layout);
      await s.append(chunks('sha512 content'), limits.maxUploadBytes);
      const digest = `sha512:${createHash('sha512').update('sha512 content').digest('hex')}`;
      const put = await layout.operation(() => s.commit(digest as never));
      expect(put.digest).toBe(digest);
    } finally {
      sessions.close();
    }
  });

  it('idle sessions expire with their part files; busy ones do not', () => {
    const layout = tmpLayout();
    const sessions = new UploadSessions({ ...limits, uploadIdleMs: 1000 });
    try {
      const idle = sessions.create('app', layout);
      const busy = sessions.acquire('app', sessions.create('app', layout).id);
      expect(sessions.expire(Date.now() + 5000)).toBe(1);
      expect(existsSync(idle.part)).toBe(false);
      expect(existsSync(busy.part)).toBe(true);
      expect(() => sessions.get('app', idle.id)).toThrow(RegistryHttpError);
      expect(() => sessions.get('other', busy.id)).toThrow(RegistryHttpError); // another repository's
    } finally {
      sessions.close();
    }
  });
});
