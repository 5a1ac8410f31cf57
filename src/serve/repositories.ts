// Repository name → layout: the one place that decides which directory a repository is.
// `single`: ROOT is one layout, served as one repository under one name. `tree`: ROOT is a
// directory of layouts, ROOT/a/b being repository a/b (the way zot stores its repositories).
// Names are checked against the distribution grammar before they get here, so they have no `..`,
// no empty and no absolute components; this module adds the checks the grammar cannot make: no
// symlinked directory on the way (it could point outside ROOT) and no repository inside another
// layout (ROOT/a/blobs would be layout a's own blob directory). In `single` mode the full image
// names stored in the layout (`reg.example/team/app:v1`, as sync, ctr export or podman save leave
// them) are repositories too, by their path without the registry host (`team/app`): that is what a
// pull client sends when it points at this server (skopeo docker://HOST:5000/team/app:v1,
// containerd's hosts.toml mirrors). See spec-notes/serve.md.
import {
  lstatSync,
  mkdirSync,
  readdirSync,
  rmdirSync,
  statSync,
  type BigIntStats,
  type Stats,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { NotFoundError, UsageError, errnoCode, wrapFsError } from '../errors.js';
import { Layout, type LayoutInit, type LayoutOptions } from '../layout/layout.js';
import { isLayoutDirectory } from '../layout/layout-dir.js';
import {
  isBareName,
  isDigestName,
  isValidTag,
  registryHostOf,
  splitImageName,
} from '../layout/names.js';
import { listNames, listTags } from '../layout/tags.js';
import { lstatVersion, sameVersion, settledVersion, wallClockNs } from '../store/file-version.js';
import { INDEX_FILE, OCI_LAYOUT_FILE } from '../store/paths.js';
import { RegistryHttpError } from './http-errors.js';
import { IndexCache } from './index-cache.js';
import { isValidRepositoryName } from './names.js';

/** The catalog walk stops descending this deep (a repository name has at most this many parts). */
const MAX_DEPTH = 32;
/** ... and after looking at this many directories, so a huge tree cannot stall a request for long. */
const MAX_DIRS_WALKED = 100_000;

export interface RepositoriesOptions extends LayoutOptions {
  root: string;
  /** The repository name of a single-layout ROOT (default: ROOT's directory name). */
  name?: string | undefined;
}

export type RepositoriesMode = 'single' | 'tree';

/** A layout this server created for a push, taken back if the push comes to nothing. */
interface Created {
  init: LayoutInit;
  /** The directory the layout is in, and the first of its parents mkdir made (or undefined). */
  dir: string;
  firstMade: string | undefined;
}

export class Repositories {
  /** index.json of each layout served, as last read (index-cache.ts). */
  readonly indexes = new IndexCache();
  /** Tree repositories found to be layouts, by name (see treeLayout). */
  private readonly known = new Map<string, KnownRepository>();
  /** Layouts created by pushes that have not stored anything yet. */
  private readonly created = new Map<string, Created>();
  /** Requests in progress, per repository. */
  private readonly active = new Map<string, number>();
  /** A take-back in progress: a push to that name waits for it before it looks. */
  private readonly undoing = new Map<string, Promise<void>>();

  private constructor(
    readonly root: string,
    readonly mode: RepositoriesMode,
    /** The one repository's name in `single` mode. */
    readonly singleName: string | undefined,
    private readonly layoutOptions: LayoutOptions,
  ) {}

  /**
   * Serve `options.root`: a layout (single mode) or a directory (tree mode). Throws E_NOT_FOUND
   * when it does not exist, E_USAGE for a single layout whose name is not a valid repository name
   * (pass one), or a name given for a tree.
   */
  static open(options: RepositoriesOptions): Repositories {
    const root = resolve(options.root);
    // ROOT itself is the operator's choice and may be a symlink; nothing below it is followed.
    const st = statOrUndefined(root);
    if (st === undefined || !st.isDirectory()) {
      throw new NotFoundError('E_NOT_FOUND', `${root} is not a directory`, { path: root });
    }
    const layoutOptions: LayoutOptions =
      options.lockTimeoutMs === undefined ? {} : { lockTimeoutMs: options.lockTimeoutMs };
    if (isLayoutDir(root)) {
      const layout = Layout.open(root, layoutOptions);
      const name = options.name ?? basename(layout.root).toLowerCase();
      if (!isValidRepositoryName(name)) {
        throw new UsageError(
          'E_USAGE',
          `${JSON.stringify(name)} is not a valid repository name`,
          { name },
          {
            hint: 'name it with --name: lowercase [a-z0-9] parts joined by . _ __ or -, separated by /',
          },
        );
      }
      return new Repositories(layout.root, 'single', name, layoutOptions);
    }
    if (options.name !== undefined) {
      throw new UsageError(
        'E_USAGE',
        `--name applies to a single layout; ${root} is a directory of layouts`,
        { path: root },
        { hint: 'its sub-directories are the repositories: ROOT/a/b is repository a/b' },
      );
    }
    return new Repositories(root, 'tree', undefined, layoutOptions);
  }

  /** The layout of an existing repository. Throws NAME_UNKNOWN (404) otherwise. */
  open(name: string): Layout {
    if (this.mode === 'tree') return this.treeLayout(name);
    if (name !== this.singleName) return this.repository(name).layout;
    if (!isLayoutDir(this.root)) throw nameUnknown(name);
    return Layout.open(this.root, this.layoutOptions);
  }

  /**
   * The layout of tree repository `name`, checked as directoryOf and Layout.open check it, or
   * taken as found before when no directory on the way has changed since.
   *
   * One lstat per path component stays: a component swapped for a symlink (or a layout made
   * above the repository) changes its parent directory, which is on the path, not the
   * repository's directory; without openat-style resolution beneath ROOT, only looking at each
   * component tells. What is saved is the rest: the layout checks of every component and the
   * read of oci-layout. They hold while the versions (device, inode, mtime, ctime) of the
   * directories are unchanged: an entry created, removed or renamed in a directory changes its
   * mtime and ctime, and a directory replaced is another inode. Kept only when no component
   * above holds an index.json (a hauler store is told by its content, which can change in place)
   * and the layout has its oci-layout file (same reason), and only versions whose ctime is
   * settled (store/file-version.ts, settledVersion). oci-layout rewritten in place, keeping its name,
   * is read again when the directory next changes.
   */
  private treeLayout(name: string): Layout {
    const statAtNs = wallClockNs();
    const versions = isValidRepositoryName(name) ? this.pathVersions(name) : undefined;
    const known = this.known.get(name);
    if (known !== undefined) {
      if (versions !== undefined && known.versions.every((v, i) => sameVersion(versions[i], v))) {
        this.known.delete(name);
        this.known.set(name, known);
        return Layout.reopen(known.root, this.layoutOptions);
      }
      this.known.delete(name);
    }
    const dir = this.directoryOf(name);
    if (dir === undefined || !isLayoutDir(dir)) throw nameUnknown(name);
    const layout = Layout.open(dir, this.layoutOptions);
    if (
      versions !== undefined &&
      versions.length === name.split('/').length &&
      versions.every((v) => settledVersion(v, statAtNs)) &&
      this.plainLayoutPath(dir, versions.length)
    ) {
      this.known.set(name, { root: layout.root, versions });
      while (this.known.size > MAX_KNOWN_REPOSITORIES) {
        this.known.delete(this.known.keys().next().value as string);
      }
    }
    return layout;
  }

  /** The versions of the directories on the way to `name`, up to the first that is none. */
  private pathVersions(name: string): BigIntStats[] | undefined {
    const out: BigIntStats[] = [];
    let dir = this.root;
    for (const part of name.split('/')) {
      dir = join(dir, part);
      const st = lstatVersion(dir);
      if (st === undefined || !st.isDirectory()) return out;
      out.push(st);
    }
    return out;
  }

  /** No index.json above the layout at `dir` (`depth` components below ROOT), and its oci-layout. */
  private plainLayoutPath(dir: string, depth: number): boolean {
    if (lstatVersion(join(dir, OCI_LAYOUT_FILE))?.isFile() !== true) return false;
    let above = dirname(dir);
    for (let i = 1; i < depth; i++, above = dirname(above)) {
      if (lstatVersion(join(above, INDEX_FILE)) !== undefined) return false;
    }
    return true;
  }

  /**
   * An existing repository with its tags: a tree's layout or a single layout's own repository as
   * the layout names them, a stored full name's repository by the names mapped to it. Throws
   * NAME_UNKNOWN (404).
   */
  repository(name: string): ServedRepository {
    if (this.mode === 'tree') return new ServedRepository(name, this.open(name), 'layout', []);
    if (!isValidRepositoryName(name)) throw nameUnknown(name);
    const layout = Layout.open(this.root, this.layoutOptions);
    const index = this.indexes.read(layout);
    const names = listTags(index);
    const mapped = mapStoredNames(listNames(index)).get(name) ?? [];
    if (name === this.singleName) return new ServedRepository(name, layout, 'own', mapped, names);
    if (mapped.length === 0) throw nameUnknown(name);
    return new ServedRepository(name, layout, 'mapped', mapped);
  }

  /**
   * The layout of `name`, created (an empty layout) when the repository does not exist yet: a
   * push names repositories into being. Throws NAME_UNKNOWN in single mode for another name,
   * DENIED (403) where a layout cannot be made (inside another layout, over a non-empty
   * directory that is not one).
   */
  async openOrCreate(name: string): Promise<Layout> {
    // A stored name's repository exists through the names mapped to it; others are NAME_UNKNOWN.
    if (this.mode === 'single' && name !== this.singleName) return this.repository(name).layout;
    await this.undoing.get(name);
    const dir = this.directoryOf(name);
    if (dir === undefined) throw nameUnknown(name);
    if (isLayoutDir(dir)) return Layout.open(dir, this.layoutOptions);
    try {
      // Parents first, so the take-back knows which of them this push made.
      const firstMade = this.mode === 'tree' ? mkdirSync(dir, { recursive: true }) : undefined;
      const init = Layout.init(dir, this.layoutOptions);
      if (init.created) this.created.set(name, { init, dir, firstMade });
      return init.layout;
    } catch (err) {
      throw new RegistryHttpError(
        403,
        'DENIED',
        'cannot create this repository here',
        { name },
        err,
      );
    }
  }

  /** The layout name a push of `tag` to repository `name` writes (see ServedRepository.writeName). */
  writeName(name: string, tag: string, ns?: string): string {
    if (this.mode === 'tree' || name === this.singleName) return tag;
    return this.repository(name).writeName(tag, ns);
  }

  /** A request on repository `name` begins (see settle). */
  enter(name: string): void {
    this.active.set(name, (this.active.get(name) ?? 0) + 1);
  }

  leave(name: string): void {
    const n = (this.active.get(name) ?? 1) - 1;
    if (n > 0) this.active.set(name, n);
    else this.active.delete(name);
  }

  /**
   * After a push to `name` failed or was abandoned: a layout this server created for it is taken
   * back (Layout.init's undo: only while index.json lists nothing, blobs/ holds nothing and no
   * other writer's ingest file is live), with the parent directories the push made. Not while a
   * request on `name` is in progress here or `inUse` (an upload session is open): they may be
   * about to write into it. Failures leave the empty layout (valid, and what registries do).
   */
  async settle(name: string, inUse: () => boolean): Promise<void> {
    const created = this.created.get(name);
    if (created === undefined || this.undoing.has(name)) return;
    if ((this.active.get(name) ?? 0) > 0 || inUse()) return;
    const undo = (async (): Promise<void> => {
      try {
        if (!(await created.init.undo())) return;
        this.created.delete(name);
        // Layout.init made no parent (they existed by then): remove the empty ones the push made.
        if (created.firstMade !== undefined) {
          let dir = created.dir;
          for (;;) {
            rmdirSync(dir);
            if (dir === created.firstMade) break;
            dir = dirname(dir);
          }
        }
      } catch {
        /* a directory someone filled meanwhile (ENOTEMPTY), or the lock was busy: it stays */
      }
    })();
    this.undoing.set(name, undo);
    try {
      await undo;
    } finally {
      this.undoing.delete(name);
    }
  }

  /** A push stored something in `name`: its layout is no longer ours to take back. */
  keep(name: string): void {
    this.created.delete(name);
  }

  /** Settle every repository this server created (shutdown, after requests and sessions ended). */
  async settleAll(): Promise<void> {
    for (const name of [...this.created.keys()]) await this.settle(name, () => false);
  }

  /** Every repository name, sorted. */
  catalog(): string[] {
    if (this.mode === 'single') {
      const names = new Set(
        mapStoredNames(listNames(Layout.open(this.root, this.layoutOptions).readIndex())).keys(),
      );
      names.add(this.singleName!);
      return [...names].sort();
    }
    const names: string[] = [];
    let walked = 0;
    const walk = (dir: string, parts: string[]): void => {
      if (walked++ >= MAX_DIRS_WALKED || parts.length > MAX_DEPTH) return;
      if (parts.length > 0 && isLayoutDir(dir)) {
        const name = parts.join('/');
        if (isValidRepositoryName(name)) names.push(name);
        return; // nothing inside a layout is a repository
      }
      let entries: string[];
      try {
        entries = readdirSync(dir);
      } catch {
        return; // unreadable or gone: not listed
      }
      for (const e of entries.sort()) {
        if (!isValidRepositoryName(e)) continue; // hidden, upper case…: never a name component
        const sub = join(dir, e);
        if (lstatOrUndefined(sub)?.isDirectory() !== true) continue; // symlinks are not followed
        walk(sub, [...parts, e]);
      }
    };
    walk(this.root, []);
    return names.sort();
  }

  /**
   * The directory `name` maps to, or undefined when it can be no repository here: another name
   * than the single one, a symlink or a non-directory on the way, or a layout above it.
   */
  private directoryOf(name: string): string | undefined {
    if (!isValidRepositoryName(name)) return undefined;
    if (this.mode === 'single') return name === this.singleName ? this.root : undefined;
    let dir = this.root;
    const parts = name.split('/');
    for (const [i, part] of parts.entries()) {
      dir = join(dir, part);
      const st = lstatOrUndefined(dir);
      if (st === undefined) return join(this.root, ...parts); // the rest does not exist yet
      if (!st.isDirectory()) return undefined;
      if (i < parts.length - 1 && isLayoutDir(dir)) return undefined;
    }
    return dir;
  }
}

/** Tree repositories remembered at most (their names and directory versions). */
const MAX_KNOWN_REPOSITORIES = 4096;

interface KnownRepository {
  root: string;
  /** The version of each directory from ROOT/first to the layout, when it was found one. */
  versions: BigIntStats[];
}

/** A full name stored in a single layout, as a tag of the repository its path names. */
export interface MappedName {
  /** The name as stored (entryName): `reg.example/team/app:v1`. */
  name: string;
  /** What precedes the path: `reg.example/`, or '' for a name without a registry host. */
  prefix: string;
  /** The registry host as containerd's `ns` names it: the prefix's host, docker.io without one. */
  host: string;
  /** Undefined for containerd's digest-only name `HOST/a/b@sha256:…`: in the repository, no tag. */
  tag: string | undefined;
}

/**
 * The repositories the full names of one layout map to: `HOST/a/b:TAG` is tag TAG of `a/b`. The
 * host is the first component when it has a `.` or `:` or is `localhost` (distribution/reference's
 * rule); without one the whole repository is the path (`team/app:v1` is `team/app`). containerd's
 * digest-only name `HOST/a/b@sha256:…` puts `a/b` in the catalog with no tag (its manifest is
 * pulled by digest). Other names with a digest, without a tag, with a tag or path outside the
 * grammar are not mapped (a digest still reaches their content).
 */
export function mapStoredNames(names: readonly string[]): Map<string, MappedName[]> {
  const out = new Map<string, MappedName[]>();
  for (const name of names) {
    const split = splitImageName(name);
    if (split === undefined) continue;
    if (!isDigestName(name)) {
      if (split.digest !== undefined) continue;
      if (split.tag === undefined || !isValidTag(split.tag)) continue;
    }
    const repo = split.repository;
    const host = registryHostOf(repo);
    const path = host !== undefined ? repo.slice(host.length + 1) : repo;
    if (!isValidRepositoryName(path)) continue;
    const entry: MappedName = {
      name,
      prefix: host !== undefined ? `${host}/` : '',
      host: host ?? 'docker.io',
      tag: split.tag,
    };
    const list = out.get(path);
    if (list === undefined) out.set(path, [entry]);
    else list.push(entry);
  }
  return out;
}

/**
 * One repository as requests see it: its layout, its tags, and which stored name a tag reads and
 * writes. `layout`: a tree's layout, tags as the layout names them (as before). `own`: a single
 * layout's own repository (`--name`): its bare tags and the tags of full names mapped onto its
 * name; a tag that is neither still resolves as the layout resolves it, so clients that pulled
 * `NAME:TAG` through a stored name's unique tag keep working. `mapped`: a repository that exists
 * through full names stored in the single layout.
 */
export class ServedRepository {
  constructor(
    readonly name: string,
    readonly layout: Layout,
    readonly kind: 'layout' | 'own' | 'mapped',
    private readonly mapped: readonly MappedName[],
    /** Every name the layout lists (own: to tell its bare tags). */
    private readonly layoutNames: readonly string[] = [],
  ) {}

  /** The tags listed for this repository, sorted, each once. */
  tags(): string[] {
    if (this.kind === 'layout') return this.layout.tags();
    const tags = new Set(this.mapped.flatMap((m) => m.tag ?? []));
    if (this.kind === 'own') for (const n of this.layoutNames) if (isBareName(n)) tags.add(n);
    return [...tags].sort();
  }

  /**
   * The layout name tag `tag` reads (a GET, a DELETE): a bare tag of the own repository first (as
   * the layout resolver prefers it), else the one stored full name mapped here with that tag.
   * `ns` (containerd's mirror parameter: the registry the client meant) keeps to names of that
   * host. Several names with the tag from different hosts are ambiguous: MANIFEST_UNKNOWN, the
   * names in the detail, rather than a guess.
   */
  readName(tag: string, ns?: string): string {
    if (this.kind === 'layout') return tag;
    if (this.kind === 'own' && this.layoutNames.includes(tag)) return tag;
    const names = [
      ...new Set(
        this.mapped
          .filter((m) => m.tag === tag && (ns === undefined || m.host === ns))
          .map((m) => m.name),
      ),
    ];
    if (names.length === 1) return names[0]!;
    if (names.length > 1) {
      throw new RegistryHttpError(
        404,
        'MANIFEST_UNKNOWN',
        'the tag names images of several registries here; pull by digest',
        { reference: tag, names },
      );
    }
    if (this.kind === 'own') return tag;
    throw new RegistryHttpError(404, 'MANIFEST_UNKNOWN', 'manifest unknown', { reference: tag });
  }

  /**
   * The layout name a push of `tag` writes. The own repository and a tree's layouts: the bare tag
   * (as before). A mapped repository: the full name in the form its stored names have
   * (`HOST/a/b:TAG`), so the new tag is served where it was pushed and reads back the same way in
   * the layout; with names of several hosts here, `ns` must pick one (DENIED otherwise: we do not
   * guess which registry the image belongs to).
   */
  writeName(tag: string, ns?: string): string {
    if (this.kind !== 'mapped') return tag;
    const prefixes = [
      ...new Set(this.mapped.filter((m) => ns === undefined || m.host === ns).map((m) => m.prefix)),
    ];
    if (prefixes.length !== 1) {
      throw new RegistryHttpError(
        403,
        'DENIED',
        'names of several registries map to this repository: cannot tell which to write',
        { name: this.name, hosts: [...new Set(this.mapped.map((m) => m.host))] },
      );
    }
    return `${prefixes[0]!}${this.name}:${tag}`;
  }
}

/** What Layout.open accepts: oci-layout and index.json as regular files, or a hauler store. */
function isLayoutDir(dir: string): boolean {
  return isLayoutDirectory(dir);
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw wrapFsError(err, `stat ${path}`);
  }
}

/** lstat (bigint), undefined when absent or not reachable; other errors too (callers re-check). */
function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw wrapFsError(err, `stat ${path}`);
  }
}

function nameUnknown(name: string): RegistryHttpError {
  return new RegistryHttpError(404, 'NAME_UNKNOWN', 'repository name not known to registry', {
    name,
  });
}
