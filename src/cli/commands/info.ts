// `info`: a summary of one layout (entries, tags, blobs, ingest). Read-only.
import {
  Layout,
  formatBytes,
  layoutInfo,
  referrerSummary,
  type LayoutInfo,
} from '../../internal.js';
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
  // Images synced by digest: named, though by no tag (spec-notes/names.md).
  if (i.digestNames.length > 0)
    lines.push(`by digest:     ${i.digestNames.length} (${i.digestNames.join(', ')})`);
  if (i.fallbackTags > 0)
    lines.push(`fallback tags: ${i.fallbackTags} (referrers; see tags --all)`);
  lines.push(`blobs:         ${i.blobs.count} (${formatBytes(i.blobs.totalBytes)})`);
  if (i.strays.length > 0) lines.push(`stray files:   ${i.strays.length} under blobs/`);
  lines.push(
    `ingest:        ${i.ingest.files} files (${i.ingest.live} live, ${i.ingest.abandoned} abandoned)`,
  );
  return lines;
}
