import { describe, expect, it } from 'vitest';
import { isOcilayoutError } from '../../src/internal.js';
import { formatPlatform } from '../../src/layout/platform.js';
import { formatRegistryRef } from '../../src/registry/reference.js';
import { parseImageList, type ImageListEntry } from '../../src/transfer/image-list.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;

function show(entries: ImageListEntry[]): string[] {
  return entries.map((e) =>
    [formatRegistryRef(e.ref), ...e.platforms.map(formatPlatform)].join(' '),
  );
}

function failure(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (isOcilayoutError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected an error');
}

describe('plain text lists', () => {
  it('reads one reference per line, with comments, blank lines and docker hub short names', () => {
    const text = [
      '# release 1.2',
      '',
      'registry.example.com/app/api:1.2   # the api',
      '  docker://ghcr.io/org/worker@' + DIGEST,
      'alpine',
      'localhost:5000/tools:v1\r',
    ].join('\n');
    expect(show(parseImageList(text, 'images.txt'))).toEqual([
      'docker://registry.example.com/app/api:1.2',
      `docker://ghcr.io/org/worker@${DIGEST}`,
      'docker://docker.io/library/alpine:latest',
      'docker://localhost:5000/tools:v1',
    ]);
  });

  it('applies default platforms and drops exact duplicates', () => {
    const entries = parseImageList('a.io/x:1\na.io/x:1\n', 'l.txt', [
      { os: 'linux', architecture: 'arm64' },
    ]);
    expect(show(entries)).toEqual(['docker://a.io/x:1 linux/arm64']);
  });

  it('names the line of a malformed entry', () => {
    expect(failure(() => parseImageList('a.io/x:1\n\nA.io/Bad Name\n', 'l.txt'))).toMatchObject({
      code: 'E_USAGE',
      message: expect.stringContaining('l.txt:3'),
    });
    expect(failure(() => parseImageList('a.io/x:1\na.io/UPPER:1\n', 'l.txt'))).toMatchObject({
      code: 'E_INVALID_REFERENCE',
      message: expect.stringContaining('l.txt:2'),
    });
  });

  it('refuses a list with no images', () => {
    expect(failure(() => parseImageList('# nothing\n\n', 'l.txt')).code).toBe('E_USAGE');
  });
});

describe('YAML lists', () => {
  it('reads our shape: default platforms and per-image platforms', () => {
    const text = `
platforms: [linux/amd64]
images:
  - registry.example.com/app/api:1.2
  - name: ghcr.io/org/worker:v3
    platforms: [linux/arm64, linux/arm/v7]
  - name: "ghcr.io/org/db@${DIGEST}"
`;
    expect(show(parseImageList(text, 'images.yaml'))).toEqual([
      'docker://registry.example.com/app/api:1.2 linux/amd64',
      'docker://ghcr.io/org/worker:v3 linux/arm64 linux/arm/v7',
      `docker://ghcr.io/org/db@${DIGEST} linux/amd64`,
    ]);
  });

  it("reads skopeo sync's and mindthegap's registry-keyed shape; no tags means every tag", () => {
    const text = `
docker.io:
  images:
    library/nginx: ["1.25", 1.10]
    library/redis:
    library/busybox: []
quay.io:
  images:
    org/app:
      - v1
      - "${DIGEST}"
`;
    expect(show(parseImageList(text, 'images.yml'))).toEqual([
      'docker://docker.io/library/nginx:1.25',
      'docker://docker.io/library/nginx:1.10',
      'docker://docker.io/library/redis',
      'docker://docker.io/library/busybox',
      'docker://quay.io/org/app:v1',
      `docker://quay.io/org/app@${DIGEST}`,
    ]);
  });

  it('refuses keys it does not read instead of ignoring them', () => {
    const regex = 'docker.io:\n  images-by-tag-regex:\n    library/nginx: ^1\\.2\n';
    expect(failure(() => parseImageList(regex, 'l.yaml'))).toMatchObject({
      code: 'E_USAGE',
      message: expect.stringContaining('images-by-tag-regex'),
    });
    const typo = 'images:\n  - name: a.io/x:1\n    platform: linux/amd64\n';
    expect(failure(() => parseImageList(typo, 'l.yaml')).message).toContain('"platform"');
  });

  it('reports invalid YAML and bad platforms with where they are', () => {
    expect(failure(() => parseImageList('images: [a.io/x:1\n', 'l.yaml'))).toMatchObject({
      code: 'E_USAGE',
      message: expect.stringMatching(/^l\.yaml:\d+: not valid YAML/),
    });
    const p = 'images:\n  - name: a.io/x:1\n    platforms: [linux]\n';
    expect(failure(() => parseImageList(p, 'l.yaml')).message).toContain('images[0].platforms');
  });
});
