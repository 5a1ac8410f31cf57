// Platforms as users write them (`--platform os/arch[/variant]`): the ONE parser, formatter and
// matcher of src/ (copy, pull, docker-format export), and choosing one image manifest from a
// reference: the manifest itself, or for an image index the child whose platform matches.
import { UsageError } from '../errors.js';
import type { Layout, Target } from './layout.js';
import type { Descriptor, Platform } from '../schema/descriptor.js';
import type { ImageManifest } from '../schema/manifest.js';

/** What `--platform` names: an OS, an architecture and optionally a variant. */
export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string | undefined;
}

/**
 * `linux/arm64`, `linux/arm/v7`. Each part is non-empty and made of `[A-Za-z0-9._-]` (the image-spec
 * values and GOOS/GOARCH names all are); anything else is a typo we refuse rather than match nothing.
 * Throws E_USAGE.
 */
export function parsePlatform(input: string): PlatformSpec {
  const parts = input.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-zA-Z0-9._-]+$/.test(p))) {
    throw new UsageError(
      'E_USAGE',
      `invalid platform ${JSON.stringify(input)}: expected OS/ARCH[/VARIANT]`,
      { platform: input },
      { hint: 'write OS/ARCH or OS/ARCH/VARIANT, e.g. linux/amd64 or linux/arm/v7' },
    );
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

/** `os/arch[/variant]`; an empty variant is left out. */
export function formatPlatform(p: Platform | PlatformSpec): string {
  return [p.os, p.architecture, p.variant].filter((s) => s !== undefined && s !== '').join('/');
}

/** A wanted platform without a variant matches every variant of that OS/architecture. */
export function platformMatches(have: Platform | undefined, want: PlatformSpec): boolean {
  if (have === undefined) return false;
  if (have.os !== want.os || have.architecture !== want.architecture) return false;
  return want.variant === undefined || have.variant === want.variant;
}

/**
 * Resolve `target` to an image manifest: itself, or for an index the child matching `platform`
 * (exactly one must match). Throws E_USAGE for a malformed platform, E_INVALID_REFERENCE for an
 * index without (or with an unmatched) platform.
 */
export function resolveImageManifest(
  layout: Layout,
  target: Target,
  platform?: string,
): { descriptor: Descriptor; manifest: ImageManifest } {
  const wanted = platform === undefined ? undefined : parsePlatform(platform);
  const descriptor = layout.resolve(target);
  const parsed = layout.readManifest(descriptor);
  if (parsed.kind === 'manifest') return { descriptor, manifest: parsed.doc };
  const children = parsed.doc.manifests;
  const listing = children
    .map(
      (c) =>
        `${c.platform === undefined ? '(no platform)' : formatPlatform(c.platform)} ${c.digest}`,
    )
    .join(', ');
  if (wanted === undefined) {
    throw new UsageError(
      'E_INVALID_REFERENCE',
      `${descriptor.digest} is an image index (${children.length} manifests), not a single manifest`,
      { digest: descriptor.digest, manifests: children.map((c) => c.digest) },
      { hint: `choose one with --platform os/arch or LAYOUT@<digest>: ${listing}` },
    );
  }
  const matches = children.filter((c) => platformMatches(c.platform, wanted));
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
