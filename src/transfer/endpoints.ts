// The endpoints `copy` accepts, parsed in ONE place: `DIR[:TAG|@DIGEST]` (a layout), the layout
// transports other tools use (skopeo's `oci:DIR[:REF]`, regctl's `ocidir://DIR[:TAG]`),
// `docker://HOST/REPO[:TAG|@DIGEST]` (a registry) and skopeo's archive transports
// (`oci-archive:FILE[:REF]`, `docker-archive:FILE[:REF]`); any other `scheme://` or transport, and
// a missing path that reads as a registry reference are refused (spec-notes/cli.md). copyRefs, the
// library verb behind `ocilayout copy`: parse both, build one client per registry (credentials,
// TLS policy, retries), open the source (an archive is read now), copy (a layout or archive
// destination is created only once the plan is good).
import { openRegistryClient } from '../registry/read.js';
import { existsSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { Layout, type LayoutOptions } from '../layout/layout.js';
import { registryHostOf } from '../layout/names.js';
import { parseLayoutRef, parseTransportRef, type LayoutRef } from '../layout/refs.js';
import { RegistryClient } from '../registry/client.js';
import {
  loadDockerConfig,
  type Credentials,
  type LoadedDockerConfig,
} from '../registry/docker-config.js';
import {
  isRegistryRef,
  parseRegistryHost,
  parseRegistryRef,
  type RegistryRef,
} from '../registry/reference.js';
import type { RetryPolicy } from '../registry/retry.js';
import type { RetryInfo } from '../registry/transport.js';
import { copyContent, type CopyDestination, type CopyOptions, type CopyResult } from './copy.js';
import { LayoutSource, RegistrySource, type ContentSource } from './sources.js';
import type { Readable, Writable } from 'node:stream';
import type { ArchiveFormat } from './export.js';
import type { ExpansionLimits } from '../archive/compression.js';
import { archiveFromStream } from '../archive/read-archive.js';
import {
  assertRepositoryName,
  defaultRepositoryName,
  splitRepoTag,
} from '../archive/docker-names.js';
import { openArchiveFile, type ArchiveInput } from '../archive/tar-source.js';
import { ArchiveSource } from './archive-source.js';
import type { ArchiveDestination } from './archive-sink.js';

export interface CopyRefsOptions extends CopyOptions {
  /** Hosts (host or host:port) spoken to over plain HTTP (loopback is probed anyway). */
  plainHttp?: readonly string[] | undefined;
  /** Explicit credentials (--username/--password-stdin). Refused when two registries are involved. */
  credentials?: Credentials | undefined;
  /** Docker config; default: loaded from $DOCKER_CONFIG or ~/.docker/config.json. */
  dockerConfig?: LoadedDockerConfig | undefined;
  retry?: RetryPolicy | undefined;
  onRetry?: ((info: RetryInfo) => void) | undefined;
  layout?: LayoutOptions | undefined;
  /** An archive source `-` reads this (the CLI's stdin). */
  stdin?: Readable | undefined;
  /** An archive destination `-` writes this (the CLI's stdout; left open). */
  stdout?: Writable | undefined;
  /** Archive source: expansion limits (gzip bomb guard, total size). */
  limits?: Partial<ExpansionLimits> | undefined;
}

/** A `copy` endpoint. A new kind makes every switch over `kind` fail to compile. */
export type CopyEndpoint =
  | { kind: 'registry'; ref: RegistryRef }
  | RegistryHostEndpoint
  | ({ kind: 'layout' } & LayoutRef)
  | ArchiveEndpoint;

/** What a source can be: `docker://HOST` alone is a destination only. */
export type SourceEndpoint = Exclude<CopyEndpoint, RegistryHostEndpoint>;

/** `docker://HOST[:PORT]` as a destination: a whole layout, each full name to its own repository. */
export interface RegistryHostEndpoint {
  kind: 'registry-host';
  registry: string;
}

/**
 * `oci-archive:FILE[:REF]` or `docker-archive:FILE[:REF]` (skopeo's forms). REF: the tag inside an
 * oci-archive; a docker-archive's `NAME[:TAG]` (its RepoTags) or, for a source, a bare tag. FILE
 * `-`: stdin (source) or stdout (destination).
 */
export interface ArchiveEndpoint {
  kind: 'archive';
  format: ArchiveFormat;
  file: string;
  ref: string | undefined;
}

/** The one-line summary of every endpoint form, for hints and `copy --help`. */
export const COPY_ENDPOINT_FORMS =
  'DIR[:TAG|@DIGEST], oci:DIR[:TAG], ocidir://DIR[:TAG] (layouts), docker://HOST/REPO[:TAG|@DIGEST] (a registry; docker://HOST for a whole layout), oci-archive:FILE[:TAG] or docker-archive:FILE[:NAME[:TAG]] (archives; FILE - for stdin/stdout)';

const ARCHIVE_TRANSPORTS: Record<string, ArchiveFormat> = {
  'oci-archive': 'oci',
  'docker-archive': 'docker',
};

/** skopeo transports we do not speak: what to do instead, given the transport's argument. */
const OTHER_TRANSPORTS: Record<string, (arg: string, role: 'source' | 'destination') => string> = {
  'docker-daemon': () =>
    'save the image with `docker save -o FILE`, then `ocilayout import FILE DIR`',
  'containers-storage': () =>
    'save the image with `podman save --format oci-archive -o FILE`, then `ocilayout import FILE DIR`',
  dir: () => "skopeo's dir: format is not an OCI layout; copy it to oci:DIR with skopeo first",
  docker: (arg) =>
    `a registry reference starts with two slashes: docker://${arg.replace(/^\/+/, '')}`,
};

/**
 * Parse a `copy` argument. A registry source without tag or digest means `:latest` (as docker and
 * skopeo read it); a registry destination without one keeps the source tag; a destination
 * `docker://HOST[:PORT]` without repository is a registry for a whole layout (copy-all.ts).
 * `oci:DIR[:TAG]` and `ocidir://DIR[:TAG]` are layouts. A path that exists is always a layout, whatever it looks like
 * (`exists` is consulted only to tell a path from a mistyped transport or registry). Throws E_USAGE
 * for a `scheme://` that is not docker:// or ocidir://, an archive or other non-layout transport,
 * or a missing `HOST[:PORT]/REPO` path (docker:// was probably meant); E_INVALID_REFERENCE for a
 * malformed reference.
 */
export function parseCopyEndpoint(
  input: string,
  role?: 'source',
  exists?: (path: string) => boolean,
): SourceEndpoint;
export function parseCopyEndpoint(
  input: string,
  role: 'source' | 'destination',
  exists?: (path: string) => boolean,
): CopyEndpoint;
export function parseCopyEndpoint(
  input: string,
  role: 'source' | 'destination' = 'source',
  exists: (path: string) => boolean = existsSync,
): CopyEndpoint {
  if (isRegistryRef(input)) {
    const host = role === 'destination' ? parseRegistryHost(input) : undefined;
    if (host !== undefined) return { kind: 'registry-host', registry: host };
    return {
      kind: 'registry',
      ref: parseRegistryRef(input, { defaultTag: role === 'source' ? 'latest' : false }),
    };
  }
  if (input.startsWith('ocidir://')) return layoutEndpoint(input.slice('ocidir://'.length), input);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//.exec(input);
  if (scheme !== null) {
    throw new UsageError(
      'E_USAGE',
      `${input} is not a copy endpoint (${scheme[1]}:// is neither a layout nor docker://)`,
      { endpoint: input },
      { hint: `copy takes ${COPY_ENDPOINT_FORMS}` },
    );
  }
  const transport = /^([a-z][a-z-]*):(.*)$/s.exec(input);
  const format = transport === null ? undefined : ARCHIVE_TRANSPORTS[transport[1]!];
  if (transport !== null && format !== undefined && !isExistingLayout(input, exists)) {
    // Before parseLayoutRef: an archive's REF (`-`, `NAME:TAG`) need not read as a layout tag.
    return archiveEndpoint(format, transport[2]!, input);
  }
  const plain = parseLayoutRef(input);
  // Read as a plain path first: a directory that exists is a layout, even one named `oci:x`.
  if (exists(plain.layout)) return { kind: 'layout', ...plain };
  if (transport !== null) {
    const [, name, rest] = transport as unknown as [string, string, string];
    // skopeo's own syntax, split as skopeo splits it (first colon): oci:DIR:docker.io/x/y:v1.
    if (name === 'oci') return { kind: 'layout', ...parseTransportRef(rest, input) };
    const instead = OTHER_TRANSPORTS[name];
    if (instead !== undefined) {
      throw new UsageError(
        'E_USAGE',
        `${input} is not a copy endpoint (${name}: is not a layout directory)`,
        { endpoint: input },
        { hint: instead(rest, role) },
      );
    }
  }
  const host = looksLikeRegistryHost(plain.layout, exists);
  if (host !== undefined) {
    // docker and skopeo read `HOST/REPO` as a registry; writing it as a directory named after the
    // host is never what was meant (`copy lay:v1 127.0.0.1:5000/app:v1`).
    throw new UsageError(
      'E_USAGE',
      `${input} names no existing directory but reads as a registry reference (${host}/…)`,
      { endpoint: input },
      { hint: `for the registry write docker://${input}; for a new directory write ./${input}` },
    );
  }
  return { kind: 'layout', ...plain };
}

/** `input` read as a plain layout path names one that exists. */
function isExistingLayout(input: string, exists: (path: string) => boolean): boolean {
  try {
    return exists(parseLayoutRef(input).layout);
  } catch {
    return false; // not even a layout reference
  }
}

/**
 * skopeo splits `FILE:REF` at the first colon (containers/image SplitPathAndImage), so a REF may
 * hold colons (`docker-archive:app.tar:example.com:5000/app:v1`) and a FILE may not.
 */
function archiveEndpoint(format: ArchiveFormat, rest: string, input: string): ArchiveEndpoint {
  const colon = rest.indexOf(':');
  const [file, ref] = colon < 0 ? [rest, undefined] : [rest.slice(0, colon), rest.slice(colon + 1)];
  if (file === '' || ref === '') {
    throw new UsageError(
      'E_INVALID_REFERENCE',
      `${input} names ${file === '' ? 'no archive file' : 'an empty reference'}`,
      { reference: input },
    );
  }
  return { kind: 'archive', format, file, ref };
}

function layoutEndpoint(rest: string, input: string): CopyEndpoint {
  if (rest === '') {
    throw new UsageError('E_INVALID_REFERENCE', `${input} names no layout directory`, {
      reference: input,
    });
  }
  return { kind: 'layout', ...parseLayoutRef(rest) };
}

/**
 * The host of a path that docker would read as `HOST[:PORT]/REPO`: its first component has a `.`
 * or `:` or is `localhost` (the distribution reference rule), it is followed by `/`, and no file of
 * that name exists. `./x`, `../x` and absolute paths are never registries.
 */
function looksLikeRegistryHost(
  path: string,
  exists: (path: string) => boolean,
): string | undefined {
  const host = registryHostOf(path);
  if (host === undefined || host === '.' || host === '..') return undefined;
  return exists(host) ? undefined : host;
}

/**
 * Copy `source` to `destination`, each a layout (`DIR[:TAG|@DIGEST]`, `oci:DIR[:TAG]`,
 * `ocidir://DIR[:TAG]`), a registry (`docker://HOST/REPO[:TAG|@DIGEST]`) or an archive
 * (`oci-archive:FILE[:TAG]`, `docker-archive:FILE[:NAME[:TAG]]`). Throws E_USAGE for an unknown
 * scheme, credentials that would go to two registries, `-` without a stream, or referrers or
 * cosign tags into a docker archive; E_INVALID_REFERENCE for a digest destination; plus everything
 * copyContent (and, for an archive source, the archive reader) throws.
 */
export async function copyRefs(
  source: string,
  destination: string,
  options: CopyRefsOptions = {},
): Promise<CopyResult> {
  const src = parseCopyEndpoint(source, 'source');
  const dst = parseCopyEndpoint(destination, 'destination');
  if (dst.kind === 'registry-host') {
    // One image has no repository of its own to go to there: copyAll maps whole layouts.
    throw new UsageError(
      'E_USAGE',
      `${destination} names no repository; copying one image needs docker://HOST/REPO`,
      { destination },
      { hint: 'to copy every image of a layout, name the layout alone (no :TAG or @DIGEST)' },
    );
  }
  const dstDigest =
    dst.kind === 'registry'
      ? dst.ref.digest
      : dst.kind === 'layout'
        ? dst.digest
        : dst.ref?.includes('@') === true
          ? dst.ref
          : undefined;
  if (dstDigest !== undefined) {
    throw new UsageError(
      'E_INVALID_REFERENCE',
      `destination ${destination} names a digest; name a tag, or none to keep the source tag`,
      { destination },
    );
  }
  if (dst.kind === 'archive' && dst.format === 'docker') {
    // Asked for explicitly, they are refused; by default, cosign tags are carried only where the
    // destination can hold them, and a docker archive cannot.
    if (options.referrers === true || options.cosignTags === true) {
      throw new UsageError(
        'E_USAGE',
        `${destination}: docker archives cannot carry referrers or cosign tags`,
        { destination },
        { hint: 'write an oci-archive: instead' },
      );
    }
    options = { ...options, cosignTags: false };
  }
  const registries = new Set(
    [src, dst].flatMap((e) => (e.kind === 'registry' ? [e.ref.registry] : [])),
  );
  if (options.credentials !== undefined && registries.size > 1) {
    throw new UsageError(
      'E_USAGE',
      `--username/--password-stdin would be sent to both ${[...registries].join(' and ')}`,
      { registries: [...registries] },
      {
        hint: 'log in to each registry with `docker login` (read from ~/.docker/config.json) instead',
      },
    );
  }
  // Read only when a registry is involved: a layout → layout copy never touches ~/.docker.
  let config = options.dockerConfig;
  const clients = new Map<string, RegistryClient>();
  const clientFor = (registry: string): RegistryClient => {
    let c = clients.get(registry);
    if (c === undefined) {
      config ??= loadDockerConfig();
      // Not `...options`: a spread would read `stdin`, which makes the CLI's stream (copy.ts).
      c = openRegistryClient(registry, {
        plainHttp: options.plainHttp,
        credentials: options.credentials,
        retry: options.retry,
        onRetry: options.onRetry,
        dockerConfig: config,
      });
      clients.set(registry, c);
    }
    return c;
  };
  // Before the source is read: a bad docker name or a missing stdout fails first.
  const target: CopyDestination =
    dst.kind === 'registry'
      ? {
          kind: 'registry',
          client: clientFor(dst.ref.registry),
          repository: dst.ref.repository,
          tag: dst.ref.tag,
        }
      : dst.kind === 'layout'
        ? {
            kind: 'layout',
            open: () => Layout.init(dst.layout, options.layout).layout,
            tag: dst.tag,
          }
        : archiveTarget(src, dst, options);
  /** What the archive reader said (ignored entries...): in the result too, as plan warnings are. */
  const readerWarnings: string[] = [];
  const contentSource: ContentSource =
    src.kind === 'registry'
      ? new RegistrySource(clientFor(src.ref.registry), src.ref)
      : src.kind === 'archive'
        ? await ArchiveSource.open(archiveInput(src, options), src.ref, source, {
            limits: options.limits,
            onWarning: (message) => {
              readerWarnings.push(message);
              options.onEvent?.({ type: 'warning', message });
            },
          })
        : new LayoutSource(Layout.open(src.layout, options.layout), {
            tag: src.tag,
            digest: src.digest,
          });
  try {
    const result = await copyContent(contentSource, target, options);
    if (dst.kind === 'layout') result.destination = dst.layout;
    result.warnings.unshift(...readerWarnings);
    return result;
  } finally {
    if (contentSource instanceof ArchiveSource) contentSource.close();
  }
}

function archiveInput(src: ArchiveEndpoint, options: CopyRefsOptions): ArchiveInput {
  if (src.file !== '-') return openArchiveFile(src.file);
  if (options.stdin === undefined) {
    throw new UsageError('E_USAGE', `${src.file}: no stdin to read the archive from`, {});
  }
  return archiveFromStream(options.stdin);
}

/** An archive destination: where it goes, and the tag (and docker name) inside it. */
function archiveTarget(
  src: CopyEndpoint,
  dst: ArchiveEndpoint,
  options: CopyRefsOptions,
): ArchiveDestination {
  // The result names it as it names a layout or a registry: where it is, without the tag.
  const label = `${dst.format === 'oci' ? 'oci-archive' : 'docker-archive'}:${dst.file}`;
  let output: string | Writable = dst.file;
  if (dst.file === '-') {
    if (options.stdout === undefined) {
      throw new UsageError('E_USAGE', `${label}: no stdout to write the archive to`, {});
    }
    output = options.stdout;
  }
  if (dst.format === 'oci') return { kind: 'archive', format: 'oci', output, label, tag: dst.ref };
  // docker: REF is NAME[:TAG], as in RepoTags; the name defaults to the source's.
  const ref = dst.ref === undefined ? undefined : splitNameTag(dst.ref);
  return {
    kind: 'archive',
    format: 'docker',
    output,
    label,
    name: assertRepositoryName(ref?.name ?? defaultDockerName(src)),
    tag: ref?.tag,
  };
}

/**
 * `example.com:5000/app:v1` → name + tag; `example.com:5000/app` → name alone (RepoTags' reading
 * says `latest` there; copy keeps the source tag, as for every destination without one).
 */
function splitNameTag(ref: string): { name: string; tag: string | undefined } {
  const { repository, tag } = splitRepoTag(ref);
  return { name: repository, tag: ref.endsWith(`:${tag}`) ? tag : undefined };
}

/** The RepoTags name of a docker archive named without one: the source repository or directory. */
function defaultDockerName(src: CopyEndpoint): string {
  switch (src.kind) {
    case 'registry':
      return `${src.ref.registry}/${src.ref.repository}`;
    case 'registry-host':
      return src.registry;
    case 'layout':
      return defaultRepositoryName(src.layout);
    case 'archive':
      return defaultRepositoryName(
        src.file === '-' ? 'image' : src.file.replace(/\.tar(?:\.gz|\.zst)?$/, ''),
      );
  }
}
