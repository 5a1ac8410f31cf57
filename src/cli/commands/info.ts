// `info`: a summary of one layout (entries, tags, blobs, ingest). Read-only.
import { Layout, layoutInfo, referrerSummary, type LayoutInfo } from '../../internal.js';
import { layoutOptions, type RegisterCommands } from '../context.js';
import { renderReferrerSummary } from './referrers.js';

export const registerInfo: RegisterCommands = (y, ctx) =>
  y.command(
    'info <layout>',
    'summarise a layout: index entries, tags, blobs, ingest files',
    (c) =>
      c
        .positional('layout', { type: 'string', demandOption: true, describe: 'layout directory' })
        .example('$0 info ./out', 'print a summary')
        .example('$0 info ./out --json | jq .blobs.totalBytes', 'total bytes in blobs/'),
    (argv) => {
      const layout = Layout.open(argv.layout, layoutOptions(argv));
      const info = layoutInfo(layout);
      const referrers = referrerSummary(layout);
      ctx.out.result({ ...info, referrers }, () => [
        ...renderInfo(info),
        ...renderReferrerSummary(referrers),
      ]);
    },
  );

function renderInfo(i: LayoutInfo): string[] {
  const tags = i.tags.length === 0 ? '0' : `${i.tags.length} (${i.tags.join(', ')})`;
  const lines = [
    `layout:        ${i.layout}`,
    `version:       ${i.imageLayoutVersion}`,
    `index entries: ${i.indexEntries}`,
    `tags:          ${tags}`,
  ];
  if (i.fallbackTags > 0)
    lines.push(`fallback tags: ${i.fallbackTags} (referrers; see tags --all)`);
  lines.push(`blobs:         ${i.blobs.count} (${humanBytes(i.blobs.totalBytes)})`);
  if (i.strays.length > 0) lines.push(`stray files:   ${i.strays.length} under blobs/`);
  lines.push(
    `ingest:        ${i.ingest.files} files (${i.ingest.live} live, ${i.ingest.abandoned} abandoned)`,
  );
  return lines;
}

/** 1536 → "1.5 KiB"; exact byte counts are in --json. */
export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}
