// README.md's "Library" example, compiled against the real exports (tsc) and run in a temp
// directory. The code between the README markers below must match the README's ```ts block (its
// import aside): the first test fails when one changes without the other.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  Layout,
  pushFiles,
  attach,
  discoverReferrers,
  convert,
  copyLayout,
  gc,
  fsck,
  DEFAULT_FSCK_CHECKS,
  DEFAULT_ROOT_POLICY,
  detectConventions,
  fallbackTagFor,
} from '../src/index.js';
import { tmpDir } from './helpers/tmp.js';

async function readmeExample() {
  // README:start
  const { layout } = Layout.init('./lay'); // or Layout.open('./lay') for any peer's layout
  await pushFiles(layout, [{ path: 'app.tgz', mediaType: 'application/gzip' }], { tag: 'v1' });
  const desc = layout.resolve({ tag: 'v1' }); // tag or digest -> descriptor
  const parsed = layout.readManifest(desc); // verified, size-capped, zod-validated
  await layout.tag({ digest: desc.digest }, ['stable']); // index.json under the lock, atomic commit

  await attach(layout, { tag: 'v1' }, [{ path: 'sig.json' }], {
    artifactType: 'application/vnd.example.sig',
  });
  const referrers = discoverReferrers(layout, desc.digest); // every convention at once
  await convert(layout, 'fallback-tag'); // all referrer bookkeeping, one atomic commit

  const { layout: other } = Layout.init('./other');
  await copyLayout(layout, { tag: 'v1' }, other, { referrers: true }); // hard links when possible

  layout.close(); // drop the gc lease taken outside operations (each verb holds its own)
  await gc(layout, { policy: DEFAULT_ROOT_POLICY }); // the CLI's policy: referrers live with their subject
  const report = await fsck(layout, { checks: DEFAULT_FSCK_CHECKS }); // report.ok, report.findings
  // README:end
  return { layout, desc, parsed, referrers, other, report };
}

/** Lines between two markers (or fences), indentation removed, blank lines dropped. */
function codeLines(text: string, start: RegExp, end: RegExp): string[] {
  const lines = text.split('\n');
  const from = lines.findIndex((l) => start.test(l));
  const to = lines.findIndex((l, i) => i > from && end.test(l));
  expect(from, `start marker ${start}`).toBeGreaterThanOrEqual(0);
  expect(to, `end marker ${end}`).toBeGreaterThan(from);
  return lines
    .slice(from + 1, to)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

describe('README Library example', () => {
  it('is the code this test runs', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const block = readme.slice(readme.indexOf('## Library'));
    const fromReadme = codeLines(block, /^```ts$/, /^```$/);
    const importEnd = fromReadme.findIndex((l) => l.startsWith('} from '));
    expect(fromReadme[importEnd]).toBe("} from 'ocilayout';");
    const self = readFileSync(fileURLToPath(import.meta.url), 'utf8');
    expect(fromReadme.slice(importEnd + 1)).toEqual(
      codeLines(self, /^\s*\/\/ README:start$/, /^\s*\/\/ README:end$/),
    );
  });

  it('runs as written in a fresh directory', async () => {
    const work = tmpDir('ocilayout-readme-');
    writeFileSync(`${work}/app.tgz`, 'not really gzip, but bytes');
    writeFileSync(`${work}/sig.json`, '{"signed":true}');
    const cwd = process.cwd();
    process.chdir(work);
    let r: Awaited<ReturnType<typeof readmeExample>>;
    try {
      r = await readmeExample();
    } finally {
      process.chdir(cwd);
    }
    expect(r.parsed.kind).toBe('manifest');
    // Layout.tags() lists fallback tags too (the CLI's `tags` hides them).
    expect(r.layout.tags()).toEqual([fallbackTagFor(r.desc.digest), 'stable', 'v1']);
    expect(r.referrers.map((d) => d.artifactType)).toEqual(['application/vnd.example.sig']);
    expect(detectConventions(r.layout)).toEqual(['fallback-tag']);
    expect(discoverReferrers(r.other, r.desc.digest)).toEqual(r.referrers);
    expect(r.report.findings).toEqual([]);
    expect(r.report.ok).toBe(true);
  });
});
