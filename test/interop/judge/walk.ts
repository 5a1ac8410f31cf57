// The judge's own reader of a layout, written from the specs and independent of src/ (it must not
// share a bug with what it judges): structure, every descriptor reachable from index.json present
// with its declared size and media type, stray files, and the referrers found in each convention
// a peer writes. Blob contents are not hashed here; the judge runs sha256sum on them.
//   fallback   an index.json entry tagged <alg>-<hex> (distribution-spec fallback tag)
//   annotation an index.json entry marked org.opencontainers.image.referrer.subject (image-spec PR #1171)
//   olareg     the same with org.olareg.referrer.subject
//   manifest   the referrer manifest itself listed in index.json (oras; containerd adds its own key)
//   nested     a referrer reachable only inside another index (an image index, say)
//   blob-only  a referrer manifest in blobs/ that nothing reachable lists (any gc loses it)
import { existsSync, lstatSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
} as const;
export const REF_NAME = 'org.opencontainers.image.ref.name';
/** Subject keys on index.json entries, and the convention each one names. */
const SUBJECT_KEYS: Record<string, 'annotation' | 'olareg' | 'containerd'> = {
  'org.opencontainers.image.referrer.subject': 'annotation',
  'org.olareg.referrer.subject': 'olareg',
  'io.containerd.manifest.subject': 'containerd',
};
const DIGEST = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;
const HEX_LENGTH: Record<string, number> = { sha256: 64, sha512: 128 };
const FALLBACK_TAG = /^(sha256|sha512)-([0-9a-f]{64,128})$/;
/** A blob-only referrer is looked for in blobs up to this size (manifests are small). */
const MAX_SCANNED_MANIFEST = 4 * 1024 * 1024;

export const isIndexType = (m: unknown): boolean => m === MEDIA.ociIndex || m === MEDIA.dockerList;
export const isManifestType = (m: unknown): boolean =>
  m === MEDIA.ociManifest || m === MEDIA.dockerManifest;
export const isFallbackTag = (tag: string): boolean => FALLBACK_TAG.test(tag);

export type Via = 'fallback' | 'annotation' | 'olareg' | 'manifest' | 'nested' | 'blob-only';
export interface FoundReferrer {
  digest: string;
  artifactType: string | null;
  via: Via[];
}
export interface WalkEntry {
  mediaType: unknown;
  digest: unknown;
  size: unknown;
  tag: string | null;
}
export interface WalkReport {
  /** Spec violations: the layout is broken for a reader. */
  errors: string[];
  /** Legal but worth saying (ingest/ leftovers, dangling subject, Docker media types). */
  warnings: string[];
  /** ref.name -> every digest carrying it (more than one distinct digest is an error). */
  tags: Record<string, string[]>;
  entries: WalkEntry[];
  reachable: number;
  blobs: number;
  unreachable: string[];
  /** subject digest -> its referrers, with every convention that lists each one. */
  referrers: Record<string, FoundReferrer[]>;
  /** Malformed referrers bookkeeping (wrong subject, artifactType not pulled up, …). */
  referrerIssues: string[];
  /** Reachable manifests whose config is not an image config. */
  artifacts: string[];
  /** Reachable documents with Docker media types. */
  dockerMediaTypes: string[];
}

interface Descriptor {
  mediaType?: unknown;
  digest?: unknown;
  size?: unknown;
  urls?: unknown;
  artifactType?: unknown;
  annotations?: Record<string, string>;
}
interface Doc {
  schemaVersion?: unknown;
  mediaType?: unknown;
  manifests?: unknown;
  config?: Descriptor;
  layers?: unknown;
  subject?: Descriptor;
  artifactType?: unknown;
  annotations?: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function walkLayout(dir: string): WalkReport {
  const r: WalkReport = {
    errors: [],
    warnings: [],
    tags: {},
    entries: [],
    reachable: 0,
    blobs: 0,
    unreachable: [],
    referrers: {},
    referrerIssues: [],
    artifacts: [],
    dockerMediaTypes: [],
  };
  const blobFile = (digest: unknown): string | undefined => {
    const m = typeof digest === 'string' ? DIGEST.exec(digest) : null;
    return m ? join(dir, 'blobs', m[1]!, m[2]!) : undefined;
  };
  const readJson = (file: string, what: string): unknown => {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as unknown;
    } catch (e) {
      r.errors.push(`${what}: ${(e as Error).message}`);
      return undefined;
    }
  };

  // Structure.
  if (!existsSync(join(dir, 'oci-layout'))) r.errors.push('oci-layout file missing');
  else {
    const marker = readJson(join(dir, 'oci-layout'), 'oci-layout');
    if (marker !== undefined && (!isObject(marker) || marker['imageLayoutVersion'] !== '1.0.0')) {
      r.errors.push(`oci-layout is ${JSON.stringify(marker)} (want imageLayoutVersion "1.0.0")`);
    }
  }
  const blobsDir = join(dir, 'blobs');
  const haveBlobs = existsSync(blobsDir) && statSync(blobsDir).isDirectory();
  if (!haveBlobs) r.errors.push('blobs/ directory missing');
  if (!existsSync(join(dir, 'index.json'))) {
    r.errors.push('index.json missing');
    return r;
  }
  const index = readJson(join(dir, 'index.json'), 'index.json');
  if (index === undefined) return r;
  if (!isObject(index)) {
    r.errors.push('index.json is not a JSON object');
    return r;
  }
  if (index['schemaVersion'] !== 2)
    r.errors.push(`index.json schemaVersion ${String(index['schemaVersion'])} (want 2)`);
  if (index['mediaType'] !== undefined && index['mediaType'] !== MEDIA.ociIndex) {
    r.errors.push(`index.json mediaType ${JSON.stringify(index['mediaType'])}`);
  }
  const entries = index['manifests'];
  if (!Array.isArray(entries)) {
    r.errors.push('index.json manifests is not an array');
    return r;
  }

  // Every file under blobs/: regular, named by a digest of its algorithm (temp files belong elsewhere).
  const present = new Map<string, number>();
  for (const alg of haveBlobs ? readdirSync(blobsDir) : []) {
    const algDir = join(blobsDir, alg);
    if (!statSync(algDir).isDirectory()) {
      r.warnings.push(`stray file blobs/${alg}`);
      continue;
    }
    for (const name of readdirSync(algDir)) {
      const st = lstatSync(join(algDir, name));
      if (!st.isFile()) {
        r.errors.push(`blobs/${alg}/${name} is not a regular file`);
        continue;
      }
      const want = HEX_LENGTH[alg];
      if (want !== undefined && !new RegExp(`^[0-9a-f]{${want}}$`).test(name)) {
        r.errors.push(
          `stray file blobs/${alg}/${name} (not a ${alg} digest: a temp file left behind?)`,
        );
        continue;
      }
      present.set(`${alg}:${name}`, st.size);
    }
  }
  r.blobs = present.size;
  const ingest = join(dir, 'ingest');
  if (existsSync(ingest) && readdirSync(ingest).length > 0) {
    r.warnings.push(`ingest/ is not empty (${readdirSync(ingest).length} entries)`);
  }

  // Reachability from index.json.
  const reached = new Set<string>();
  const docs = new Map<string, Doc>();
  const present_ = (d: unknown, where: string): d is Descriptor & { digest: string } => {
    if (!isObject(d)) {
      r.errors.push(`${where}: descriptor is not an object`);
      return false;
    }
    if (typeof d['mediaType'] !== 'string' || d['mediaType'] === '') {
      r.errors.push(`${where}: descriptor without mediaType`);
    }
    const digest = d['digest'];
    if (typeof digest !== 'string' || !DIGEST.test(digest)) {
      r.errors.push(`${where}: bad digest ${JSON.stringify(digest)}`);
      return false;
    }
    const size = d['size'];
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 0) {
      r.errors.push(`${where}: bad size ${JSON.stringify(size)}`);
    }
    if (!present.has(digest)) {
      if (Array.isArray(d['urls']) && d['urls'].length > 0) {
        r.warnings.push(`${where}: ${digest} absent (foreign layer with urls)`);
      } else r.errors.push(`${where}: blob ${digest} missing`);
      return false;
    }
    if (present.get(digest) !== size) {
      r.errors.push(
        `${where}: ${digest} is ${present.get(digest)} bytes, descriptor says ${JSON.stringify(size)}`,
      );
    }
    return true;
  };
  const visit = (d: unknown, where: string, depth: number): void => {
    if (!present_(d, where)) return;
    const seen = reached.has(d.digest);
    reached.add(d.digest);
    if (!isIndexType(d.mediaType) && !isManifestType(d.mediaType)) return;
    if (seen && docs.has(d.digest)) return;
    if (depth > 8) {
      r.errors.push(`${where}: nested too deep`);
      return;
    }
    const doc = readJson(blobFile(d.digest)!, `${where} ${d.digest}`);
    if (!isObject(doc)) {
      if (doc !== undefined) r.errors.push(`${where} ${d.digest}: not a JSON object`);
      return;
    }
    const j = doc as Doc;
    docs.set(d.digest, j);
    if (j.mediaType !== undefined && j.mediaType !== d.mediaType) {
      r.errors.push(
        `${where}: descriptor mediaType ${String(d.mediaType)}, content says ${JSON.stringify(j.mediaType)}`,
      );
    }
    if (j.schemaVersion !== 2)
      r.errors.push(`${where} ${d.digest}: schemaVersion ${String(j.schemaVersion)}`);
    if (isIndexType(d.mediaType)) {
      if (!Array.isArray(j.manifests)) r.errors.push(`${where}: index without manifests[]`);
      else j.manifests.forEach((c, i) => visit(c, `${where}>manifests[${i}]`, depth + 1));
      return;
    }
    const configType = j.config?.mediaType;
    if (
      configType !== MEDIA.ociConfig &&
      configType !== MEDIA.dockerConfig &&
      !r.artifacts.includes(d.digest)
    ) {
      r.artifacts.push(d.digest);
    }
    if (
      (d.mediaType === MEDIA.dockerManifest || d.mediaType === MEDIA.dockerList) &&
      !r.dockerMediaTypes.includes(d.digest)
    ) {
      r.dockerMediaTypes.push(d.digest);
    }
    if (j.config === undefined) r.errors.push(`${where}: manifest without config`);
    else visit(j.config, `${where}>config`, depth + 1);
    if (!Array.isArray(j.layers)) r.errors.push(`${where}: manifest without layers[]`);
    else j.layers.forEach((l, i) => visit(l, `${where}>layers[${i}]`, depth + 1));
    if (j.subject !== undefined) {
      const s = j.subject.digest;
      if (typeof s !== 'string' || !DIGEST.test(s)) r.errors.push(`${where}: bad subject digest`);
      else if (!present.has(s))
        r.warnings.push(`${where}: subject ${s} is not in this layout (dangling referrer)`);
    }
  };
  entries.forEach((d: unknown, i) => {
    const e = isObject(d) ? (d as Descriptor) : {};
    const tag = e.annotations?.[REF_NAME];
    r.entries.push({ mediaType: e.mediaType, digest: e.digest, size: e.size, tag: tag ?? null });
    if (tag !== undefined && typeof e.digest === 'string') (r.tags[tag] ??= []).push(e.digest);
    visit(d, `index.json[${i}]${tag === undefined ? '' : `(${tag})`}`, 0);
  });
  for (const [tag, digests] of Object.entries(r.tags)) {
    const distinct = [...new Set(digests)];
    if (distinct.length > 1) r.errors.push(`tag ${tag} is ambiguous: ${distinct.join(', ')}`);
  }
  r.reachable = reached.size;
  r.unreachable = [...present.keys()].filter((d) => !reached.has(d));

  // Referrers, in every convention.
  const docOf = (digest: unknown): Doc | undefined => {
    if (typeof digest !== 'string') return undefined;
    const known = docs.get(digest);
    if (known !== undefined) return known;
    const file = blobFile(digest);
    if (file === undefined || !existsSync(file)) return undefined;
    try {
      const v = JSON.parse(readFileSync(file, 'utf8')) as unknown;
      return isObject(v) ? v : undefined;
    } catch {
      return undefined;
    }
  };
  const artifactTypeOf = (m: Doc): string | null =>
    (typeof m.artifactType === 'string' ? m.artifactType : undefined) ??
    (typeof m.config?.mediaType === 'string' ? m.config.mediaType : null);
  const add = (subject: string, digest: string, via: Via, artifactType: string | null): void => {
    const list = (r.referrers[subject] ??= []);
    let found = list.find((x) => x.digest === digest);
    if (found === undefined) {
      found = { digest, artifactType, via: [] };
      list.push(found);
    }
    if (!found.via.includes(via)) found.via.push(via);
  };
  // A referrers response (fallback tag or subject annotation): an OCI index whose descriptors carry
  // each manifest's artifactType (and annotations), as the referrers API returns them.
  const response = (e: Descriptor & { digest: string }, via: Via, subject: string): void => {
    const ix = docOf(e.digest);
    if (ix === undefined || !Array.isArray(ix.manifests)) {
      r.referrerIssues.push(`${via} entry ${e.digest}: not a readable index`);
      return;
    }
    if (e.mediaType !== MEDIA.ociIndex) {
      r.referrerIssues.push(
        `${via} entry ${e.digest}: mediaType ${String(e.mediaType)} (want ${MEDIA.ociIndex})`,
      );
    }
    for (const c of ix.manifests as Descriptor[]) {
      const m = docOf(c.digest);
      if (m === undefined || typeof c.digest !== 'string') {
        r.referrerIssues.push(`${via} ${e.digest}: child ${String(c.digest)} missing`);
        continue;
      }
      if (m.subject?.digest !== subject) {
        r.referrerIssues.push(
          `${via} ${e.digest}: child ${c.digest} has subject ${String(m.subject?.digest)} (want ${subject})`,
        );
      }
      const want = artifactTypeOf(m);
      if ((c.artifactType ?? null) !== want) {
        r.referrerIssues.push(
          `${via} ${e.digest}: descriptor of ${c.digest} has artifactType ${JSON.stringify(c.artifactType)}, the manifest ${JSON.stringify(want)} (a referrers list must pull it up)`,
        );
      }
      if (JSON.stringify(c.annotations ?? {}) !== JSON.stringify(m.annotations ?? {})) {
        r.warnings.push(
          `${via} ${e.digest}: descriptor annotations of ${c.digest} differ from the manifest's`,
        );
      }
      add(subject, c.digest, via, want);
    }
  };
  for (const d of entries as unknown[]) {
    if (!isObject(d) || typeof d['digest'] !== 'string') continue;
    const e = d as unknown as Descriptor & { digest: string };
    const a = e.annotations ?? {};
    const fallback = a[REF_NAME] === undefined ? null : FALLBACK_TAG.exec(a[REF_NAME]);
    if (fallback) response(e, 'fallback', `${fallback[1]}:${fallback[2]}`);
    for (const [key, via] of Object.entries(SUBJECT_KEYS)) {
      if (a[key] !== undefined && via !== 'containerd') response(e, via, a[key]);
    }
    if (isManifestType(e.mediaType)) {
      const m = docOf(e.digest);
      const s = m?.subject?.digest;
      if (m !== undefined && typeof s === 'string') {
        add(s, e.digest, 'manifest', artifactTypeOf(m));
        const containerd = a['io.containerd.manifest.subject'];
        if (containerd !== undefined && containerd !== s) {
          r.referrerIssues.push(`containerd annotation on ${e.digest} disagrees with its subject`);
        }
      }
    }
  }
  const listed = new Set(Object.values(r.referrers).flatMap((l) => l.map((x) => x.digest)));
  for (const digest of reached) {
    const m = docs.get(digest);
    const s = m?.subject?.digest;
    if (m !== undefined && typeof s === 'string' && !listed.has(digest)) {
      add(s, digest, 'nested', artifactTypeOf(m));
      listed.add(digest);
    }
  }
  for (const [digest, size] of present) {
    if (reached.has(digest) || size > MAX_SCANNED_MANIFEST) continue;
    const m = docOf(digest);
    const s = m?.subject?.digest;
    if (m !== undefined && m.schemaVersion === 2 && typeof s === 'string') {
      add(s, digest, 'blob-only', artifactTypeOf(m));
    }
  }
  return r;
}

/** Referrers some convention lists (blob-only ones are lost by any gc). */
export const listedReferrers = (r: WalkReport): FoundReferrer[] =>
  Object.values(r.referrers)
    .flat()
    .filter((x) => !(x.via.length === 1 && x.via[0] === 'blob-only'));
