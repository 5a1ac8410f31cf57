// Choosing one image manifest from a reference: the manifest itself, or for an image index the
// child whose platform matches `os/arch[/variant]` (what pull, and any per-image verb, needs).
import { UsageError } from './errors.js';
import type { Layout, Target } from './layout.js';
import type { Descriptor } from './schema/descriptor.js';
import type { ImageManifest } from './schema/manifest.js';

/**
 * Resolve `target` to an image manifest: itself, or for an index the child matching `platform`
 * (exactly one must match).
 * Throws E_INVALID_REFERENCE for an index without (or with an unmatched) platform.
 */
export function resolveImageManifest(
  layout: Layout,
  target: Target,
  platform?: string,
): { descriptor: Descriptor; manifest: ImageManifest } {
  const descriptor = layout.resolve(target);
  const parsed = layout.readManifest(descriptor);
  if (parsed.kind === 'manifest') return { descriptor, manifest: parsed.doc };
  const children = parsed.doc.manifests;
  const listing = children
    .map((c) => `${platformString(c) ?? '(no platform)'} ${c.digest}`)
    .join(', ');
  if (platform === undefined) {
    throw new UsageError(
      'E_INVALID_REFERENCE',
      `${descriptor.digest} is an image index (${children.length} manifests), not a single manifest`,
      { digest: descriptor.digest, manifests: children.map((c) => c.digest) },
      { hint: `choose one with --platform os/arch or LAYOUT@<digest>: ${listing}` },
    );
  }
  const matches = children.filter((c) => platformMatches(c, platform));
  if (matches.length !== 1) {
    throw new UsageError(
      'E_INVALID_REFERENCE',
      `${matches.length === 0 ? 'no' : `${matches.length}`} manifests in index ${descriptor.digest} match platform ${platform}`,
      { digest: descriptor.digest, platform },
      { hint: `available: ${listing}` },
    );
  }
  const child = matches[0]!;
  const childParsed = layout.readManifest(child);
  if (childParsed.kind !== 'manifest') {
    throw new UsageError(
      'E_INVALID_REFERENCE',
      `${child.digest} is a nested index`,
      { digest: child.digest },
      { hint: `name a manifest inside it: LAYOUT@${child.digest} with --platform again` },
    );
  }
  return { descriptor: child, manifest: childParsed.doc };
}

/** `os/arch[/variant]` of an index entry; undefined when it names no platform. */
function platformString(d: Descriptor): string | undefined {
  const p = d.platform;
  if (p === undefined) return undefined;
  return [p.os, p.architecture, ...(p.variant === undefined ? [] : [p.variant])].join('/');
}

/** `os/arch` matches any variant; `os/arch/variant` only that variant. */
function platformMatches(d: Descriptor, wanted: string): boolean {
  const have = platformString(d);
  if (have === undefined) return false;
  return have === wanted || (wanted.split('/').length === 2 && have.startsWith(`${wanted}/`));
}
