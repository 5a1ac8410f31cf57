// TEST SERVER, not a product: a small in-memory registry in Node http that implements the parts of
// distribution-spec v1.1 the registry client uses, written from the spec text so the referrers API
// path can be tested (docker-registry 2.8.2 has no referrers API):
//   - manifests GET/HEAD/PUT by tag or digest; a PUT whose manifest has `subject` answers
//     `OCI-Subject: <subject digest>` (when `referrersApi` is on);
//   - GET /v2/<name>/referrers/<digest>[?artifactType=]: an image index of descriptors (mediaType,
//     digest, size, artifactType = manifest's artifactType else config.mediaType for manifests,
//     annotations = manifest's annotations), `OCI-Filters-Applied: artifactType` when filtered,
//     `Link: <…>; rel="next"` pages of `pageSize`; 404 when `referrersApi` is off;
//   - blobs: HEAD/GET (with Range), uploads POST (+ mount), PATCH, PUT ?digest= (digest checked), GET status,
//     DELETE (cancel);
//   - tags list with `n`/`last` pagination; optional Basic or Bearer (token endpoint) auth;
//   - fault injection: `failNext(count, status)` answers the next requests with that status;
//   - optional manifest PUT preconditions (`conditionalPut`): `If-Match` / `If-None-Match: *`
//     against the tag's current digest, 412 when they fail; `beforeManifestPut` runs first (a test
//     lands a racing writer's PUT there).
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface ReferrersServerOptions {
  referrersApi?: boolean;
  /** Referrers page size (Link pagination). */
  pageSize?: number;
  /** Apply the artifactType filter server-side (else leave it to the client). */
  filterArtifactType?: boolean;
  auth?: { kind: 'basic' | 'bearer'; username: string; password: string };
  /**
   * Honour PUT preconditions on manifests. `etag`: the validator is `"<digest>"`, sent as `ETag`
   * on GET. `opaque`: the validator is a value the client cannot know (no `ETag` sent).
   */
  conditionalPut?: 'etag' | 'opaque';
  /** Called on each manifest PUT before it is processed. */
  beforeManifestPut?: (repo: string, ref: string) => void;
  /** Answer every mount request 403 DENIED (credentials that cannot read `from`). */
  refuseMount?: boolean;
  /** The Docker-Content-Digest a mount's 201 names (default: the digest mounted). */
  mountedDigest?: (digest: string) => string;
}

interface StoredManifest {
  bytes: Buffer;
  mediaType: string;
}

export interface ReferrersServer {
  port: number;
  host: string;
  blobs: Map<string, Buffer>;
  manifests: Map<string, StoredManifest>;
  tags: Map<string, string>;
  /** Every request, for assertions ("METHOD path"). */
  log: string[];
  tokenRequests: string[];
  failNext(count: number, status: number, retryAfter?: string): void;
  close(): Promise<void>;
}

const etagOf = (digest: string, kind: 'etag' | 'opaque'): string =>
  kind === 'etag' ? `"${digest}"` : `"v-${digest.slice(7, 19)}"`;

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export async function startReferrersServer(
  options: ReferrersServerOptions = {},
): Promise<ReferrersServer> {
  const api = options.referrersApi ?? true;
  const pageSize = options.pageSize ?? 100;
  const blobs = new Map<string, Buffer>();
  const manifests = new Map<string, StoredManifest>(); // key: `${repo}@${digest}`
  const tags = new Map<string, string>(); // key: `${repo}:${tag}` → digest
  const uploads = new Map<string, Buffer>();
  const log: string[] = [];
  const tokenRequests: string[] = [];
  const tokens = new Set<string>();
  let failures: { count: number; status: number; retryAfter: string | undefined } = {
    count: 0,
    status: 500,
    retryAfter: undefined,
  };
  let nextUpload = 0;
  let port = 0;

  const authorized = (req: IncomingMessage, res: ServerResponse, scope: string): boolean => {
    const a = options.auth;
    if (a === undefined) return true;
    const h = req.headers.authorization ?? '';
    const basic = `Basic ${Buffer.from(`${a.username}:${a.password}`).toString('base64')}`;
    if (a.kind === 'basic' && h === basic) return true;
    if (a.kind === 'bearer' && h.startsWith('Bearer ') && tokens.has(h.slice(7))) return true;
    res.setHeader(
      'www-authenticate',
      a.kind === 'basic'
        ? 'Basic realm="test"'
        : `Bearer realm="http://127.0.0.1:${port}/token",service="test-registry",scope="${scope}"`,
    );
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }),
    );
    return false;
  };

  const error = (res: ServerResponse, status: number, code: string, message = code): void => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ code, message }] }));
  };

  const resolveRef = (repo: string, ref: string): string | undefined =>
    ref.includes(':')
      ? manifests.has(`${repo}@${ref}`)
        ? ref
        : undefined
      : tags.get(`${repo}:${ref}`);

  const referrersOf = (repo: string, subject: string): Record<string, unknown>[] => {
    const out: Record<string, unknown>[] = [];
    for (const [key, m] of manifests) {
      if (!key.startsWith(`${repo}@`)) continue;
      const doc = JSON.parse(m.bytes.toString('utf8')) as Record<string, unknown>;
      const subj = doc['subject'] as { digest?: string } | undefined;
      if (subj?.digest !== subject) continue;
      const d: Record<string, unknown> = {
        mediaType: m.mediaType,
        digest: key.slice(repo.length + 1),
        size: m.bytes.byteLength,
      };
      const config = doc['config'] as { mediaType?: string } | undefined;
      const at = (doc['artifactType'] as string | undefined) ?? config?.mediaType;
      if (at !== undefined) d['artifactType'] = at;
      if (doc['annotations'] !== undefined) d['annotations'] = doc['annotations'];
      out.push(d);
    }
    return out.sort((a, b) => String(a['digest']).localeCompare(String(b['digest'])));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    const method = req.method ?? 'GET';
    log.push(`${method} ${url.pathname}${url.search}`);
    const body = await readBody(req);
    if (url.pathname === '/token') {
      tokenRequests.push(url.search);
      const a = options.auth;
      const basic = a && `Basic ${Buffer.from(`${a.username}:${a.password}`).toString('base64')}`;
      if (req.headers.authorization !== basic) return error(res, 401, 'UNAUTHORIZED');
      const token = `t${tokens.size}`;
      tokens.add(token);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token, expires_in: 300 }));
      return;
    }
    if (failures.count > 0) {
      failures.count--;
      if (failures.retryAfter !== undefined) res.setHeader('retry-after', failures.retryAfter);
      return error(res, failures.status, 'UNAVAILABLE', 'injected failure');
    }
    if (url.pathname === '/v2/' || url.pathname === '/v2') {
      if (!authorized(req, res, '')) return;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
      return;
    }
    let m: RegExpExecArray | null;
    if ((m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname)) !== null) {
      const [, repo, ref] = m as unknown as [string, string, string];
      const push = method === 'PUT';
      if (!authorized(req, res, `repository:${repo}:${push ? 'pull,push' : 'pull'}`)) return;
      if (push) {
        options.beforeManifestPut?.(repo, ref);
        if (options.conditionalPut !== undefined && !ref.includes(':')) {
          const now = tags.get(`${repo}:${ref}`);
          const validator = now === undefined ? undefined : etagOf(now, options.conditionalPut);
          const ifMatch = req.headers['if-match'];
          const ifNoneMatch = req.headers['if-none-match'];
          if (
            (ifMatch !== undefined && ifMatch !== validator) ||
            (ifNoneMatch === '*' && now !== undefined)
          ) {
            return error(res, 412, 'PRECONDITION_FAILED');
          }
        }
        const digest = sha256(body);
        if (ref.includes(':') && ref !== digest) return error(res, 400, 'DIGEST_INVALID');
        const doc = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
        const mediaType = String(req.headers['content-type'] ?? doc['mediaType']);
        manifests.set(`${repo}@${digest}`, { bytes: body, mediaType });
        if (!ref.includes(':')) tags.set(`${repo}:${ref}`, digest);
        const headers: Record<string, string> = {
          location: `/v2/${repo}/manifests/${digest}`,
          'docker-content-digest': digest,
        };
        const subject = (doc['subject'] as { digest?: string } | undefined)?.digest;
        if (api && subject !== undefined) headers['oci-subject'] = subject;
        res.writeHead(201, headers);
        res.end();
        return;
      }
      const digest = resolveRef(repo, ref);
      const stored = digest === undefined ? undefined : manifests.get(`${repo}@${digest}`);
      if (digest === undefined || stored === undefined) return error(res, 404, 'MANIFEST_UNKNOWN');
      res.writeHead(200, {
        'content-type': stored.mediaType,
        'content-length': String(stored.bytes.byteLength),
        'docker-content-digest': digest,
        ...(options.conditionalPut === 'etag' ? { etag: etagOf(digest, 'etag') } : {}),
      });
      res.end(method === 'HEAD' ? undefined : stored.bytes);
      return;
    }
    if ((m = /^\/v2\/(.+)\/referrers\/([^/]+)$/.exec(url.pathname)) !== null) {
      const [, repo, subject] = m as unknown as [string, string, string];
      if (!authorized(req, res, `repository:${repo}:pull`)) return;
      if (!api) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('404 page not found\n');
        return;
      }
      let list = referrersOf(repo, subject);
      const wanted = url.searchParams.get('artifactType');
      const headers: Record<string, string> = {
        'content-type': 'application/vnd.oci.image.index.v1+json',
      };
      if (wanted !== null && options.filterArtifactType !== false) {
        list = list.filter((d) => d['artifactType'] === wanted);
        headers['oci-filters-applied'] = 'artifactType';
      }
      const start = Number(url.searchParams.get('page') ?? '0');
      const page = list.slice(start * pageSize, (start + 1) * pageSize);
      if ((start + 1) * pageSize < list.length) {
        const next = new URL(url);
        next.searchParams.set('page', String(start + 1));
        headers['link'] = `<${next.pathname}${next.search}>; rel="next"`;
      }
      res.writeHead(200, headers);
      res.end(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests: page,
        }),
      );
      return;
    }
    if ((m = /^\/v2\/(.+)\/tags\/list$/.exec(url.pathname)) !== null) {
      const [, repo] = m as unknown as [string, string];
      if (!authorized(req, res, `repository:${repo}:pull`)) return;
      const all = [...tags.keys()]
        .filter((k) => k.startsWith(`${repo}:`))
        .map((k) => k.slice(repo.length + 1))
        .sort();
      const n = Number(url.searchParams.get('n') ?? '1000');
      const last = url.searchParams.get('last');
      const from = last === null ? 0 : all.indexOf(last) + 1;
      const page = all.slice(from, from + n);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (from + n < all.length) {
        headers['link'] =
          `</v2/${repo}/tags/list?n=${n}&last=${page[page.length - 1]}>; rel="next"`;
      }
      res.writeHead(200, headers);
      res.end(JSON.stringify({ name: repo, tags: page }));
      return;
    }
    if ((m = /^\/v2\/(.+)\/blobs\/uploads\/([^/]*)$/.exec(url.pathname)) !== null) {
      const [, repo, id] = m as unknown as [string, string, string];
      if (!authorized(req, res, `repository:${repo}:pull,push`)) return;
      if (method === 'POST') {
        const mount = url.searchParams.get('mount');
        if (mount !== null && options.refuseMount === true) return error(res, 403, 'DENIED');
        if (mount !== null && blobs.has(`${url.searchParams.get('from')}@${mount}`)) {
          blobs.set(`${repo}@${mount}`, blobs.get(`${url.searchParams.get('from')}@${mount}`)!);
          res.writeHead(201, {
            location: `/v2/${repo}/blobs/${mount}`,
            'docker-content-digest': options.mountedDigest?.(mount) ?? mount,
          });
          res.end();
          return;
        }
        const uid = `u${nextUpload++}`;
        uploads.set(uid, Buffer.alloc(0));
        res.writeHead(202, { location: `/v2/${repo}/blobs/uploads/${uid}`, range: '0-0' });
        res.end();
        return;
      }
      const data = uploads.get(id);
      if (data === undefined) return error(res, 404, 'BLOB_UPLOAD_UNKNOWN');
      if (method === 'DELETE') {
        uploads.delete(id); // cancelled
        res.writeHead(204);
        res.end();
        return;
      }
      if (method === 'GET') {
        res.writeHead(204, {
          location: `/v2/${repo}/blobs/uploads/${id}`,
          range: `0-${Math.max(0, data.length - 1)}`,
        });
        res.end();
        return;
      }
      const all = Buffer.concat([data, body]);
      uploads.set(id, all);
      if (method === 'PATCH') {
        res.writeHead(202, {
          location: `/v2/${repo}/blobs/uploads/${id}`,
          range: `0-${all.length - 1}`,
        });
        res.end();
        return;
      }
      const digest = url.searchParams.get('digest') ?? '';
      if (sha256(all) !== digest) return error(res, 400, 'DIGEST_INVALID');
      uploads.delete(id);
      blobs.set(`${repo}@${digest}`, all);
      res.writeHead(201, {
        location: `/v2/${repo}/blobs/${digest}`,
        'docker-content-digest': digest,
      });
      res.end();
      return;
    }
    if ((m = /^\/v2\/(.+)\/blobs\/([^/]+)$/.exec(url.pathname)) !== null) {
      const [, repo, digest] = m as unknown as [string, string, string];
      if (!authorized(req, res, `repository:${repo}:pull`)) return;
      const data = blobs.get(`${repo}@${digest}`);
      if (data === undefined) return error(res, 404, 'BLOB_UNKNOWN');
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      const start = range === null ? 0 : Number(range[1]);
      res.writeHead(range === null ? 200 : 206, {
        'content-length': String(data.length - start),
        'docker-content-digest': digest,
      });
      res.end(method === 'HEAD' ? undefined : data.subarray(start));
      return;
    }
    error(res, 404, 'NOT_FOUND');
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) error(res, 500, 'INTERNAL', String(err));
      else res.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return {
    port,
    host: `127.0.0.1:${port}`,
    blobs,
    manifests,
    tags,
    log,
    tokenRequests,
    failNext(count, status, retryAfter) {
      failures = { count, status, retryAfter };
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
