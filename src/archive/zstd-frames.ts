// Cuts a zstd stream at its frame boundaries (RFC 8878 §3.1), passing every byte through unchanged.
// A zstd stream may hold several frames (pzstd, `cat a.zst b.zst`, skippable frames), and
// `zstd -d` reads them all; Node 22's zlib (seen on 22.23) stops at the end of the first frame of a
// chunk and drops the rest of that chunk, and says nothing when the input stops inside a frame. Fed
// one frame's bytes per write it decodes every frame, as Node 24 does anyway, and the frame
// structure tells a truncated stream. Only headers are parsed: block bodies are counted, not copied.

const ZSTD_MAGIC = 0xfd2fb528;
/** Skippable frames: magic 0x184D2A50 to 0x184D2A5F, a 4-byte size, that many bytes. */
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;

type State =
  | { kind: 'magic' }
  | { kind: 'descriptor' }
  | { kind: 'skippable-size' }
  | { kind: 'block-header' }
  | { kind: 'skip'; then: 'block-header' | 'checksum' | 'frame-end' }
  /** Not a frame we know (damage, or a format after RFC 8878): the decoder will judge the rest. */
  | { kind: 'opaque' };

/**
 * `source`'s bytes, cut so that no chunk holds the end of one frame and the start of another.
 * (A Transform composed in front of the decoder would do the same, but stream.compose hangs on
 * a decoder error at end of input on Node 24.)
 */
export async function* zstdFrames(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const cutter = new ZstdFrameCutter();
  for await (const chunk of source) yield* cutter.cut(chunk);
  // Node 22's decoder says nothing when the input stops inside a frame; the frame structure does.
  if (cutter.insideFrame()) throw new Error('zstd stream ends inside a frame (truncated)');
}

export class ZstdFrameCutter {
  private state: State = { kind: 'magic' };
  /** Header bytes gathered so far (a header may straddle chunks). */
  private head: number[] = [];
  private skipLeft = 0;
  private checksum = false;

  /** True when the bytes so far stop inside a frame we can follow (not after one, not opaque). */
  insideFrame(): boolean {
    return this.state.kind !== 'opaque' && !(this.state.kind === 'magic' && this.head.length === 0);
  }

  /** `chunk` in pieces, cut after every frame that ends inside it. */
  cut(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let start = 0;
    let pos = 0;
    while (pos < chunk.length && this.state.kind !== 'opaque') {
      const s = this.state;
      if (s.kind === 'skip') {
        const n = Math.min(this.skipLeft, chunk.length - pos);
        pos += n;
        this.skipLeft -= n;
        if (this.skipLeft > 0) break;
        this.after(s.then);
      } else {
        this.head.push(chunk[pos++]!);
        this.parse();
      }
      if (this.state.kind === 'magic' && this.head.length === 0 && pos > start) {
        out.push(chunk.subarray(start, pos)); // a frame ended here: one write per frame
        start = pos;
      }
    }
    if (start < chunk.length) out.push(chunk.subarray(start));
    return out;
  }

  /** Act on the header bytes gathered for the current state, once there are enough. */
  private parse(): void {
    const h = this.head;
    switch (this.state.kind) {
      case 'magic': {
        if (h.length < 4) return;
        const magic = (h[0]! | (h[1]! << 8) | (h[2]! << 16) | (h[3]! << 24)) >>> 0;
        this.head = [];
        if (magic === ZSTD_MAGIC) this.state = { kind: 'descriptor' };
        else if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC)
          this.state = { kind: 'skippable-size' };
        else this.state = { kind: 'opaque' };
        return;
      }
      case 'descriptor': {
        // Frame_Header_Descriptor: FCS flag (bits 7-6), Single_Segment (5), checksum (2), DID flag (1-0).
        const fhd = h[0]!;
        this.head = [];
        const fcsFlag = fhd >> 6;
        const singleSegment = (fhd & 0x20) !== 0;
        this.checksum = (fhd & 0x04) !== 0;
        const fcs = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag]!;
        const did = [0, 1, 2, 4][fhd & 0x03]!;
        this.skip((singleSegment ? 0 : 1) + did + fcs, 'block-header');
        return;
      }
      case 'skippable-size': {
        if (h.length < 4) return;
        const size = (h[0]! | (h[1]! << 8) | (h[2]! << 16) | (h[3]! << 24)) >>> 0;
        this.head = [];
        this.skip(size, 'frame-end');
        return;
      }
      case 'block-header': {
        if (h.length < 3) return;
        const bits = h[0]! | (h[1]! << 8) | (h[2]! << 16);
        this.head = [];
        const last = (bits & 1) === 1;
        const type = (bits >> 1) & 3;
        const size = bits >>> 3;
        if (type === 3) {
          this.state = { kind: 'opaque' }; // reserved block type: the decoder reports it
          return;
        }
        // Raw and compressed blocks carry Block_Size bytes; an RLE block carries one.
        this.skip(type === 1 ? 1 : size, last ? 'checksum' : 'block-header');
        return;
      }
      case 'skip':
      case 'opaque':
        return; // bodies are counted in _transform; opaque bytes are not parsed
    }
  }

  private skip(n: number, then: 'block-header' | 'checksum' | 'frame-end'): void {
    this.skipLeft = n;
    this.state = { kind: 'skip', then };
    if (n === 0) this.after(then);
  }

  private after(then: 'block-header' | 'checksum' | 'frame-end'): void {
    if (then === 'block-header') this.state = { kind: 'block-header' };
    else if (then === 'checksum' && this.checksum) this.skip(4, 'frame-end');
    else this.state = { kind: 'magic' };
  }
}
