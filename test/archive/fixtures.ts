// Shared fixtures for archive tests: peer layouts copied to temp dirs, archives fed from memory.
import { cpSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { archiveFromStream, importArchive, type ImportOptions } from '../../src/internal.js';
import {
  imageBlobs,
  imageIndex,
  makeLayout,
  tagged,
  type MadeLayout,
} from '../helpers/make-layout.js';
import { tmpDir } from '../helpers/tmp.js';

export const PEERS = fileURLToPath(new URL('../../testdata/peers/', import.meta.url));

export function peer(name: string): string {
  return join(PEERS, name);
}

/** A private copy of a peer layout (tests may change it). */
export function copyOfPeer(name: string, dir = tmpDir()): string {
  const out = join(dir, name);
  mkdirSync(dir, { recursive: true });
  cpSync(peer(name), out, { recursive: true });
  return out;
}

/** Import archive bytes as if they came from a pipe. */
export function importBytes(bytes: Uint8Array, layoutDir: string, options: ImportOptions = {}) {
  return importArchive(
    archiveFromStream(Readable.from([Buffer.from(bytes)]), 'test.tar'),
    layoutDir,
    options,
  );
}

/** Every path under `dir` (files and dirs), for "nothing written outside" checks. */
export function treeOf(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      out.push(r);
      try {
        walk(r);
      } catch {
        /* a file */
      }
    }
  };
  walk('');
  return out;
}

export function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** image a tagged v1 (full reference name) and rc, image b untagged-listed, c only in blobs/. */
export function refsLayout(indexText?: string): MadeLayout {
  return makeLayout({
    blobs: { ...imageBlobs('a'), ...imageBlobs('b'), ...imageBlobs('c') },
    index:
      indexText ??
      ((d) =>
        imageIndex([
          tagged(d['amanifest']!, 'example.com/app:v1', { note: 'kept' }),
          tagged(d['amanifest']!, 'rc'),
          d['bmanifest']!,
        ])),
  });
}
