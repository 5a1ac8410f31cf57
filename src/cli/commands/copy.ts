// `copy SRC:REF DST[:TAG]`: parse both endpoints, dispatch on their kinds, print the summary.
// docker:// endpoints go to the registry bridge (copy-registry.ts); layout → layout to copyLayout.
import {
  CONVENTION_NAMES,
  Layout,
  UsageError,
  copyLayout,
  parseCopyEndpoint,
  shortDigest,
  type CopyEndpoint,
  type CopyOptions,
  type ConventionName,
  type CopyResult,
} from '../../index.js';
import {
  layoutOptions,
  type CommandContext,
  type GlobalArgs,
  type RegisterCommands,
} from '../context.js';
import {
  isRegistryCopy,
  runRegistryCopy,
  withRegistryOptions,
  type RegistryCopyArgs,
} from './copy-registry.js';
import { formatBytes, showsProgress } from '../progress.js';

interface CopyArgs extends GlobalArgs {
  source: string;
  destination: string;
  link: boolean;
  verify: boolean;
  concurrency: number;
  referrers: boolean;
  convention: ConventionName | 'auto' | undefined;
}

export const registerCopy: RegisterCommands = (y, ctx) =>
  y.command(
    'copy <source> <destination>',
    'copy an image or index with everything it references, between layouts and docker:// registries',
    (c) =>
      withRegistryOptions(c)
        .positional('source', {
          type: 'string',
          demandOption: true,
          describe: 'LAYOUT:TAG or LAYOUT@DIGEST (LAYOUT alone if it holds one entry)',
        })
        .positional('destination', {
          type: 'string',
          demandOption: true,
          describe: 'LAYOUT[:TAG]; created if missing; default tag: the source tag',
        })
        .option('referrers', {
          type: 'boolean',
          default: false,
          describe:
            'also copy every referrer (signatures, SBOMs…) of everything copied, recursively',
        })
        .option('convention', {
          choices: [...CONVENTION_NAMES, 'auto'] as const,
          describe: "record copied referrers in this convention (default auto: the destination's)",
        })
        .option('link', {
          type: 'boolean',
          default: true,
          describe: 'hard-link blobs when both layouts share a filesystem (--no-link streams)',
        })
        .option('verify', {
          type: 'boolean',
          default: true,
          describe: 're-hash blobs before hard-linking them (--no-verify trusts the source)',
        })
        .option('concurrency', {
          type: 'number',
          default: 4,
          describe: 'large blobs copied at once',
        })
        .example('$0 copy ./src:v1 ./dst', 'copy tag v1 into ./dst, tagged v1 there')
        .example('$0 copy ./src@sha256:0123… ./dst:release', 'copy by digest, tag it release')
        .example('$0 copy --referrers ./src:v1 ./dst', 'with its signatures and SBOMs, recursively')
        .example('$0 copy --no-link --json ./src:v1 /mnt/usb/dst', 'always write new files'),
    async (argv) => {
      const args = argv as unknown as CopyArgs;
      if (!Number.isInteger(args.concurrency) || args.concurrency < 1) {
        throw new UsageError('E_USAGE', '--concurrency must be a positive integer', {
          concurrency: args.concurrency,
        });
      }
      if (args.convention !== undefined && !args.referrers) {
        throw new UsageError(
          'E_USAGE',
          '--convention applies to copied referrers; add --referrers',
        );
      }
      if (isRegistryCopy(args)) {
        await runRegistryCopy(argv as unknown as RegistryCopyArgs, ctx); // docker:// endpoints
        return;
      }
      const source = parseCopyEndpoint(args.source);
      const destination = parseCopyEndpoint(args.destination);
      if (destination.digest !== undefined) {
        throw new UsageError(
          'E_INVALID_REFERENCE',
          `destination ${args.destination} names a digest; give a layout and optionally :TAG`,
          { destination: args.destination },
        );
      }
      const result = await copyBetween(source, destination, args, ctx);
      ctx.out.info(summaryLine(result));
      ctx.out.result(
        { ...result, destination: destination.layout },
        () => result.descriptor.digest,
      );
    },
  );

/**
 * The seam for other endpoint kinds: add a case per (source kind, destination kind) pair; the
 * switch is exhaustive over CopyEndpoint['kind'], so a new kind fails to compile until handled here.
 */
async function copyBetween(
  source: CopyEndpoint,
  destination: CopyEndpoint,
  args: CopyArgs,
  ctx: CommandContext,
): Promise<CopyResult> {
  switch (source.kind) {
    case 'layout':
      switch (destination.kind) {
        case 'layout':
          return layoutToLayout(source, destination, args, ctx);
      }
  }
}

async function layoutToLayout(
  source: CopyEndpoint,
  destination: CopyEndpoint,
  args: CopyArgs,
  ctx: CommandContext,
): Promise<CopyResult> {
  const options = layoutOptions(args);
  const src = Layout.open(source.layout, options);
  const dst = (): Layout => Layout.init(destination.layout, options).layout;
  const copyOptions: CopyOptions = {
    tag: destination.tag,
    link: args.link,
    verify: args.verify,
    concurrency: args.concurrency,
    referrers: args.referrers,
    convention: args.convention,
    onBlob: progressReporter(ctx),
  };
  return copyLayout(src, { tag: source.tag, digest: source.digest }, dst, copyOptions);
}

/** A one-line progress counter on an interactive stderr; nothing otherwise. */
function progressReporter(ctx: CommandContext): CopyOptions['onBlob'] {
  if (!showsProgress(ctx)) return undefined;
  return ({ done, total }) => {
    ctx.io.stderr.write(`\rcopying blobs: ${done}/${total}${done === total ? '\n' : ''}`);
  };
}

function summaryLine(r: CopyResult): string {
  const { copied, linked, skipped } = r.blobs;
  const what = r.tag === undefined ? shortDigest(r.descriptor.digest) : r.tag;
  const refs =
    r.referrers.length === 0
      ? ''
      : `; ${r.referrers.length} referrer(s) recorded as ${r.conventions.join(', ')}`;
  return `copied ${what}: ${linked} linked, ${copied} copied, ${skipped} already present (${formatBytes(r.bytes.linked + r.bytes.copied)} placed)${refs}`;
}
