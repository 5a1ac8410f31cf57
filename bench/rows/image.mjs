// copy / export / import of one umoci-built image against skopeo doing the same (and, for export,
// GNU tar of the layout). Used for the 1 GiB 4-layer image and for the 200 × 64 KiB-layer image.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BIN } from '../lib/config.mjs';
import { sh } from '../lib/measure.mjs';
import { ratioRow, removeAll, side } from '../lib/rows.mjs';

const cli = (...args) => [process.execPath, BIN, ...args, '--quiet'];

/**
 * opts: { prefix, layout, tag, runs, warmup, work: label of the image, goals: {copy, copyLinked, copyLinkedNoVerify?,
 * exportTar?, exportSkopeo, import} }. Returns { rows, rss: {export, import} } (peak RSS summaries).
 */
export function imageSuite(ctx, opts) {
  const { work } = ctx.config;
  const { prefix, layout, tag, runs, warmup, goals } = opts;
  const tmp = join(work, 'tmp');
  mkdirSync(tmp, { recursive: true });
  const skopeoEnv = { TMPDIR: tmp }; // skopeo's oci-archive temp dir: inside the work dir
  const out = (name) => join(work, `${prefix}-${name}`);
  const archive = join(work, `${prefix}.tar`);
  ctx.log(`${prefix}: exporting the import fixture ${archive}`);
  sh(cli('export', layout, archive));

  const dest = (name) => ({
    argv: undefined,
    cleanup: () => removeAll(out(name), `${out(name)}.tar`),
  });
  const v = (key, name, argv, env) => ({ key, ...dest(name), argv, env });

  // copy
  const copyVariants = [
    v(
      'skopeo copy oci: → oci:',
      'skopeo-copy',
      ['skopeo', 'copy', '-q', `oci:${layout}:${tag}`, `oci:${out('skopeo-copy')}:${tag}`],
      skopeoEnv,
    ),
    v(
      'ocilayout copy --no-link',
      'copy-stream',
      cli('copy', '--no-link', `${layout}:${tag}`, out('copy-stream')),
    ),
    v(
      'ocilayout copy (hard links, verified)',
      'copy-link',
      cli('copy', `${layout}:${tag}`, out('copy-link')),
    ),
    v(
      'ocilayout copy --no-verify (hard links)',
      'copy-link-nv',
      cli('copy', '--no-verify', `${layout}:${tag}`, out('copy-link-nv')),
    ),
  ];
  const c = ctx.time(`${prefix} copy`, copyVariants, runs, { warmup });
  // export
  const exportVariants = [
    ...(goals.exportTar !== undefined
      ? [
          v('tar -cf (layout)', 'tar', ['tar', '-cf', `${out('tar')}.tar`, '-C', layout, '.']),
          // Context: our export also fsyncs the archive (a durable file); tar does not.
          v('tar -cf, then sync FILE', 'tar-sync', [
            'sh',
            '-c',
            'tar -cf "$1" -C "$2" . && sync "$1"',
            'sh',
            `${out('tar-sync')}.tar`,
            layout,
          ]),
        ]
      : []),
    v(
      'skopeo copy oci: → oci-archive:',
      'skopeo-export',
      [
        'skopeo',
        'copy',
        '-q',
        `oci:${layout}:${tag}`,
        `oci-archive:${out('skopeo-export')}.tar:${tag}`,
      ],
      skopeoEnv,
    ),
    v('ocilayout export', 'export', cli('export', layout, `${out('export')}.tar`)),
    ...(goals.exportTar !== undefined
      ? [
          // Context: the same without re-hashing every blob (what the verification costs).
          v(
            'ocilayout export --no-verify',
            'export-nv',
            cli('export', '--no-verify', layout, `${out('export-nv')}.tar`),
          ),
        ]
      : []),
  ];
  const e = ctx.time(`${prefix} export`, exportVariants, runs, { warmup });
  // import
  const importVariants = [
    v(
      'skopeo copy oci-archive: → oci:',
      'skopeo-import',
      [
        'skopeo',
        'copy',
        '-q',
        `oci-archive:${archive}:${tag}`,
        `oci:${out('skopeo-import')}:${tag}`,
      ],
      skopeoEnv,
    ),
    v('ocilayout import', 'import', cli('import', archive, out('import'))),
  ];
  const i = ctx.time(`${prefix} import`, importVariants, runs, { warmup });
  removeAll(archive);

  const label = opts.work;
  const rows = [
    ratioRow({
      id: `${prefix}-copy`,
      work: `copy ${label} layout → layout (streamed)`,
      ours: side('ocilayout copy --no-link', c['ocilayout copy --no-link'].wall),
      ref: side('skopeo copy oci: → oci:', c['skopeo copy oci: → oci:'].wall),
      max: goals.copy,
    }),
    ratioRow({
      id: `${prefix}-copy-link`,
      work: `copy ${label}, same filesystem (default: hard links, re-hashed)`,
      ours: side(
        'ocilayout copy (hard links, verified)',
        c['ocilayout copy (hard links, verified)'].wall,
      ),
      ref: side('skopeo copy oci: → oci:', c['skopeo copy oci: → oci:'].wall),
      max: goals.copyLinked,
    }),
    ratioRow({
      id: `${prefix}-copy-link-nv`,
      work: `copy ${label}, same filesystem, --no-verify (hard links only)`,
      ours: side(
        'ocilayout copy --no-verify (hard links)',
        c['ocilayout copy --no-verify (hard links)'].wall,
      ),
      ref: side('skopeo copy oci: → oci:', c['skopeo copy oci: → oci:'].wall),
      max: goals.copyLinkedNoVerify ?? goals.copyLinked,
    }),
  ];
  if (goals.exportTar !== undefined) {
    rows.push(
      ratioRow({
        id: `${prefix}-export-tar`,
        work: `export ${label} to oci-archive, vs tar of the layout`,
        ours: side('ocilayout export', e['ocilayout export'].wall),
        ref: side('tar -cf (layout)', e['tar -cf (layout)'].wall),
        max: goals.exportTar,
      }),
      ratioRow({
        id: `${prefix}-export-tar-sync`,
        work: `context: export ${label} vs tar of the layout followed by a sync of the archive`,
        ours: side('ocilayout export', e['ocilayout export'].wall),
        ref: side('tar -cf, then sync FILE', e['tar -cf, then sync FILE'].wall),
      }),
      ratioRow({
        id: `${prefix}-export-nv-tar`,
        work: `context: export --no-verify ${label} vs tar of the layout`,
        ours: side('ocilayout export --no-verify', e['ocilayout export --no-verify'].wall),
        ref: side('tar -cf (layout)', e['tar -cf (layout)'].wall),
      }),
    );
  }
  rows.push(
    ratioRow({
      id: `${prefix}-export`,
      work: `export ${label} to oci-archive, vs skopeo`,
      ours: side('ocilayout export', e['ocilayout export'].wall),
      ref: side('skopeo copy oci: → oci-archive:', e['skopeo copy oci: → oci-archive:'].wall),
      max: goals.exportSkopeo,
    }),
    ratioRow({
      id: `${prefix}-import`,
      work: `import ${label} oci-archive (every digest verified)`,
      ours: side('ocilayout import', i['ocilayout import'].wall),
      ref: side('skopeo copy oci-archive: → oci:', i['skopeo copy oci-archive: → oci:'].wall),
      max: goals.import,
    }),
  );
  return { rows, rss: { export: e['ocilayout export'].rss, import: i['ocilayout import'].rss } };
}
