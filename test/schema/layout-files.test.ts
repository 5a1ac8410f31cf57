import { describe, expect, it } from 'vitest';
import {
  IMAGE_LAYOUT_VERSION,
  IndexFileSchema,
  OciLayoutSchema,
  imageLayoutVersionOf,
} from '../../src/schema/layout-files.js';

describe('OciLayoutSchema', () => {
  it('requires imageLayoutVersion and allows more fields', () => {
    expect(IMAGE_LAYOUT_VERSION).toBe('1.0.0');
    expect(OciLayoutSchema.parse({ imageLayoutVersion: '1.0.0', x: 1 })).toEqual({
      imageLayoutVersion: '1.0.0',
      x: 1,
    });
    expect(OciLayoutSchema.safeParse({}).success).toBe(false);
    expect(OciLayoutSchema.safeParse({ imageLayoutVersion: 1 }).success).toBe(false);
  });
});

describe('imageLayoutVersionOf', () => {
  const zodSays = (v: unknown): string | undefined => {
    const r = OciLayoutSchema.safeParse(v);
    return r.success ? r.data.imageLayoutVersion : undefined;
  };

  it('answers as OciLayoutSchema does', () => {
    class Header {
      imageLayoutVersion = '1.0.0';
    }
    const inputs: unknown[] = [
      { imageLayoutVersion: '1.0.0' },
      { imageLayoutVersion: '1.0.0', x: 1 },
      { imageLayoutVersion: '' },
      { imageLayoutVersion: 1 },
      { imageLayoutVersion: null },
      {},
      [],
      ['1.0.0'],
      null,
      '1.0.0',
      1,
      Object.assign(Object.create(null) as object, { imageLayoutVersion: '2.0.0' }),
      new Header(),
      JSON.parse('{"__proto__": {"imageLayoutVersion": "1.0.0"}}'),
      JSON.parse('{"__proto__": 1, "imageLayoutVersion": "1.0.0"}'),
    ];
    for (const v of inputs) expect(imageLayoutVersionOf(v)).toBe(zodSays(v));
  });
});

describe('IndexFileSchema', () => {
  it('accepts skopeo’s index (no top-level mediaType) and keeps olareg’s extra fields', () => {
    const doc = {
      schemaVersion: 2,
      manifests: [],
      annotations: { 'org.olareg.referrer.convert': 'true' },
      'org.olareg.history': { v1: [] },
    };
    expect(IndexFileSchema.parse(doc)).toEqual(doc);
  });

  it('requires schemaVersion 2 and a manifests array', () => {
    expect(IndexFileSchema.safeParse({ schemaVersion: 2 }).success).toBe(false);
    expect(IndexFileSchema.safeParse({ schemaVersion: 1, manifests: [] }).success).toBe(false);
    expect(IndexFileSchema.safeParse({ schemaVersion: 2, manifests: null }).success).toBe(false);
  });
});
