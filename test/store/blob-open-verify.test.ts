// A verifying read of a small corrupt blob fails verification before the caller starts reading;
// the error must reach the later reader, not crash the process as an unhandled 'error' event.
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { tmpLayout } from '../helpers/tmp.js';

describe('BlobStore.open({ verify })', () => {
  it('keeps an early verification error for a reader that comes later', async () => {
    const layout = tmpLayout();
    const r = layout.blobs.putBytes(Buffer.from('hello world'));
    writeFileSync(layout.blobs.path(r.digest), 'hellO world');
    const stream = layout.blobs.open(r.digest, { verify: true, size: 11 });
    await sleep(100); // the whole blob flows into the verifier meanwhile
    const read = async (): Promise<void> => {
      for await (const _ of stream) {
        /* drain */
      }
    };
    await expect(read()).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH' });
  });
});
