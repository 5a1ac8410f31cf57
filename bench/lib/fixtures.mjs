// Fixture builders: random files, umoci-built images (the peers' own writer), peer tools installed
// from Debian when missing. Layouts with referrers are built by bench/inproc/*.mjs with our library.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { join } from 'node:path';
import { sh } from './measure.mjs';

/** `bytes` of random data (incompressible: gzip cannot shrink it, as real layers rarely shrink). */
export function randomFile(path, bytes) {
  const chunk = Buffer.allocUnsafe(4 * 1024 * 1024);
  const fd = openSync(path, 'w');
  try {
    for (let left = bytes; left > 0;) {
      const n = Math.min(left, chunk.length);
      randomFillSync(chunk, 0, n);
      writeSync(fd, chunk, 0, n);
      left -= n;
    }
  } finally {
    closeSync(fd);
  }
}

function have(tool) {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

/** skopeo and umoci from Debian packages (installed by the script if missing). */
export function ensurePeerTools({ skipInstall, log }) {
  const missing = ['skopeo', 'umoci'].filter((t) => !have(t));
  if (missing.length === 0) return;
  if (skipInstall) throw new Error(`missing ${missing.join(', ')} (BENCH_NO_INSTALL=1)`);
  log(`installing ${missing.join(' ')} with apt-get`);
  sh(['apt-get', 'update'], { stdio: 'inherit' });
  sh(['apt-get', 'install', '-y', ...missing], { stdio: 'inherit' });
  const still = missing.filter((t) => !have(t));
  if (still.length > 0) throw new Error(`apt-get did not provide ${still.join(', ')}`);
}

/**
 * An image built by umoci: `layers` layers of `layerBytes` random bytes each (umoci gzips them), under
 * one tag; then `umoci gc`, so the layout holds exactly that image (`tar -cf` of the layout and an
 * export of the image carry the same blobs).
 */
export function umociImage(layout, tag, layers, layerBytes, scratch) {
  rmSync(layout, { recursive: true, force: true });
  sh(['umoci', 'init', '--layout', layout]);
  sh(['umoci', 'new', '--image', `${layout}:${tag}`]);
  for (let i = 1; i <= layers; i++) {
    const src = join(scratch, `layer-${i}`);
    rmSync(src, { recursive: true, force: true });
    mkdirSync(src, { recursive: true });
    randomFile(join(src, 'data.bin'), layerBytes);
    sh(['umoci', 'insert', '--image', `${layout}:${tag}`, src, `/l${i}`]);
    rmSync(src, { recursive: true, force: true });
  }
  sh(['umoci', 'gc', '--layout', layout]);
}
