// Row 1: push a big file (ingest/, sha256 while writing, fsync, link into blobs/) against
// `dd conv=fsync` of the same bytes into a fresh file.
import { join } from 'node:path';
import { BIN } from '../lib/config.mjs';
import { randomFile } from '../lib/fixtures.mjs';

import { ratioRow, removeAll, side } from '../lib/rows.mjs';

export async function pushRows(ctx) {
  const { work, sizes, runsBig } = ctx.config;
  const src = join(work, 'push-src.bin');
  const out = join(work, 'push-out');
  ctx.log(`push: ${sizes.pushBytes} random bytes`);
  randomFile(src, sizes.pushBytes);
  const variants = [
    {
      key: 'dd conv=fsync',
      argv: ['dd', `if=${src}`, `of=${out}.dd`, 'bs=1M', 'conv=fsync', 'status=none'],
      cleanup: () => removeAll(`${out}.dd`),
    },
    {
      key: 'ocilayout push',
      argv: [process.execPath, BIN, 'push', '--quiet', `${out}:bench`, src],
      cleanup: () => removeAll(out),
    },
  ];
  const r = ctx.time('push', variants, runsBig);
  removeAll(src);
  return [
    ratioRow({
      id: 'push',
      work: `push a ${ctx.size(sizes.pushBytes)} file (ingest, sha256, fsync, link)`,
      ours: side('ocilayout push', r['ocilayout push'].wall),
      ref: side('dd conv=fsync', r['dd conv=fsync'].wall),
      max: 1.5,
    }),
  ];
}
