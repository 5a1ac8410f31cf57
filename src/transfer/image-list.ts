// The image list `sync` collects: plain text (one reference per line) or YAML (per-image platforms,
// and the registry-keyed shape skopeo sync and mindthegap read, so an existing list works as it is).
// Parsed completely before anything is fetched: a typo on line 40 is reported before 39 images are
// copied. Decisions: spec-notes/sync.md.
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { UsageError } from '../errors.js';
import { formatPlatform, parsePlatform, type PlatformSpec } from '../layout/platform.js';
import {
  formatRegistryRef,
  isRegistryRef,
  parseRegistryRef,
  REGISTRY_PREFIX,
  type RegistryRef,
} from '../registry/reference.js';

export interface ImageListEntry {
  /** The image: a tag or a digest; neither means every tag of the repository. */
  ref: RegistryRef;
  /** Platforms to keep of an index; none: all. */
  platforms: PlatformSpec[];
  /** Where the entry was written (`images.txt:3`, `images.yaml: images[2]`), for messages. */
  origin: string;
}

/** YAML when the name says so (as mindthegap and skopeo decide), plain text otherwise. */
export function isYamlList(name: string): boolean {
  return /\.ya?ml$/i.test(name);
}

/**
 * Parse an image list. `name` is used for messages and to choose the format; `platforms` apply to
 * entries that name none. Duplicates (same reference and platforms) are dropped, keeping the first.
 * Throws E_USAGE naming the line or entry at fault, E_INVALID_REFERENCE / E_INVALID_TAG /
 * E_INVALID_DIGEST for a malformed reference.
 */
export function parseImageList(
  text: string,
  name: string,
  platforms: readonly PlatformSpec[] = [],
): ImageListEntry[] {
  const entries = isYamlList(name) ? parseYamlList(text, name) : parseTextList(text, name);
  const seen = new Set<string>();
  const out: ImageListEntry[] = [];
  for (const e of entries) {
    if (e.platforms.length === 0) e.platforms = [...platforms];
    const key = `${formatRegistryRef(e.ref)} ${e.platforms.map(formatPlatform).sort().join(',')}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(e);
  }
  if (out.length === 0) {
    throw new UsageError('E_USAGE', `${name} lists no images`, { list: name });
  }
  return out;
}

function bad(origin: string, why: string, hint?: string, cause?: unknown): UsageError {
  return new UsageError('E_USAGE', `${origin}: ${why}`, { origin }, { hint, cause });
}

/** An entry's reference, with or without `docker://`; a parse error names where it was written. */
function imageRef(input: string, origin: string, defaultTag: string | false = 'latest') {
  const full = isRegistryRef(input) ? input : `${REGISTRY_PREFIX}${input}`;
  try {
    return parseRegistryRef(full, { defaultTag });
  } catch (err) {
    if (err instanceof UsageError) {
      throw new UsageError(err.code, `${origin}: ${err.message}`, err.details, {
        cause: err,
        ...(err.hint === undefined ? {} : { hint: err.hint }),
      });
    }
    throw err;
  }
}

function parseTextList(text: string, name: string): ImageListEntry[] {
  const out: ImageListEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const origin = `${name}:${i + 1}`;
    // `#` starts a comment at the start of a line or after blanks; a digest never contains one.
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (line === '') return;
    if (/\s/.test(line)) {
      throw bad(
        origin,
        `expected one image reference, found ${JSON.stringify(line)}`,
        'write one REGISTRY/REPO:TAG or REGISTRY/REPO@DIGEST per line; per-image platforms need the YAML form',
      );
    }
    out.push({ ref: imageRef(line, origin), platforms: [], origin });
  });
  return out;
}

function parseYamlList(text: string, name: string): ImageListEntry[] {
  let doc: unknown;
  try {
    // Every scalar a string: YAML 1.2's core schema would read the tag `1.10` as the number 1.1.
    doc = parseYaml(text, { uniqueKeys: true, schema: 'failsafe' });
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const where = err.linePos?.[0] ? `${name}:${err.linePos[0].line}` : name;
      throw new UsageError(
        'E_USAGE',
        `${where}: not valid YAML: ${err.message.split('\n')[0]}`,
        {
          list: name,
        },
        { cause: err },
      );
    }
    throw err;
  }
  if (doc === null || doc === undefined || doc === '') return [];
  if (!isRecord(doc)) throw bad(name, 'expected a mapping with an `images` list');
  if ('images' in doc) return ourShape(doc, name);
  return registryKeyedShape(doc, name);
}

/**
 * Ours: `platforms: [...]` (default for every image) and `images:`, a list of references or of
 * `{name, platforms}`.
 */
function ourShape(doc: Record<string, unknown>, name: string): ImageListEntry[] {
  unknownKeys(doc, ['images', 'platforms'], name);
  const defaults = platformList(doc['platforms'], `${name}: platforms`);
  const images = doc['images'];
  if (!Array.isArray(images)) throw bad(`${name}: images`, 'expected a list');
  return images.map((item: unknown, i) => {
    const origin = `${name}: images[${i}]`;
    if (typeof item === 'string')
      return { ref: imageRef(item, origin), platforms: defaults, origin };
    if (!isRecord(item) || typeof item['name'] !== 'string') {
      throw bad(origin, 'expected a reference or a mapping with `name` (and `platforms`)');
    }
    unknownKeys(item, ['name', 'platforms'], origin);
    const own = platformList(item['platforms'], `${origin}.platforms`);
    return { ref: imageRef(item['name'], origin), platforms: own.length ? own : defaults, origin };
  });
}

/**
 * skopeo sync's and mindthegap's shape: `HOST: {images: {REPO: [TAG, ...]}}`; skopeo reads an empty
 * tag list as every tag of the repository, and so do we. Their other keys (regex and semver tag
 * filters, credentials, TLS settings) are refused by name rather than ignored: a list that silently
 * copies something else than it says would be worse than one that stops.
 */
function registryKeyedShape(doc: Record<string, unknown>, name: string): ImageListEntry[] {
  const out: ImageListEntry[] = [];
  for (const [host, spec] of Object.entries(doc)) {
    const at = `${name}: ${host}`;
    if (!isRecord(spec)) throw bad(at, 'expected a mapping with `images`');
    unknownKeys(spec, ['images'], at, 'only `images` with explicit tags or digests is read');
    const repos = spec['images'];
    if (!isRecord(repos)) throw bad(`${at}.images`, 'expected a mapping of repository to tags');
    for (const [repo, tags] of Object.entries(repos)) {
      const origin = `${at}.images.${repo}`;
      const list = tags === null || tags === '' ? [] : tags;
      if (!Array.isArray(list) || !list.every((t) => typeof t === 'string')) {
        throw bad(origin, 'expected a list of tags or digests');
      }
      if (list.length === 0) {
        out.push({ ref: imageRef(`${host}/${repo}`, origin, false), platforms: [], origin });
      }
      for (const t of list) {
        const sep = t.includes(':') ? '@' : ':';
        out.push({ ref: imageRef(`${host}/${repo}${sep}${t}`, origin), platforms: [], origin });
      }
    }
  }
  return out;
}

function platformList(value: unknown, origin: string): PlatformSpec[] {
  if (value === undefined || value === null || value === '') return [];
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || !list.every((p) => typeof p === 'string')) {
    throw bad(origin, 'expected OS/ARCH[/VARIANT] or a list of them');
  }
  return list.map((p) => {
    try {
      return parsePlatform(p);
    } catch (err) {
      throw bad(origin, (err as Error).message, undefined, err);
    }
  });
}

function unknownKeys(
  obj: Record<string, unknown>,
  known: readonly string[],
  origin: string,
  hint?: string,
): void {
  const extra = Object.keys(obj).filter((k) => !known.includes(k));
  if (extra.length > 0) {
    throw bad(
      origin,
      `unknown key${extra.length > 1 ? 's' : ''} ${extra.map((k) => JSON.stringify(k)).join(', ')}`,
      hint ?? `known keys: ${known.join(', ')}`,
    );
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
