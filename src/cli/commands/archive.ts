// `export LAYOUT ARCHIVE|-` and `import ARCHIVE|- LAYOUT`: argument parsing, progress and summaries
// over the library's exportArchive/importArchive. With `-` as the archive, stdout carries the tar,
// so the summary (and --json result) goes to stderr.
import { existsSync } from 'node:fs';
import {
  CONFLICT_POLICIES,
  DEFAULT_EXPANSION_LIMITS,
  UsageError,
  archiveFromStream,
  entryName,
  exportArchive,
  importArchive,
  openArchiveFile,
  referenceInside,
  shortDigest,
  type ArchiveFormat,
  type ConflictPolicy,
  type ExportResult,
  type ImportResult,
} from '../../internal.js';
import { layoutOptions, type GlobalArgs, type RegisterCommands } from '../context.js';
import { fileOrStdin, refuseBinaryToTerminal, stringList } from '../options.js';
import { formatBytes, progressReporter } from '../progress.js';

interface ExportArgs extends GlobalArgs {
  layout: string;
  archive: string;
  ref: unknown;
  referrers: boolean;
  'cosign-tags': boolean;
  format: ArchiveFormat;
  gzip: boolean;
  'gzip-level': number | undefined;
  zstd: boolean;
  name: string | undefined;
  platform: string | undefined;
  verify: boolean;
  since: string | undefined;
  progress: boolean;
}

interface ImportArgs extends GlobalArgs {
  archive: string;
  layout: string;
  'on-conflict': ConflictPolicy;
  'max-ratio': number;
  'max-size': string | undefined;
  progress: boolean;
}

export const registerArchive: RegisterCommands = (y, ctx) =>
  y
    .command(
      'export <layout> <archive>',
      'write a layout (or some refs) as an oci-archive or docker-archive tar; - for stdout',
      (c) =>
        c
          .positional('layout', {
            type: 'string',
            demandOption: true,
            describe: 'layout directory',
          })
          .positional('archive', {
            type: 'string',
            demandOption: true,
            describe: 'ARCHIVE.tar, or - for stdout',
          })
          .option('ref', {
            // Not `array: true`: that would swallow a following positional (`--ref v1 out.tar`).
            type: 'string',
            describe:
              'tag, full name (example.com/app:v1) or digest to export (repeatable; default: the whole layout)',
          })
          .option('referrers', {
            type: 'boolean',
            default: false,
            describe: 'with --ref: also every referrer of what is exported, recursively',
          })
          .option('cosign-tags', {
            type: 'boolean',
            default: true,
            describe:
              "oci with --ref: also cosign's sha256-<hex>.sig/.att/.sbom tags of every manifest exported (--no-cosign-tags: leave them)",
          })
          .option('format', {
            choices: ['oci', 'docker'] as const,
            default: 'oci' as const,
            describe: 'oci: tarred OCI layout; docker: `docker save` format (images only)',
          })
          .option('gzip', {
            type: 'boolean',
            default: false,
            describe: 'gzip the archive (layers compressed already are stored as they are)',
          })
          .option('gzip-level', {
            type: 'number',
            describe: 'with --gzip: 1 (fastest, the default) to 9 (smallest)',
          })
          .option('zstd', {
            type: 'boolean',
            default: false,
            describe: 'zstd the archive (level 3; needs Node.js 22.15+)',
          })
          .option('name', {
            type: 'string',
            describe:
              'repository for every exported name, NAME:TAG (default: names as stored; docker: bare tags under the layout directory name)',
          })
          .option('platform', {
            type: 'string',
            describe:
              'OS/ARCH[/VARIANT] to take from a multi-platform index (oci: with --ref; the tag then names that manifest, so the digest changes)',
          })
          .option('verify', {
            type: 'boolean',
            default: true,
            describe: 're-hash every blob while writing (--no-verify trusts the layout)',
          })
          .option('since', {
            type: 'string',
            describe:
              'BASE (an earlier archive or layout): a delta, leaving out the blobs BASE holds (oci only; import it into a layout holding BASE)',
          })
          .option('progress', {
            type: 'boolean',
            default: true,
            describe: 'progress bar on a terminal (--no-progress)',
          })
          .example('$0 export ./layout image.tar', 'the whole layout as an oci-archive')
          .example(
            '$0 export ./layout app.tar --ref v1 --referrers',
            'tag v1 with its signatures and SBOMs',
          )
          .example(
            '$0 export ./layout - --format docker --name example.com/app | docker load',
            'straight into docker',
          )
          .example('$0 export ./layout img.tar.gz --gzip --ref v1 --ref v2', 'two tags, gzipped')
          .example('$0 export ./layout arm.tar --ref v1 --platform linux/arm64', 'one platform')
          .example('$0 export ./layout bundle.tar.zst --zstd', 'zstd, as air-gap bundles often are')
          .example(
            '$0 export ./layout update.tar --since last-week.tar',
            'only what last week’s archive lacks, plus the full index',
          ),
      async (argv) => {
        const args = argv as unknown as ExportArgs;
        args.archive = fileOrStdin(args.archive);
        refuseReferenceAsLayout(args.layout, args.archive);
        const toStdout = args.archive === '-';
        if (toStdout) {
          refuseBinaryToTerminal(
            ctx.io.stdout,
            'a tar archive',
            'redirect stdout to a file or a pipe, or give a file name',
          );
        }
        const bar = progressReporter(ctx, 'export', { enabled: args.progress });
        let result: ExportResult;
        try {
          result = await exportArchive(args.layout, toStdout ? ctx.io.stdout : args.archive, {
            ...layoutOptions(args),
            refs: stringList(args.ref),
            referrers: args.referrers,
            cosignTags: args['cosign-tags'],
            format: args.format,
            gzip: args.gzip,
            gzipLevel: args['gzip-level'],
            zstd: args.zstd,
            name: args.name,
            platform: args.platform,
            verify: args.verify,
            since: args.since,
            onProgress: (done, total) => bar.update(done, total),
          });
        } finally {
          bar.finish();
        }
        for (const w of result.warnings) ctx.out.warn(w);
        const pre = result.precompressed;
        if (pre !== undefined && pre.blobs > 0) {
          ctx.out.info(
            pre.blobs === 1
              ? `1 blob (${formatBytes(pre.bytes)}) was compressed already: stored in the gzip stream as it is, not compressed again`
              : `${pre.blobs} blobs (${formatBytes(pre.bytes)}) were compressed already: stored in the gzip stream as they are, not compressed again`,
          );
        }
        const d = result.delta;
        const delta =
          d === undefined
            ? ''
            : `; a delta since ${d.base.name}: left out ${d.omitted} blob(s) (${formatBytes(d.omittedBytes)}) it holds`;
        const summary = `exported ${result.entries.length} entr${result.entries.length === 1 ? 'y' : 'ies'}, ${result.blobs} blobs (${formatBytes(result.contentBytes)}) to ${toStdout ? 'stdout' : args.archive} as ${result.format}${args.gzip ? '+gzip' : args.zstd ? '+zstd' : ''}${delta}`;
        if (toStdout) {
          if (ctx.out.json) ctx.io.stderr.write(`${JSON.stringify(result, null, 2)}\n`);
          else ctx.out.info(summary);
          return;
        }
        ctx.out.info(summary);
        ctx.out.result({ archive: args.archive, ...result }, () => args.archive);
      },
    )
    .command(
      'import <archive> <layout>',
      'merge an oci-archive or docker-archive tar (.tar, .tar.gz, .tar.zst; - for stdin) into a layout',
      (c) =>
        c
          .positional('archive', {
            type: 'string',
            demandOption: true,
            describe: 'ARCHIVE.tar[.gz|.zst], or - for stdin (codec told by magic bytes)',
          })
          .positional('layout', {
            type: 'string',
            demandOption: true,
            describe: 'layout directory (created if missing)',
          })
          .option('on-conflict', {
            choices: CONFLICT_POLICIES,
            default: 'fail',
            describe:
              'a name already naming other content: fail, skip (keep ours; theirs listed untagged), overwrite (take theirs)',
          })
          .option('max-ratio', {
            type: 'number',
            default: DEFAULT_EXPANSION_LIMITS.maxRatio,
            describe: 'gzip/zstd input: refuse inflating more than N:1 (bombs); 0 disables',
          })
          .option('max-size', {
            type: 'string',
            describe: 'refuse archives larger than this uncompressed (bytes, or 512M, 20G…)',
          })
          .option('progress', {
            type: 'boolean',
            default: true,
            describe: 'progress bar on a terminal (--no-progress)',
          })
          .example(
            '$0 import image.tar ./layout',
            'merge an oci-archive (ours, skopeo, docker 25+)',
          )
          .example('$0 import saved.tar.gz ./layout', '`docker save` output, gzipped or not')
          .example('$0 import bundle.tar.zst ./layout', 'zstd-compressed (Node.js 22.15+)')
          .example('ssh host cat img.tar | $0 import - ./layout', 'from stdin')
          .example('$0 import new.tar ./layout --on-conflict overwrite', "take the archive's tags"),
      async (argv) => {
        const args = argv as unknown as ImportArgs;
        args.archive = fileOrStdin(args.archive);
        if (!Number.isFinite(args['max-ratio']) || args['max-ratio'] < 0) {
          throw new UsageError('E_USAGE', '--max-ratio must be a number >= 0', {});
        }
        const fromStdin = args.archive === '-';
        const bar = progressReporter(ctx, 'import', { enabled: args.progress });
        let result: ImportResult;
        try {
          result = await importArchive(
            fromStdin ? archiveFromStream(ctx.io.stdin) : openArchiveFile(args.archive),
            args.layout,
            {
              ...layoutOptions(args),
              onConflict: args['on-conflict'],
              limits: {
                maxRatio: args['max-ratio'],
                ...(args['max-size'] === undefined
                  ? {}
                  : { maxBytes: parseSize(args['max-size']) }),
              },
              onProgress: (done, total) => bar.update(done, total),
            },
          );
        } finally {
          bar.finish();
        }
        for (const w of result.warnings) ctx.out.warn(w);
        ctx.out.info(importSummary(args.archive, result));
        ctx.out.result(result, () => importedLines(result));
      },
    );

/**
 * `export lay:v1 x.tar` (skopeo's `oci:DIR:TAG` habit): export takes the directory and names what
 * to export with --ref. Said before the generic "not a layout" error, whose hint cannot know that.
 */
function refuseReferenceAsLayout(layout: string, archive: string): void {
  if (existsSync(layout)) return;
  const ref = referenceInside(layout);
  if (ref === undefined) return;
  throw new UsageError(
    'E_USAGE',
    `export takes a LAYOUT directory and --ref TAG, not the reference ${layout}`,
    { layout, reference: layout },
    { hint: `ocilayout export ${ref.layout} ${archive} --ref ${ref.target}` },
  );
}

/**
 * One line per archive entry: its name (full name in full), digest, and what the merge did with
 * it, so a skipped name is never shown as imported.
 */
function importedLines(r: ImportResult): string[] {
  const m = r.merge;
  const fate = (e: (typeof r.entries)[number]): string => {
    const name = entryName(e);
    const is = (c: { tag: string; incoming: string }): boolean =>
      c.tag === name && c.incoming === e.digest;
    if (m.skipped.some(is)) return 'skipped: name taken, image listed untagged';
    if (m.replaced.some(is)) return 'overwritten';
    if (m.added.includes(e)) return 'added';
    if (m.unchanged.includes(e)) return 'already present';
    return 'referrer';
  };
  return r.entries.map(
    (e) => `${entryName(e) ?? '(untagged)'} ${shortDigest(e.digest)} ${fate(e)}`,
  );
}

function importSummary(archive: string, r: ImportResult): string {
  const m = r.merge;
  const parts = [`${m.added.length} added`, `${m.unchanged.length} already present`];
  if (m.replaced.length > 0) parts.push(`${m.replaced.length} name(s) overwritten`);
  if (m.skipped.length > 0) {
    parts.push(
      `${m.skipped.length} conflicting name(s) skipped (${m.skipped.map((c) => c.tag).join(', ')}): their images are listed untagged; name them with \`ocilayout tag ${r.layout}@DIGEST NAME\``,
    );
  }
  const refs =
    m.conventions.length > 0 ? `; referrers recorded as ${m.conventions.join(', ')}` : '';
  if (r.delta !== undefined) {
    parts.push(`a delta since ${r.delta.base.name}: ${r.delta.omitted} blob(s) found in place`);
  }
  return `imported ${archive === '-' ? 'stdin' : archive} (${r.format}${r.compression === 'none' ? '' : `, ${r.compression}`}) into ${r.layout}: ${parts.join(', ')}; ${r.blobs.total} blobs, ${r.blobs.added} new (${formatBytes(r.blobs.bytesAdded)})${refs}`;
}

/** `1048576`, `512K`, `20M`, `4G`, `1T` (binary units) → bytes. Throws E_USAGE. */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?$/i.exec(text.trim());
  if (m === null) {
    throw new UsageError(
      'E_USAGE',
      `--max-size ${JSON.stringify(text)}: expected bytes or a size like 512M, 20G`,
      {},
    );
  }
  const unit = (m[2] ?? 'B').toUpperCase()[0]!;
  const power = { B: 0, K: 1, M: 2, G: 3, T: 4 }[unit] ?? 0;
  return Math.floor(Number(m[1]) * 1024 ** power);
}
