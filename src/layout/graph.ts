// The content graph: what a manifest or index references, and walks over it from roots.
// `subject` is a weak link (image-spec manifest.md): it is not a successor and keeps nothing alive;
// referrers/ turns subjects into reverse edges.
import { parseDigest, type Digest } from '../digest.js';
import { IntegrityError, asOcilayoutError, type OcilayoutError } from '../errors.js';
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

export interface WalkResult<T = ParsedManifest> {
  /** Every descriptor reached, by digest, in first-visit order (roots first, depth first). */
  nodes: Map<Digest, Descriptor>;
  /** Parsed documents reached, by digest. */
  manifests: Map<Digest, T>;
  problems: WalkProblem[];
  /** Digests read (or tried) as a manifest/index: each document is parsed at most once. */
  documentsTried: Set<Digest>;
}

/** A reference as the walk met it: the descriptor and, when it was read as one, its document. */
export interface WalkRef<T = ParsedManifest> {
  desc: Descriptor;
  doc: T | undefined;
}

export interface WalkOptions<T = ParsedManifest> {
  /** Stop at the first problem and throw it (default), or collect problems and go on. */
  collect?: boolean;
  /**
   * Called for each node once, when first reached, with its parsed document when that descriptor
   * names a manifest/index (a node first reached as a plain blob is still walked as a document
   * later, but not visited again).
   */
  visit?: (desc: Descriptor, parsed: T | undefined, parent: Descriptor | undefined) => void;
  /**
   * Called for every descriptor as the walk reaches it, repeats included, in depth-first order (a
   * descriptor after everything its earlier siblings reach): per-reference checks such as "every
   * descriptor of a digest states one size".
   */
  reach?: (desc: Descriptor, parent: Descriptor | undefined) => void;
  /**
   * Like `reach` (every reference, repeats included), but once the reference's document is known:
   * read for it, or the one an earlier reference of the digest read (undefined when the reference
   * is no document, or its document could not be read). `parent` comes with its document, so a
   * caller can tell where each reference was found (which index listed it, beside what siblings).
   */
  arrive?: (ref: WalkRef<T>, parent: WalkRef<T> | undefined) => void;
  /** Called once a document's successors are all walked: documents children before parents. */
  leave?: (desc: Descriptor, parsed: T) => void;
  /** Whether a descriptor is read as a document. Default: it names a manifest/index media type. */
  isDocument?: (desc: Descriptor, parent: Descriptor | undefined) => boolean;
  /** Maximum nesting of indexes (hostile layouts could chain deeply). Default 64. */
  maxDepth?: number;
  /** Go on from an earlier walk: what it reached is not visited or read again, and is kept. */
  from?: WalkResult<T>;
}

/** What a document points to; for ParsedManifest, `successors`. */
export type SuccessorsOf<T> = (doc: T) => readonly Descriptor[];

/**
 * Walk from `roots` through every manifest/index they reach. Each digest is visited once, so
 * repeated or cyclic references terminate. Descriptors with an invalid or unsupported digest, and
 * unreadable documents, are problems (thrown as the reader threw them, or collected with
 * `collect`): the reader's codes (E_NOT_FOUND, E_DIGEST_MISMATCH, E_INVALID_JSON…),
 * E_INVALID_DIGEST, E_SCHEMA past maxDepth.
 */
export function walk(
  source: ManifestSource,
  roots: Iterable<Descriptor>,
  options: WalkOptions = {},
): WalkResult {
  return walkDocuments((desc) => source.readManifest(desc), successors, roots, options);
}

/**
 * `walk` over documents of another shape (say, referrer discovery's hand-checked DocInfo, which
 * skips a malformed descriptor in an index and goes on with its siblings, where a schema parse
 * rejects the whole index): `read` reads one, `successorsOf` says what it points to.
 */
export function walkDocuments<T>(
  read: (desc: Descriptor) => T,
  successorsOf: SuccessorsOf<T>,
  roots: Iterable<Descriptor>,
  options: WalkOptions<T> = {},
): WalkResult<T> {
  const steps = traverse(roots, successorsOf, options);
  let step = steps.next();
  while (!step.done) {
    let outcome: Outcome<T>;
    try {
      outcome = { doc: read(step.value) };
    } catch (error) {
      outcome = { error };
    }
    step = resume(steps, outcome);
  }
  return step.value;
}

/** `walk` over a source that reads asynchronously (a registry): the same traversal, awaited. */
export async function walkAsync(
  read: (desc: Descriptor) => Promise<ParsedManifest>,
  roots: Iterable<Descriptor>,
  options: WalkOptions = {},
): Promise<WalkResult> {
  const steps = traverse(roots, successors, options);
  let step = steps.next();
  while (!step.done) {
    // Through a promise, so a reader that throws before it returns one is a failed read too.
    const outcome = await Promise.resolve(step.value)
      .then(read)
      .then(
        (doc): Outcome<ParsedManifest> => ({ doc }),
        (error: unknown) => ({ error }),
      );
    step = resume(steps, outcome);
  }
  return step.value;
}

/** What one read gave: the document, or what it threw. */
type Outcome<T> = { doc: T } | { error: unknown };

/** Hand the traversal the outcome of the read it asked for. */
function resume<T>(
  steps: Generator<Descriptor, WalkResult<T>, T>,
  outcome: Outcome<T>,
): IteratorResult<Descriptor, WalkResult<T>> {
  return 'doc' in outcome ? steps.next(outcome.doc) : steps.throw(outcome.error);
}

type Frame<T> =
  | { desc: Descriptor; parent: WalkRef<T> | undefined; depth: number; leave?: undefined }
  | { leave: { doc: T }; desc: Descriptor };

/**
 * The traversal itself, once for both walks: it yields each descriptor it needs read as a document
 * and is resumed with the parsed document (or thrown the read's error).
 */
function* traverse<T>(
  roots: Iterable<Descriptor>,
  successorsOf: SuccessorsOf<T>,
  options: WalkOptions<T>,
): Generator<Descriptor, WalkResult<T>, T> {
  const result: WalkResult<T> = options.from ?? {
    nodes: new Map(),
    manifests: new Map(),
    problems: [],
    documentsTried: new Set(),
  };
  const { nodes, manifests, problems, documentsTried } = result;
  const maxDepth = options.maxDepth ?? 64;
  const isDocument = options.isDocument ?? ((d: Descriptor) => isManifestMediaType(d.mediaType));
  const fail = (descriptor: Descriptor, parent: Descriptor | undefined, error: unknown): void => {
    if (options.collect !== true) throw error;
    problems.push({ descriptor, parent, error: asOcilayoutError(error) });
  };
  const arrive = (desc: Descriptor, doc: T | undefined, parent: WalkRef<T> | undefined): void =>
    options.arrive?.({ desc, doc }, parent);
  const stack: Frame<T>[] = [];
  for (const r of [...roots].reverse()) stack.push({ desc: r, parent: undefined, depth: 0 });
  while (stack.length > 0) {
    const frame = stack.pop()!;
    if (frame.leave !== undefined) {
      options.leave?.(frame.desc, frame.leave.doc);
      continue;
    }
    const { desc, depth } = frame;
    const parentRef = frame.parent;
    const parent = parentRef?.desc;
    options.reach?.(desc, parent);
    let digest: Digest;
    try {
      digest = parseDigest(desc.digest);
    } catch (err) {
      fail(desc, parent, err);
      continue;
    }
    const first = !nodes.has(digest);
    const asDocument = isDocument(desc, parent);
    // A digest first met as a plain blob (say, a manifest pushed as an artifact's layer) must
    // still be read when a descriptor names it as a manifest: its config and layers are reachable
    // too, and a gc mark that skipped them would delete them.
    const readAsDocument = asDocument && !documentsTried.has(digest);
    if (!first && !readAsDocument) {
      arrive(desc, asDocument ? manifests.get(digest) : undefined, parentRef);
      continue;
    }
    if (first) nodes.set(digest, desc);
    let parsed: T | undefined;
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
        parsed = yield desc;
      } catch (err) {
        fail(desc, parent, err);
        if (first) options.visit?.(desc, undefined, parent);
        arrive(desc, undefined, parentRef);
        continue;
      }
      manifests.set(digest, parsed);
      stack.push({ leave: { doc: parsed }, desc });
      const next = successorsOf(parsed);
      const here: WalkRef<T> = { desc, doc: parsed };
      for (let i = next.length - 1; i >= 0; i--)
        stack.push({ desc: next[i]!, parent: here, depth: depth + 1 });
    }
    if (first) options.visit?.(desc, parsed, parent);
    arrive(desc, parsed, parentRef);
  }
  return result;
}
