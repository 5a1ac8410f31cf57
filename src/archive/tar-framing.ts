// Where a tar archive ends. tar-stream skips zero blocks and reads on, so bytes appended after the
// end-of-archive marker (two zero blocks) would be imported as more entries, while GNU tar, Python's
// tarfile and Go's archive/tar (skopeo, docker) stop at the marker: an archive could show one image
// to every other reader and another to us. This scanner walks the header chain ahead of the parser
// and cuts the stream at the marker, so the parser sees exactly what the other readers see.
import { IntegrityError, UnsafeInputError } from '../errors.js';

export const TAR_BLOCK = 512;
/** tar-stream refuses longer pax and GNU long-name headers; so do we. */
const MAX_META_HEADER = 4 * 1024 * 1024;
const SIZE_FIELD = { offset: 124, length: 12 };
const CHECKSUM_FIELD = { offset: 148, length: 8 };
const TYPEFLAG = 156;
const PAX_LOCAL = 0x78; // 'x'
const PAX_GLOBAL = 0x67; // 'g'

export interface FramedChunk {
  /** The part of the chunk that belongs to the archive proper (before the marker). */
  archive: Buffer;
  /** Whether the marker has been reached: feed the parser no more. */
  ended: boolean;
}

/**
 * Follows the header chain of a tar stream chunk by chunk. Call `push` with every chunk of the tar
 * (after decompression) and feed the parser only `archive`; call `finish` at the end of the input.
 */
export class TarFraming {
  /** Tar offset of the first byte of the next chunk. */
  private pos = 0;
  /** Tar offset where the next header block starts. */
  private nextHeader = 0;
  /** The bytes so far of a header block that straddles chunks (not yet handed on). */
  private held: Buffer[] = [];
  /** The bytes so far of the pax data being collected. */
  private paxData: Buffer[] = [];
  /** A pax 'x' header's data being collected: its offset and size. */
  private pax: { start: number; size: number } | undefined;
  /** Size from the last pax header, applied to the next ordinary header (as tar-stream does). */
  private paxSize: number | undefined;
  /** Offset of the first zero block where a header was expected. */
  private markerStart: number | undefined;
  private markerEnd: number | undefined;
  /** Whether the pax header being collected is a global one. */
  private paxGlobal = false;
  /** Bytes after the marker, and whether any of them is not zero padding. */
  private trailingBytes = 0;
  private trailingData = false;

  constructor(private readonly name: string) {}

  /** The marker's tar offset and what follows it, once the input has ended. */
  get trailing(): { offset: number; bytes: number; data: boolean } | undefined {
    if (this.markerStart === undefined) return undefined;
    return { offset: this.markerStart, bytes: this.trailingBytes, data: this.trailingData };
  }

  push(chunk: Buffer): FramedChunk {
    const start = this.pos;
    this.pos += chunk.byteLength;
    if (this.markerEnd !== undefined) {
      this.countTrailing(chunk);
      return { archive: chunk.subarray(0, 0), ended: true };
    }
    const out: Buffer[] = [];
    let handled = start; // bytes before this offset are emitted, held or dropped
    while (this.markerEnd === undefined) {
      if (this.pax !== undefined) {
        const end = this.pax.start + this.pax.size;
        const from = Math.max(this.pax.start, start);
        const to = Math.min(end, this.pos);
        // Copied, as the straddling header below: the chunk's memory may be reused once the
        // parser is past it (readArchive's file reader), and this is kept until the next chunk.
        if (to > from) this.paxData.push(Buffer.from(chunk.subarray(from - start, to - start)));
        if (end > this.pos) break;
        this.onPaxData(Buffer.concat(this.paxData));
        continue;
      }
      const headerStart = this.nextHeader;
      if (headerStart >= this.pos) break;
      // Entry data before the header is the archive's; the header itself is held until whole,
      // since a zero block is never handed to the parser.
      if (headerStart > handled) out.push(chunk.subarray(handled - start, headerStart - start));
      const headerEnd = headerStart + TAR_BLOCK;
      const from = Math.max(headerStart, start);
      const to = Math.min(headerEnd, this.pos);
      this.held.push(Buffer.from(chunk.subarray(from - start, to - start)));
      handled = to;
      if (headerEnd > this.pos) break;
      const block = Buffer.concat(this.held);
      this.held = [];
      if (this.onHeader(block, headerStart)) out.push(block);
    }
    if (this.markerEnd !== undefined) {
      if (this.markerEnd < this.pos) this.countTrailing(chunk.subarray(this.markerEnd - start));
    } else if (this.markerStart === undefined && handled < this.pos && this.held.length === 0) {
      out.push(chunk.subarray(handled - start));
    }
    const archive = out.length === 1 ? out[0]! : Buffer.concat(out);
    return { archive, ended: this.markerEnd !== undefined };
  }

  /**
   * At the end of the input: one zero block and then the end is accepted as a marker (some writers
   * stop there); no marker at all means the archive was cut.
   */
  finish(): void {
    if (this.markerStart !== undefined) return;
    throw new IntegrityError(
      'E_CORRUPT_ARCHIVE',
      `${this.name} is truncated: no end-of-archive marker after the last entry`,
      { archive: this.name, bytes: this.pos },
    );
  }

  /** Judge one header block; returns whether it belongs to the archive (is not a zero block). */
  private onHeader(block: Buffer, offset: number): boolean {
    if (isZero(block)) {
      if (this.markerStart === undefined) {
        this.markerStart = offset;
        this.nextHeader = offset + TAR_BLOCK;
      } else {
        this.markerEnd = offset + TAR_BLOCK;
      }
      return false;
    }
    if (this.markerStart !== undefined) {
      // Go's archive/tar refuses a zero block followed by a header; GNU tar stops at the first.
      throw new IntegrityError(
        'E_CORRUPT_ARCHIVE',
        `${this.name} has a lone zero block at offset ${this.markerStart} followed by more entries; tar readers disagree on such archives`,
        { archive: this.name, offset: this.markerStart },
      );
    }
    if (isZeroOutsideChecksum(block)) {
      // tar-stream would skip this block as a marker while Go's reader refuses its checksum.
      throw new IntegrityError(
        'E_CORRUPT_ARCHIVE',
        `${this.name} has an empty header block with a checksum at offset ${offset}`,
        { archive: this.name, offset },
      );
    }
    const declared = decodeSize(block);
    if (declared === undefined || declared < 0) {
      throw new IntegrityError(
        'E_CORRUPT_ARCHIVE',
        `${this.name} has a tar header with an unreadable size at offset ${offset}`,
        { archive: this.name, offset },
      );
    }
    const type = block[TYPEFLAG];
    const dataStart = offset + TAR_BLOCK;
    let size = declared;
    if (type === PAX_LOCAL || type === PAX_GLOBAL) {
      if (declared > MAX_META_HEADER) {
        throw new UnsafeInputError(
          'E_UNSAFE_ENTRY',
          `${this.name} has a ${declared}-byte pax header at offset ${offset}; at most ${MAX_META_HEADER} are read`,
          { archive: this.name, offset, size: declared },
        );
      }
      if (declared > 0) this.pax = { start: dataStart, size: declared };
      this.paxGlobal = type === PAX_GLOBAL;
      // A local pax header replaces the one before it (tar-stream keeps only the last).
      if (!this.paxGlobal) this.paxSize = undefined;
    } else if (!isLongName(type)) {
      size = this.paxSize ?? declared;
      this.paxSize = undefined;
    }
    this.nextHeader = dataStart + Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;
    return true;
  }

  private onPaxData(data: Buffer): void {
    this.pax = undefined;
    this.paxData = [];
    const size = paxRecord(data, 'size');
    if (size === undefined) return;
    if (this.paxGlobal) {
      // tar-stream applies a global size to the next pax header's entry; Go never applies it.
      throw new UnsafeInputError(
        'E_UNSAFE_ENTRY',
        `${this.name} has a global pax header that sets a size; tar readers disagree on it`,
        { archive: this.name },
      );
    }
    const n = /^[0-9]+$/.test(size) ? Number(size) : NaN;
    if (!Number.isSafeInteger(n)) {
      throw new IntegrityError('E_CORRUPT_ARCHIVE', `${this.name} has a pax size of ${size}`, {
        archive: this.name,
      });
    }
    this.paxSize = n;
  }

  private countTrailing(bytes: Buffer): void {
    this.trailingBytes += bytes.byteLength;
    if (!this.trailingData && !isZero(bytes)) this.trailingData = true;
  }
}

function isLongName(type: number | undefined): boolean {
  return type === 0x4c /* 'L' */ || type === 0x4b; /* 'K' */
}

function isZero(buf: Buffer): boolean {
  for (let i = 0; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

function isZeroOutsideChecksum(block: Buffer): boolean {
  const { offset, length } = CHECKSUM_FIELD;
  return isZero(block.subarray(0, offset)) && isZero(block.subarray(offset + length));
}

/** The size field: octal text (leading spaces and NULs allowed) or base-256 (first byte 0x80). */
function decodeSize(block: Buffer): number | undefined {
  const field = block.subarray(SIZE_FIELD.offset, SIZE_FIELD.offset + SIZE_FIELD.length);
  if ((field[0]! & 0x80) !== 0) {
    if (field[0] !== 0x80) return undefined; // 0xff: negative
    let n = 0;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    return Number.isSafeInteger(n) ? n : undefined;
  }
  const text = field.toString('latin1').replace(/^[ \0]+/, '');
  const digits = text.slice(0, text.search(/[ \0]|$/));
  if (digits === '') return 0;
  return /^[0-7]+$/.test(digits) ? parseInt(digits, 8) : undefined;
}

/** The value of one record of pax data ("<len> <key>=<value>\n" records). */
function paxRecord(data: Buffer, key: string): string | undefined {
  let found: string | undefined;
  let rest = data;
  while (rest.length > 0) {
    const space = rest.indexOf(0x20);
    if (space <= 0) break;
    const len = parseInt(rest.subarray(0, space).toString('latin1'), 10);
    if (!(len > space) || len > rest.length) break;
    const record = rest.subarray(space + 1, len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq === -1) break;
    if (record.slice(0, eq) === key) found = record.slice(eq + 1); // the last one wins
    rest = rest.subarray(len);
  }
  return found;
}
