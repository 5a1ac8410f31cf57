// Registry references: `docker://HOST[:PORT]/REPO[:TAG|@DIGEST]`, skopeo's transport prefix, and
// `docker://HOST[:PORT]` alone (a registry, for whole-layout copies).
// Anything without the prefix is a layout (refs.ts). See spec-notes/registry.md "References".
import { parseDigest, type Digest } from '../digest.js';
import { UsageError } from '../errors.js';
import { registryHostOf } from '../layout/names.js';
import { assertValidTag } from '../layout/refs.js';

export const REGISTRY_PREFIX = 'docker://';

/** Docker Hub: the name users write, and the host its API really lives on (config keys: docker-config.ts). */
export const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_API = 'registry-1.docker.io';

export interface RegistryRef {
  /** Registry as named (`127.0.0.1:5000`, `ghcr.io`, `docker.io`), with its port when given. */
  registry: string;
  /** Repository path, e.g. `library/alpine` (distribution-spec name grammar). */
  repository: string;
  tag?: string;
  digest?: Digest;
}

// distribution-spec: path components of lowercase alphanumerics joined by `.`, `_`, `__` or dashes.
const REPO_COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const REPO_GRAMMAR = new RegExp(`^${REPO_COMPONENT}(?:/${REPO_COMPONENT})*$`);
// Host names (labels of alphanumerics and inner dashes), IPv4, or a bracketed IPv6; optional port.
const HOST_LABEL = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const HOST_GRAMMAR = new RegExp(
  `^(?:${HOST_LABEL}(?:\\.${HOST_LABEL})*|\\[[a-fA-F0-9:.]+\\])(?::[0-9]{1,5})?$`,
);
/** docker/distribution reference: the whole name (registry + repository) is at most 255 chars. */
const MAX_NAME_LENGTH = 255;

/** `repository` matches the distribution-spec name grammar (not checked: the length with a host). */
export function isRepositoryName(repository: string): boolean {
  return REPO_GRAMMAR.test(repository);
}

export function isRegistryRef(input: string): boolean {
  return input.startsWith(REGISTRY_PREFIX);
}

function invalid(input: string, why: string, hint?: string): UsageError {
  return new UsageError(
    'E_INVALID_REFERENCE',
    `invalid registry reference ${JSON.stringify(input)}: ${why}`,
    { reference: input },
    { hint: hint ?? 'write docker://HOST[:PORT]/REPO[:TAG|@sha256:<hex>]' },
  );
}

/**
 * The registry of `docker://HOST[:PORT]` (a trailing `/` allowed) that names no repository: a
 * destination for a whole layout, each full-named image going to its own repository there. HOST
 * must read as a registry (a `.` in its name, `localhost`, or bracketed IPv6; a port allowed), so
 * `docker://alpine` and `docker://alpine:3` stay Docker Hub's `library/alpine`. Undefined for
 * anything else.
 */
export function parseRegistryHost(input: string): string | undefined {
  if (!isRegistryRef(input)) return undefined;
  let rest = input.slice(REGISTRY_PREFIX.length);
  if (rest.endsWith('/')) rest = rest.slice(0, -1);
  if (rest === '' || rest.includes('/') || rest.includes('@')) return undefined;
  // `alpine:3` is an image and a tag (docker's reading), not host `alpine` port 3: a host alone
  // needs a `.` in its name, or is `localhost` or bracketed IPv6.
  const name = hostName(rest);
  const hostLike = name.includes('.') || name === 'localhost' || rest.startsWith('[');
  if (!hostLike || !HOST_GRAMMAR.test(rest)) return undefined;
  return rest === 'index.docker.io' ? DOCKER_HUB : rest;
}

/**
 * Parse `docker://[HOST[:PORT]/]REPO[:TAG|@DIGEST]`. As in docker and skopeo, the first path part is
 * a registry only if it contains `.` or `:` or is `localhost`; otherwise the registry is Docker Hub
 * and a one-part repository gets `library/`. No tag and no digest means `defaultTag` (`latest`, as
 * in skopeo; `false` leaves it unset, for destinations that inherit the source tag). A tag together
 * with a digest is refused (skopeo refuses it too: which one wins would be a guess).
 * Throws E_INVALID_REFERENCE, E_INVALID_TAG, E_INVALID_DIGEST.
 */
export function parseRegistryRef(
  input: string,
  options: { defaultTag?: string | false } = {},
): RegistryRef {
  if (!isRegistryRef(input)) throw invalid(input, `it does not start with ${REGISTRY_PREFIX}`);
  if (parseRegistryHost(input) !== undefined) {
    // Before, `docker://127.0.0.1:5000` read as Docker Hub's `library/127.0.0.1` tagged `5000`.
    throw invalid(
      input,
      'it names a registry but no repository',
      'write docker://HOST[:PORT]/REPO[:TAG]; a whole layout may be copied to docker://HOST',
    );
  }
  let rest = input.slice(REGISTRY_PREFIX.length);
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = parseDigest(rest.slice(at + 1));
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash && !rest.slice(colon).includes(']')) {
    tag = assertValidTag(rest.slice(colon + 1));
    rest = rest.slice(0, colon);
  }
  if (tag !== undefined && digest !== undefined) {
    throw invalid(input, 'it names both a tag and a digest', 'name either :TAG or @DIGEST');
  }
  const host = registryHostOf(rest);
  let registry = host ?? DOCKER_HUB;
  let repository = host !== undefined ? rest.slice(host.length + 1) : rest;
  if (registry === 'index.docker.io') registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  if (!HOST_GRAMMAR.test(registry)) throw invalid(input, `"${registry}" is not a host[:port]`);
  if (repository === '') throw invalid(input, 'no repository');
  if (!REPO_GRAMMAR.test(repository)) {
    throw invalid(
      input,
      `repository "${repository}" does not match the distribution-spec name grammar`,
      'repository names are lowercase: components of [a-z0-9] joined by ".", "_", "__" or "-", separated by "/"',
    );
  }
  if (registry.length + 1 + repository.length > MAX_NAME_LENGTH) {
    throw invalid(input, `the name is longer than ${MAX_NAME_LENGTH} characters`);
  }
  const ref: RegistryRef = { registry, repository };
  const defaultTag = options.defaultTag ?? 'latest';
  if (digest !== undefined) ref.digest = digest;
  else if (tag !== undefined) ref.tag = tag;
  else if (defaultTag !== false) ref.tag = defaultTag;
  return ref;
}

export function formatRegistryRef(ref: RegistryRef): string {
  const base = `${REGISTRY_PREFIX}${ref.registry}/${ref.repository}`;
  if (ref.digest !== undefined) return `${base}@${ref.digest}`;
  return ref.tag === undefined ? base : `${base}:${ref.tag}`;
}

/** `host:port` to connect to: Docker Hub's API host differs from the name users write. */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}

/** The host name without port or IPv6 brackets (for loopback checks). */
export function hostName(registry: string): string {
  if (registry.startsWith('[')) return registry.slice(1, registry.indexOf(']'));
  const colon = registry.lastIndexOf(':');
  return colon < 0 ? registry : registry.slice(0, colon);
}
