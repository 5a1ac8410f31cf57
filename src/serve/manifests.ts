// Manifest endpoints: GET/HEAD by tag or digest (the stored bytes, their media type,
// Docker-Content-Digest), PUT (validated, blobs present, stored through Layout.putManifest, tagged
// or recorded as a referrer in one index.json commit), DELETE (behind --allow-delete).
import { algorithmOf, digestOf, parseDigest, type Digest } from '../digest.js';
import { isOcilayoutError } from '../errors.js';
import { successors } from '../layout/graph.js';
import type { Layout, Target } from '../layout/layout.js';
import { moveTag } from '../layout/tags.js';
import { deleteManifest } from '../maintenance/delete.js';
import { isManifestMediaType } from '../media-types.js';
import { detach } from '../referrers/attach.js';
import { applyReferrerEdges } from '../referrers/record.js';
import { canonicalDescriptor, type Descriptor } from '../schema/descriptor.js';
import type { IndexFile } from '../schema/layout-files.js';
import { parseManifest, type ParsedManifest } from '../schema/manifest.js';
import { sameVersion, wallClockNs } from '../store/file-version.js';
import {
  assertDeletable,
  assertWritable,
  v2Path,
  type Call,
  type ServeContext,
} from './context.js';
import { RegistryHttpError } from './http-errors.js';
import { readBody, sendBytes, sendEmpty } from './http.js';
import { parseReference } from './names.js';

/** GET/HEAD /v2/<name>/manifests/<reference> */
export function getManifest(ctx: ServeContext, call: Call): void {
  const ref = parseReference(call.tail, false);
  const repo = ctx.repos.repository(call.name);
  let stored;
  try {
    stored = readManifest(
      ctx,
      repo.layout,
      ref.tag === undefined ? ref : { tag: repo.readName(ref.tag, nsOf(call)) },
    );
  } catch (err) {
    // A digest naming a layer or config is no manifest of this repository.
    if (isOcilayoutError(err, 'E_UNSUPPORTED_MEDIA_TYPE')) throw manifestUnknown(call.tail);
    throw err;
  }
  sendBytes(call.req, call.res, 200, stored.bytes, stored.descriptor.mediaType, {
    'Docker-Content-Digest': stored.descriptor.digest,
  });
}

/**
 * What Layout.getManifest returns for `target`, with index.json from the index cache and, unless
 * every read is verified, the bytes from memory when this server verified the same unchanged file
 * before (verified-manifests.ts). A hit answers only what the read it stands for would have: the
 * same size as the descriptor, validated against the same media type (or described as a blob no
 * entry lists); anything else reads from disk, with every check and error of a read.
 */
function readManifest(
  ctx: ServeContext,
  layout: Layout,
  target: Target,
): { descriptor: Descriptor; bytes: Buffer } {
  const index = ctx.repos.indexes.read(layout);
  if (ctx.blobReads.verify === 'always') return layout.getManifest(target, index);
  const cache = ctx.blobReads.manifests;
  const found = layout.lookup(target, index);
  const digest = found.listed === undefined ? found.digest : parseDigest(found.listed.digest);
  const statAtNs = wallClockNs();
  const before = layout.blobs.version(digest);
  const known = before === undefined ? undefined : cache.get(digest, before);
  if (known !== undefined) {
    const { listed } = found;
    if (listed === undefined) {
      if (known.described !== undefined) return { descriptor: known.described, bytes: known.bytes };
    } else if (listed.size === known.bytes.byteLength && known.validatedAs.has(listed.mediaType)) {
      return { descriptor: listed, bytes: known.bytes };
    }
  }
  const stored = layout.getManifest(target, index);
  // The same unchanged file before and after the read is the file that was read.
  const after = layout.blobs.version(digest);
  if (before !== undefined && after !== undefined && sameVersion(before, after)) {
    cache.record(
      digest,
      after,
      statAtNs,
      stored.bytes,
      found.listed === undefined
        ? { described: stored.descriptor }
        : { validatedAs: stored.descriptor.mediaType },
    );
  }
  return stored;
}

/** PUT /v2/<name>/manifests/<reference> */
export async function putManifest(ctx: ServeContext, call: Call): Promise<void> {
  assertWritable(ctx);
  const ref = parseReference(call.tail, true);
  const bytes = await readBody(call.req, ctx.policy.maxManifestBytes);
  const contentType = mediaTypeOf(call.req.headers['content-type']);
  const parsed = parseClientManifest(bytes, contentType);
  if (ref.digest !== undefined) {
    // Manifests are stored under sha256 (their blob's name); a push by another algorithm would
    // store what its digest could never find.
    if (algorithmOf(ref.digest) !== 'sha256') {
      throw new RegistryHttpError(
        400,
        'UNSUPPORTED',
        'manifests are stored by sha256 digest only',
        {
          digest: ref.digest,
        },
      );
    }
    if (digestOf(bytes, 'sha256') !== ref.digest) {
      throw new RegistryHttpError(400, 'DIGEST_INVALID', 'manifest does not match the digest', {
        digest: ref.digest,
      });
    }
  }
  const layout = await ctx.repos.openOrCreate(call.name);
  // A repository mapped from stored full names writes the full name (repositories.ts).
  const tag =
    ref.tag === undefined ? undefined : ctx.repos.writeName(call.name, ref.tag, nsOf(call));
  const subject = parsed.doc.subject;
  const descriptor = await layout.operation(async () => {
    let desc: Descriptor;
    try {
      desc = await layout.putManifest(bytes, { unlisted: true, mediaType: parsed.mediaType });
    } catch (err) {
      if (isOcilayoutError(err, 'E_NOT_FOUND')) {
        const missing = (err as { details: Record<string, unknown> }).details['digest'];
        throw new RegistryHttpError(
          400,
          'MANIFEST_BLOB_UNKNOWN',
          'manifest references a blob not in this repository',
          {
            digest: missing,
          },
          err,
        );
      }
      throw err;
    }
    await layout.updateIndex((index) => {
      const before = JSON.stringify(index);
      if (tag !== undefined) moveTag(index, tag, desc);
      if (subject !== undefined) {
        applyReferrerEdges(layout, index, [{ subject, referrer: desc }], { convention: 'auto' });
      } else if (ref.tag === undefined && !index.manifests.some((e) => e.digest === desc.digest)) {
        // Pushed by digest, no tag, no subject (the children of an index come first this way):
        // listed untagged, so gc keeps it, until something that reaches it is pushed.
        index.manifests.push(canonicalDescriptor({ ...desc }));
      }
      tidyUntaggedChildren(index, parsed, desc.digest);
      // A repeated push changes nothing: index.json is not rewritten.
      return { index: JSON.stringify(index) === before ? undefined : index, result: undefined };
    });
    return desc;
  });
  const headers: Record<string, string> = {
    Location: v2Path(call.name, 'manifests', descriptor.digest),
    'Docker-Content-Digest': descriptor.digest,
  };
  // distribution-spec: a registry that indexes the subject says so, and the client then need
  // not maintain a fallback tag.
  if (subject !== undefined) headers['OCI-Subject'] = subject.digest;
  if (ref.tag !== undefined) call.note = `tag ${ref.tag}`;
  sendEmpty(call.res, 201, headers);
}

/** DELETE /v2/<name>/manifests/<reference>: a tag is untagged, a digest deleted. */
export async function deleteManifestCall(ctx: ServeContext, call: Call): Promise<void> {
  assertDeletable(ctx);
  const ref = parseReference(call.tail, false);
  const repo = ctx.repos.repository(call.name);
  const layout = repo.layout;
  if (ref.tag !== undefined) {
    await layout.untag(repo.readName(ref.tag, nsOf(call)));
  } else {
    await unrecordReferrer(layout, ref.digest);
    await deleteManifest(layout, { digest: ref.digest });
  }
  sendEmpty(call.res, 202);
}

/**
 * A referrer is listed by its conventions' bookkeeping (a fallback-tag index lists it, which
 * would make it look referenced): take it out of them first. Not a referrer: nothing to do.
 */
async function unrecordReferrer(layout: Layout, digest: Digest): Promise<void> {
  try {
    await detach(layout, digest);
  } catch (err) {
    if (isOcilayoutError(err, 'E_USAGE') || isOcilayoutError(err, 'E_NOT_FOUND')) return;
    throw err;
  }
}

/**
 * An untagged entry (no annotations) for a manifest the new index lists is redundant once the
 * index is reachable: drop it, so index.json does not keep one entry per child of every
 * multi-platform image pushed. Entries with annotations are someone's bookkeeping: kept.
 */
function tidyUntaggedChildren(index: IndexFile, parsed: ParsedManifest, self: string): void {
  if (parsed.kind !== 'index') return;
  if (!index.manifests.some((e) => e.digest === self)) return;
  const children = new Set(
    successors(parsed)
      .filter((d) => isManifestMediaType(d.mediaType))
      .map((d) => d.digest),
  );
  index.manifests = index.manifests.filter(
    (e) => !(children.has(e.digest) && e.annotations === undefined && e.digest !== self),
  );
}

/**
 * Parse a pushed manifest: MANIFEST_INVALID (400) for what is not JSON, not a manifest or index,
 * or whose own mediaType contradicts Content-Type.
 */
function parseClientManifest(bytes: Buffer, contentType: string | undefined): ParsedManifest {
  let parsed: ParsedManifest;
  try {
    parsed = parseManifest(bytes, 'manifest', contentType);
  } catch (err) {
    if (isOcilayoutError(err, 'E_TOO_LARGE')) {
      throw new RegistryHttpError(413, 'SIZE_INVALID', 'manifest over the size limit', {}, err);
    }
    throw new RegistryHttpError(
      400,
      'MANIFEST_INVALID',
      `manifest invalid: ${(err as Error).message}`,
      {},
      err,
    );
  }
  const own = (parsed.doc as { mediaType?: string }).mediaType;
  if (own !== undefined && contentType !== undefined && own !== contentType) {
    throw new RegistryHttpError(
      400,
      'MANIFEST_INVALID',
      'manifest mediaType does not match Content-Type',
      {
        mediaType: own,
        contentType,
      },
    );
  }
  if (!isManifestMediaType(parsed.mediaType)) {
    throw new RegistryHttpError(400, 'MANIFEST_INVALID', 'not a manifest media type', {
      mediaType: parsed.mediaType,
    });
  }
  return parsed;
}

/** The media type of a Content-Type header, parameters dropped; undefined when absent. */
function mediaTypeOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const t = header.split(';')[0]!.trim();
  return t === '' ? undefined : t;
}

/**
 * containerd's mirror parameter: a pull through a hosts.toml mirror sends `?ns=<registry host>`
 * (docker.io for Docker Hub). It picks among stored names of several registries.
 */
export function nsOf(call: Call): string | undefined {
  const ns = call.query.get('ns');
  return ns === null || ns === '' ? undefined : ns;
}

function manifestUnknown(reference: string): RegistryHttpError {
  return new RegistryHttpError(404, 'MANIFEST_UNKNOWN', 'manifest unknown', { reference });
}
