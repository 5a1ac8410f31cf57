// cosign's key-based signatures, made and checked with node:crypto (cosign itself is not
// installable here): an ECDSA P-256 signature over a "simple signing" payload that names the
// image's manifest digest, stored as a one-layer manifest under the tag `sha256-<hex>.sig` in the
// image's repository — the shape `cosign sign --key` writes and `cosign verify --key` reads.
import { createHash, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

export const SIMPLESIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';

export interface CosignKeys {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function cosignKeys(): CosignKeys {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

export interface Blob {
  digest: string;
  bytes: Buffer;
  mediaType: string;
}

function blob(bytes: Buffer, mediaType: string): Blob {
  return { digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, bytes, mediaType };
}

/** cosign's signature tag for a manifest digest: `sha256-<hex>.sig`. */
export function signatureTag(manifestDigest: string): string {
  return `${manifestDigest.replace(':', '-')}.sig`;
}

/**
 * The blobs and manifest `cosign sign --key` pushes for `manifestDigest` of `dockerReference`
 * (`host/repo`): the payload (layer), an empty-ish config, and the manifest whose one layer carries
 * the base64 DER signature in its annotation.
 */
export function cosignSignature(
  keys: CosignKeys,
  dockerReference: string,
  manifestDigest: string,
): { payload: Blob; config: Blob; manifest: Blob } {
  const payload = blob(
    Buffer.from(
      JSON.stringify({
        critical: {
          identity: { 'docker-reference': dockerReference },
          image: { 'docker-manifest-digest': manifestDigest },
          type: 'cosign container image signature',
        },
        optional: null,
      }),
    ),
    SIMPLESIGNING,
  );
  const signature = sign('sha256', payload.bytes, keys.privateKey).toString('base64');
  const config = blob(
    Buffer.from(
      JSON.stringify({
        architecture: '',
        os: '',
        config: {},
        rootfs: { type: 'layers', diff_ids: [payload.digest] },
      }),
    ),
    'application/vnd.oci.image.config.v1+json',
  );
  const manifest = blob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: config.mediaType, digest: config.digest, size: config.bytes.length },
        layers: [
          {
            mediaType: SIMPLESIGNING,
            digest: payload.digest,
            size: payload.bytes.length,
            annotations: { [SIGNATURE_ANNOTATION]: signature },
          },
        ],
      }),
    ),
    'application/vnd.oci.image.manifest.v1+json',
  );
  return { payload, config, manifest };
}

/**
 * What `cosign verify --key` checks, given the signature manifest and a way to read its layers:
 * some layer's payload names `manifestDigest` and its signature verifies under `publicKey`.
 * Returns the number of valid signatures (0: not signed for that digest).
 */
export async function verifyCosign(
  publicKey: KeyObject,
  manifestDigest: string,
  signatureManifest: Buffer,
  readBlob: (digest: string) => Promise<Buffer>,
): Promise<number> {
  const doc = JSON.parse(signatureManifest.toString('utf8')) as {
    layers: { mediaType: string; digest: string; annotations?: Record<string, string> }[];
  };
  let valid = 0;
  for (const layer of doc.layers) {
    const sig = layer.annotations?.[SIGNATURE_ANNOTATION];
    if (layer.mediaType !== SIMPLESIGNING || sig === undefined) continue;
    const payload = await readBlob(layer.digest);
    if (blob(payload, SIMPLESIGNING).digest !== layer.digest) continue;
    const claims = JSON.parse(payload.toString('utf8')) as {
      critical?: { image?: { 'docker-manifest-digest'?: string } };
    };
    if (claims.critical?.image?.['docker-manifest-digest'] !== manifestDigest) continue;
    if (verify('sha256', payload, publicKey, Buffer.from(sig, 'base64'))) valid += 1;
  }
  return valid;
}
