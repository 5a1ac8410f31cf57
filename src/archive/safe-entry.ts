// Judges one tar entry from its header alone, before anything touches the filesystem (node-tar's
// rule). Import never creates a file from an entry name: names only tell what an entry is, and
// content goes to content-addressed paths. Routing by name (blob, index.json...) is import's job.
import { IntegrityError, UnsafeInputError } from '../errors.js';

/** The header fields we judge (tar-stream's Header, read defensively: its types promise more than it gives). */
export interface EntryHeader {
  name: string;
  size?: number | null | undefined;
  /** null for type flags tar-stream does not know (GNU sparse, vendor types). */
  type?: string | null | undefined;
  linkname?: string | null | undefined;
}

/** What an entry is, once judged safe. `path` is normalised: no `./`, no empty or `.` parts. */
export type EntryVerdict =
  | { kind: 'file'; path: string; size: number }
  | { kind: 'directory'; path: string }
  /**
   * A symlink that only renames another archive member. Accepted solely where `docker save` and
   * skopeo's docker-archive writer put them (`<id>/layer.tar` → `../<hex>.tar`); never materialised.
   */
  | { kind: 'alias'; path: string; target: string };

/**
 * Normalise an entry name to `a/b/c`. Throws E_UNSAFE_ENTRY for absolute names, `..` parts,
 * backslashes, NUL, or an empty name. (A backslash is an ordinary byte on Linux, but it is a
 * separator to Windows extractors; refusing it keeps the archive meaning the same everywhere.)
 */
export function normalizeEntryName(name: string): string {
  if (name === '' || name.includes('\0') || name.includes('\\')) {
    throw unsafe(name, 'has an empty name, a NUL byte or a backslash');
  }
  if (name.startsWith('/')) throw unsafe(name, 'has an absolute path');
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') throw unsafe(name, 'contains a ".." path component');
    parts.push(part);
  }
  if (parts.length === 0) return '';
  return parts.join('/');
}

/**
 * Resolve a symlink target relative to the link's directory, inside the archive. Throws
 * E_UNSAFE_ENTRY for absolute targets or targets that climb above the archive root.
 */
export function resolveAliasTarget(linkPath: string, target: string): string {
  if (target === '' || target.startsWith('/') || target.includes('\0') || target.includes('\\')) {
    throw unsafe(linkPath, `is a symlink to ${JSON.stringify(target)}, outside the archive`);
  }
  const parts = linkPath.split('/').slice(0, -1);
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) {
        throw unsafe(linkPath, `is a symlink to ${JSON.stringify(target)}, outside the archive`);
      }
      parts.pop();
    } else {
      parts.push(part);
    }
  }
  if (parts.length === 0) throw unsafe(linkPath, 'is a symlink to the archive root');
  return parts.join('/');
}

/** Symlinks are accepted only as docker-save layer aliases: a `layer.tar` one level deep (or two, under a top folder). */
function isLayerAliasName(path: string): boolean {
  const parts = path.split('/');
  return parts.length >= 2 && parts.length <= 3 && parts[parts.length - 1] === 'layer.tar';
}

/**
 * Accept or refuse one entry from its header. Throws E_UNSAFE_ENTRY for hard links, devices,
 * fifos, unknown types, unsafe names, and symlinks other than docker layer aliases;
 * E_CORRUPT_ARCHIVE for headers that contradict themselves (a directory or link carrying data).
 */
export function judgeEntry(header: EntryHeader): EntryVerdict {
  const path = normalizeEntryName(header.name);
  const size = header.size ?? 0;
  const type = header.type ?? '';
  switch (type) {
    case 'file':
    case 'contiguous-file':
      if (path === '') throw unsafe(header.name, 'is a file without a name');
      return { kind: 'file', path, size };
    case 'directory':
      // tar-stream does not skip a directory's data: data here would be parsed as headers.
      if (size !== 0) throw corrupt(header.name, 'is a directory entry carrying data');
      return { kind: 'directory', path };
    case 'symlink': {
      if (size !== 0) throw corrupt(header.name, 'is a symlink entry carrying data');
      const linkname = header.linkname ?? '';
      if (!isLayerAliasName(path)) {
        throw unsafe(header.name, `is a symlink (to ${JSON.stringify(linkname)}); refused`);
      }
      return { kind: 'alias', path, target: resolveAliasTarget(path, linkname) };
    }
    case 'link':
      throw unsafe(
        header.name,
        `is a hard link (to ${JSON.stringify(header.linkname ?? '')}); refused`,
      );
    case 'character-device':
    case 'block-device':
      throw unsafe(header.name, 'is a device file; refused');
    case 'fifo':
      throw unsafe(header.name, 'is a fifo; refused');
    case 'pax-header':
    case 'pax-global-header':
    case 'gnu-long-path':
    case 'gnu-long-link-path':
      // tar-stream consumes these itself; seeing one here means a malformed sequence.
      throw corrupt(header.name, `is a stray ${type} header`);
    default:
      throw unknownTypeError(header.name);
  }
}

/** An entry type tar-stream could not name (sparse files, vendor extensions): refused. */
function unknownTypeError(name: string): UnsafeInputError {
  return unsafe(name, 'has an entry type we do not accept (sparse or vendor-specific)');
}

function unsafe(name: string, why: string): UnsafeInputError {
  return new UnsafeInputError(
    'E_UNSAFE_ENTRY',
    `archive entry ${JSON.stringify(name)} ${why}`,
    { entry: name },
    { hint: 'the archive may be hostile; nothing was written outside the staging area' },
  );
}

function corrupt(name: string, why: string): IntegrityError {
  return new IntegrityError('E_CORRUPT_ARCHIVE', `archive entry ${JSON.stringify(name)} ${why}`, {
    entry: name,
  });
}
