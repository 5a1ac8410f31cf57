// Where blobs were last seen: digest → the (registry, repository) pairs a pull read it from or a
// push placed it in, newest first, in one small file per user (as skopeo's blob-info cache). Push
// asks it for repositories of the same registry to mount from before uploading. It is a hint and
// nothing more: a stale entry costs one refused mount (the registry answers 202 and we upload), a
// corrupt or unreadable file reads as empty, a failed write is dropped. Decisions:
// spec-notes/registry.md ("Blob locations").
import { mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { tryParseDigest } from '../digest.js';
import { writeFileDurable } from '../store/durable.js';
import { isRepositoryName } from './reference.js';

export interface BlobLocations {
  /** Repositories of `registry` where `digest` was seen, newest first. */
  lookup(registry: string, digest: string): string[];
  /** `digest` is in `registry`/`repository` now (read from it, or pushed there). */
  record(registry: string, repository: string, digest: string): void;
  /** Write what was recorded since the last save. Never throws: the record is only a hint. */
  save(): void;
}

export interface BlobLocationLimits {
  /** Digests kept; the least recently seen go first (default 2000). */
  maxDigests?: number | undefined;
  /** Locations kept per digest, newest first (default 5). */
  perDigest?: number | undefined;
  now?: (() => number) | undefined;
}

/** The file name under the cache directory. */
export const BLOB_LOCATIONS_FILE = 'blob-locations.json';
/** A file larger than this is not ours to parse: well above what the default limits write. */
const MAX_FILE_BYTES = 8 * 1024 * 1024;
const VERSION = 1;

/** [registry, repository, seen (ms since the epoch)] */
type Location = [string, string, number];
type Table = Map<string, Location[]>;

/**
 * `$XDG_CACHE_HOME/ocilayout/blob-locations.json`, else `~/.cache/ocilayout/…` (the XDG base
 * directory rule: a relative XDG_CACHE_HOME is invalid and ignored). Undefined when
 * `OCILAYOUT_NO_BLOB_CACHE` is set to anything but empty or `0`.
 */
export function userBlobLocationsPath(
  env: NodeJS.ProcessEnv = process.env,
  home: string = homedir(),
): string | undefined {
  const off = env['OCILAYOUT_NO_BLOB_CACHE'];
  if (off !== undefined && off !== '' && off !== '0') return undefined;
  const xdg = env['XDG_CACHE_HOME'];
  const base = xdg !== undefined && isAbsolute(xdg) ? xdg : join(home, '.cache');
  return join(base, 'ocilayout', BLOB_LOCATIONS_FILE);
}

/** The record kept in `path` (read lazily, written by save()). */
export function openBlobLocations(path: string, limits: BlobLocationLimits = {}): BlobLocations {
  return new BlobLocationFile(path, limits);
}

class BlobLocationFile implements BlobLocations {
  private table: Table | undefined;
  /** Recorded by this process since the last save: merged into the file as it is then. */
  private readonly pending: { digest: string; location: Location }[] = [];
  private readonly maxDigests: number;
  private readonly perDigest: number;
  private readonly now: () => number;

  constructor(
    readonly path: string,
    limits: BlobLocationLimits,
  ) {
    this.maxDigests = limits.maxDigests ?? 2000;
    this.perDigest = limits.perDigest ?? 5;
    this.now = limits.now ?? Date.now;
  }

  lookup(registry: string, digest: string): string[] {
    this.table ??= readTable(this.path);
    return (this.table.get(digest) ?? []).filter((l) => l[0] === registry).map((l) => l[1]);
  }

  record(registry: string, repository: string, digest: string): void {
    if (tryParseDigest(digest) === undefined || registry === '' || !isRepositoryName(repository))
      return;
    const location: Location = [registry, repository, this.now()];
    this.table ??= readTable(this.path);
    addLocation(this.table, digest, location, this.perDigest);
    this.pending.push({ digest, location });
  }

  save(): void {
    if (this.pending.length === 0) return;
    try {
      // Re-read: another process may have saved since we read. Between this read and our rename a
      // third writer's entries can still be lost (last rename wins); the file is never torn.
      const table = readTable(this.path);
      for (const p of this.pending) addLocation(table, p.digest, p.location, this.perDigest);
      const kept = prune(table, this.maxDigests);
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
      writeFileDurable(this.path, serialize(kept));
      this.table = kept;
      this.pending.length = 0;
    } catch {
      // A read-only home, a full disk: the next push uploads instead of mounting, nothing worse.
    }
  }
}

/** Put `location` first in the digest's list (replacing the same pair), at most `max` kept. */
function addLocation(table: Table, digest: string, location: Location, max: number): void {
  const others = (table.get(digest) ?? []).filter(
    (l) => !(l[0] === location[0] && l[1] === location[1]),
  );
  const list = [location, ...others].sort((a, b) => b[2] - a[2]).slice(0, max);
  table.delete(digest); // re-insert: Map order is insertion order, newest last
  table.set(digest, list);
}

/** The `max` digests seen most recently. */
function prune(table: Table, max: number): Table {
  const byRecency = [...table].sort((a, b) => (b[1][0]?.[2] ?? 0) - (a[1][0]?.[2] ?? 0));
  return new Map(byRecency.slice(0, max).reverse());
}

function serialize(table: Table): string {
  return `${JSON.stringify({ version: VERSION, blobs: Object.fromEntries(table) })}\n`;
}

/** The file's table; a missing, oversized, unparsable or foreign file reads as empty. */
function readTable(path: string): Table {
  const table: Table = new Map();
  let text: string;
  try {
    const buf = readFileSync(path);
    if (buf.byteLength > MAX_FILE_BYTES) return table;
    text = buf.toString('utf8');
  } catch {
    return table;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return table;
  }
  if (typeof doc !== 'object' || doc === null) return table;
  const { version, blobs } = doc as { version?: unknown; blobs?: unknown };
  if (version !== VERSION || typeof blobs !== 'object' || blobs === null) return table;
  for (const [digest, list] of Object.entries(blobs as Record<string, unknown>)) {
    if (tryParseDigest(digest) === undefined || !Array.isArray(list)) continue;
    const good = list.filter(isLocation);
    if (good.length > 0) table.set(digest, good);
  }
  return table;
}

function isLocation(x: unknown): x is Location {
  return (
    Array.isArray(x) &&
    x.length === 3 &&
    typeof x[0] === 'string' &&
    x[0] !== '' &&
    typeof x[1] === 'string' &&
    isRepositoryName(x[1]) &&
    typeof x[2] === 'number' &&
    Number.isFinite(x[2])
  );
}
