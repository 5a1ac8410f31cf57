// Listing endpoints: GET /v2/ (the API probe), /v2/_catalog, /v2/<name>/tags/list (both paged with
// n/last and a Link header), /v2/<name>/referrers/<digest> (every layout convention and cosign
// tags, through the referrer graph).
import { MediaType } from '../media-types.js';
import { discoverReferrers } from '../referrers/discover.js';
import { referrersResponse } from '../referrers/response.js';
import { goJsonStringify } from '../schema/go-json.js';
import { allowed, v2Path, type Call, type ServeContext } from './context.js';
import { nextLink, sendBytes, sendJson } from './http.js';
import { pageOf, parsePage, requestDigest } from './names.js';

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
  const layout = ctx.repos.open(call.name);
  const { items, next } = pageOf(layout.tags(), page);
  const headers: Record<string, string> =
    next === undefined ? {} : { Link: nextLink(v2Path(call.name, 'tags', 'list'), page.n, next) };
  sendJson(call.req, call.res, 200, { name: call.name, tags: items }, headers);
}

/**
 * GET /v2/<name>/referrers/<digest>[?artifactType=]: always 200 with an image index (a subject
 * with no referrers, or unknown, has an empty one: the spec forbids a 404 from a registry that
 * has the API). The filter is applied here and said so in OCI-Filters-Applied.
 */
export function referrers(ctx: ServeContext, call: Call): void {
  const subject = requestDigest(call.tail);
  const layout = ctx.repos.open(call.name);
  const artifactType = call.query.get('artifactType') ?? undefined;
  const found = discoverReferrers(layout, subject, { artifactType });
  // referrersResponse records a filter as an annotation (for files); over HTTP the header says it.
  const body = referrersResponse(found);
  const headers: Record<string, string> =
    artifactType === undefined ? {} : { 'OCI-Filters-Applied': 'artifactType' };
  sendBytes(
    call.req,
    call.res,
    200,
    Buffer.from(goJsonStringify(body), 'utf8'),
    MediaType.ImageIndex,
    headers,
  );
}
