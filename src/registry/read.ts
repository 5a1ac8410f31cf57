// Read verbs on a registry, behind `tags`, `resolve`, `manifest get`, `blob get` and `discover`
// with a `docker://HOST/REPO[:TAG|@DIGEST]` reference (as oras and regctl read remotely). Each
// returns what the layout verb returns, so the CLI prints both the same way. Everything read is
// verified: manifests by RegistryClient.getManifest, blobs while streaming (an error at the end of
// the stream, before anything is committed to -o FILE).
import { Readable } from 'node:stream';
import type { Digest } from '../digest.js';
import { NotFoundError, UsageError } from '../errors.js';
import { byDigest, mergeByDigest, referrersResponse } from '../referrers/response.js';
import {
  cosignReferrerDescriptor,
  cosignTagsFor,
  parseCosignTag,
} from '../referrers/cosign-tag.js';
import { parseDoc } from '../referrers/documents.js';
import type { NestedReferrer, ReferrerNode, ReferrersResponseTree } from '../referrers/discover.js';
import type { Descriptor } from '../schema/descriptor.js';
import { VerifyingStream } from '../store/verify-stream.js';
import { openRemoteBlob } from './blob-pull.js';
import { RegistryClient, type FetchedManifest } from './client.js';
import {
  findCredentials,
  loadDockerConfig,
  type Credentials,
  type LoadedDockerConfig,
} from './docker-config.js';
import { formatRegistryRef, parseRegistryRef, type RegistryRef } from './reference.js';
import { listRemoteReferrers, type ReferrersVia } from './remote-referrers.js';
import type { RetryPolicy } from './retry.js';
import type { RetryInfo } from './transport.js';

export interface RemoteReadOptions {
  /** Hosts (host or host:port) spoken to over plain HTTP (loopback is probed anyway). */
  plainHttp?: readonly string[] | undefined;
  /** Explicit credentials; else docker config (auths, credHelpers, credsStore). */
  credentials?: Credentials | undefined;
  /** Docker config; default: loaded from $DOCKER_CONFIG or ~/.docker/config.json. */
  dockerConfig?: LoadedDockerConfig | undefined;
  retry?: RetryPolicy | undefined;
  onRetry?: ((info: RetryInfo) => void) | undefined;
}

/** A client for `registry` with the credentials and TLS policy copy would use for it. */
export function openRegistryClient(
  registry: string,
  options: RemoteReadOptions = {},
): RegistryClient {
  // Helpers run only when no credentials were given (keys are normalised: Hub is docker.io).
  const fromConfig =
    options.credentials === undefined
      ? findCredentials(options.dockerConfig ?? loadDockerConfig(), registry)
      : undefined;
  return new RegistryClient(registry, {
    plainHttp: options.plainHttp,
    credentials: options.credentials ?? fromConfig?.credentials,
    credentialsSource:
      options.credentials !== undefined
        ? 'the credentials given with --username'
        : fromConfig?.source,
    retry: options.retry,
    onRetry: options.onRetry,
  });
}

interface Opened {
  client: RegistryClient;
  ref: RegistryRef;
}

function open(
  reference: string,
  options: RemoteReadOptions,
  defaultTag: string | false = 'latest',
): Opened {
  const ref = parseRegistryRef(reference, { defaultTag });
  return { client: openRegistryClient(ref.registry, options), ref };
}

function target(ref: RegistryRef): string {
  // parseRegistryRef with a default tag always leaves a tag or a digest.
  return ref.digest ?? ref.tag ?? 'latest';
}

/** Every tag of the repository `docker://HOST/REPO` names (all pages). A tag or digest is refused. */
export async function remoteTags(
  reference: string,
  options: RemoteReadOptions = {},
): Promise<string[]> {
  const { client, ref } = open(reference, options, false);
  if (ref.tag !== undefined || ref.digest !== undefined) {
    throw new UsageError(
      'E_USAGE',
      `${reference} names a ${ref.tag !== undefined ? 'tag' : 'digest'}; tags lists a repository`,
      { reference },
      {
        hint: `write ${formatRegistryRef({ registry: ref.registry, repository: ref.repository })}`,
      },
    );
  }
  return client.listTags(ref.repository);
}

/** The manifest a reference names, exact bytes, verified (against the digest when given by one). */
export async function remoteManifest(
  reference: string,
  options: RemoteReadOptions = {},
): Promise<FetchedManifest> {
  const { client, ref } = open(reference, options);
  return client.getManifest(ref.repository, target(ref));
}

/**
 * The descriptor a reference resolves to: mediaType, digest, size (artifactType when the manifest
 * has one). The manifest is read whole and hashed, not HEADed: a HEAD's Docker-Content-Digest is
 * optional and unverifiable.
 */
export async function remoteResolve(
  reference: string,
  options: RemoteReadOptions = {},
): Promise<Descriptor> {
  return (await remoteManifest(reference, options)).descriptor;
}

export interface RemoteBlob {
  digest: Digest;
  size: number;
  /** The bytes; the stream errors at its end (E_DIGEST_MISMATCH, E_SIZE_MISMATCH) unless verified. */
  stream: Readable;
}

/**
 * A blob of `docker://HOST/REPO@DIGEST`, streamed and verified against the digest and the size
 * (`size`, else the registry's Content-Length from a HEAD). Throws E_USAGE without a digest,
 * E_NOT_FOUND when the repository has no such blob.
 */
export async function remoteBlob(
  reference: string,
  options: RemoteReadOptions & { size?: number | undefined } = {},
): Promise<RemoteBlob> {
  const { client, ref } = open(reference, options, false);
  const digest = ref.digest;
  if (digest === undefined) {
    throw new UsageError(
      'E_USAGE',
      `${reference} names no digest; a blob is read by digest`,
      { reference },
      {
        hint: `write ${formatRegistryRef({ ...ref, tag: undefined, digest: 'sha256:<hex>' as Digest })}`,
      },
    );
  }
  const headSize = await client.blobSize(ref.repository, digest);
  if (headSize === undefined) {
    throw new NotFoundError(
      'E_NOT_FOUND',
      `blob ${digest} not found in ${ref.registry}/${ref.repository}`,
      { registry: ref.registry, repository: ref.repository, digest },
    );
  }
  // No Content-Length (-1): the digest alone decides, as for a layout blob of unknown size.
  const size = options.size ?? (headSize >= 0 ? headSize : undefined);
  const source = Readable.from(
    openRemoteBlob(client, ref.repository, { digest, size: size ?? -1 }),
    { objectMode: false },
  );
  const verifier = new VerifyingStream({ digest, size }, `blob ${digest}`);
  source.on('error', (err) => verifier.destroy(err));
  // Kept on the stream (seen by for-await and pipeline), not an unhandled 'error' event.
  verifier.on('error', () => undefined);
  return { digest, size: size ?? -1, stream: source.pipe(verifier) };
}

export interface RemoteDiscoverOptions extends RemoteReadOptions {
  artifactType?: string | undefined;
  /** Levels of referrers of referrers (default: all for the tree, 1 for the response). */
  depth?: number | undefined;
}

export interface RemoteDiscovery {
  subject: Digest;
  /** The tag the reference named, if any (for the tree's label). */
  tag?: string | undefined;
  /** How the subject's own referrers were found. */
  via: ReferrersVia;
  warnings: string[];
  /** Referrers of `digest` (memoised: each subject is asked once). */
  referrersOf(digest: Digest): Promise<Descriptor[]>;
}

/** Resolve the subject and set up referrer listing (referrers API, else the fallback tag). */
export async function openRemoteReferrers(
  reference: string,
  options: RemoteReadOptions = {},
): Promise<RemoteDiscovery> {
  const { client, ref } = open(reference, options);
  // A digest may name a subject that is not in the repository (its referrers may still be).
  const subject =
    ref.digest ??
    ((await client.getManifest(ref.repository, target(ref))).descriptor.digest as Digest);
  const cache = new Map<string, Promise<Descriptor[]>>();
  const warnings: string[] = [];
  let via: ReferrersVia = 'api';
  // cosign's tag-based signatures are referrers too (spec-notes/referrers.md, cosign tags): a
  // registry lists them nowhere, so each subject's three tags are looked up.
  const cosignOf = async (digest: Digest): Promise<Descriptor[]> => {
    const out: Descriptor[] = [];
    for (const tag of cosignTagsFor(digest)) {
      if ((await client.headManifest(ref.repository, tag)) === undefined) continue;
      const got = await client.getManifest(ref.repository, tag);
      const parsed = parseDoc(got.descriptor.digest as Digest, got.bytes, got.descriptor.mediaType);
      // A manifest with its own subject is listed where its subject says (API or fallback tag).
      if (!parsed.ok || parsed.doc.subject !== undefined) continue;
      out.push(cosignReferrerDescriptor(parsed.doc, parseCosignTag(tag)!.kind));
    }
    return out;
  };
  const referrersOf = (digest: Digest): Promise<Descriptor[]> => {
    let p = cache.get(digest);
    if (p === undefined) {
      p = Promise.all([listRemoteReferrers(client, ref.repository, digest), cosignOf(digest)]).then(
        ([r, cosign]) => {
          if (digest === subject) via = r.via;
          if (r.warning !== undefined) warnings.push(r.warning);
          return mergeByDigest(r.descriptors, cosign);
        },
      );
      cache.set(digest, p);
    }
    return p;
  };
  await referrersOf(subject);
  return {
    subject,
    tag: ref.tag,
    get via() {
      return via;
    },
    warnings,
    referrersOf,
  };
}

/** The referrers response of the subject, nested to `depth` as referrersResponseTree nests it. */
export async function remoteReferrersResponseTree(
  d: RemoteDiscovery,
  options: { depth: number; artifactType?: string | undefined },
): Promise<ReferrersResponseTree> {
  const filter = { artifactType: options.artifactType };
  const responseOf = async (s: Digest) => referrersResponse(await d.referrersOf(s), filter);
  const nest = async (
    desc: Descriptor,
    depth: number,
    path: ReadonlySet<string>,
  ): Promise<NestedReferrer> => {
    if (depth >= options.depth || path.has(desc.digest)) return desc;
    const below = new Set([...path, desc.digest]);
    const children = (await responseOf(desc.digest as Digest)).manifests;
    return {
      ...desc,
      referrers: await Promise.all(children.map((r) => nest(r, depth + 1, below))),
    };
  };
  const top = await responseOf(d.subject);
  return {
    ...top,
    manifests: await Promise.all(top.manifests.map((m) => nest(m, 1, new Set([d.subject])))),
  };
}

/**
 * The referrer tree of the subject, as referrerTree builds it for a layout: filtered at every
 * level, down to `depth` (default: all), a digest on the current path not repeated. A registry
 * records referrers in one place, so a node's `sources` is empty.
 */
export async function remoteReferrerTree(
  d: RemoteDiscovery,
  options: { depth?: number | undefined; artifactType?: string | undefined } = {},
): Promise<ReferrerNode[]> {
  const maxDepth = options.depth ?? Number.POSITIVE_INFINITY;
  const walk = async (s: Digest, level: number, path: ReadonlySet<string>) => {
    if (level > maxDepth) return [];
    const found = [...(await d.referrersOf(s))].sort(byDigest);
    const out: ReferrerNode[] = [];
    for (const desc of found) {
      const at = options.artifactType;
      if (at !== undefined && desc.artifactType !== at) continue;
      if (path.has(desc.digest)) continue;
      out.push({
        descriptor: desc,
        sources: [],
        buildkit: false,
        legacy: false,
        referrers: await walk(desc.digest as Digest, level + 1, new Set([...path, desc.digest])),
      });
    }
    return out;
  };
  return walk(d.subject, 1, new Set([d.subject]));
}
