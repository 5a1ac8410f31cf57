// `copy SOURCE DESTINATION`: every endpoint pair (a layout, docker:// or an archive on either side)
// through the one transfer engine (copyRefs); this file only reads options, credentials, and
// renders progress and the summary. Every option means the same for every pair (spec-notes/copy.md).
// An archive `-` is stdin or stdout; the tar then owns that stream, as with export and import.
import {
  CONVENTION_NAMES,
  REFERRERS_MODES,
  UsageError,
  copyAll,
  copyRefs,
  isWholeLayoutCopy,
  parseCopyEndpoint,
  parsePlatform,
  shortDigest,
  type ConventionName,
  type CopyAllImage,
  type CopyAllResult,
  type CopyEndpoint,
  type CopyEvent,
  type CopyResult,
  type Credentials,
  type ReferrersMode,
} from '../../internal.js';
import {
  layoutOptions,
  type CommandContext,
  type GlobalArgs,
  type RegisterCommands,
} from '../context.js';
import {
  blobLocations,
  noClobber,
  plainHttpHosts,
  refuseBinaryToTerminal,
  requirePositiveIntegers,
  stringList,
  withBlobCache,
  withClobber,
} from '../options.js';
import { formatBytes, progressReporter, type Progress } from '../progress.js';
import { imageLine } from '../render/image-line.js';

interface CopyArgs extends GlobalArgs {
  source: string;
  destination: string;
  link: boolean;
  verify: boolean;
  concurrency: number;
  /** Undefined when not given: off for one image, on for a whole layout. */
  referrers: boolean | undefined;
  prefix: string | undefined;
  parallel: number;
  convention: ConventionName | 'auto' | undefined;
  platform?: string | string[];
  'referrers-mode': ReferrersMode;
  /** Unset: on, except where the destination cannot hold them (a docker archive). */
  'cosign-tags': boolean | undefined;
  'plain-http'?: string | string[];
  username?: string;
  'password-stdin': boolean;
  clobber: boolean;
  n: boolean | undefined;
  'blob-cache': boolean;
}

export const registerCopy: RegisterCommands = (y, ctx) =>
  y.command(
    'copy <source> <destination>',
    'copy an image or index with everything it references (or every image of a layout), between layouts and docker:// registries',
    (c) =>
      withBlobCache(withClobber(c))
        .positional('source', {
          type: 'string',
          demandOption: true,
          describe:
            'LAYOUT:TAG or LAYOUT@DIGEST (LAYOUT alone: every image it holds; also oci:LAYOUT[:TAG] and ocidir://LAYOUT[:TAG]), docker://HOST/REPO[:TAG|@DIGEST], or oci-archive:FILE[:TAG] / docker-archive:FILE[:NAME:TAG] (FILE alone if it holds one image; - for stdin)',
        })
        .positional('destination', {
          type: 'string',
          demandOption: true,
          describe:
            'LAYOUT[:TAG], oci:LAYOUT[:TAG] or ocidir://LAYOUT[:TAG] (created if missing), docker://HOST/REPO[:TAG], docker://HOST (a whole layout: each full name to its own repository), or oci-archive:FILE[:TAG] / docker-archive:FILE[:NAME[:TAG]] (replaced whole; - for stdout); default tag: the source tag. A missing HOST/REPO path is refused (write docker:// or ./)',
        })
        .option('platform', {
          type: 'string',
          array: true,
          nargs: 1, // one value per flag: `--platform P SRC DST` leaves SRC and DST positional
          describe:
            'keep only OS/ARCH[/VARIANT] of a multi-arch index (repeatable; changes its digest)',
        })
        .option('referrers', {
          type: 'boolean',
          describe:
            'also copy every referrer (signatures, SBOMs…) of everything copied, recursively (default: off for one image, on for a whole layout; --no-referrers turns it off)',
        })
        .option('prefix', {
          type: 'string',
          describe:
            'docker://HOST destination of a whole layout: put every repository under this path (HOST/PREFIX/team/app)',
        })
        .option('parallel', {
          type: 'number',
          default: 2,
          describe: 'whole-layout copy: images copied at once',
        })
        .option('cosign-tags', {
          type: 'boolean',
          describe:
            "copy cosign's sha256-<hex>.sig/.att/.sbom tags of every manifest copied (--no-cosign-tags: leave them)",
        })
        .option('convention', {
          choices: [...CONVENTION_NAMES, 'auto'] as const,
          describe:
            "layout destination: record copied referrers in this convention (default auto: the destination's)",
        })
        .option('referrers-mode', {
          choices: REFERRERS_MODES,
          default: 'auto',
          describe:
            'registry destination: auto (API if it answers OCI-Subject, else fallback tag), api, tag, both',
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
          describe: 'blobs transferred at once',
        })
        .option('plain-http', {
          type: 'string',
          array: true,
          nargs: 1, // one HOST per flag: a bare `--plain-http` is a usage error, not zero hosts
          describe:
            'speak plain HTTP to this registry HOST[:PORT] (repeatable; loopback is probed anyway)',
        })
        .option('username', {
          type: 'string',
          describe:
            'registry user (password from --password-stdin); without it, credentials come from docker login (config.json auths, credHelpers, credsStore)',
        })
        .option('password-stdin', {
          type: 'boolean',
          default: false,
          describe: 'read the registry password or token from stdin',
        })
        .example('$0 copy ./src:v1 ./dst', 'copy tag v1 into ./dst, tagged v1 there')
        .example(
          '$0 copy ./bundle docker://127.0.0.1:5000',
          'every full-named image of ./bundle to its own repository there, with its referrers',
        )
        .example(
          '$0 copy --prefix mirror ./bundle docker://reg.example',
          'reg.example/mirror/team/app:v1 for team/app:v1',
        )
        .example('$0 copy ./lay docker://reg.example/app', 'every bare tag of ./lay to app')
        .example('$0 copy ./src@sha256:0123… ./dst:release', 'copy by digest, tag it release')
        .example('$0 copy oci:./src:v1 ocidir://./dst:v1', "skopeo's and regctl's layout forms")
        .example('$0 copy --referrers ./src:v1 ./dst', 'with its signatures and SBOMs, recursively')
        .example('$0 copy --no-link --json ./src:v1 /mnt/usb/dst', 'always write new files')
        .example(
          '$0 copy --referrers docker://reg.example/app:v1 ./airgap',
          'pull with signatures and SBOMs',
        )
        .example(
          '$0 copy --referrers ./airgap:v1 docker://127.0.0.1:5000/app',
          'push, referrers included',
        )
        .example(
          '$0 copy --platform linux/arm64 docker://reg.example/app:v1 ./arm',
          'one platform of an index',
        )
        .example(
          '$0 copy --referrers docker://reg.example/app:v1 oci-archive:app.tar',
          'straight into an oci-archive, signatures included',
        )
        .example(
          '$0 copy --platform linux/amd64 ./src:v1 docker-archive:-:example.com/app:v1 | docker load',
          'into docker',
        ),
    async (argv) => {
      const args = argv as unknown as CopyArgs;
      requirePositiveIntegers({ '--concurrency': args.concurrency, '--parallel': args.parallel });
      const whole = isWholeLayoutCopy(args.source, args.destination);
      if (args.convention !== undefined && !(args.referrers ?? whole)) {
        throw new UsageError(
          'E_USAGE',
          '--convention applies to copied referrers; add --referrers',
        );
      }
      const platforms = stringList(args.platform);
      platforms.forEach(parsePlatform); // E_USAGE before anything is read or created
      // The one parser: what copyRefs will read (it parses again, cheaply, and throws the same).
      const toStdout = isStdio(parseCopyEndpoint(args.destination, 'destination'));
      if (isStdio(parseCopyEndpoint(args.source, 'source')) && args['password-stdin']) {
        throw new UsageError('E_USAGE', '--password-stdin and an archive read from stdin (-)');
      }
      if (toStdout) {
        refuseBinaryToTerminal(
          ctx.io.stdout,
          'a tar archive',
          'redirect stdout to a file or a pipe, or name a file',
        );
      }
      if (args.prefix !== undefined && !whole) {
        throw new UsageError(
          'E_USAGE',
          '--prefix applies to a whole layout copied to docker://HOST',
        );
      }
      const credentials = await readCredentials(args, ctx);
      if (whole) {
        await copyWhole(args, ctx, platforms, credentials);
        return;
      }
      const { event, progress } = progressRenderer(ctx);
      let result: CopyResult;
      try {
        result = await copyRefs(args.source, args.destination, {
          referrers: args.referrers ?? false,
          cosignTags: args['cosign-tags'],
          referrersMode: args['referrers-mode'],
          platforms,
          noClobber: noClobber(args),
          convention: args.convention,
          concurrency: args.concurrency,
          link: args.link,
          verify: args.verify,
          plainHttp: plainHttpHosts(args['plain-http']),
          credentials,
          blobLocations: blobLocations(args, ctx),
          layout: layoutOptions(args),
          // Read only by an archive source `-`: making process.stdin's stream costs every copy.
          get stdin() {
            return ctx.io.stdin;
          },
          stdout: ctx.io.stdout,
          onEvent: event,
          onRetry: progress.retry,
        });
      } finally {
        progress.finish();
      }
      if (toStdout) {
        // stdout carries the tar: the summary (or --json result) goes to stderr, as export's does.
        if (ctx.out.json) ctx.io.stderr.write(`${JSON.stringify(result, null, 2)}\n`);
        else ctx.out.info(summaryLine(result));
        return;
      }
      ctx.out.info(summaryLine(result));
      ctx.out.result(result, () => result.descriptor.digest);
    },
  );

/**
 * Every image of a layout (copyAll): a line per image as it finishes, one summary, --json the
 * whole result; the exit status is the first failure's, after every image was tried.
 */
async function copyWhole(
  args: CopyArgs,
  ctx: CommandContext,
  platforms: string[],
  credentials: Credentials | undefined,
): Promise<void> {
  const result = await copyAll(args.source, args.destination, {
    referrers: args.referrers,
    cosignTags: args['cosign-tags'],
    referrersMode: args['referrers-mode'],
    platforms,
    noClobber: noClobber(args),
    convention: args.convention,
    concurrency: args.concurrency,
    images: args.parallel,
    prefix: args.prefix,
    link: args.link,
    verify: args.verify,
    plainHttp: plainHttpHosts(args['plain-http']),
    credentials,
    blobLocations: blobLocations(args, ctx),
    layout: layoutOptions(args),
    onImage: (e) => {
      if (e.type === 'done') ctx.out.info(`[${e.done}/${e.total}] ${wholeImageLine(e.result)}`);
    },
    onEvent: (image, e) => {
      if (e.type === 'warning') ctx.out.warn(`${image}: ${e.message}`);
    },
  });
  for (const r of result.images) {
    if (r.status === 'skipped') ctx.out.warn(`${r.source}: skipped: ${r.reason ?? ''}`);
  }
  ctx.out.info(wholeSummary(result));
  ctx.out.result(result, () =>
    result.images.map(
      (r) => `${r.status}\t${r.source}\t${r.destination ?? '-'}\t${r.digest ?? '-'}`,
    ),
  );
  const failed = result.images.find((i) => i.status === 'failed');
  if (failed?.error !== undefined) throw failed.error;
}

function wholeImageLine(r: CopyAllImage): string {
  return imageLine(`${r.source} → ${r.destination ?? ''}`, r);
}

function wholeSummary(r: CopyAllResult): string {
  const n = r.images.length;
  return `${n} image${n === 1 ? '' : 's'} of ${r.source} to ${r.destination}: ${r.copied} copied (${formatBytes(r.bytes)}), ${r.upToDate} up to date, ${r.failed} failed, ${r.skipped} skipped`;
}

/** `oci-archive:-[:REF]` or `docker-archive:-[:REF]`: the archive is stdin or stdout. */
function isStdio(endpoint: CopyEndpoint): boolean {
  return endpoint.kind === 'archive' && endpoint.file === '-';
}

async function readCredentials(
  args: CopyArgs,
  ctx: CommandContext,
): Promise<Credentials | undefined> {
  if (args['password-stdin'] && args.username === undefined) {
    throw new UsageError('E_USAGE', '--password-stdin needs --username');
  }
  if (args.username === undefined) return undefined;
  if (!args['password-stdin']) {
    throw new UsageError(
      'E_USAGE',
      '--username needs --password-stdin',
      {},
      {
        hint: 'pipe the password: echo "$PASSWORD" | ocilayout copy --username USER --password-stdin …',
      },
    );
  }
  const chunks: Buffer[] = [];
  for await (const c of ctx.io.stdin) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(String(c)));
  const password = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (password === '') throw new UsageError('E_USAGE', '--password-stdin: stdin was empty');
  return { kind: 'basic', username: args.username, password };
}

/**
 * The copy's bytes on the progress line (`copy [2/5] [###...] 40% … ETA`), counting blobs still
 * moving; nothing unless stderr is a terminal. Warnings and retries go through the same line.
 */
function progressRenderer(ctx: CommandContext): {
  event: (e: CopyEvent) => void;
  progress: Progress;
} {
  const progress = progressReporter(ctx, 'copy');
  let totalBytes: number | undefined;
  let totalItems = 0;
  let doneItems = 0;
  let doneBytes = 0;
  const inFlight = new Map<string, number>();
  return {
    event: (e) => {
      switch (e.type) {
        case 'warning':
          ctx.out.warn(e.message);
          return;
        case 'plan':
          totalBytes = e.bytes;
          totalItems = e.blobs + e.manifests;
          break;
        case 'blob-progress':
          inFlight.set(e.descriptor.digest, e.transferred);
          break;
        case 'blob-done':
          inFlight.delete(e.descriptor.digest);
          doneItems = e.done;
          if (e.done <= totalItems) doneBytes += e.descriptor.size;
          break;
        default:
          return;
      }
      let moving = 0;
      for (const n of inFlight.values()) moving += n;
      progress.update(doneBytes + moving, totalBytes, `[${doneItems}/${totalItems}]`);
    },
    progress,
  };
}

function summaryLine(r: CopyResult): string {
  const what = r.tag ?? shortDigest(r.descriptor.digest);
  const parts = [
    `${r.blobs.linked} linked`,
    `${r.blobs.copied} copied`,
    ...(r.blobs.mounted > 0 ? [`${r.blobs.mounted} mounted`] : []),
    `${r.blobs.skipped} already there`,
    `${formatBytes(r.bytes.linked + r.bytes.copied)} placed`,
  ];
  let line = `copied ${what} to ${r.destination}: ${parts.join(', ')}`;
  if (r.referrers.length > 0) {
    const where =
      r.conventions.length > 0
        ? r.conventions.join(', ')
        : [
            ...(r.referrersApi.length > 0 ? ['referrers API'] : []),
            ...(r.fallbackTags.length > 0 ? ['fallback tag'] : []),
          ].join(' + ');
    line += `; ${r.referrers.length} referrer(s) via ${where || 'registry'}`;
  }
  if (r.cosignTags.length > 0) line += `; ${r.cosignTags.length} cosign tag(s)`;
  if (r.filteredFrom !== undefined)
    line += `; index filtered to ${r.filteredFrom.platforms.join(', ')} (digest changed)`;
  return line;
}
