// exit-cleanup: what a writer registers runs once at exit, newest first, unless it unregistered.
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { archiveFromStream, importArchive, releaseLease } from '../../src/internal.js';
import {
  cleanupAtExit,
  pendingExitCleanups,
  runExitCleanup,
} from '../../src/store/exit-cleanup.js';
import { layoutTar } from '../helpers/make-tar.js';
import { makeLayout } from '../helpers/make-layout.js';
import { tmpLayout } from '../helpers/tmp.js';

afterEach(() => runExitCleanup());

describe('cleanupAtExit', () => {
  it('runs what is still registered, newest first, each once', () => {
    const ran: string[] = [];
    cleanupAtExit(() => ran.push('staging'));
    const forgetPart = cleanupAtExit(() => ran.push('finished part'));
    cleanupAtExit(() => ran.push('lock'));
    forgetPart();
    expect(pendingExitCleanups()).toBe(2);
    runExitCleanup();
    runExitCleanup(); // a second signal, then the 'exit' event
    expect(ran).toEqual(['lock', 'staging']);
    expect(pendingExitCleanups()).toBe(0);
  });

  it('runs the others when one throws', () => {
    const ran: string[] = [];
    cleanupAtExit(() => ran.push('first'));
    cleanupAtExit(() => {
      throw new Error('EACCES');
    });
    expect(() => runExitCleanup()).not.toThrow();
    expect(ran).toEqual(['first']);
  });

  it('skips an action unregistered by one that ran before it', () => {
    const ran: string[] = [];
    const forgetInner = cleanupAtExit(() => ran.push('inner'));
    // Staging.discard unregisters the lease it releases itself.
    cleanupAtExit(() => {
      forgetInner();
      ran.push('outer');
    });
    runExitCleanup();
    expect(ran).toEqual(['outer']);
  });
});

describe('writers unregister what they finished', () => {
  it('blob put, import (done or failed), index commits: nothing left to run at exit', async () => {
    const target = tmpLayout();
    const source = makeLayout();
    const before = pendingExitCleanups();
    await target.blobs.put(Readable.from([Buffer.alloc(3 << 20, 1)]));
    await expect(
      target.blobs.put(Readable.from([Buffer.alloc(3 << 20, 2)]), { size: 10 }),
    ).rejects.toMatchObject({ code: 'E_SIZE_MISMATCH' });
    await importArchive(archiveFromStream(Readable.from([layoutTar(source.root)])), target.root);
    await expect(
      importArchive(archiveFromStream(Readable.from([Buffer.alloc(1024, 9)])), target.root),
    ).rejects.toMatchObject({ code: 'E_CORRUPT_ARCHIVE' });
    releaseLease(target.root); // held until exit by design (the CLI commits, then exits)
    expect(pendingExitCleanups()).toBe(before);
  });
});
