// The blobs an archive must carry: everything reachable from its index.json entries, each present
// with the size its descriptor states. Export uses it to choose what to write, import to refuse an
// archive that lacks something before anything becomes visible.
import { parseDigest, type Digest } from '../digest.js';
import { IntegrityError, type OcilayoutError } from '../errors.js';
import { successors, walk, type ManifestSource } from '../layout/graph.js';
import { isIndexMediaType } from '../media-types.js';
import type { Descriptor } from '../schema/descriptor.js';
import type { ParsedManifest } from '../schema/manifest.js';

export interface Closure {
  /** Every blob to carry (manifests included), by digest, with its size, in walk order. */
  blobs: Map<Digest, number>;
  /** Descriptors with `urls` whose blob is absent (non-distributable layers): not carried. */
  external: Descriptor[];
  /** The blobs read as manifests or indexes (a delta export always carries these). */
  documents: Set<Digest>;
}

export interface ClosureOptions {
  /** Size of a blob that is present, undefined when absent. */
  sizeOf: (digest: Digest) => number | undefined;
  /** The error for an absent blob. */
  missing: (desc: Descriptor) => OcilayoutError;
}

/**
 * Walk `roots` through `source`, checking every reached blob is present with its declared size.
 * Throws `missing(desc)` for an absent blob, E_SIZE_MISMATCH for a wrong size, and whatever reading
 * a manifest throws (E_DIGEST_MISMATCH, E_SCHEMA...).
 */
export function contentClosure(
  source: ManifestSource,
  roots: readonly Descriptor[],
  options: ClosureOptions,
): Closure {
  const blobs = new Map<Digest, number>();
  const external: Descriptor[] = [];
  const guarded: ManifestSource = {
    readManifest(desc: Descriptor): ParsedManifest {
      if (options.sizeOf(parseDigest(desc.digest)) === undefined) throw options.missing(desc);
      return source.readManifest(desc);
    },
  };
  const { nodes, manifests } = walk(guarded, roots);
  for (const [digest, desc] of nodes) {
    const size = options.sizeOf(digest);
    if (size === undefined) {
      if ((desc.urls?.length ?? 0) > 0) {
        external.push(desc);
        continue;
      }
      throw options.missing(desc);
    }
    assertSize(digest, desc, size);
    blobs.set(digest, size);
  }
  // walk() keeps the first descriptor it meets for a digest: every other one must agree too.
  for (const desc of [...roots, ...[...manifests.values()].flatMap((m) => successors(m))]) {
    const digest = parseDigest(desc.digest);
    const size = options.sizeOf(digest);
    if (size !== undefined) assertSize(digest, desc, size);
    else if ((desc.urls?.length ?? 0) === 0) throw options.missing(desc);
  }
  return { blobs, external, documents: new Set(manifests.keys()) };
}

/** A platform manifest an index lists but the archive does not carry. */
export interface AbsentPlatformManifest {
  /** `os/arch[/variant]`. */
  platform: string;
  digest: string;
  /** The index that lists it. */
  index: string;
}

/**
 * The platform manifests that indexes reachable from `roots` list but whose blobs are absent: a
 * sparse index, as `ctr images export` writes by default (every platform listed, only the host's
 * carried; podman and containerd load such archives). Only indexes that are present are read, and
 * one that cannot be read is left to contentClosure to report.
 */
export function absentPlatformManifests(
  source: ManifestSource,
  roots: readonly Descriptor[],
  sizeOf: (digest: Digest) => number | undefined,
): AbsentPlatformManifest[] {
  const out: AbsentPlatformManifest[] = [];
  const seen = new Set<string>();
  const visit = (desc: Descriptor, depth: number): void => {
    if (seen.has(desc.digest) || depth > 64) return;
    seen.add(desc.digest);
    if (!isIndexMediaType(desc.mediaType)) return;
    let parsed: ParsedManifest;
    try {
      if (sizeOf(parseDigest(desc.digest)) === undefined) return;
      parsed = source.readManifest(desc);
    } catch {
      return;
    }
    if (parsed.kind !== 'index') return;
    for (const child of parsed.doc.manifests) {
      let present: boolean;
      try {
        present = sizeOf(parseDigest(child.digest)) !== undefined;
      } catch {
        continue;
      }
      if (present) visit(child, depth + 1);
      else if (child.platform !== undefined && (child.urls?.length ?? 0) === 0) {
        const p = child.platform;
        out.push({
          platform: [p.os, p.architecture, p.variant].filter((x) => x !== undefined).join('/'),
          digest: child.digest,
          index: desc.digest,
        });
      }
    }
  };
  for (const root of roots) visit(root, 0);
  return out;
}

function assertSize(digest: Digest, desc: Descriptor, size: number): void {
  if (size === desc.size) return;
  throw new IntegrityError(
    'E_SIZE_MISMATCH',
    `blob ${digest}: descriptor says ${desc.size} bytes, stored blob has ${size}`,
    { digest, expected: desc.size, found: size },
    { hint: 'the layout is damaged; `ocilayout fsck LAYOUT` lists what else is' },
  );
}
