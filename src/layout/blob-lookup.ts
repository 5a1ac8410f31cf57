// What the layout says about one blob: the descriptor that index.json's graph uses for it.
// Lets `blob get` verify against the declared size and `blob stat` show the media type.
import type { Digest } from '../digest.js';
import { walk } from './graph.js';
import type { Layout } from './layout.js';
import type { Descriptor } from '../schema/descriptor.js';

/**
 * The first descriptor for `digest` reachable from index.json (depth first, in index order), or
 * undefined when nothing reachable names it. Reads every manifest once; broken parts are skipped.
 */
export function findReachableDescriptor(layout: Layout, digest: Digest): Descriptor | undefined {
  return walk(layout, layout.readIndex().manifests, { collect: true }).nodes.get(digest);
}
