import { describe, expect, it } from 'vitest';
import { imageLine, type ImageOutcome } from '../../../src/cli/render/image-line.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

describe('imageLine', () => {
  it('names what moved and what travelled with the image', () => {
    const r: ImageOutcome = {
      status: 'copied',
      digest: DIGEST,
      bytes: 1536,
      referrers: 2,
      cosignTags: ['t'],
    };
    expect(imageLine('reg/app:v1', r, ['linux/amd64'])).toBe(
      'reg/app:v1 sha256:abababababab: copied 1.5 KiB (linux/amd64, 2 referrers, 1 cosign tag)',
    );
  });

  it('says up to date without notes, and a failure with its code', () => {
    const base = { digest: DIGEST, bytes: 0, referrers: 0, cosignTags: [] };
    expect(imageLine('a', { ...base, status: 'up-to-date' })).toBe(
      'a sha256:abababababab: up to date',
    );
    expect(
      imageLine('a', {
        ...base,
        status: 'failed',
        error: { code: 'E_NOT_FOUND', message: 'gone' },
      }),
    ).toBe('a: failed: E_NOT_FOUND gone');
  });
});
