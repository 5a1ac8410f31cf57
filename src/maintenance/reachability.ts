// fsck's view from index.json: every descriptor reachable from it must have a valid digest and a
// blob of its size, and every manifest/index must validate and agree with its descriptor's
// mediaType. Read-only; problems are returned as findings.
import { finding, type FindingCode } from './findings.js';
import { relative } from 'node:path';
import { tryParseDigest, type Digest } from '../digest.js';
import { walk, successors, type WalkProblem } from '../layout/graph.js';
import type { Layout } from '../layout/layout.js';
import type { Descriptor } from '../schema/descriptor.js';
import type { IndexFile } from '../schema/layout-files.js';
import type { Finding } from './policy.js';

export interface ReachabilityOptions {
  /** Missing blobs are warnings, not errors (a sparse layout; see spec-notes/gc-fsck.md). */
  allowMissing: boolean;
  /** Blob files the blob scan found unusable (symlinks, unreadable): reported there already. */
  unusable: ReadonlySet<Digest>;
  /** Blobs a gc that died left parked in ingest/ (absolute paths): named in MISSING_BLOB. */
  parked: ReadonlyMap<Digest, string>;
}

export interface ReachabilityReport {
  findings: Finding[];
  /** Descriptors checked (index.json entries plus every config, layer and child reached). */
  descriptors: number;
}

export function checkReachable(
  layout: Layout,
  index: IndexFile,
  options: ReachabilityOptions,
): ReachabilityReport {
  const walked = walk(layout, index.manifests, { collect: true });
  const findings: Finding[] = [];
  for (const p of walked.problems) {
    const f = problemFinding(p);
    if (f !== undefined) findings.push(f);
  }
  const edges: { desc: Descriptor; from: string }[] = index.manifests.map((desc) => ({
    desc,
    from: 'index.json',
  }));
  for (const [digest, parsed] of walked.manifests) {
    for (const desc of successors(parsed)) edges.push({ desc, from: digest });
  }
  const seen = new Set<string>();
  const missing = new Set<Digest>();
  for (const { desc, from } of edges) {
    const digest = tryParseDigest(desc.digest);
    if (digest === undefined || options.unusable.has(digest)) continue; // reported elsewhere
    const key = `${digest} ${desc.size} ${desc.mediaType}`;
    if (seen.has(key)) continue;
    seen.add(key);
    let stat: { size: number } | undefined;
    try {
      stat = layout.blobs.stat(digest);
    } catch {
      continue; // not a regular file: the blob scan reports it
    }
    if (stat === undefined) {
      if (missing.has(digest)) continue;
      missing.add(digest);
      findings.push(missingFinding(layout, desc, digest, from, options));
      continue;
    }
    if (stat.size !== desc.size) {
      findings.push(
        finding(
          'DESCRIPTOR_SIZE_MISMATCH',
          `${desc.mediaType} ${digest} referenced by ${from}: descriptor says ${desc.size} bytes, blob has ${stat.size}`,
          { digest },
        ),
      );
    }
    const own = walked.manifests.get(digest)?.doc.mediaType;
    if (own !== undefined && own !== desc.mediaType) {
      findings.push(
        finding(
          'MEDIA_TYPE_MISMATCH',
          `${digest} referenced by ${from} as ${desc.mediaType}, but the document says ${own}`,
          { digest },
        ),
      );
    }
  }
  return { findings, descriptors: edges.length };
}

function missingFinding(
  layout: Layout,
  desc: Descriptor,
  digest: Digest,
  from: string,
  options: ReachabilityOptions,
): Finding {
  // image-spec allows blobs that an external source supplies: `urls` marks such (foreign) layers.
  const external = (desc.urls?.length ?? 0) > 0;
  const parked = options.parked.get(digest);
  let message = `${desc.mediaType} ${digest} referenced by ${from} is not in blobs/`;
  if (external) message += ' (it has urls: an external source may supply it)';
  if (parked !== undefined) {
    message += `; a gc that died parked a copy in ${relative(layout.root, parked)}: run gc to put it back`;
  }
  return finding('MISSING_BLOB', message, {
    digest,
    tolerated: options.allowMissing || external,
  });
}

// Walk problems that another check reports from its own angle (MISSING_BLOB, DESCRIPTOR_SIZE_MISMATCH,
// BLOB_DIGEST_MISMATCH, BLOB_NOT_REGULAR), and the finding each other error code becomes.
const REPORTED_ELSEWHERE: ReadonlySet<string> = new Set([
  'E_NOT_FOUND',
  'E_SIZE_MISMATCH',
  'E_DIGEST_MISMATCH',
  'E_UNSAFE_ENTRY',
]);
const PROBLEM_CODES: Readonly<Partial<Record<string, FindingCode>>> = {
  E_INVALID_DIGEST: 'DESCRIPTOR_INVALID_DIGEST',
  E_UNSUPPORTED_ALGORITHM: 'DESCRIPTOR_UNSUPPORTED_ALGORITHM',
  E_INVALID_JSON: 'MANIFEST_INVALID',
  E_SCHEMA: 'MANIFEST_INVALID',
  E_TOO_LARGE: 'MANIFEST_INVALID',
};

/** A walk problem as a finding; undefined when another check reports the same cause. */
function problemFinding(p: WalkProblem): Finding | undefined {
  if (REPORTED_ELSEWHERE.has(p.error.code)) return undefined;
  const from = p.parent === undefined ? 'index.json' : p.parent.digest;
  return finding(
    PROBLEM_CODES[p.error.code] ?? 'WALK_ERROR',
    `${p.descriptor.mediaType} ${p.descriptor.digest} referenced by ${from}: ${p.error.message}`,
    { digest: p.descriptor.digest },
  );
}
