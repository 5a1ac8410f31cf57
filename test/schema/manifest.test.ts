import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { digestOf } from '../../src/digest.js';
import { MAX_MANIFEST_BYTES, MediaType } from '../../src/media-types.js';
import { effectiveArtifactType, parseJson, parseManifest } from '../../src/schema/manifest.js';

const desc = (s: string, mediaType: string = MediaType.Layer) => ({
  mediaType,
  digest: digestOf(s),
  size: s.length,
});
const bytes = (doc: unknown): Buffer => Buffer.from(JSON.stringify(doc));
const manifest = {
  schemaVersion: 2,
  config: desc('c', MediaType.ImageConfig),
  layers: [desc('l')],
};
const index = { schemaVersion: 2, manifests: [desc('m', MediaType.ImageManifest)] };

describe('parseManifest', () => {
  it.each([
    [
      'its own mediaType',
      { ...manifest, mediaType: MediaType.ImageManifest },
      undefined,
      'manifest',
      MediaType.ImageManifest,
    ],
    [
      'the descriptor’s media type (umoci writes none)',
      manifest,
      MediaType.ImageManifest,
      'manifest',
      MediaType.ImageManifest,
    ],
    [
      'a Docker v2 manifest',
      { ...manifest, mediaType: MediaType.DockerManifest },
      undefined,
      'manifest',
      MediaType.DockerManifest,
    ],
    [
      'its shape when nothing says (manifest)',
      manifest,
      undefined,
      'manifest',
      MediaType.ImageManifest,
    ],
    ['its shape when nothing says (index)', index, undefined, 'index', MediaType.ImageIndex],
    [
      'a Docker manifest list',
      { ...index, mediaType: MediaType.DockerManifestList },
      undefined,
      'index',
      MediaType.DockerManifestList,
    ],
    [
      'an index hinted by its descriptor',
      index,
      MediaType.ImageIndex,
      'index',
      MediaType.ImageIndex,
    ],
  ] as const)('types a document by %s', (_name, doc, hint, kind, mediaType) => {
    expect(parseManifest(bytes(doc), 'm', hint)).toMatchObject({ kind, mediaType });
  });

  it('keeps unknown fields and accepts an artifact without layers (prose SHOULD, not MUST)', () => {
    const doc = { ...manifest, layers: [], 'vnd.extra': [1] };
    expect(parseManifest(bytes(doc), 'm').doc).toEqual(doc);
  });

  it.each([
    ['invalid JSON', Buffer.from('{'), 'E_INVALID_JSON'],
    ['UTF-8 garbage', Buffer.from([0xff, 0xfe, 0x7b]), 'E_INVALID_JSON'],
    ['a JSON array', bytes([manifest]), 'E_SCHEMA'],
    ['null', bytes(null), 'E_SCHEMA'],
    ['schema version 1', bytes({ ...manifest, schemaVersion: 1 }), 'E_SCHEMA'],
    ['a manifest without config', bytes({ schemaVersion: 2, layers: [] }), 'E_SCHEMA'],
    [
      'an index entry without digest',
      bytes({ schemaVersion: 2, manifests: [{ mediaType: 'a/b', size: 1 }] }),
      'E_SCHEMA',
    ],
    ['over 4 MiB', Buffer.alloc(MAX_MANIFEST_BYTES + 1, 0x20), 'E_TOO_LARGE'],
  ])('refuses %s (%s)', (_name, input, code) => {
    expect(() => parseManifest(input, 'manifest x')).toThrow(
      expect.objectContaining({ code, message: expect.stringContaining('manifest x') }),
    );
  });

  it('reads bytes from a subarray view correctly', () => {
    const whole = Buffer.concat([Buffer.from('garbage'), bytes(index), Buffer.from('tail')]);
    const view = whole.subarray(7, whole.length - 4);
    expect(parseManifest(view, 'm').kind).toBe('index');
  });
});

describe('effectiveArtifactType', () => {
  it('is the artifactType, else a manifest’s config media type, else nothing for an index', () => {
    expect(
      effectiveArtifactType(parseManifest(bytes({ ...manifest, artifactType: 'x/y' }), 'm')),
    ).toBe('x/y');
    expect(effectiveArtifactType(parseManifest(bytes(manifest), 'm'))).toBe(MediaType.ImageConfig);
    expect(effectiveArtifactType(parseManifest(bytes(index), 'm'))).toBeUndefined();
    expect(
      effectiveArtifactType(parseManifest(bytes({ ...index, artifactType: 'i/x' }), 'm')),
    ).toBe('i/x');
  });
});

describe('parseJson', () => {
  it('names the document in E_INVALID_JSON', () => {
    expect(() => parseJson('{', '/x/index.json')).toThrow(
      expect.objectContaining({ code: 'E_INVALID_JSON', details: { what: '/x/index.json' } }),
    );
  });

  it('quotes binary input printably and briefly, so a terminal shows the reason, not the bytes', () => {
    const garbage = Buffer.concat([
      Buffer.from('\x1b[2J\x00\x07'),
      randomBytes(4096),
      Buffer.from('\u202e\u2028'),
    ]).toString('utf8');
    for (const text of [garbage, '\x1b]0;title\x07', '\u202e{}', `{"a":\n${'\x01'.repeat(500)}`]) {
      const err = catchError(() => parseJson(text, 'blob sha256:ab'));
      expect(err).toMatchObject({ code: 'E_INVALID_JSON', details: { what: 'blob sha256:ab' } });
      expect(err.message).toMatch(/^blob sha256:ab is not valid JSON: \S/);
      expect(err.message).not.toMatch(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u);
      expect(err.message.length).toBeLessThan(240);
    }
    expect(catchError(() => parseJson('\x1b[31m', 'x')).message).toContain('\\x1b');
    expect(catchError(() => parseJson('\u202e{}', 'x')).message).toContain('\\u202e');
  });

  it('keeps a printable reason as V8 gave it', () => {
    const reason = catchError(() => JSON.parse('{"a": }') as unknown).message;
    expect(catchError(() => parseJson('{"a": }', 'f')).message).toBe(
      `f is not valid JSON: ${reason}`,
    );
  });
});

function catchError(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a throw');
}
