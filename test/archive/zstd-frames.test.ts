import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decompress, newZstdCompress, zstdAvailable } from '../../src/archive/compression.js';
import { throughCodec } from '../../src/archive/streams.js';
import { ZstdFrameCutter, zstdFrames } from '../../src/archive/zstd-frames.js';

// Frames as the zstd tool writes them: 'hello ' with a checksum (raw block, single segment), 'world'
// without, and a skippable frame of 3 bytes between them.
const HELLO = Buffer.from(
  '28b52ffd2406310000' + Buffer.from('hello ').toString('hex') + 'd23be1a9',
  'hex',
);
const WORLD = Buffer.from('28b52ffd2005290000' + Buffer.from('world').toString('hex'), 'hex');
const SKIP = Buffer.from('502a4d1803000000616263', 'hex');

function pieces(frames: Buffer[], chunk: number): Buffer[] {
  const all = Buffer.concat(frames);
  const cutter = new ZstdFrameCutter();
  const out: Buffer[] = [];
  for (let i = 0; i < all.length; i += chunk) out.push(...cutter.cut(all.subarray(i, i + chunk)));
  return out;
}

/** Offsets where one piece ends and the next begins. */
function cuts(parts: Buffer[]): Set<number> {
  const at = new Set<number>();
  let n = 0;
  for (const p of parts) at.add((n += p.length));
  return at;
}

/** Offsets where each frame ends. */
function frameEnds(frames: Buffer[]): number[] {
  let n = 0;
  return frames.map((f) => (n += f.length));
}

describe('ZstdFrameCutter', () => {
  it('passes every byte through and cuts at every frame end, however the input is chunked', () => {
    const frames = [HELLO, SKIP, WORLD, HELLO];
    for (const chunk of [1, 2, 3, 7, 19, 1000]) {
      const out = pieces(frames, chunk);
      expect(Buffer.concat(out).equals(Buffer.concat(frames))).toBe(true);
      const at = cuts(out);
      for (const end of frameEnds(frames))
        expect(at.has(end), `chunk ${chunk}, end ${end}`).toBe(true);
    }
  });

  it('passes what is not a frame through untouched, in one piece after the last frame', () => {
    const junk = Buffer.from('not zstd at all');
    const out = pieces([HELLO, junk], 1000);
    expect(out.map((p) => p.toString('hex'))).toEqual([
      HELLO.toString('hex'),
      junk.toString('hex'),
    ]);
    const broken = Buffer.concat([
      HELLO.subarray(0, 9),
      Buffer.from([0x07, 0, 0]),
      Buffer.alloc(8),
    ]);
    expect(Buffer.concat(pieces([broken], 5)).equals(broken)).toBe(true); // reserved block type
  });
});

describe('zstdFrames', () => {
  async function drain(bytes: Buffer): Promise<Buffer> {
    const out: Buffer[] = [];
    for await (const c of zstdFrames(Readable.from([bytes]))) out.push(c);
    return Buffer.concat(out);
  }

  it('refuses input that stops inside a frame, on every runtime (the Node 22 decoder would not)', async () => {
    const all = Buffer.concat([HELLO, SKIP, WORLD]);
    expect((await drain(all)).equals(all)).toBe(true);
    for (const cut of [
      1,
      4,
      5,
      8,
      12,
      18,
      HELLO.length + 2,
      HELLO.length + SKIP.length - 1,
      all.length - 1,
    ]) {
      await expect(drain(all.subarray(0, cut)), `cut at ${cut}`).rejects.toThrow(/truncated/);
    }
    const notZstd = Buffer.from('plain');
    expect((await drain(notZstd)).equals(notZstd)).toBe(true); // opaque: the decoder judges it
  });
});

describe.runIf(zstdAvailable())('zstd decoding of multi-frame streams', () => {
  const z = zlib as unknown as {
    zstdCompressSync(data: Uint8Array, options?: { params?: Record<number, number> }): Buffer;
    constants: Record<string, number>;
  };

  async function decode(bytes: Buffer, chunk: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += chunk) parts.push(bytes.subarray(i, i + chunk));
    const out: Buffer[] = [];
    for await (const c of decompress('zstd', Readable.from(parts))) out.push(c);
    return Buffer.concat(out);
  }

  async function streamed(data: Buffer): Promise<Buffer> {
    const out: Buffer[] = [];
    for await (const c of throughCodec(Readable.from([data]), newZstdCompress())) out.push(c);
    return Buffer.concat(out);
  }

  it('decodes every frame, all in one chunk or cut anywhere (Node 22 alone stops after the first)', async () => {
    const contents = [
      Buffer.alloc(300 * 1024), // RLE blocks
      randomBytes(200 * 1024), // raw blocks
      Buffer.from('ocilayout '.repeat(30_000)), // compressed blocks
      Buffer.from('x'),
    ];
    const checksum = { params: { [z.constants['ZSTD_c_checksumFlag']!]: 1 } };
    const frames = [
      z.zstdCompressSync(contents[0]!),
      z.zstdCompressSync(contents[1]!, checksum),
      SKIP,
      await streamed(contents[2]!), // no content size: a window descriptor instead
      z.zstdCompressSync(contents[3]!),
    ];
    const all = Buffer.concat(frames);
    const want = Buffer.concat(contents);
    for (const chunk of [all.length, 1024 * 1024, 4093, 17]) {
      expect((await decode(all, chunk)).equals(want), `chunk ${chunk}`).toBe(true);
    }
    const at = cuts(pieces(frames, 4093));
    for (const end of frameEnds(frames)) expect(at.has(end)).toBe(true);
  });
});
