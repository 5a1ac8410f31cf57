// `fsck` and `gc`: thin wrappers over the library's fsck() and gc(), run with the default root
// policy and checks wired in src/index.ts (referrer conventions plug in there).
import {
  formatBytes,
  Annotation,
  DEFAULT_FSCK_CHECKS,
  DEFAULT_ROOT_POLICY,
  ExitCode,
  Layout,
  fsck,
  gc,
  shortDigest,
  type Finding,
  type FsckReport,
  type GcResult,
} from '../../internal.js';
import { layoutOptions, type GlobalArgs, type RegisterCommands } from '../context.js';

interface FsckArgs extends GlobalArgs {
  layout: string;
  'allow-missing': boolean;
}

interface GcArgs extends GlobalArgs {
  layout: string;
  'dry-run': boolean;
  'keep-orphans': boolean;
}

export const registerMaintenance: RegisterCommands = (y, ctx) =>
  y
    .command(
      'fsck <layout>',
      'check every blob, descriptor and document; exit 4 on any error finding',
      (c) =>
        c
          .positional('layout', {
            type: 'string',
            demandOption: true,
            describe: 'layout directory',
          })
          .option('allow-missing', {
            type: 'boolean',
            default: false,
            describe: 'a sparse layout: report referenced blobs that are absent as warnings',
          })
          .example('$0 fsck ./out', 'one line per finding; exit 0 when there is no error')
          .example('$0 fsck ./out --json | jq ".findings[].code"', 'the finding codes'),
      async (argv) => {
        const args = argv as unknown as FsckArgs;
        const report = await fsck(args.layout, {
          checks: DEFAULT_FSCK_CHECKS,
          allowMissing: args['allow-missing'],
        });
        ctx.out.result(report, () => report.findings.map(renderFinding));
        ctx.out.info(fsckSummary(report));
        if (!report.ok) ctx.exitCode = ExitCode.Integrity;
      },
    )
    .command(
      'gc <layout>',
      'delete blobs nothing reaches and files dead writers left in ingest/',
      (c) =>
        c
          .positional('layout', {
            type: 'string',
            demandOption: true,
            describe: 'layout directory',
          })
          .option('dry-run', {
            type: 'boolean',
            default: false,
            describe: 'list what would be removed; change nothing',
          })
          .option('keep-orphans', {
            type: 'boolean',
            default: false,
            describe:
              'keep referrer entries and cosign tags whose subject is gone (and what they reference)',
          })
          .example('$0 gc ./out --dry-run', 'list what gc would remove')
          .example('$0 gc ./out --json', 'remove garbage; print what went as JSON'),
      async (argv) => {
        const args = argv as unknown as GcArgs;
        const layout = Layout.open(args.layout, layoutOptions(args));
        const result = await gc(layout, {
          policy: DEFAULT_ROOT_POLICY,
          dryRun: args['dry-run'],
          keepOrphans: args['keep-orphans'],
        });
        ctx.out.result(result, () => renderGc(result));
      },
    );

function renderFinding(f: Finding): string {
  return `${f.severity}: [${f.code}] ${f.message}`;
}

function fsckSummary(r: FsckReport): string {
  const errors = r.findings.filter((f) => f.severity === 'error').length;
  const warnings = r.findings.length - errors;
  const checked = `checked ${r.checked.blobs} blobs (${formatBytes(r.checked.bytes)}), ${r.checked.descriptors} descriptors`;
  return `fsck: ${checked}: ${errors} error(s), ${warnings} warning(s)`;
}

function renderGc(r: GcResult): string[] {
  const lines: string[] = [];
  if (r.dryRun) {
    for (const e of r.removedEntries) lines.push(`entry ${e.digest}${describeEntry(e)}`);
    for (const d of r.removedBlobs) lines.push(`blob ${d}`);
    for (const p of r.removedIngest) lines.push(`ingest ${p}`);
  }
  const verb = r.dryRun ? 'would remove' : 'removed';
  lines.push(
    `${verb} ${r.removedBlobs.length} blob(s), ${r.removedEntries.length} index entr${r.removedEntries.length === 1 ? 'y' : 'ies'}, ` +
      `${r.removedIngest.length} ingest file(s); ${r.dryRun ? 'would free' : 'freed'} ${formatBytes(r.bytesFreed)}`,
  );
  if (r.restoredBlobs.length > 0) {
    const shown = r.restoredBlobs.slice(0, 3).map((d) => shortDigest(d));
    lines.push(
      `${r.dryRun ? 'would put back' : 'put back'} ${r.restoredBlobs.length} blob(s) a writer needs: ${shown.join(', ')}`,
    );
  }
  return lines;
}

function describeEntry(e: GcResult['removedEntries'][number]): string {
  const name = e.annotations?.[Annotation.RefName];
  return name === undefined ? ` (${e.mediaType})` : ` (${name})`;
}
