// A layout's whole state as one comparable value: every file's path, type, size and sha256.
// Bad-input tests assert it is unchanged.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface SnapshotOptions {
  /** Ignore ingest/ (abandoned temp files are allowed there) and our lock dir. */
  ignoreIngest?: boolean;
}

export function layoutSnapshot(
  root: string,
  options: SnapshotOptions = { ignoreIngest: true },
): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const rel = relative(root, path);
      if (
        options.ignoreIngest === true &&
        (rel === 'ingest' || rel.startsWith('ingest/') || rel === '.ocilayout-index.lock')
      )
        continue;
      const st = lstatSync(path);
      if (st.isDirectory()) {
        out[rel + '/'] = 'dir';
        walk(path);
      } else if (st.isSymbolicLink()) {
        out[rel] = `symlink:${readlinkSync(path)}`;
      } else if (st.isFile()) {
        out[rel] = `${st.size}:${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
      } else {
        out[rel] = 'special';
      }
    }
  };
  walk(root);
  return out;
}
