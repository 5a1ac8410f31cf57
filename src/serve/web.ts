// The web view of `serve`: plain server-rendered HTML under `/` and `/ui/` (no scripts, no external
// assets, so it works offline and behind the same auth as the API). Pages read through the calls
// the registry endpoints use (Repositories, Layout, the referrer graph with cosign tags), so what
// the view shows is what a client pulls. Everything from a layout (names, tags, annotations, media
// types) is untrusted and escaped; the Content-Security-Policy forbids scripts as a second fence.
// Work per page is bounded: listings are paged, the referrer tree is cut by depth and node count.
import type { Digest } from '../digest.js';
import { isOcilayoutError } from '../errors.js';
import type { Layout } from '../layout/layout.js';
import { formatPlatform } from '../layout/platform.js';
import { isValidTag } from '../layout/refs.js';
import { findTagged } from '../layout/tags.js';
import { Annotation, isIndexMediaType } from '../media-types.js';
import { parseCosignTag } from '../referrers/cosign-tag.js';
import { referrerGraph, referrerTree, type ReferrerNode } from '../referrers/discover.js';
import { formatBytes } from '../output/bytes.js';
import type { Descriptor } from '../schema/descriptor.js';
import type { IndexFile } from '../schema/layout-files.js';
import { getBlob } from './blobs.js';
import { allowed, type Call, type ServeContext } from './context.js';
import { RegistryHttpError, errorReply, type NotFoundKind } from './http-errors.js';
import { sendBytes } from './http.js';
import { pageOf, parseReference, requestDigest } from './names.js';
import type { ServedRepository } from './repositories.js';

/** Entries per page of the repository and tag listings. */
export const WEB_PAGE = 100;
/** Referrer tree: levels below the subject shown, and nodes shown in all. */
export const TREE_MAX_DEPTH = 8;
export const TREE_MAX_NODES = 200;
/** Manifests read per page to show sizes and layers (platform children, tree nodes). */
export const MAX_MANIFEST_READS = 100;
/** Rows of an index's children or a manifest's layers shown (a 4 MiB manifest can list ~20,000). */
export const MAX_ROWS = 500;

type Handler = (ctx: ServeContext, call: Call) => void | Promise<void>;

/** Routes for server.ts's table: the same shape, so its checks (names, methods, auth) apply. */
export const WEB_ROUTES: {
  pattern: RegExp;
  notFound: NotFoundKind;
  methods: Partial<Record<string, Handler>>;
}[] = [
  { pattern: /^\/$/, notFound: 'NAME_UNKNOWN', methods: both(page(homePage, 'NAME_UNKNOWN')) },
  {
    pattern: /^\/ui\/(.+)\/blobs\/([^/]+)$/,
    notFound: 'BLOB_UNKNOWN',
    methods: both(download),
  },
  {
    pattern: /^\/ui\/(.+)\/manifests\/([^/]+)$/,
    notFound: 'MANIFEST_UNKNOWN',
    methods: both(page(imagePage, 'MANIFEST_UNKNOWN')),
  },
  {
    pattern: /^\/ui\/(.+)$/,
    notFound: 'NAME_UNKNOWN',
    methods: both(page(repositoryPage, 'NAME_UNKNOWN')),
  },
];

function both(h: Handler): Partial<Record<string, Handler>> {
  return { GET: h, HEAD: h };
}

// ---- HTML helpers ---------------------------------------------------------------------------

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#x27;',
};

/** Text and attribute values: the five characters that can end a text run or a quoted attribute. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

function size(n: number): string {
  return `<span class="size" title="${n} bytes">${esc(formatBytes(n))}</span>`;
}

/** `/ui/<name>…`: the name matches the repository grammar ([a-z0-9._/-]), safe in a path. */
export function repoHref(name: string): string {
  return `/ui/${name}`;
}

export function manifestHref(name: string, ref: string): string {
  return `/ui/${name}/manifests/${encodeURIComponent(ref)}`;
}

/** The download route; `filename` becomes the Content-Disposition name (sanitised there too). */
export function downloadHref(name: string, digest: string, filename?: string): string {
  const q = filename === undefined ? '' : `?filename=${encodeURIComponent(filename)}`;
  return `/ui/${name}/blobs/${digest}${q}`;
}

function shortDigest(d: string): string {
  const i = d.indexOf(':');
  return i < 0 ? d : `${d.slice(0, i + 1)}${d.slice(i + 1, i + 13)}`;
}

function digestLink(href: string, digest: string): string {
  return `<a class="digest" href="${esc(href)}" title="${esc(digest)}">${esc(shortDigest(digest))}</a>`;
}

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:1rem 1.5rem;color:rgb(29,37,48)}
header{border-bottom:1px solid #d5dae0;margin-bottom:1rem;padding-bottom:.5rem}
header a{color:inherit;text-decoration:none;font-weight:600}
h1{font-size:1.35rem;margin:.2rem 0 .8rem;word-break:break-all}h2{font-size:1.05rem;margin:1.4rem 0 .4rem}
a{color:rgb(11,92,173)}code,.digest,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.92em}
table{border-collapse:collapse;width:100%;margin:.3rem 0}
th,td{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #e6e9ed;vertical-align:top}
th{font-weight:600;color:rgb(86,96,107);background:#f6f8fa}
td.n,th.n{text-align:right;white-space:nowrap}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}
dt{color:rgb(86,96,107)}dd{margin:0;word-break:break-all}
ul.tree,ul.tree ul{list-style:none;padding-left:1.2rem;margin:.2rem 0}
ul.tree{padding-left:0}ul.tree li{margin:.35rem 0}
ul.tree ul{border-left:2px solid #e6e9ed}
.kind{display:inline-block;min-width:5.5rem;padding:0 .4rem;border-radius:3px;background:#e8eef6;font-size:.85em;text-align:center}
.kind-signature{background:#dcf3e3}.kind-sbom{background:#fdf1d6}.kind-attestation{background:#efe3fb}
.src{color:rgb(86,96,107);font-size:.85em}.note{color:rgb(86,96,107)}
.ann{color:rgb(86,96,107);font-size:.85em;word-break:break-all}
`;

/** A whole page: breadcrumb, title, body. `body` is HTML already escaped by its builder. */
export function renderPage(
  title: string,
  crumbs: { label: string; href?: string }[],
  body: string,
): string {
  const trail = [{ label: 'registry', href: '/' }, ...crumbs]
    .map((c) =>
      c.href === undefined ? esc(c.label) : `<a href="${esc(c.href)}">${esc(c.label)}</a>`,
    )
    .join(' / ');
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<title>${esc(title)} · ocilayout serve</title><style>${STYLE}</style></head>` +
    `<body><header>${trail}</header><main><h1>${esc(title)}</h1>${body}</main></body></html>`
  );
}

// Scripts are not needed, so none may run: even an escaping mistake could not execute anything.
const HTML_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

function sendHtml(
  call: Call,
  status: number,
  html: string,
  headers: Record<string, string> = {},
): void {
  sendBytes(call.req, call.res, status, Buffer.from(html, 'utf8'), 'text/html; charset=utf-8', {
    ...headers,
    ...HTML_HEADERS,
  });
}

/**
 * A page handler whose refusals (unknown repository, bad reference) are HTML pages with the
 * registry's status and code. Internal errors go on to the router, which logs them.
 */
function page(render: (ctx: ServeContext, call: Call) => string, notFound: NotFoundKind): Handler {
  return (ctx, call) => {
    let html: string;
    try {
      html = render(ctx, call);
    } catch (err) {
      const reply = errorReply(err, notFound);
      if (reply.internal) throw err;
      const e = reply.body.errors[0]!;
      call.note = e.code;
      sendHtml(
        call,
        reply.status,
        renderPage(`${reply.status} ${e.code}`, [], `<p>${esc(e.message)}</p>`),
        reply.headers,
      );
      return;
    }
    sendHtml(call, 200, html);
  };
}

// ---- pages ----------------------------------------------------------------------------------

/** `/`: the repositories, paged. */
function homePage(ctx: ServeContext, call: Call): string {
  // As `_catalog`: only the repositories this client may read (the route names none itself).
  const readable = ctx.repos.catalog().filter((name) => allowed(ctx, call, name, 'read'));
  const { items, next } = pageOf(readable, listPage(call));
  const rows = items.map((n) => `<li><a href="${esc(repoHref(n))}">${esc(n)}</a></li>`).join('');
  const body =
    items.length === 0
      ? '<p class="note">No repositories yet. Push one, e.g. with <code>skopeo copy</code>.</p>'
      : `<ul class="repos">${rows}</ul>${nextLink('/', next)}`;
  return renderPage('Repositories', [], body);
}

/** `/ui/<name>`: its tags, paged, each with what it points at. */
function repositoryPage(ctx: ServeContext, call: Call): string {
  const repo = ctx.repos.repository(call.name);
  const index = repo.layout.readIndex();
  const tags = repo.tags();
  const { items, next } = pageOf(tags, listPage(call));
  const rows = items.map((tag) => {
    const d = taggedIn(repo, index, tag);
    const cosign = parseCosignTag(tag);
    const what =
      cosign === undefined
        ? esc(d === undefined ? '' : kindOfManifest(d))
        : `cosign ${esc(cosign.kind)} of ${digestLink(manifestHref(call.name, cosign.subject), cosign.subject)}`;
    return (
      // Another tool's index.json may name what our tag grammar refuses: link those by digest.
      `<tr><td><a class="tag" href="${esc(manifestHref(call.name, isValidTag(tag) || d === undefined ? tag : d.digest))}">${esc(tag)}</a></td>` +
      `<td>${d === undefined ? '' : digestLink(manifestHref(call.name, d.digest), d.digest)}</td>` +
      `<td>${what}</td><td class="n">${d === undefined ? '' : size(d.size)}</td></tr>`
    );
  });
  const body =
    `<p class="note">${tags.length} tag${tags.length === 1 ? '' : 's'}</p>` +
    (items.length === 0
      ? ''
      : `<table class="tags"><thead><tr><th>Tag</th><th>Digest</th><th>Type</th><th class="n">Manifest</th></tr></thead>` +
        `<tbody>${rows.join('')}</tbody></table>${nextLink(repoHref(call.name), next)}`);
  return renderPage(call.name, [{ label: call.name }], body);
}

/** What a listed tag points at here; undefined when it names nothing or is ambiguous. */
function taggedIn(repo: ServedRepository, index: IndexFile, tag: string): Descriptor | undefined {
  try {
    return findTagged(index, repo.readName(tag));
  } catch {
    return undefined;
  }
}

/** `/ui/<name>/manifests/<ref>`: one manifest or index, its platforms or layers, its referrers. */
function imagePage(ctx: ServeContext, call: Call): string {
  const ref = parseReference(call.tail, false);
  const repo = ctx.repos.repository(call.name);
  const layout = repo.layout;
  let stored;
  try {
    stored = layout.getManifest(ref.tag === undefined ? ref : { tag: repo.readName(ref.tag) });
  } catch (err) {
    // As GET /v2/…/manifests: a digest naming a layer or config is no manifest of this repository.
    if (isOcilayoutError(err, 'E_UNSUPPORTED_MEDIA_TYPE')) {
      throw new RegistryHttpError(404, 'MANIFEST_UNKNOWN', 'manifest unknown', {
        reference: call.tail,
      });
    }
    throw err;
  }
  const { descriptor, parsed } = stored;
  const digest = descriptor.digest;
  const name = call.name;
  const budget = { reads: MAX_MANIFEST_READS };
  const graph = referrerGraph(layout);
  const doc = parsed.doc;
  const facts: [string, string][] = [
    ['Digest', `<code>${esc(digest)}</code>`],
    ['Media type', `<code>${esc(parsed.mediaType)}</code>`],
    ['Size', size(stored.bytes.byteLength)],
  ];
  if (doc.artifactType !== undefined)
    facts.push(['Artifact type', `<code>${esc(doc.artifactType)}</code>`]);
  if (doc.subject !== undefined) {
    facts.push(['Subject', digestLink(manifestHref(name, doc.subject.digest), doc.subject.digest)]);
  }
  facts.push([
    'Download',
    `<a href="${esc(downloadHref(name, digest, `${fileStem(digest)}.json`))}">manifest JSON</a>`,
  ]);
  let body = `<dl>${facts.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('')}</dl>`;
  body += annotationsTable(doc.annotations);
  if (parsed.kind === 'index') {
    body += platformsTable(layout, name, parsed.doc.manifests, graph, budget);
  } else {
    body += layersTable(name, parsed.doc.config, parsed.doc.layers);
  }
  const tree = referrerTree(graph, digest, { depth: TREE_MAX_DEPTH });
  body += `<h2>Referrers</h2>`;
  if (tree.length === 0) {
    body += '<p class="note">No signatures, SBOMs or other referrers.</p>';
  } else {
    const shown = { nodes: 0, total: countNodes(tree) };
    body += `<ul class="tree">${tree.map((n) => treeItem(layout, name, n, shown, budget)).join('')}</ul>`;
    if (shown.total > shown.nodes) {
      body += `<p class="note">${shown.total - shown.nodes} more referrers not shown (at most ${TREE_MAX_NODES} per page); <code>ocilayout discover</code> lists them all.</p>`;
    }
  }
  const title = ref.tag === undefined ? shortDigest(digest) : `${name}:${ref.tag}`;
  return renderPage(
    title,
    [{ label: name, href: repoHref(name) }, { label: ref.tag ?? shortDigest(digest) }],
    body,
  );
}

function platformsTable(
  layout: Layout,
  name: string,
  children: readonly Descriptor[],
  graph: ReturnType<typeof referrerGraph>,
  budget: { reads: number },
): string {
  const rows = children.slice(0, MAX_ROWS).map((c) => {
    const a = c.annotations ?? {};
    const attestationOf =
      a[Annotation.DockerReferenceType] === 'attestation-manifest'
        ? a[Annotation.DockerReferenceDigest]
        : undefined;
    const platform =
      attestationOf !== undefined
        ? `attestation of ${digestLink(manifestHref(name, attestationOf), attestationOf)}`
        : c.platform === undefined
          ? '<span class="note">(none)</span>'
          : esc(formatPlatform(c.platform));
    const image = imageSize(layout, c, budget);
    const refs = graph.referrersOf(c.digest).length;
    return (
      `<tr class="platform"><td>${platform}</td><td>${digestLink(manifestHref(name, c.digest), c.digest)}</td>` +
      `<td><code>${esc(c.mediaType)}</code></td><td class="n">${image === undefined ? '' : size(image)}</td>` +
      `<td class="n">${refs === 0 ? '' : String(refs)}</td></tr>`
    );
  });
  return (
    `<h2>Platforms</h2><table class="platforms"><thead><tr><th>Platform</th><th>Manifest</th><th>Media type</th>` +
    `<th class="n">Image size</th><th class="n">Referrers</th></tr></thead><tbody>${rows.join('')}</tbody></table>` +
    moreRows(children.length)
  );
}

function layersTable(name: string, config: Descriptor, layers: readonly Descriptor[]): string {
  const row = (what: string, d: Descriptor): string =>
    `<tr class="layer"><td>${what}</td><td><code>${esc(d.mediaType)}</code></td>` +
    `<td>${digestLink(downloadHref(name, d.digest, fileName(d)), d.digest)}</td><td class="n">${size(d.size)}</td></tr>`;
  const total = layers.reduce((n, l) => n + l.size, config.size);
  const rows = [
    row('config', config),
    ...layers.slice(0, MAX_ROWS).map((l, i) => row(`layer ${i + 1}${titleOf(l)}`, l)),
  ];
  return (
    `<h2>Layers</h2><table class="layers"><thead><tr><th></th><th>Media type</th><th>Download</th>` +
    `<th class="n">Size</th></tr></thead><tbody>${rows.join('')}</tbody>` +
    `<tfoot><tr><th colspan="3">total</th><th class="n">${size(total)}</th></tr></tfoot></table>` +
    moreRows(layers.length)
  );
}

/** The note under a table cut at MAX_ROWS (the manifest JSON, downloadable, lists them all). */
function moreRows(count: number): string {
  return count <= MAX_ROWS
    ? ''
    : `<p class="note">${count - MAX_ROWS} more not shown (at most ${MAX_ROWS}); the manifest JSON lists them all.</p>`;
}

function annotationsTable(annotations: Record<string, string> | undefined): string {
  const entries = Object.entries(annotations ?? {});
  if (entries.length === 0) return '';
  const rows = entries.map(
    ([k, v]) => `<tr><td><code>${esc(k)}</code></td><td>${esc(v)}</td></tr>`,
  );
  return `<h2>Annotations</h2><table class="annotations"><tbody>${rows.join('')}</tbody></table>`;
}

/** One referrer: its kind, digest, where it was found, annotations, downloads, its own referrers. */
function treeItem(
  layout: Layout,
  name: string,
  n: ReferrerNode,
  shown: { nodes: number; total: number },
  budget: { reads: number },
): string {
  if (shown.nodes >= TREE_MAX_NODES) return '';
  shown.nodes++;
  const d = n.descriptor;
  const kind = artifactKind(d.artifactType);
  const marks = [
    ...(n.buildkit ? [n.legacy ? 'buildkit attestation, no subject' : 'buildkit attestation'] : []),
    ...n.sources.filter((s) => !(n.legacy && s === 'nested')),
  ];
  const files = referrerFiles(layout, name, d, budget);
  const ann = Object.entries(d.annotations ?? {})
    .map(([k, v]) => `<div class="ann">${esc(k)}: ${esc(v)}</div>`)
    .join('');
  const below = n.referrers.map((c) => treeItem(layout, name, c, shown, budget)).join('');
  return (
    `<li class="referrer" data-digest="${esc(d.digest)}"><span class="kind kind-${kind}">${esc(kind)}</span> ` +
    `${digestLink(manifestHref(name, d.digest), d.digest)} <code>${esc(d.artifactType ?? d.mediaType)}</code> ` +
    `${size(d.size)} <span class="src">[${esc(marks.join(', '))}]</span>${ann}${files}` +
    (below === '' ? '' : `<ul>${below}</ul>`) +
    `</li>`
  );
}

/** Download links for a referrer's layers (its payload: the SBOM, the signature, the envelope). */
function referrerFiles(
  layout: Layout,
  name: string,
  d: Descriptor,
  budget: { reads: number },
): string {
  const m = readWithin(layout, d, budget);
  if (m === undefined || m.kind !== 'manifest') return '';
  // Named by title where the artifact has one (oras, attach), else by digest (cosign's payloads).
  const links = m.doc.layers.map((l) => {
    const title = safeFileName(l.annotations?.[Annotation.Title]);
    const label = title ?? shortDigest(l.digest);
    return (
      `↓ <a class="file" href="${esc(downloadHref(name, l.digest, fileName(l)))}" title="${esc(`${l.mediaType} ${l.digest}`)}">` +
      `${esc(label)}</a> ${size(l.size)}`
    );
  });
  return links.length === 0 ? '' : `<div class="files">${links.join(' · ')}</div>`;
}

/** A manifest read within the page's budget; undefined when over it or unreadable. */
function readWithin(layout: Layout, d: Descriptor, budget: { reads: number }) {
  if (budget.reads <= 0) return undefined;
  budget.reads--;
  try {
    return layout.readManifest(d);
  } catch {
    return undefined; // missing or damaged: the digest link still leads to its page and error
  }
}

/** Config plus layers of an image manifest, undefined for an index or past the read budget. */
function imageSize(layout: Layout, d: Descriptor, budget: { reads: number }): number | undefined {
  if (isIndexMediaType(d.mediaType)) return undefined;
  const m = readWithin(layout, d, budget);
  if (m === undefined || m.kind !== 'manifest') return undefined;
  return m.doc.layers.reduce((n, l) => n + l.size, m.doc.config.size);
}

function countNodes(nodes: readonly ReferrerNode[]): number {
  return nodes.reduce((n, c) => n + 1 + countNodes(c.referrers), 0);
}

/** A word for what a referrer is, from its artifact type (cosign's, notation's, SPDX, in-toto…). */
export function artifactKind(artifactType: string | undefined): string {
  const t = (artifactType ?? '').toLowerCase();
  if (/sig(nature)?\b|\.sig\.|notary|simplesigning/.test(t)) return 'signature';
  if (/sbom|spdx|cyclonedx|syft/.test(t)) return 'sbom';
  if (/att(estation)?\b|\.att\.|in-?toto|dsse|provenance|vex/.test(t)) return 'attestation';
  return 'artifact';
}

function kindOfManifest(d: Descriptor): string {
  if (d.artifactType !== undefined) return d.artifactType;
  return isIndexMediaType(d.mediaType) ? 'image index' : 'image manifest';
}

function titleOf(d: Descriptor): string {
  const t = d.annotations?.[Annotation.Title];
  return t === undefined ? '' : ` (${esc(t)})`;
}

/** `sha256-<hex>`: a digest as a file name. */
function fileStem(digest: string): string {
  return digest.replace(':', '-');
}

/** The layer's title when it has a safe one (oras and attach set it), else its digest. */
function fileName(d: Descriptor): string {
  return safeFileName(d.annotations?.[Annotation.Title]) ?? fileStem(d.digest);
}

/** `[A-Za-z0-9._-]`, not hidden, at most 128 characters; anything else is not used as a name. */
export function safeFileName(name: string | null | undefined): string | undefined {
  if (name === undefined || name === null) return undefined;
  return /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/.test(name) ? name : undefined;
}

// ---- paging ---------------------------------------------------------------------------------

function listPage(call: Call): { n: number; last: string | undefined } {
  return { n: WEB_PAGE, last: call.query.get('last') ?? undefined };
}

function nextLink(path: string, next: string | undefined): string {
  if (next === undefined) return '';
  return `<p><a rel="next" href="${esc(`${path}?last=${encodeURIComponent(next)}`)}">next page →</a></p>`;
}

// ---- downloads ------------------------------------------------------------------------------

/**
 * `/ui/<name>/blobs/<digest>[?filename=]`: the blob endpoint (verified while streaming, ranges)
 * with `Content-Disposition: attachment`, so a browser saves it rather than rendering it. The
 * name is the client's choice, restricted to a safe alphabet; the type stays octet-stream.
 */
async function download(ctx: ServeContext, call: Call): Promise<void> {
  const digest: Digest = requestDigest(call.tail);
  const name = safeFileName(call.query.get('filename')) ?? fileStem(digest);
  call.res.setHeader('Content-Disposition', `attachment; filename="${name}"`);
  call.res.setHeader('X-Content-Type-Options', 'nosniff');
  try {
    await getBlob(ctx, call);
  } catch (err) {
    // A refusal is the registry's JSON error, not a file to save.
    if (!call.res.headersSent) call.res.removeHeader('Content-Disposition');
    throw err;
  }
}
