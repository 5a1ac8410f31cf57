// The endpoints `copy` accepts, parsed in ONE place: `DIR[:TAG|@DIGEST]` (a layout), the layout
// transports other tools use (skopeo's `oci:DIR[:REF]`, regctl's `ocidir://DIR[:TAG]`) and
// `docker://HOST/REPO[:TAG|@DIGEST]` (a registry); any other `scheme://`, an archive transport, and
// a missing path that reads as a registry reference are refused (spec-notes/cli.md). copyRefs, the
// library verb behind `ocilayout copy`: parse both, build one client per registry (credentials,
// TLS policy, retries), open the source (a layout destination is created only once the plan is
// good), copy.
import { openRegistryClient } from '../registry/read.js';
import { existsSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { Layout, type LayoutOptions } from '../layout/layout.js';
import { parseLayoutRef, parseTransportRef, type LayoutRef } from '../layout/refs.js';
import { RegistryClient } from '../registry/client.js';
import {
  loadDockerConfig,
  type Credentials,
  type LoadedDockerConfig,
} from '../registry/docker-config.js';
import { isRegistryRef, parseRegistryRef, type RegistryRef } from '../registry/reference.js';
import type { RetryPolicy } from '../registry/retry.js';
import type { RetryInfo } from '../registry/transport.js';
import { copyContent, type CopyDestination, type CopyOptions, type CopyResult } from './copy.js';
import { LayoutSource, RegistrySource, type ContentSource } from './sources.js';

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
}

/** A `copy` endpoint. A new kind (an archive) makes every switch over `kind` fail to compile. */
export type CopyEndpoint =
  { kind: 'registry'; ref: RegistryRef } | ({ kind: 'layout' } & LayoutRef);

/** The one-line summary of every endpoint form, for hints and `copy --help`. */
export const COPY_ENDPOINT_FORMS =
  'DIR[:TAG|@DIGEST], oci:DIR[:TAG], ocidir://DIR[:TAG] (layouts) or docker://HOST/REPO[:TAG|@DIGEST]';

/** skopeo transports that are not layouts: what to do instead, given the transport's argument. */
const OTHER_TRANSPORTS: Record<string, (arg: string, role: 'source' | 'destination') => string> = {
  'oci-archive': (arg, role) => archiveHint(arg, role, ''),
  'docker-archive': (arg, role) => archiveHint(arg, role, ' --format docker'),
  'docker-daemon': () =>
    'save the image with `docker save -o FILE`, then `ocilayout import FILE DIR`',
  'containers-storage': () =>
    'save the image with `podman save --format oci-archive -o FILE`, then `ocilayout import FILE DIR`',
  dir: () => "skopeo's dir: format is not an OCI layout; copy it to oci:DIR with skopeo first",
  docker: (arg) =>
    `a registry reference starts with two slashes: docker://${arg.replace(/^\/+/, '')}`,
};

function archiveHint(arg: string, role: 'source' | 'destination', format: string): string {
  // skopeo's `oci-archive:FILE:REF`, split at the first colon: REF is a tag or a full name.
  const colon = arg.indexOf(':');
  const [file, ref] = colon > 0 ? [arg.slice(0, colon), arg.slice(colon + 1)] : [arg, 'TAG'];
  return role === 'destination'
    ? `archives are not copy endpoints yet: write one with \`ocilayout export${format} LAYOUT ${file} --ref ${ref}\``
    : `archives are not copy endpoints yet: read one with \`ocilayout import ${file} LAYOUT\`, then copy from LAYOUT`;
}

/**
 * Parse a `copy` argument. A registry source without tag or digest means `:latest` (as docker and
 * skopeo read it); a registry destination without one keeps the source tag. `oci:DIR[:TAG]` and
 * `ocidir://DIR[:TAG]` are layouts. A path that exists is always a layout, whatever it looks like
 * (`exists` is consulted only to tell a path from a mistyped transport or registry). Throws E_USAGE
 * for a `scheme://` that is not docker:// or ocidir://, an archive or other non-layout transport,
 * or a missing `HOST[:PORT]/REPO` path (docker:// was probably meant); E_INVALID_REFERENCE for a
 * malformed reference.
 */
export function parseCopyEndpoint(
  input: string,
  role: 'source' | 'destination' = 'source',
  exists: (path: string) => boolean = existsSync,
): CopyEndpoint {
  if (isRegistryRef(input)) {
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
  const plain = parseLayoutRef(input);
  // Read as a plain path first: a directory that exists is a layout, even one named `oci:x`.
  if (exists(plain.layout)) return { kind: 'layout', ...plain };
  const transport = /^([a-z][a-z-]*):(.*)$/.exec(input);
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
  const slash = path.indexOf('/');
  if (slash <= 0) return undefined;
  const host = path.slice(0, slash);
  if (host === '.' || host === '..') return undefined;
  if (!(host.includes('.') || host.includes(':') || host === 'localhost')) return undefined;
  return exists(host) ? undefined : host;
}

/**
 * Copy `source` to `destination`, each a layout (`DIR[:TAG|@DIGEST]`, `oci:DIR[:TAG]`,
 * `ocidir://DIR[:TAG]`) or a registry (`docker://HOST/REPO[:TAG|@DIGEST]`). Throws E_USAGE for an unknown scheme or credentials that
 * would go to two registries, E_INVALID_REFERENCE for a digest destination, plus everything
 * copyContent throws.
 */
export async function copyRefs(
  source: string,
  destination: string,
  options: CopyRefsOptions = {},
): Promise<CopyResult> {
  const src = parseCopyEndpoint(source, 'source');
  const dst = parseCopyEndpoint(destination, 'destination');
  if ((dst.kind === 'registry' ? dst.ref.digest : dst.digest) !== undefined) {
    throw new UsageError(
      'E_INVALID_REFERENCE',
      `destination ${destination} names a digest; name a tag, or none to keep the source tag`,
      { destination },
    );
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
      c = openRegistryClient(registry, { ...options, dockerConfig: config });
      clients.set(registry, c);
    }
    return c;
  };
  const contentSource: ContentSource =
    src.kind === 'registry'
      ? new RegistrySource(clientFor(src.ref.registry), src.ref)
      : new LayoutSource(Layout.open(src.layout, options.layout), {
          tag: src.tag,
          digest: src.digest,
        });
  const target: CopyDestination =
    dst.kind === 'registry'
      ? {
          kind: 'registry',
          client: clientFor(dst.ref.registry),
          repository: dst.ref.repository,
          tag: dst.ref.tag,
        }
      : {
          kind: 'layout',
          open: () => Layout.init(dst.layout, options.layout).layout,
          tag: dst.tag,
        };
  const result = await copyContent(contentSource, target, options);
  if (dst.kind === 'layout') result.destination = dst.layout;
  return result;
}
