// Summaries of a V8 .cpuprofile (node --cpu-prof): where the main thread's samples fall, by
// function and by category, to back up a "goal missed because ..." statement with evidence.
import { readFileSync } from 'node:fs';

function shortUrl(url) {
  return url
    .replace(/^.*\/(node_modules|dist)\//, '$1/')
    .replace(/^file:\/\/.*\/bench\//, 'bench/');
}

/** Category of a sample, from the frame it landed in. */
function categoryOf(frame) {
  const { functionName: fn, url } = frame;
  if (fn === '(idle)') return 'idle (waiting for I/O or the thread pool)';
  if (fn === '(garbage collector)') return 'garbage collection';
  if (url.includes('crypto/hash')) return 'sha256 (crypto Hash.update)';
  if (url.includes('esm/') || url.includes('modules/cjs') || fn === 'compileSourceTextModule')
    return 'module loading (start-up)';
  if (url.includes('node_modules/zod')) return 'zod';
  if (
    url.includes('node_modules/yargs') ||
    url.includes('string-width') ||
    url.includes('cliui') ||
    url.includes('wrap-ansi')
  )
    return 'yargs (parsing, help text)';
  if (
    url === '' &&
    [
      'read',
      'writeBuffer',
      'open',
      'close',
      'fstat',
      'fsync',
      'writeString',
      'readFileUtf8',
      'lstat',
      'rename',
      'link',
      'openFileHandle',
    ].includes(fn)
  )
    return `fs binding: ${fn}`;
  if (url.includes('/dist/')) return 'ocilayout code';
  if (url.includes('node_modules')) return 'other dependencies';
  return 'node internals / other';
}

export function summarizeProfile(path, top = 12) {
  const prof = JSON.parse(readFileSync(path, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const fns = new Map();
  const cats = new Map();
  let total = 0;
  prof.samples.forEach((id, i) => {
    const frame = byId.get(id).callFrame;
    const dt = prof.timeDeltas[i] ?? 0;
    total += dt;
    const key =
      `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}${frame.url ? `:${frame.lineNumber + 1}` : ''}`.trim();
    fns.set(key, (fns.get(key) ?? 0) + dt);
    const c = categoryOf(frame);
    cats.set(c, (cats.get(c) ?? 0) + dt);
  });
  const rank = (m) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000, share: us / total }));
  return { totalMs: total / 1000, categories: rank(cats), functions: rank(fns) };
}
