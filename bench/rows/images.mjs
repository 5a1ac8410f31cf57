// The image rows of the benchmark table: the 1 GiB 4-layer image, the 200 × 64 KiB-layer image, and
// peak RSS of export/import at 1 GiB and 4 GiB (the latter only when the disk has room).
import { join } from 'node:path';
import { BIN, GiB } from '../lib/config.mjs';
import { umociImage } from '../lib/fixtures.mjs';
import { freeBytes } from '../lib/machine.mjs';

import { boundRow, removeAll, side, skippedRow } from '../lib/rows.mjs';
import { imageSuite } from './image.mjs';

const RSS_LIMIT_MIB = 64;
const RSS_GROWTH_LIMIT = 1.1;

export async function bigImageRows(ctx) {
  const { work, sizes, runsBig } = ctx.config;
  const layout = join(work, 'A');
  const bytes = sizes.imageLayers * sizes.imageLayerBytes;
  const label = `${ctx.size(bytes)} ${sizes.imageLayers}-layer image`;
  ctx.log(`building ${label} with umoci`);
  umociImage(layout, 'v4', sizes.imageLayers, sizes.imageLayerBytes, join(work, 'src'));
  const suite = imageSuite(ctx, {
    prefix: 'big',
    layout,
    tag: 'v4',
    runs: runsBig,
    warmup: false,
    work: label,
    goals: {
      copy: 0.3,
      copyLinked: 0.1,
      copyLinkedNoVerify: 0.05,
      exportTar: 1.5,
      exportSkopeo: 0.3,
      import: 0.6,
    },
  });
  removeAll(layout);
  return { rows: suite.rows, rss: suite.rss, bytes };
}

export async function smallLayerRows(ctx) {
  const { work, sizes, runsSmall } = ctx.config;
  const layout = join(work, 'S');
  const label = `${sizes.smallLayers} × ${ctx.size(sizes.smallLayerBytes)}-layer image`;
  ctx.log(`building ${label} with umoci`);
  umociImage(layout, 'many', sizes.smallLayers, sizes.smallLayerBytes, join(work, 'src'));
  const suite = imageSuite(ctx, {
    prefix: 'small',
    layout,
    tag: 'many',
    runs: runsSmall,
    warmup: true,
    work: label,
    goals: { copy: 0.6, copyLinked: 0.6, exportSkopeo: 0.6, import: 0.6 },
  });
  removeAll(layout);
  return suite.rows;
}

/**
 * Peak RSS of export and import: the 1 GiB figures come from the big-image rows; the 4 GiB image
 * (same 256 MiB layers, 4× as many) is built, exported and imported here when the disk allows.
 */
export async function rssRows(ctx, big) {
  const { work, sizes, runsBig } = ctx.config;
  const bigBytes = sizes.bigImageLayers * sizes.imageLayerBytes;
  const rows = [];
  const small = ctx.size(big.bytes);
  const large = ctx.size(bigBytes);
  for (const op of ['export', 'import']) {
    rows.push(
      boundRow({
        id: `rss-${op}-1`,
        work: `peak RSS, ${op} of the ${small} image`,
        ours: side(`ocilayout ${op}`, big.rss[op]),
        max: RSS_LIMIT_MIB,
        unit: 'MiB',
      }),
    );
  }
  // layout + archive + imported copy, plus the layers' source files while umoci builds it.
  const need = 3 * bigBytes + 2 * sizes.imageLayerBytes + GiB;
  const free = freeBytes(work);
  if (free < need) {
    const reason = `skipped: ${ctx.size(free)} free under ${work}, the ${large} row needs ~${ctx.size(need)}`;
    ctx.log(reason);
    for (const op of ['export', 'import']) {
      rows.push(
        skippedRow({
          id: `rss-${op}-4`,
          work: `peak RSS, ${op} of the ${large} image`,
          goal: `≤ ${RSS_LIMIT_MIB} MiB`,
          reason,
        }),
      );
      rows.push(
        skippedRow({
          id: `rss-${op}-ratio`,
          work: `peak RSS ${op}: ${large} / ${small}`,
          goal: `≤ ${RSS_GROWTH_LIMIT}`,
          reason,
        }),
      );
    }
    return rows;
  }
  const layout = join(work, 'A4');
  ctx.log(`building the ${large} image with umoci`);
  umociImage(layout, 'v16', sizes.bigImageLayers, sizes.imageLayerBytes, join(work, 'src'));
  const archive = join(work, 'big4.tar');
  const target = join(work, 'big4-import');
  const e = ctx.time(
    '4x export',
    [
      {
        key: 'ocilayout export',
        argv: [process.execPath, BIN, 'export', layout, archive, '--quiet'],
        cleanup: (_c, i) => {
          if (i < runsBig - 1) removeAll(archive);
        },
      },
    ],
    runsBig,
  );
  removeAll(layout); // the archive stays for the imports; the layout is not needed any more
  const imp = ctx.time(
    '4x import',
    [
      {
        key: 'ocilayout import',
        argv: [process.execPath, BIN, 'import', archive, target, '--quiet'],
        cleanup: () => removeAll(target),
      },
    ],
    runsBig,
  );
  removeAll(archive);
  const at4 = { export: e['ocilayout export'], import: imp['ocilayout import'] };
  for (const op of ['export', 'import']) {
    rows.push(
      boundRow({
        id: `rss-${op}-4`,
        work: `peak RSS, ${op} of the ${large} image`,
        ours: side(`ocilayout ${op}`, at4[op].rss, { wall: at4[op].wall }),
        max: RSS_LIMIT_MIB,
        unit: 'MiB',
      }),
    );
    const ratio = at4[op].rss.median / big.rss[op].median;
    rows.push({
      id: `rss-${op}-ratio`,
      work: `peak RSS ${op}: ${large} / ${small} (medians)`,
      value: ratio,
      unit: '',
      goal: `≤ ${RSS_GROWTH_LIMIT}`,
      met: ratio <= RSS_GROWTH_LIMIT,
      detail: `${at4[op].rss.median.toFixed(1)} MiB / ${big.rss[op].median.toFixed(1)} MiB`,
    });
  }
  return rows;
}
