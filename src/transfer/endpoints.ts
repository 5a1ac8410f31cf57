// The endpoints `copy` accepts, parsed in ONE place: `DIR[:TAG|@DIGEST]` (a layout) and
// `docker://HOST/REPO[:TAG|@DIGEST]` (a registry); any other `scheme://` is refused. copyRefs, the
// library verb behind `ocilayout copy`: parse both, build one client per registry (credentials,
// TLS policy, retries), open the source (a layout destination is created only once the plan is
// good), copy.
import { UsageError } from '../errors.js';
import { Layout, type LayoutOptions } from '../layout/layout.js';
import { parseLayoutRef, type LayoutRef } from '../layout/refs.js';
import { RegistryClient } from '../registry/client.js';
import {
  findCredentials,
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

/**
 * Parse a `copy` argument. A registry source without tag or digest means `:latest` (as docker and
 * skopeo read it); a registry destination without one keeps the source tag. Throws E_USAGE for a
 * `scheme://` that is not `docker://`, E_INVALID_REFERENCE for a malformed reference.
 */
export function parseCopyEndpoint(
  input: string,
  role: 'source' | 'destination' = 'source',
): CopyEndpoint {
  if (isRegistryRef(input)) {
    return {
      kind: 'registry',
      ref: parseRegistryRef(input, { defaultTag: role === 'source' ? 'latest' : false }),
    };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//.exec(input);
  if (scheme !== null) {
    throw new UsageError(
      'E_USAGE',
      `${input} is not a copy endpoint (${scheme[1]}:// is neither a layout nor docker://)`,
      { endpoint: input },
      { hint: 'copy takes layout directories (DIR:TAG, DIR@DIGEST) and docker://HOST/REPO:TAG' },
    );
  }
  return { kind: 'layout', ...parseLayoutRef(input) };
}

/**
 * Copy `source` to `destination`, each a layout (`DIR[:TAG|@DIGEST]`) or a registry
 * (`docker://HOST/REPO[:TAG|@DIGEST]`). Throws E_USAGE for an unknown scheme or credentials that
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
      // Keys are normalised (Hub is docker.io); helpers run only when no credentials were given.
      const fromConfig =
        options.credentials === undefined ? findCredentials(config, registry) : undefined;
      c = new RegistryClient(registry, {
        plainHttp: options.plainHttp,
        credentials: options.credentials ?? fromConfig?.credentials,
        credentialsSource:
          options.credentials !== undefined
            ? 'the credentials given with --username'
            : fromConfig?.source,
        retry: options.retry,
        onRetry: options.onRetry,
      });
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
