// Listing endpoints: GET /v2/ (the API probe), /v2/_catalog, /v2/<name>/tags/list (both paged with
// n/last and a Link header), /v2/<name>/referrers/<digest> (every layout convention and cosign
// tags, through the referrer graph; paged by size, see referrers()).
import { MediaType } from '../media-types.js';
import { discoverReferrers } from '../referrers/discover.js';
import { referrersResponse } from '../referrers/response.js';
import { goJsonStringify } from '../schema/go-json.js';
import { allowed, v2Path, type Call, type ServeContext } from './context.js';
import { nextLink, sendBytes, sendJson } from './http.js';
import { MAX_PAGE, pageOf, parsePage, requestDigest } from './names.js';

/** GET/HEAD /v2/ */
export function apiBase(ctx: ServeContext, call: Call): void {
  ctx.access?.requireLoginProbe(call.principal);
  sendJson(call.req, call.res, 200, {});
}

/** GET /v2/_catalog */
export function catalog(ctx: ServeContext, call: Call): void {
  const page = parsePage(call.query);
  // Only what the client may read: the catalog must not tell others' repository names.
  const names = ctx.repos.catalog().filter((name) => allowed(ctx, call, name, 'read'));
  const { items, next } = pageOf(names, page);
  const headers: Record<string, string> =
    next === undefined ? {} : { Link: nextLink('/v2/_catalog', page.n, next) };
  sendJson(call.req, call.res, 200, { repositories: items }, headers);
}

/** GET /v2/<name>/tags/list */
export function tagsList(ctx: ServeContext, call: Call): void {
  const page = parsePage(call.query);
  const { items, next } = pageOf(ctx.repos.repository(call.name).tags(), page);
  const headers: Record<string, string> =
    next === undefined ? {} : { Link: nextLink(v2Path(call.name, 'tags', 'list'), page.n, next) };
  sendJson(call.req, call.res, 200, { name: call.name, tags: items }, headers);
}

/**
 * A referrers page holds descriptors up to this many bytes of JSON (and at least one): clients
 * read the response as a manifest, which they cap (at 4 MiB, the spec's manifest limit).
 */
export const REFERRERS_PAGE_BYTES = 1024 * 1024;

/**
 * GET /v2/<name>/referrers/<digest>[?artifactType=][&n=&last=]: always 200 with an image index (a
 * subject with no referrers, or unknown, has an empty one: the spec forbids a 404 from a registry
 * that has the API). The filter is applied here and said so in OCI-Filters-Applied. The spec lets
 * a registry page the list with a `Link: <…>; rel="next"` header: pages hold at most `n` entries
 * (default and most: MAX_PAGE) and REFERRERS_PAGE_BYTES, in digest order, `last` the digest the
 * previous page ended with (as tags lists page).
 */
export function referrers(ctx: ServeContext, call: Call): void {
  const subject = requestDigest(call.tail);
  const page = parsePage(call.query);
  const layout = ctx.repos.open(call.name);
  const artifactType = call.query.get('artifactType') ?? undefined;
  const found = discoverReferrers(layout, subject, { artifactType });
  // referrersResponse records a filter as an annotation (for files); over HTTP the header says it.
  // Its list is sorted by digest.
  const body = referrersResponse(found);
  const after =
    page.last === undefined ? body.manifests : body.manifests.filter((d) => d.digest > page.last!);
  const limit = page.n ?? MAX_PAGE;
  let bytes = 0;
  let count = 0;
  for (const d of after) {
    if (count >= limit) break;
    bytes += Buffer.byteLength(goJsonStringify(d)) + 1;
    if (count > 0 && bytes > REFERRERS_PAGE_BYTES) break;
    count++;
  }
  body.manifests = after.slice(0, count);
  const headers: Record<string, string> =
    artifactType === undefined ? {} : { 'OCI-Filters-Applied': 'artifactType' };
  if (count < after.length && count > 0) {
    const q = new URLSearchParams();
    if (page.n !== undefined) q.set('n', String(page.n));
    q.set('last', after[count - 1]!.digest);
    if (artifactType !== undefined) q.set('artifactType', artifactType);
    headers['Link'] = `<${v2Path(call.name, 'referrers', subject)}?${q.toString()}>; rel="next"`;
  }
  sendBytes(
    call.req,
    call.res,
    200,
    Buffer.from(goJsonStringify(body), 'utf8'),
    MediaType.ImageIndex,
    headers,
  );
}
