// Shared by the serve tests: a server on an ephemeral loopback port, closed when the test ends,
// and small documents to push through it.
import { createHash } from 'node:crypto';
import { expect, onTestFinished } from 'vitest';
import { serveLayouts, type RunningRegistry, type ServeOptions } from '../../src/serve/server.js';

export async function startServe(
  root: string,
  options: Omit<ServeOptions, 'root'> = {},
): Promise<RunningRegistry & { access: string[]; internal: unknown[] }> {
  const access: string[] = [];
  const internal: unknown[] = [];
  const running = await serveLayouts(
    {
      ...options,
      root,
      onAccess: (e) => access.push(`${e.method} ${e.path} ${e.status}`),
      onInternalError: (err) => internal.push(err),
    },
    { host: '127.0.0.1', port: 0 },
  );
  onTestFinished(async () => {
    await running.close();
    // No test expects a 500: an internal error anywhere is a failure of the test that caused it.
    expect(internal).toEqual([]);
  });
  return Object.assign(running, { access, internal });
}

export const sha256 = (b: Uint8Array | string): string =>
  `sha256:${createHash('sha256').update(b).digest('hex')}`;

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

/** Push a blob in one POST ?digest= request. */
export async function pushBlob(url: string, repo: string, bytes: Uint8Array): Promise<string> {
  const digest = sha256(bytes);
  const res = await fetch(`${url}/v2/${repo}/blobs/uploads/?digest=${digest}`, {
    method: 'POST',
    body: bytes,
    headers: { 'Content-Type': 'application/octet-stream' },
  });
  if (res.status !== 201) throw new Error(`push blob: ${res.status} ${await res.text()}`);
  return digest;
}

export interface TestImage {
  config: Buffer;
  layer: Buffer;
  manifest: Buffer;
  digest: string;
}

/** A tiny image (config + one layer + manifest); `extra` adds top-level manifest fields. */
export function testImage(seed: string, extra: Record<string, unknown> = {}): TestImage {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', seed }));
  const layer = Buffer.from(`layer ${seed}`);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: sha256(config),
        size: config.byteLength,
      },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar',
          digest: sha256(layer),
          size: layer.byteLength,
        },
      ],
      ...extra,
    }),
  );
  return { config, layer, manifest, digest: sha256(manifest) };
}

/** Push an image's blobs and its manifest (by tag, or by digest when `tag` is undefined). */
export async function pushImage(
  url: string,
  repo: string,
  image: TestImage,
  tag?: string,
): Promise<Response> {
  await pushBlob(url, repo, image.config);
  await pushBlob(url, repo, image.layer);
  return fetch(`${url}/v2/${repo}/manifests/${tag ?? image.digest}`, {
    method: 'PUT',
    body: image.manifest,
    headers: { 'Content-Type': OCI_MANIFEST },
  });
}

/** The error codes of a registry error body. */
export async function errorCodes(res: Response): Promise<string[]> {
  const body = (await res.json()) as { errors: { code: string }[] };
  return body.errors.map((e) => e.code);
}
