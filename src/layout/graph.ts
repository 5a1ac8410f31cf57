// The content graph: what a manifest or index references, and walks over it from roots.
// `subject` is a weak link (image-spec manifest.md): it is not a successor and keeps nothing alive;
// referrers/ turns subjects into reverse edges.
import { parseDigest, type Digest } from '../digest.js';
import { IntegrityError, OcilayoutError, asOcilayoutError } from '../errors.js';
import { isManifestMediaType } from '../media-types.js';
import type { Descriptor } from '../schema/descriptor.js';
import type { ParsedManifest } from '../schema/manifest.js';

/** Reads manifests and indexes (verified, capped); implemented by Layout. */
export interface ManifestSource {
  readManifest(desc: Descriptor): ParsedManifest;
}

/** Descriptors a manifest or index points to: config and layers, or the listed manifests. */
export function successors(m: ParsedManifest): Descriptor[] {
  return m.kind === 'manifest' ? [m.doc.config, ...m.doc.layers] : [...m.doc.manifests];
}

export interface WalkProblem {
  /** The descriptor that could not be followed, and the descriptor that pointed to it. */
  descriptor: Descriptor;
  parent: Descriptor | undefined;
  error: OcilayoutError;
}

export interface WalkResult {
  /** Every descriptor reached, by digest, in first-visit order (roots first, depth first). */
  nodes: Map<Digest, Descriptor>;
  /** Parsed documents reached, by digest. */
  manifests: Map<Digest, ParsedManifest>;
  problems: WalkProblem[];
}

export interface WalkOptions {
  /** Stop at the first problem and throw it (default), or collect problems and go on. */
  collect?: boolean;
  /**
   * Called for each node once, when first reached, with its parsed document when that descriptor
   * names a manifest/index (a node first reached as a plain blob is still walked as a document
   * later, but not visited again).
   */
  visit?: (
    desc: Descriptor,
    parsed: ParsedManifest | undefined,
    parent: Descriptor | undefined,
  ) => void;
  /** Maximum nesting of indexes (hostile layouts could chain deeply). Default 64. */
  maxDepth?: number;
}

/**
 * Walk from `roots` through every manifest/index they reach. Each digest is visited once, so
 * repeated or cyclic references terminate. Descriptors with an invalid or unsupported digest, and
 * unreadable documents, are problems (thrown, or collected with `collect`): the reader's codes
 * (E_NOT_FOUND, E_DIGEST_MISMATCH, E_INVALID_JSON…), E_INVALID_DIGEST, E_SCHEMA past maxDepth.
 */
export function walk(
  source: ManifestSource,
  roots: Iterable<Descriptor>,
  options: WalkOptions = {},
): WalkResult {
  const nodes = new Map<Digest, Descriptor>();
  const manifests = new Map<Digest, ParsedManifest>();
  /** Digests already read (or tried) as a manifest/index: each document is parsed at most once. */
  const documentsTried = new Set<Digest>();
  const problems: WalkProblem[] = [];
  const maxDepth = options.maxDepth ?? 64;
  const fail = (descriptor: Descriptor, parent: Descriptor | undefined, error: unknown): void => {
    const e = asOcilayoutError(error);
    if (options.collect !== true) throw e;
    problems.push({ descriptor, parent, error: e });
  };
  const stack: { desc: Descriptor; parent: Descriptor | undefined; depth: number }[] = [];
  for (const r of [...roots].reverse()) stack.push({ desc: r, parent: undefined, depth: 0 });
  while (stack.length > 0) {
    const { desc, parent, depth } = stack.pop()!;
    let digest: Digest;
    try {
      digest = parseDigest(desc.digest);
    } catch (err) {
      fail(desc, parent, err);
      continue;
    }
    const first = !nodes.has(digest);
    // A digest first met as a plain blob (say, a manifest pushed as an artifact's layer) must
    // still be read when a descriptor names it as a manifest: its config and layers are reachable
    // too, and a gc mark that skipped them would delete them.
    const readAsDocument = isManifestMediaType(desc.mediaType) && !documentsTried.has(digest);
    if (!first && !readAsDocument) continue;
    if (first) nodes.set(digest, desc);
    let parsed: ParsedManifest | undefined;
    if (readAsDocument) {
      if (depth > maxDepth) {
        fail(
          desc,
          parent,
          new IntegrityError('E_SCHEMA', `${digest} is nested more than ${maxDepth} levels deep`, {
            digest,
          }),
        );
        continue;
      }
      documentsTried.add(digest);
      try {
        parsed = source.readManifest(desc);
      } catch (err) {
        fail(desc, parent, err);
        if (first) options.visit?.(desc, undefined, parent);
        continue;
      }
      manifests.set(digest, parsed);
      const next = successors(parsed);
      for (let i = next.length - 1; i >= 0; i--)
        stack.push({ desc: next[i]!, parent: desc, depth: depth + 1 });
    }
    if (first) options.visit?.(desc, parsed, parent);
  }
  return { nodes, manifests, problems };
}
