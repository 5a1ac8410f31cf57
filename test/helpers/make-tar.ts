// Tars built in test code (node-tar's make-tar idea): our own minimal ustar encoder, so tests can
// write what no well-behaved writer would — `..` names, devices, links, lying sizes, odd type flags.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { gzipSync } from 'node:zlib';

export type TarType = 'file' | 'dir' | 'symlink' | 'link' | 'char' | 'block' | 'fifo';

export interface TarSpec {
  name: string;
  type?: TarType | { flag: string };
  body?: string | Uint8Array;
  linkname?: string;
  /** Size written in the header (default: the body's length). */
  size?: number;
  mode?: number;
}

const FLAG: Record<TarType, string> = {
  file: '0',
  link: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
};

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

/** One 512-byte ustar header. Names over 100 bytes are split into prefix/name at a `/`. */
export function tarHeader(spec: TarSpec & { size: number }): Buffer {
  const h = Buffer.alloc(512);
  let name = spec.name;
  let prefix = '';
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', name.length - 2);
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
  }
  const type = spec.type ?? 'file';
  const flag = typeof type === 'string' ? FLAG[type] : type.flag;
  h.write(name, 0, 100, 'utf8');
  h.write(octal(spec.mode ?? (type === 'dir' ? 0o755 : 0o644), 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');
  h.write(octal(0, 8), 116, 'ascii');
  if (spec.size > 0o77777777777) {
    // GNU base-256: 0x80, then the size big-endian in the remaining 11 bytes.
    h[124] = 0x80;
    let n = BigInt(spec.size);
    for (let i = 135; i > 124; i--) {
      h[i] = Number(n & 0xffn);
      n >>= 8n;
    }
  } else h.write(octal(spec.size, 12), 124, 'ascii');
  h.write(octal(0, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(flag, 156, 'ascii');
  if (spec.linkname !== undefined) h.write(spec.linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  if (prefix !== '') h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'ascii');
  return h;
}

/** A complete tar (two zero blocks at the end unless `end: false`). */
export function makeTar(entries: TarSpec[], options: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = e.body === undefined ? Buffer.alloc(0) : Buffer.from(e.body);
    parts.push(tarHeader({ ...e, size: e.size ?? body.byteLength }));
    if (body.byteLength > 0) {
      parts.push(body);
      const pad = (512 - (body.byteLength % 512)) % 512;
      parts.push(Buffer.alloc(pad));
    }
  }
  if (options.end !== false) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export interface LayoutTarOptions {
  /** Prepended to every name: '' (default), './', 'top/'. */
  prefix?: string;
  /** Emit directory entries (default true). */
  dirs?: boolean;
  /** 'sorted' (default), 'index-first' (index.json and oci-layout before blobs), 'reverse'. */
  order?: 'sorted' | 'index-first' | 'reverse';
  /** Replace or add files (relative names), e.g. a tampered blob. */
  override?: Record<string, string | Uint8Array>;
  /** Leave out these relative names. */
  omit?: string[];
  /** Extra entries appended at the end (names used as given). */
  extra?: TarSpec[];
}

/** Tar a layout directory (regular files and directories only) with the given shape. */
export function layoutTar(root: string, options: LayoutTarOptions = {}): Buffer {
  const files = new Map<string, Uint8Array | string>();
  const dirs: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      if (r === 'ingest' || r.startsWith('.')) continue;
      if (statSync(join(root, r)).isDirectory()) {
        dirs.push(`${r}/`);
        walk(r);
      } else files.set(r, readFileSync(join(root, r)));
    }
  };
  walk('');
  for (const [k, v] of Object.entries(options.override ?? {})) files.set(k, v);
  for (const k of options.omit ?? []) files.delete(k);
  const prefix = options.prefix ?? '';
  let specs: TarSpec[] = [
    ...(options.dirs === false ? [] : dirs.map((d) => ({ name: d, type: 'dir' as const }))),
    ...[...files].map(([name, body]) => ({ name, body })),
  ].map((s) => ({ ...s, name: prefix + s.name }));
  specs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (options.order === 'reverse') specs.reverse();
  if (options.order === 'index-first') {
    const first = (s: TarSpec): boolean => /(^|\/)(index\.json|oci-layout)$/.test(s.name);
    specs = [...specs.filter(first), ...specs.filter((s) => !first(s))];
  }
  return makeTar([...specs, ...(options.extra ?? [])]);
}

export function gz(data: Uint8Array): Buffer {
  return gzipSync(data);
}

/** zlib's one-shot zstd (Node 22.15+; @types/node 20 does not declare it), if this runtime has it. */
const { zstdCompressSync, zstdDecompressSync } = zlib as {
  zstdCompressSync?: (data: Uint8Array) => Buffer;
  zstdDecompressSync?: (data: Uint8Array) => Buffer;
};

/** `data` as one zstd frame at level 3; throws on a runtime without zstd (tests check first). */
export function zst(data: Uint8Array): Buffer {
  if (zstdCompressSync === undefined) throw new Error(`Node ${process.version} has no zstd`);
  return zstdCompressSync(data);
}

/** zstd-compressed `data` inflated; throws on a runtime without zstd (tests check first). */
export function unzst(data: Uint8Array): Buffer {
  if (zstdDecompressSync === undefined) throw new Error(`Node ${process.version} has no zstd`);
  return zstdDecompressSync(data);
}

/** A zstd bomb: like gzipBomb, as concatenated zstd frames (1 MiB of zeros is ~40 bytes each). */
export function zstdBomb(name: string, claimedBytes: number, inflatedMiB: number): Buffer {
  const mib = zst(Buffer.alloc(1024 * 1024));
  return Buffer.concat([
    zst(tarHeader({ name, size: claimedBytes })),
    ...Array.from({ length: inflatedMiB }, () => mib),
  ]);
}

/**
 * A gzip bomb: one tar header claiming `claimedBytes`, followed by zeros, as concatenated gzip
 * members of 1 MiB of zeros each (~1 KiB compressed per MiB), so building it costs nothing.
 */
export function gzipBomb(name: string, claimedBytes: number, inflatedMiB: number): Buffer {
  const head = gzipSync(tarHeader({ name, size: claimedBytes }));
  const mib = gzipSync(Buffer.alloc(1024 * 1024), { level: 9 });
  return Buffer.concat([head, ...Array.from({ length: inflatedMiB }, () => mib)]);
}
