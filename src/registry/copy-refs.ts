// The library verb behind `ocilayout copy` when an endpoint is `docker://…`: parse both references,
// build one client per registry (credentials, TLS policy, retries), open or create layouts, copy.
import { UsageError } from '../errors.js';
import { Layout, type LayoutOptions } from '../layout.js';
import { parseLayoutRef, type LayoutRef } from '../refs.js';
import { RegistryClient } from './client.js';
import {
  copyWithRegistry,
  type CopyDestination,
  type RegistryCopyOptions,
  type RegistryCopyResult,
} from './copy-registry.js';
import { isRegistryRef, parseRegistryRef, type RegistryRef } from './reference.js';
import {
  findCredentials,
  loadDockerConfig,
  type Credentials,
  type LoadedDockerConfig,
} from './docker-config.js';
import type { RetryPolicy } from './retry.js';
import { LayoutSource, RegistrySource, type ContentSource } from './sources.js';
import type { RetryInfo } from './transport.js';

export interface CopyRefsOptions extends RegistryCopyOptions {
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

type Endpoint = { kind: 'registry'; ref: RegistryRef } | ({ kind: 'layout' } & LayoutRef);

function endpoint(input: string, role: 'source' | 'destination'): Endpoint {
  if (isRegistryRef(input)) {
    return {
      kind: 'registry',
      ref: parseRegistryRef(input, { defaultTag: role === 'source' ? 'latest' : false }),
    };
  }
  return { kind: 'layout', ...parseLayoutRef(input) };
}

/**
 * Copy `source` to `destination`, at least one of them `docker://HOST/REPO[:TAG|@DIGEST]`, the other
 * a layout (`DIR[:TAG|@DIGEST]`) or a registry. Throws E_USAGE for two layouts (use copyLayout) or a
 * digest destination, plus everything copyWithRegistry throws.
 */
export async function copyRefs(
  source: string,
  destination: string,
  options: CopyRefsOptions = {},
): Promise<RegistryCopyResult> {
  const src = endpoint(source, 'source');
  const dst = endpoint(destination, 'destination');
  if (src.kind === 'layout' && dst.kind === 'layout') {
    throw new UsageError('E_USAGE', 'neither endpoint is a registry (docker://…)', {
      source,
      destination,
    });
  }
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
  const config = options.dockerConfig ?? loadDockerConfig();
  const clients = new Map<string, RegistryClient>();
  const clientFor = (registry: string): RegistryClient => {
    let c = clients.get(registry);
    if (c === undefined) {
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
  const result = await copyWithRegistry(contentSource, target, options);
  if (dst.kind === 'layout') result.destination = dst.layout;
  return result;
}
