#!/usr/bin/env node
// The README's picture of `serve`'s web view: serves a sample tree (testdata/cosign's
// multi-platform image, with cosign tag signatures and attestation, plus an SBOM attached by
// subject and a signature of that SBOM) from the build in dist/, opens the image page in Debian's
// chromium through puppeteer-core, and writes docs/serve-web-view.png.
//
//   npm run build && node scripts/screenshot.mjs [OUT.png]
import { cpSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';
import { Layout, attach } from '../dist/index.js';
import { serveLayouts } from '../dist/serve/server.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = process.argv[2] ?? join(repo, 'docs', 'serve-web-view.png');
const chromium = process.env.CHROMIUM ?? '/usr/bin/chromium';

const work = mkdtempSync(join(tmpdir(), 'ocilayout-screenshot-'));
let server;
let browser;
try {
  const dir = join(work, 'registry', 'team', 'app');
  cpSync(join(repo, 'testdata', 'cosign', 'multi-platform'), dir, { recursive: true });
  const sbomFile = join(work, 'sbom.spdx.json');
  writeFileSync(sbomFile, '{"spdxVersion":"SPDX-2.3","name":"app","packages":[]}\n');
  const sigFile = join(work, 'sbom.spdx.json.sig');
  writeFileSync(sigFile, 'placeholder signature');
  const layout = Layout.open(dir);
  const sbom = await attach(
    layout,
    { tag: 'v1' },
    [{ path: sbomFile, mediaType: 'application/spdx+json' }],
    {
      artifactType: 'application/spdx+json',
      annotations: { 'org.opencontainers.image.created': '2026-12-07T12:00:00Z' },
    },
  );
  await attach(
    layout,
    { digest: sbom.descriptor.digest },
    [{ path: sigFile, mediaType: 'application/jose+json' }],
    { artifactType: 'application/vnd.cncf.notary.signature' },
  );
  layout.close();

  server = await serveLayouts(
    { root: join(work, 'registry'), readOnly: true },
    { host: '127.0.0.1', port: 0 },
  );
  browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    // Chromium's sandbox cannot start as root.
    args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), '--headless=new'],
    defaultViewport: { width: 1100, height: 400, deviceScaleFactor: 1 },
  });
  const page = await browser.newPage();
  await page.goto(`${server.url}/ui/team/app/manifests/v1`, { waitUntil: 'load' });
  mkdirSync(dirname(out), { recursive: true });
  await page.screenshot({ path: out, fullPage: true });
  console.log(`${out}: ${statSync(out).size} bytes`);
} finally {
  await browser?.close();
  await server?.close();
  rmSync(work, { recursive: true, force: true });
}
