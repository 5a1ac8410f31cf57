// The web view in a real browser: Debian's chromium driven by puppeteer-core clicks from the
// repository list to an image, reads its platforms, layers and referrer tree (cosign tags, an SBOM
// and its signature), downloads the SBOM and checks its bytes, and sees that no request leaves
// the server (no external assets: the view works offline). Locally a missing chromium skips; in
// CI it fails (requireTools).
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTools } from '../helpers/tools.js';
import { startServe } from './helpers.js';
import { SBOM_BYTES, SBOM_SIG_TYPE, expected, webFixture } from './web-fixture.js';

const haveChromium = requireTools('chromium');

const INDEX = expected.index;
const SIG_OF_INDEX = expected.tags[`${INDEX.replace(':', '-')}.sig`]!.referrer;

describe.skipIf(!haveChromium)('web view in chromium', () => {
  let browser: Browser;
  let downloads: string;

  beforeAll(async () => {
    // Lives as long as the browser, not one test: tmpDir's cleanup is per test.
    downloads = mkdtempSync(join(tmpdir(), 'ocilayout-web-downloads-'));
    browser = await puppeteer.launch({
      executablePath: chromiumPath(),
      headless: true,
      // Chromium's sandbox cannot start as root (CI containers run as root).
      args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), '--headless=new'],
      downloadBehavior: { policy: 'allow', downloadPath: downloads },
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    if (downloads !== undefined) rmSync(downloads, { recursive: true, force: true });
  });

  /** A page that records every URL it requests. */
  async function openPage(): Promise<{ page: Page; requested: string[] }> {
    const page = await browser.newPage();
    const requested: string[] = [];
    page.on('request', (r) => requested.push(r.url()));
    return { page, requested };
  }

  async function click(page: Page, selector: string): Promise<void> {
    await Promise.all([page.waitForNavigation(), page.click(selector)]);
  }

  it('from the repository list to an image, its platforms, layers and referrer tree', async () => {
    const f = await webFixture();
    const reg = await startServe(f.root);
    const { page, requested } = await openPage();
    await page.goto(`${reg.url}/`);
    expect(await page.title()).toContain('Repositories');
    await click(page, 'a[href="/ui/team/app"]');
    await click(page, 'a.tag[href="/ui/team/app/manifests/v1"]');
    expect(await page.$eval('h1', (h) => h.textContent)).toBe('team/app:v1');

    const platforms = await page.$$eval('tr.platform td:first-child', (tds) =>
      tds.map((td) => td.textContent),
    );
    expect(platforms).toEqual(Object.keys(expected.platforms));

    const tree = await page.$$eval('li.referrer', (items) =>
      items.map((li) => ({
        digest: li.getAttribute('data-digest'),
        kind: li.querySelector('.kind')?.textContent,
        sources: li.querySelector('.src')?.textContent,
        parent: li.parentElement?.closest('li.referrer')?.getAttribute('data-digest') ?? null,
      })),
    );
    expect(tree).toContainEqual({
      digest: SIG_OF_INDEX,
      kind: 'signature',
      sources: '[cosign-tag]',
      parent: null,
    });
    expect(tree).toContainEqual({
      digest: f.sbom,
      kind: 'sbom',
      sources: '[per-manifest]',
      parent: null,
    });
    expect(tree).toContainEqual({
      digest: f.sbomSignature,
      kind: 'signature',
      sources: '[per-manifest]',
      parent: f.sbom,
    });
    // An annotation with markup in it is shown as text.
    const note = await page.$eval(`li.referrer[data-digest="${f.sbom}"]`, (li) =>
      [...li.querySelectorAll(':scope > .ann')].map((a) => [a.textContent, a.children.length]),
    );
    expect(note).toContainEqual(['org.example.note: <b>not bold</b>', 0]);
    expect(
      await page.$eval(`li.referrer[data-digest="${f.sbomSignature}"] code`, (c) => c.textContent),
    ).toBe(SBOM_SIG_TYPE);

    // One platform: its config and layer, sizes, and its own cosign signature.
    const amd64 = expected.platforms['linux/amd64']!;
    await click(page, `tr.platform a[title="${amd64}"]`);
    const layers = await page.$$eval('tr.layer', (rows) =>
      rows.map((r) => [r.cells[0]?.textContent, r.querySelector('.size')?.getAttribute('title')]),
    );
    expect(layers.map((l) => l[0])).toEqual(['config', 'layer 1']);
    for (const [, bytes] of layers) expect(bytes).toMatch(/^\d+ bytes$/);
    const sigOfAmd64 = expected.tags[`${amd64.replace(':', '-')}.sig`]!.referrer;
    expect(await page.$(`li.referrer[data-digest="${sigOfAmd64}"]`)).not.toBeNull();

    // Nothing but the server itself was asked for anything.
    expect(requested.length).toBeGreaterThan(0);
    for (const url of requested) expect(url.startsWith(`${reg.url}/`), url).toBe(true);
    await page.close();
  }, 60_000);

  it('downloads an SBOM from the referrer tree, byte for byte', async () => {
    const f = await webFixture();
    const reg = await startServe(f.root);
    const { page } = await openPage();
    await page.goto(`${reg.url}/ui/team/app/manifests/v1`);
    const link = `li.referrer[data-digest="${f.sbom}"] a.file`;
    expect(await page.$eval(link, (a) => a.textContent)).toBe('sbom.spdx.json');
    await page.click(link);
    const file = join(downloads, 'sbom.spdx.json');
    await waitFor(
      () => existsSync(file) && readdirSync(downloads).every((n) => !n.endsWith('.crdownload')),
    );
    expect(readFileSync(file, 'utf8')).toBe(SBOM_BYTES);
    await page.close();
  }, 60_000);
});

function chromiumPath(): string {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    const p = join(dir, 'chromium');
    if (dir !== '' && existsSync(p)) return p;
  }
  return '/usr/bin/chromium';
}

async function waitFor(ok: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the download');
    await new Promise((r) => setTimeout(r, 50));
  }
}
