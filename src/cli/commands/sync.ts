// `sync IMAGES LAYOUT`: collect an image list into one layout (transfer/sync.ts); this file reads
// the list (a file or stdin), the options, and prints one line per image and a summary.
import { readFileSync } from 'node:fs';
import {
  parseImageList,
  parsePlatform,
  syncImages,
  wrapFsError,
  type SyncImageResult,
  type SyncResult,
} from '../../internal.js';
import {
  layoutOptions,
  type CommandContext,
  type GlobalArgs,
  type RegisterCommands,
} from '../context.js';
import {
  blobLocations,
  fileOrStdin,
  remoteReadOptions,
  requirePositiveIntegers,
  stringList,
  withBlobCache,
} from '../options.js';
import { formatBytes, progressReporter } from '../progress.js';
import { imageLine } from '../render/image-line.js';

interface SyncArgs extends GlobalArgs {
  images: string;
  layout: string;
  platform?: string | string[];
  'list-format': 'auto' | 'text' | 'yaml';
  referrers: boolean;
  'cosign-tags': boolean;
  parallel: number;
  concurrency: number;
  'plain-http'?: string | string[];
  'blob-cache': boolean;
}

export const registerSync: RegisterCommands = (y, ctx) =>
  y.command(
    'sync <images> <layout>',
    'collect every image of a list (with referrers and cosign signatures) into one layout, each under its full name',
    (c) =>
      withBlobCache(c)
        .positional('images', {
          type: 'string',
          demandOption: true,
          describe:
            'image list: one REGISTRY/REPO:TAG or REGISTRY/REPO@DIGEST per line (# comments), or YAML (*.yaml, *.yml) with per-image platforms; - reads stdin',
        })
        .positional('layout', {
          type: 'string',
          demandOption: true,
          describe: 'the layout to collect into (created if missing)',
        })
        .option('platform', {
          type: 'string',
          array: true,
          nargs: 1,
          describe:
            'keep only OS/ARCH[/VARIANT] of multi-arch images that name no platforms themselves (repeatable)',
        })
        .option('list-format', {
          choices: ['auto', 'text', 'yaml'] as const,
          default: 'auto' as const,
          describe: 'how to read the list (auto: YAML when the file name ends in .yaml or .yml)',
        })
        .option('referrers', {
          type: 'boolean',
          default: true,
          describe:
            'also collect every referrer (signatures, SBOMs, attestations); --no-referrers skips them',
        })
        .option('cosign-tags', {
          type: 'boolean',
          default: true,
          describe:
            "also collect cosign's sha256-<hex>.sig/.att/.sbom tags; --no-cosign-tags skips them",
        })
        .option('parallel', {
          type: 'number',
          default: 2,
          describe: 'images collected at once',
        })
        .option('concurrency', {
          type: 'number',
          default: 4,
          describe: 'blobs transferred at once, per image',
        })
        .option('plain-http', {
          type: 'string',
          array: true,
          nargs: 1,
          describe:
            'speak plain HTTP to this registry HOST[:PORT] (repeatable; loopback is probed anyway)',
        })
        .example(
          '$0 sync images.txt ./bundle',
          'collect a release, then `ocilayout export ./bundle release.tar`',
        )
        .example(
          '$0 sync --platform linux/amd64 images.yaml ./bundle',
          'one platform unless an image names its own',
        )
        .example('cat images.txt | $0 sync - ./bundle', 'the list from stdin'),
    async (argv) => {
      const args = argv as unknown as SyncArgs;
      args.images = fileOrStdin(args.images);
      requirePositiveIntegers({ '--parallel': args.parallel, '--concurrency': args.concurrency });
      const platforms = stringList(args.platform).map(parsePlatform);
      const text = await readList(args.images, ctx);
      const name =
        args['list-format'] === 'auto'
          ? args.images === '-'
            ? 'stdin'
            : args.images
          : `${args.images === '-' ? 'stdin' : args.images}.${args['list-format'] === 'yaml' ? 'yaml' : 'txt'}`;
      const entries = parseImageList(text, name, platforms);
      // One line for the whole run on a terminal: bytes of every image planned so far (the total
      // grows as images are planned), blobs still moving counted as they move.
      const progress = progressReporter(ctx, 'sync');
      let planned = 0;
      let placed = 0;
      let images = `[0/${entries.length}]`;
      const moving = new Map<string, number>();
      const redraw = (): void => {
        let inFlight = 0;
        for (const n of moving.values()) inFlight += n;
        progress.update(Math.min(placed + inFlight, planned), planned, images);
      };
      let result: SyncResult;
      try {
        result = await syncImages(entries, args.layout, {
          ...remoteReadOptions(args, ctx),
          blobLocations: blobLocations(args, ctx),
          onRetry: progress.retry,
          images: args.parallel,
          concurrency: args.concurrency,
          referrers: args.referrers,
          cosignTags: args['cosign-tags'],
          layout: layoutOptions(args),
          onImage: (e) => {
            if (e.type !== 'done') return;
            images = `[${e.done}/${e.total}]`;
            ctx.out.info(
              `${images} ${imageLine(e.result.image, e.result, e.result.platforms.length > 0 ? [e.result.platforms.join(',')] : [])}`,
            );
            redraw();
          },
          onEvent: (image, e) => {
            if (e.type === 'warning') ctx.out.warn(`${image}: ${e.message}`);
            else if (e.type === 'plan') planned += e.bytes;
            else if (e.type === 'blob-progress')
              moving.set(`${image} ${e.descriptor.digest}`, e.transferred);
            else if (e.type === 'blob-done') {
              moving.delete(`${image} ${e.descriptor.digest}`);
              placed += e.descriptor.size;
            }
            redraw();
          },
        });
      } finally {
        progress.finish();
      }
      ctx.out.info(summaryLine(result));
      ctx.out.result(result, () => result.images.map(resultLine));
      // Every image was tried and reported; the exit status is the first failure's.
      const failed = result.images.find((i) => i.status === 'failed');
      if (failed?.error !== undefined) throw failed.error;
    },
  );

async function readList(path: string, ctx: CommandContext): Promise<string> {
  if (path !== '-') {
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw wrapFsError(err, `read image list ${path}`, { path });
    }
  }
  const chunks: Buffer[] = [];
  for await (const c of ctx.io.stdin) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(String(c)));
  return Buffer.concat(chunks).toString('utf8');
}

function resultLine(r: SyncImageResult): string {
  return `${r.status}\t${r.image}\t${r.digest ?? '-'}`;
}

function summaryLine(r: SyncResult): string {
  return `synced ${r.images.length} image${r.images.length === 1 ? '' : 's'} into ${r.layout}: ${r.copied} copied (${formatBytes(r.bytes)}), ${r.upToDate} up to date, ${r.failed} failed`;
}
