// docker-archive.ts: the zod schemas of `docker save`'s manifest.json and repositories, and the
// part of an image config archives read. Loose where writers add fields.
import { describe, expect, it } from 'vitest';
import { digestOf } from '../../src/digest.js';
import {
  DockerArchiveManifestSchema,
  DockerRepositoriesSchema,
  ImageConfigSchema,
} from '../../src/schema/docker-archive.js';

describe('DockerArchiveManifestSchema', () => {
  it('accepts docker and skopeo shapes, keeping extra fields (LayerSources, Parent)', () => {
    const doc = [
      { Config: 'c.json', RepoTags: ['a:1'], Layers: ['l/layer.tar'], LayerSources: {} },
      { Config: 'd.json', RepoTags: null, Layers: [], Parent: 'sha256:x' },
      { Config: 'e.json', Layers: [] },
    ];
    const r = DockerArchiveManifestSchema.parse(doc);
    expect(r).toEqual(doc);
  });

  it.each([
    ['not a list', { Config: 'c', Layers: [] }],
    ['no Config', [{ Layers: [] }]],
    ['an empty Config', [{ Config: '', Layers: [] }]],
    ['no Layers', [{ Config: 'c' }]],
    ['an empty layer name', [{ Config: 'c', Layers: [''] }]],
    ['RepoTags not strings', [{ Config: 'c', Layers: [], RepoTags: [1] }]],
  ])('refuses %s', (_name, doc) => {
    expect(DockerArchiveManifestSchema.safeParse(doc).success).toBe(false);
  });
});

describe('DockerRepositoriesSchema', () => {
  it('is name → tag → id', () => {
    expect(DockerRepositoriesSchema.safeParse({ app: { v1: 'abc' } }).success).toBe(true);
    expect(DockerRepositoriesSchema.safeParse({ app: { v1: 1 } }).success).toBe(false);
    expect(DockerRepositoriesSchema.safeParse({ app: 'v1' }).success).toBe(false);
  });
});

describe('ImageConfigSchema', () => {
  const diff = digestOf('layer');
  it('needs rootfs.diff_ids as digests; platform fields are optional', () => {
    const cfg = { rootfs: { type: 'layers', diff_ids: [diff] }, config: { Cmd: ['sh'] } };
    expect(ImageConfigSchema.parse(cfg)).toEqual(cfg);
    expect(
      ImageConfigSchema.parse({ ...cfg, os: 'linux', architecture: 'arm', variant: 'v7' }),
    ).toMatchObject({ os: 'linux', variant: 'v7' });
    for (const bad of [
      {},
      { rootfs: { type: 'layers' } },
      { rootfs: { type: 'layers', diff_ids: ['not-a-digest'] } },
      { rootfs: { diff_ids: [diff] } },
      { ...cfg, os: 7 },
    ]) {
      expect(ImageConfigSchema.safeParse(bad).success).toBe(false);
    }
  });
});
