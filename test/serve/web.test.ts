// The web view's pages, rendered by a real server over a served tree: what they list (platforms,
// layers and sizes, the referrer tree across conventions), their escaping of untrusted names and
// annotations, paging and caps, downloads, and HTML refusals.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Layout, type Descriptor } from '../../src/internal.js';
import {
  MAX_ROWS,
  TREE_MAX_DEPTH,
  TREE_MAX_NODES,
  WEB_PAGE,
  artifactKind,
  esc,
  safeFileName,
} from '../../src/serve/web.js';
import { tmpDir } from '../helpers/tmp.js';
import { sha256, startServe } from './helpers.js';
import { SBOM_BYTES, SBOM_TYPE, expected, webFixture } from './web-fixture.js';

const INDEX = expected.index;
const AMD64 = expected.platforms['linux/amd64']!;
const SIG_OF_INDEX = expected.tags[`${INDEX.replace(':', '-')}.sig`]!.referrer;
const ATT_OF_INDEX = expected.tags[`${INDEX.replace(':', '-')}.att`]!.referrer;

async function get(url: string): Promise<{ status: number; html: string; headers: Headers }> {
  const res = await fetch(url);
  return { status: res.status, html: await res.text(), headers: res.headers };
}

/** The `<li class="referrer">` of `digest`, up to its first nested list or its end. */
function referrerItem(html: string, digest: string): string {
  const start = html.indexOf(`<li class="referrer" data-digest="${digest}">`);
  expect(start, `referrer ${digest} listed`).toBeGreaterThanOrEqual(0);
  const rest = html.slice(start + 1);
  const end = Math.min(...['<ul>', '</li>'].map((t) => rest.indexOf(t)).filter((i) => i >= 0));
  return rest.slice(0, end);
}

function blobBytes(dir: string, digest: string): Buffer {
  return readFileSync(join(dir, 'blobs', ...digest.split(':')));
}

/** A layout `root/<name>` whose manifests are built by `doc` (empty config, no layers). */
function smallLayout(root: string, name: string) {
  const layout = Layout.init(join(root, name)).layout;
  const config = Buffer.from('{}');
  layout.blobs.putBytes(config);
  const doc = (extra: Record<string, unknown> = {}): Buffer =>
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(config), size: 2 },
        layers: [],
        ...extra,
      }),
    );
  return { layout, doc };
}

/** The identity of a descriptor, as a `subject` or an untagged index.json entry. */
const ref = (d: Descriptor) => ({ mediaType: d.mediaType, digest: d.digest, size: d.size });

describe('helpers', () => {
  it('esc escapes what could end a text run or a quoted attribute', () => {
    expect(esc(`<a href="x" title='y'>&</a>`)).toBe(
      '&lt;a href=&quot;x&quot; title=&#x27;y&#x27;&gt;&amp;&lt;/a&gt;',
    );
  });

  it('safeFileName keeps plain names only', () => {
    expect(safeFileName('sbom.spdx.json')).toBe('sbom.spdx.json');
    for (const bad of [
      '../etc/passwd',
      '.hidden',
      'a"b',
      'a\r\nSet-Cookie: x',
      '',
      'x'.repeat(129),
    ]) {
      expect(safeFileName(bad), bad).toBeUndefined();
    }
  });

  it('artifactKind names signatures, SBOMs and attestations of the usual tools', () => {
    expect(artifactKind('application/vnd.dev.cosign.artifact.sig.v1+json')).toBe('signature');
    expect(artifactKind('application/vnd.cncf.notary.signature')).toBe('signature');
    expect(artifactKind('application/spdx+json')).toBe('sbom');
    expect(artifactKind('application/vnd.cyclonedx+json')).toBe('sbom');
    expect(artifactKind('application/vnd.dev.cosign.artifact.att.v1+json')).toBe('attestation');
    expect(artifactKind('application/vnd.in-toto+json')).toBe('attestation');
    expect(artifactKind('application/vnd.example.thing')).toBe('artifact');
    expect(artifactKind(undefined)).toBe('artifact');
  });
});

describe('pages', () => {
  it('/ lists repositories, each linking to its page', async () => {
    const f = await webFixture();
    const reg = await startServe(f.root);
    const { status, html, headers } = await get(`${reg.url}/`);
    expect(status).toBe(200);
    expect(headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(html).toContain('<a href="/ui/team/app">team/app</a>');
  });

  it('pages forbid scripts and framing, whatever they hold', async () => {
    const f = await webFixture();
    const reg = await startServe(f.root);
    for (const path of ['/', '/ui/team/app', '/ui/team/app/manifests/v1']) {
      const { headers } = await get(`${reg.url}${path}`);
      const csp = headers.get('content-security-policy') ?? '';
      expect(csp, path).toContain("default-src 'none'");
      expect(csp, path).not.toContain('script-src');
      expect(csp, path).toContain("frame-ancestors 'none'");
      expect(headers.get('x-content-type-options'), path).toBe('nosniff');
    }
  });

  it('a repository page lists its tags with digest, type and size; cosign tags name their subject', async () => {
    const f = await webFixture();
    const reg = await startServe(f.root);
    const { html } = await get(`${reg.url}/ui/team/app`);
    expect(html).toContain('<a class="tag" href="/ui/team/app/manifests/v1">v1</a>');
    const v1Row = html.slice(html.indexOf('>v1</a>'));
    expect(v1Row).toContain(`title="${INDEX}"`);
    expect(v1Row).toContain('image index');
    const indexSize = blobBytes(f.dir, INDEX).byteLength;
    expect(v1Row).toContain(`title="${indexSize} bytes"`);
    const sigTag = `${INDEX.replace(':', '-')}.sig`;
    const sigRow = html.slice(html.indexOf(`>${sigTag}</a>`));
    expect(sigRow.slice(0, sigRow.indexOf('</tr>'))).toMatch(
      /cosign sig of <a[^>]*title="sha256:88f7/,
    );
  });

  it('an index page lists its platforms with their image sizes and referrer counts', async () => {
    const f = await webFixture();
    const reg = await startServe(f.root);
    const { status, html } = await get(`${reg.url}/ui/team/app/manifests/v1`);
    expect(status).toBe(200);
    const layout = Layout.open(f.dir);
    const rows = [...html.matchAll(/<tr class="platform">(.*?)<\/tr>/g)].map((m) => m[1]!);
    expect(rows).toHaveLength(2);
    for (const [i, [platform, digest]] of Object.entries(expected.platforms).entries()) {
      const row = rows[i]!;
      expect(row).toContain(`<td>${platform}</td>`);
      expect(row).toContain(`title="${digest}"`);
      const m = layout.getManifest({ digest }).parsed;
      if (m.kind !== 'manifest') throw new Error('not a manifest');
      const image = m.doc.layers.reduce((n, l) => n + l.size, m.doc.config.size);
      expect(row).toContain(`title="${image} bytes"`);
      // Each platform has its own cosign signature (cosign sign --recursive); amd64 also an
      // attestation and an SBOM.
      const count = Object.values(expected.tags).filter((t) => t.subject === digest).length;
      expect(row).toMatch(new RegExp(`<td class="n">${count}</td>$`));
    }
  });

  it('an image page lists config and layers with sizes, a total, and download links', async () => {
    const f = await webFixture();
    const reg = await startServe(f.root);
    const { html } = await get(`${reg.url}/ui/team/app/manifests/${AMD64}`);
    const m = Layout.open(f.dir).getManifest({ digest: AMD64 }).parsed;
    if (m.kind !== 'manifest') throw new Error('not a manifest');
    const rows = [...html.matchAll(/<tr class="layer">(.*?)<\/tr>/g)].map((r) => r[1]!);
    expect(rows).toHaveLength(1 + m.doc.layers.length);
    for (const [row, d] of rows.map(
      (r, i) => [r, i === 0 ? m.doc.config : m.doc.layers[i - 1]!] as const,
    )) {
      expect(row).toContain(`href="/ui/team/app/blobs/${d.digest}?filename=`);
      expect(row).toContain(`title="${d.size} bytes"`);
    }
    const total = m.doc.layers.reduce((n, l) => n + l.size, m.doc.config.size);
    expect(html).toMatch(new RegExp(`<tfoot>.*title="${total} bytes"`));
  });

  it('the referrer tree shows cosign tags, OCI subject referrers and their referrers, each with files', async () => {
    const f = await webFixture();
    const reg = await startServe(f.root);
    const { html } = await get(`${reg.url}/ui/team/app/manifests/v1`);
    const sig = referrerItem(html, SIG_OF_INDEX);
    expect(sig).toContain('kind-signature');
    expect(sig).toContain('[cosign-tag]');
    const att = referrerItem(html, ATT_OF_INDEX);
    expect(att).toContain('kind-attestation');
    const sbom = referrerItem(html, f.sbom);
    expect(sbom).toContain('kind-sbom');
    expect(sbom).toContain(SBOM_TYPE);
    expect(sbom).toContain('org.example.tool: syft');
    expect(sbom).toContain(
      `href="/ui/team/app/blobs/${sha256(SBOM_BYTES)}?filename=sbom.spdx.json"`,
    );
    // The SBOM's own signature sits below it, inside its list item.
    const sbomStart = html.indexOf(`data-digest="${f.sbom}"`);
    const nested = html.indexOf(`data-digest="${f.sbomSignature}"`);
    expect(nested).toBeGreaterThan(sbomStart);
    expect(html.slice(sbomStart, nested)).toContain('<ul>');
    expect(html.slice(sbomStart, nested)).not.toContain('</li>');
  });

  it("a platform page shows that platform's own signature", async () => {
    const f = await webFixture();
    const reg = await startServe(f.root);
    const { html } = await get(`${reg.url}/ui/team/app/manifests/${AMD64}`);
    const sig = expected.tags[`${AMD64.replace(':', '-')}.sig`]!.referrer;
    expect(referrerItem(html, sig)).toContain('[cosign-tag]');
    expect(html).not.toContain(`data-digest="${f.sbom}"`);
  });
});

describe('untrusted content is escaped', () => {
  it('annotations, tags from another tool and referrer annotations never become markup', async () => {
    const root = tmpDir();
    const { layout, doc } = smallLayout(root, 'evil');
    const payload = `<script>alert(1)</script>"'><img src=x onerror=alert(2)>`;
    const subject = await layout.putManifest(doc({ annotations: { [payload]: payload } }), {
      tag: 'v1',
    });
    const referrer = await layout.putManifest(
      doc({
        artifactType: 'application/vnd.example+json',
        subject: ref(subject),
        annotations: { note: payload },
      }),
    );
    // Another tool's index.json may name anything: a ref.name our tag grammar refuses.
    await layout.updateIndex((index) => {
      index.manifests.push({
        ...ref(subject),
        annotations: { 'org.opencontainers.image.ref.name': payload },
      });
      return { index, result: undefined };
    });
    const reg = await startServe(root);
    const escaped = '&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#x27;&gt;&lt;img';
    for (const path of ['/ui/evil', '/ui/evil/manifests/v1']) {
      const { status, html } = await get(`${reg.url}${path}`);
      expect(status, path).toBe(200);
      expect(html, path).not.toContain('<script');
      expect(html, path).not.toContain('<img');
      expect(html, path).toContain(escaped);
    }
    const repo = (await get(`${reg.url}/ui/evil`)).html;
    // Its link goes to the digest, which the page can show (the name itself is no tag of ours).
    expect(repo).toContain(
      `href="/ui/evil/manifests/${encodeURIComponent(subject.digest)}">&lt;script`,
    );
    const image = (await get(`${reg.url}/ui/evil/manifests/v1`)).html;
    expect(referrerItem(image, referrer.digest)).toContain(`note: ${escaped}`);
  });
});

describe('bounds', () => {
  it('tags are paged, with a link to the next page', async () => {
    const root = tmpDir();
    const { layout, doc } = smallLayout(root, 'many');
    const total = WEB_PAGE + 20;
    const tags = Array.from({ length: total }, (_, i) => `t${String(i).padStart(3, '0')}`);
    const d = await layout.putManifest(doc(), { tag: tags[0] });
    await layout.tag({ digest: d.digest }, tags);
    const reg = await startServe(root);
    const first = (await get(`${reg.url}/ui/many`)).html;
    const listed = (html: string) =>
      [...html.matchAll(/class="tag"[^>]*>([^<]+)</g)].map((m) => m[1]);
    expect(first).toContain(`${total} tags`);
    expect(listed(first)).toEqual(tags.slice(0, WEB_PAGE));
    const next = /<a rel="next" href="([^"]+)"/.exec(first)?.[1];
    expect(next).toBe(`/ui/many?last=${tags[WEB_PAGE - 1]}`);
    const second = (await get(`${reg.url}${next}`)).html;
    expect(listed(second)).toEqual(tags.slice(WEB_PAGE));
    expect(second).not.toContain('rel="next"');
  });

  it(`an index's children are shown up to ${MAX_ROWS} rows, and the rest counted`, async () => {
    const root = tmpDir();
    const { layout } = smallLayout(root, 'huge');
    const children = Array.from({ length: MAX_ROWS + 3 }, (_, i) => ({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: sha256(`child ${i}`),
      size: 100,
      platform: { os: 'linux', architecture: `arch${i}` },
    }));
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: children,
      }),
    );
    // A sparse layout: the children are not here, which the page must survive too.
    await layout.putManifest(index, { tag: 'v1', allowMissing: true });
    const reg = await startServe(root);
    const { status, html } = await get(`${reg.url}/ui/huge/manifests/v1`);
    expect(status).toBe(200);
    expect(html.match(/<tr class="platform">/g)).toHaveLength(MAX_ROWS);
    expect(html).toContain(`<td>linux/arch${MAX_ROWS - 1}</td>`);
    expect(html).not.toContain(`<td>linux/arch${MAX_ROWS}</td>`);
    expect(html).toContain('3 more not shown');
  });

  it(`the referrer tree shows at most ${TREE_MAX_NODES} nodes and says how many more`, async () => {
    const root = tmpDir();
    const { layout, doc } = smallLayout(root, 'wide');
    const subject = await layout.putManifest(doc(), { tag: 'v1' });
    const fan: Descriptor[] = [];
    for (let i = 0; i < TREE_MAX_NODES + 5; i++) {
      const d = doc({
        artifactType: 'application/vnd.example+json',
        subject: ref(subject),
        annotations: { n: `f${i}` },
      });
      fan.push(await layout.putManifest(d, { unlisted: true }));
    }
    // Per-manifest: untagged index.json entries, one commit.
    await layout.updateIndex((index) => {
      index.manifests.push(...fan.map(ref));
      return { index, result: undefined };
    });
    const reg = await startServe(root);
    const { html } = await get(`${reg.url}/ui/wide/manifests/v1`);
    const shown = [...html.matchAll(/<li class="referrer" data-digest="([^"]+)"/g)].map(
      (m) => m[1],
    );
    expect(shown).toHaveLength(TREE_MAX_NODES);
    expect(html).toContain('5 more referrers not shown');
  }, 60_000);

  it(`the referrer tree stops ${TREE_MAX_DEPTH} levels below the subject`, async () => {
    const root = tmpDir();
    const { layout, doc } = smallLayout(root, 'chain');
    let parent = await layout.putManifest(doc(), { tag: 'v1' });
    const chain: Descriptor[] = [];
    for (let i = 0; i < TREE_MAX_DEPTH + 2; i++) {
      const d = doc({ artifactType: 'application/vnd.example+json', subject: ref(parent) });
      parent = await layout.putManifest(d, { unlisted: true });
      chain.push(parent);
    }
    await layout.updateIndex((index) => {
      index.manifests.push(...chain.map(ref));
      return { index, result: undefined };
    });
    const reg = await startServe(root);
    const { html } = await get(`${reg.url}/ui/chain/manifests/v1`);
    const shown = [...html.matchAll(/<li class="referrer" data-digest="([^"]+)"/g)].map(
      (m) => m[1],
    );
    expect(shown).toEqual(chain.slice(0, TREE_MAX_DEPTH).map((c) => c.digest));
    // Each level nests inside the one above it.
    expect(html.match(/<ul>/g)).toHaveLength(TREE_MAX_DEPTH - 1);
  });
});

describe('downloads', () => {
  it('a blob downloads as an attachment with the safe name asked for, bytes verified', async () => {
    const f = await webFixture();
    const reg = await startServe(f.root);
    const digest = sha256(SBOM_BYTES);
    const res = await fetch(`${reg.url}/ui/team/app/blobs/${digest}?filename=sbom.spdx.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="sbom.spdx.json"');
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Buffer.from(await res.arrayBuffer()).toString()).toBe(SBOM_BYTES);
  });

  it('an unsafe name falls back to the digest', async () => {
    const f = await webFixture();
    const reg = await startServe(f.root);
    const digest = sha256(SBOM_BYTES);
    for (const bad of ['../../x', 'a"; b', '.profile']) {
      const res = await fetch(
        `${reg.url}/ui/team/app/blobs/${digest}?filename=${encodeURIComponent(bad)}`,
      );
      expect(res.headers.get('content-disposition'), bad).toBe(
        `attachment; filename="${digest.replace(':', '-')}"`,
      );
      await res.arrayBuffer();
    }
  });

  it("an absent blob is the registry's JSON error, not a file to save", async () => {
    const f = await webFixture();
    const reg = await startServe(f.root);
    const res = await fetch(`${reg.url}/ui/team/app/blobs/${sha256('absent')}?filename=x.json`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-disposition')).toBeNull();
    expect(((await res.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe(
      'BLOB_UNKNOWN',
    );
  });
});

describe('refusals', () => {
  it('unknown repository, unknown tag, a layer named as a manifest: HTML pages with the code', async () => {
    const f = await webFixture();
    const reg = await startServe(f.root);
    const layer = sha256(SBOM_BYTES);
    // A name outside the grammar is refused by the router, before any page: the API's JSON.
    const cases: [string, number, string, 'html' | 'json'][] = [
      ['/ui/nope', 404, 'NAME_UNKNOWN', 'html'],
      ['/ui/team/app/manifests/nope', 404, 'MANIFEST_UNKNOWN', 'html'],
      [`/ui/team/app/manifests/${layer}`, 404, 'MANIFEST_UNKNOWN', 'html'],
      ['/ui/team/app/manifests/sha256:zz', 400, 'DIGEST_INVALID', 'html'],
      ['/ui/Team', 400, 'NAME_INVALID', 'json'],
    ];
    for (const [path, status, code, type] of cases) {
      const { status: got, html, headers } = await get(`${reg.url}${path}`);
      expect(got, path).toBe(status);
      if (type === 'html') {
        expect(headers.get('content-type'), path).toBe('text/html; charset=utf-8');
        expect(html, path).toContain(`<h1>${status} ${code}</h1>`);
      } else {
        expect(html, path).toContain(`"code":"${code}"`);
      }
    }
  });

  it('pages answer GET and HEAD only', async () => {
    const f = await webFixture();
    const reg = await startServe(f.root);
    const head = await fetch(`${reg.url}/ui/team/app`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    const post = await fetch(`${reg.url}/ui/team/app`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });
});
