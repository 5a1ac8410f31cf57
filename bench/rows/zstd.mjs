// zstd archives: `export --zstd` of the 1 GiB-row image against `zstd -T0` compressing our plain
// export of it (the same tar, same level 3), and `import` of that .tar.zst against `zstd -d` of it.
// Context rows (no goal set): ours also builds the tar, re-hashes every blob and fsyncs,
// the zstd tool does none of that, and -T0 compresses on every core where we use one thread.
// Needs a Node whose zlib has zstd (22.15+): run the bench under it, e.g.
// PATH=<node 24>/bin:$PATH BENCH_ONLY=zstd npm run bench.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { BIN } from '../lib/config.mjs';
import { umociImage } from '../lib/fixtures.mjs';
import { sh } from '../lib/measure.mjs';
import { ratioRow, removeAll, side, skippedRow } from '../lib/rows.mjs';

const cli = (...args) => [process.execPath, BIN, ...args, '--quiet'];

export async function zstdRows(ctx) {
  const { work, sizes, runsBig } = ctx.config;
  const bytes = sizes.imageLayers * sizes.imageLayerBytes;
  const label = `${ctx.size(bytes)} ${sizes.imageLayers}-layer image`;
  const skip = (reason) =>
    ['export', 'import'].map((op) =>
      skippedRow({ id: `zstd-${op}`, work: `${op} ${label} as .tar.zst`, goal: '—', reason }),
    );
  if (typeof zlib.createZstdCompress !== 'function') {
    return skip(
      `Node ${process.version} has no zstd in zlib: run the bench under Node 22.15+ (PATH=<its bin>:$PATH BENCH_ONLY=zstd npm run bench)`,
    );
  }
  if (spawnSync('zstd', ['--version']).status !== 0) return skip('the zstd tool is not installed');

  const layout = join(work, 'Z');
  ctx.log(`building ${label} with umoci`);
  umociImage(layout, 'v4', sizes.imageLayers, sizes.imageLayerBytes, join(work, 'src'));
  const plain = join(work, 'zstd-plain.tar');
  const packed = join(work, 'zstd-fixture.tar.zst');
  sh(cli('export', layout, plain));
  sh(cli('export', '--zstd', layout, packed));
  const out = (name) => join(work, `zstd-${name}`);
  const e = ctx.time(
    'zstd export',
    [
      {
        key: 'zstd -T0 (our plain export)',
        argv: ['zstd', '-T0', '-q', '-f', plain, '-o', out('tool.tar.zst')],
        cleanup: () => removeAll(out('tool.tar.zst')),
      },
      {
        key: 'ocilayout export --zstd',
        argv: cli('export', '--zstd', layout, out('ours.tar.zst')),
        cleanup: () => removeAll(out('ours.tar.zst')),
      },
    ],
    runsBig,
  );
  const i = ctx.time(
    'zstd import',
    [
      {
        key: 'zstd -d (to a tar file)',
        argv: ['zstd', '-d', '-q', '-f', packed, '-o', out('tool.tar')],
        cleanup: () => removeAll(out('tool.tar')),
      },
      {
        key: 'ocilayout import (.tar.zst)',
        argv: cli('import', packed, out('imported')),
        cleanup: () => removeAll(out('imported')),
      },
    ],
    runsBig,
  );
  removeAll(layout, plain, packed);
  return [
    ratioRow({
      id: 'zstd-export',
      work: `context: export ${label} as .tar.zst (level 3, one thread) vs zstd -T0 of our plain export`,
      ours: side('ocilayout export --zstd', e['ocilayout export --zstd'].wall),
      ref: side('zstd -T0 (our plain export)', e['zstd -T0 (our plain export)'].wall),
    }),
    ratioRow({
      id: 'zstd-import',
      work: `context: import ${label} from .tar.zst (every digest verified) vs zstd -d of it`,
      ours: side('ocilayout import (.tar.zst)', i['ocilayout import (.tar.zst)'].wall),
      ref: side('zstd -d (to a tar file)', i['zstd -d (to a tar file)'].wall),
    }),
  ];
}
