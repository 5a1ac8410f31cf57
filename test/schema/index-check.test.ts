// index-check.ts: the hand check of index.json must never accept what IndexFileSchema refuses, and
// must accept the indexes we and our peers write (else every commit pays for zod again). A refusal
// is zod's E_SCHEMA, issues and all.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkIndexFile, isIndexFile } from '../../src/schema/index-check.js';
import { IndexFileSchema } from '../../src/schema/layout-files.js';

const D1 = `sha256:${'a'.repeat(64)}`;

function descriptor(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D1, size: 7, ...extra };
}

function index(manifests: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { schemaVersion: 2, manifests, ...extra };
}

/** Values a field may hold, right and wrong: what JSON can carry, plus what code can build. */
const anyValue = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.constantFrom(
      undefined,
      null,
      0,
      -1,
      7,
      1.5,
      2 ** 53,
      Number.NaN,
      Infinity,
      '',
      'x',
      D1,
      'sha256:',
      'SHA256:abc',
      true,
      [],
      ['a'],
      ['a', 1],
      {},
      { a: 'b' },
      { a: 1 },
      { architecture: 'amd64', os: 'linux' },
      { architecture: 'amd64' },
      { architecture: 'amd64', os: 'linux', features: ['x', 2] },
      Object.create(null) as object,
      JSON.parse('{"__proto__": "x"}') as object,
      JSON.parse('{"__proto__": 1}') as object,
      { [Symbol('s')]: 'x' },
      new Date(0),
    ),
  },
  fc.string(),
  fc.integer(),
);

const FIELDS = [
  'mediaType',
  'digest',
  'size',
  'urls',
  'annotations',
  'data',
  'platform',
  'artifactType',
  'extra',
] as const;
const TOP = ['schemaVersion', 'mediaType', 'artifactType', 'manifests', 'subject', 'annotations'];

/** A valid index, then some fields of it or of its descriptors set to anything. */
const mutatedIndex = fc
  .record({
    n: fc.integer({ min: 0, max: 3 }),
    edits: fc.array(
      fc.record({
        where: fc.integer({ min: -1, max: 3 }), // -1 (or no descriptors): the index itself
        field: fc.constantFrom(...FIELDS, ...TOP),
        value: anyValue,
      }),
      { maxLength: 4 },
    ),
  })
  .map(({ n, edits }) => {
    const manifests = Array.from({ length: n }, () => descriptor());
    const doc = index(manifests);
    for (const e of edits) {
      const target = e.where === -1 || n === 0 ? doc : manifests[e.where % n]!;
      target[e.field] = e.value;
    }
    return doc;
  });

describe('isIndexFile', () => {
  it('accepts nothing IndexFileSchema refuses', () => {
    fc.assert(
      fc.property(mutatedIndex, (doc) => {
        if (isIndexFile(doc)) expect(IndexFileSchema.safeParse(doc).success).toBe(true);
      }),
      { numRuns: 6000 },
    );
  });

  it('accepts what writers write: every optional field, and unknown ones', () => {
    const full = descriptor({
      urls: ['https://example.com/b'],
      annotations: { 'org.opencontainers.image.ref.name': 'v1' },
      data: 'e30=',
      platform: {
        architecture: 'arm64',
        os: 'linux',
        'os.version': '1',
        'os.features': ['a'],
        variant: 'v8',
        features: ['b'],
        x: 1,
      },
      artifactType: 'application/x',
      'org.example.extra': { any: [1, null] },
    });
    for (const doc of [
      index([]),
      index([descriptor(), full]),
      index([full], {
        mediaType: 'application/vnd.oci.image.index.v1+json',
        artifactType: 'application/x',
        subject: descriptor(),
        annotations: {},
        'org.olareg.history': { v1: [] },
      }),
      JSON.parse(JSON.stringify(index([full]))) as unknown,
      index([descriptor({ annotations: Object.create(null) as object })]),
    ]) {
      expect(IndexFileSchema.safeParse(doc).success).toBe(true);
      expect(isIndexFile(doc)).toBe(true);
    }
  });
});

describe('checkIndexFile', () => {
  it('refuses with zod’s E_SCHEMA, naming the file and the first issues', () => {
    const doc = index([descriptor({ size: -1 }), descriptor({ digest: 'nope' })]);
    const r = IndexFileSchema.safeParse(doc);
    expect(r.success).toBe(false);
    expect(() => checkIndexFile(doc, '/x/index.json')).toThrow(
      expect.objectContaining({
        code: 'E_SCHEMA',
        message: expect.stringMatching(
          /^\/x\/index\.json does not match the schema: manifests\.0\.size: .*; manifests\.1\.digest: not a digest/,
        ) as unknown,
      }),
    );
  });

  it('lets zod decide what the hand check leaves to it', () => {
    // A `__proto__` annotation key: zod skips it, the hand check does not judge it.
    const doc = index([descriptor({ annotations: JSON.parse('{"__proto__": 1}') as object })]);
    expect(isIndexFile(doc)).toBe(false);
    expect(() => checkIndexFile(doc, 'index.json')).not.toThrow();
  });
});
