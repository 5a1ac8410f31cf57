import { describe, expect, it } from 'vitest';
import { TAR_BLOCK, TarFraming } from '../../src/archive/tar-framing.js';
import { makeTar, tarHeader } from '../helpers/make-tar.js';

/** Push `bytes` through a framing in chunks of `size`; returns what the parser would be fed. */
function frame(bytes: Buffer, size: number) {
  const framing = new TarFraming('t.tar');
  const fed: Buffer[] = [];
  let ended = false;
  for (let i = 0; i < bytes.length; i += size) {
    const r = framing.push(bytes.subarray(i, i + size));
    if (!ended) fed.push(r.archive);
    ended ||= r.ended;
  }
  framing.finish();
  return { fed: Buffer.concat(fed), ended, trailing: framing.trailing };
}

/** A pax 'x' header whose records are `records`, padded to whole blocks. */
function paxHeader(records: Record<string, string>): Buffer {
  const body = Object.entries(records)
    .map(([k, v]) => {
      const rest = ` ${k}=${v}\n`;
      let len = rest.length + 1;
      while (String(len).length + rest.length !== len) len = String(len).length + rest.length;
      return `${len}${rest}`;
    })
    .join('');
  const data = Buffer.from(body);
  const pad = Buffer.alloc((TAR_BLOCK - (data.length % TAR_BLOCK)) % TAR_BLOCK);
  return Buffer.concat([
    tarHeader({ name: 'PaxHeader', type: { flag: 'x' }, size: data.length }),
    data,
    pad,
  ]);
}

const A = makeTar([
  { name: 'a/one', body: 'x'.repeat(700) },
  { name: 'a/two', body: 'hello' },
]);
const B = makeTar([{ name: 'b/evil', body: 'appended' }]);
const archiveOfA = A.subarray(0, A.length - 2 * TAR_BLOCK);

describe('TarFraming', () => {
  it.each([1, 7, 511, 512, 513, 1000, 1 << 20])(
    'cuts the stream at the marker, whatever the chunk size (%i)',
    (size) => {
      const r = frame(Buffer.concat([A, B]), size);
      expect(r.fed).toEqual(archiveOfA);
      expect(r.ended).toBe(true);
      expect(r.trailing).toEqual({ offset: archiveOfA.length, bytes: B.length, data: true });
    },
  );

  it('counts zero padding after the marker as padding, not data', () => {
    const r = frame(Buffer.concat([A, Buffer.alloc(8 * TAR_BLOCK)]), 1000);
    expect(r.fed).toEqual(archiveOfA);
    expect(r.trailing).toEqual({ offset: archiveOfA.length, bytes: 8 * TAR_BLOCK, data: false });
  });

  it('accepts one zero block at the very end, and never feeds it', () => {
    const r = frame(A.subarray(0, A.length - TAR_BLOCK), 600);
    expect(r.fed).toEqual(archiveOfA);
    expect(r.trailing).toEqual({ offset: archiveOfA.length, bytes: 0, data: false });
  });

  it('refuses a lone zero block followed by a header (Go refuses, GNU tar stops)', () => {
    const lone = Buffer.concat([archiveOfA, Buffer.alloc(TAR_BLOCK), B]);
    expect(() => frame(lone, 4096)).toThrow(expect.objectContaining({ code: 'E_CORRUPT_ARCHIVE' }));
  });

  it('refuses a stream that ends without a marker', () => {
    expect(() => frame(archiveOfA, 512)).toThrow(
      expect.objectContaining({
        code: 'E_CORRUPT_ARCHIVE',
        message: expect.stringMatching(/truncated/),
      }),
    );
  });

  it('refuses a header block that is empty but for its checksum (tar-stream skips it, Go does not)', () => {
    const h = Buffer.alloc(TAR_BLOCK);
    h.write('000400 \0', 148, 'ascii');
    expect(() => frame(Buffer.concat([h, A]), 512)).toThrow(
      expect.objectContaining({ code: 'E_CORRUPT_ARCHIVE' }),
    );
  });

  it('follows a pax size that overrides the header size, across chunks', () => {
    const body = Buffer.alloc(3 * TAR_BLOCK, 0x61);
    // The ustar size field says 0; the pax record says 1536, as writers do for files over 8 GiB.
    const bytes = Buffer.concat([
      paxHeader({ size: String(body.length) }),
      tarHeader({ name: 'big', size: 0 }),
      body,
      A,
      B,
    ]);
    for (const size of [100, 512, 5000]) {
      const r = frame(bytes, size);
      expect(r.fed).toEqual(bytes.subarray(0, bytes.length - B.length - 2 * TAR_BLOCK));
      expect(r.trailing?.bytes).toBe(B.length);
    }
  });

  it('a local pax header without size leaves the header size in force', () => {
    const bytes = Buffer.concat([paxHeader({ path: 'long/name' }), A, B]);
    const r = frame(bytes, 300);
    expect(r.fed).toEqual(bytes.subarray(0, bytes.length - B.length - 2 * TAR_BLOCK));
  });

  it('refuses a global pax header that sets a size (readers disagree on it)', () => {
    const pax = paxHeader({ size: '1024' });
    pax[156] = 'g'.charCodeAt(0);
    pax.write('        ', 148, 'ascii');
    let sum = 0;
    for (const b of pax.subarray(0, TAR_BLOCK)) sum += b;
    pax.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
    expect(() => frame(Buffer.concat([pax, A]), 512)).toThrow(
      expect.objectContaining({ code: 'E_UNSAFE_ENTRY' }),
    );
  });

  it('reads base-256 sizes', () => {
    const h = tarHeader({ name: 'huge', size: 0o100000000000 });
    const framing = new TarFraming('t.tar');
    const r = framing.push(h);
    expect(r.archive).toEqual(h);
    // The next header is expected 8 GiB (plus the header) further on: the marker is not yet due.
    expect(() => framing.finish()).toThrow(expect.objectContaining({ code: 'E_CORRUPT_ARCHIVE' }));
  });
});
