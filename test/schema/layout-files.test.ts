import { describe, expect, it } from 'vitest';
import {
  IMAGE_LAYOUT_VERSION,
  IndexFileSchema,
  OciLayoutSchema,
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
