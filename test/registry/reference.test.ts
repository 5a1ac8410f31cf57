import { describe, expect, it } from 'vitest';
import {
  apiHost,
  formatRegistryRef,
  isRegistryRef,
  parseRegistryHost,
  parseRegistryRef,
} from '../../src/registry/reference.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseRegistryRef', () => {
  it('splits host:port, repository and tag', () => {
    expect(parseRegistryRef('docker://127.0.0.1:5000/team/app:v1.2')).toEqual({
      registry: '127.0.0.1:5000',
      repository: 'team/app',
      tag: 'v1.2',
    });
  });

  it('takes a digest reference', () => {
    expect(parseRegistryRef(`docker://ghcr.io/org/img@${D}`)).toEqual({
      registry: 'ghcr.io',
      repository: 'org/img',
      digest: D,
    });
  });

  it('defaults to the latest tag like skopeo', () => {
    expect(parseRegistryRef('docker://localhost:5000/app').tag).toBe('latest');
  });

  it('treats a first component without . or : as a Docker Hub path, adding library/', () => {
    expect(parseRegistryRef('docker://alpine:3')).toEqual({
      registry: 'docker.io',
      repository: 'library/alpine',
      tag: '3',
    });
    expect(parseRegistryRef('docker://bitnami/redis').repository).toBe('bitnami/redis');
    expect(parseRegistryRef('docker://index.docker.io/nginx').repository).toBe('library/nginx');
    expect(apiHost('docker.io')).toBe('registry-1.docker.io');
  });

  it('accepts localhost and bracketed IPv6 hosts', () => {
    expect(parseRegistryRef('docker://localhost/app:x').registry).toBe('localhost');
    expect(parseRegistryRef('docker://[::1]:5000/app:x')).toMatchObject({
      registry: '[::1]:5000',
      repository: 'app',
      tag: 'x',
    });
  });

  it.each([
    ['docker://127.0.0.1:5000/App:v1', 'E_INVALID_REFERENCE'], // uppercase repository
    ['docker://127.0.0.1:5000/a//b', 'E_INVALID_REFERENCE'],
    ['docker://127.0.0.1:5000/', 'E_INVALID_REFERENCE'],
    ['docker://127.0.0.1:5000/a:-bad', 'E_INVALID_TAG'],
    ['docker://127.0.0.1:5000/a@sha256:xyz', 'E_INVALID_DIGEST'],
    [`docker://127.0.0.1:5000/a:v1@${D}`, 'E_INVALID_REFERENCE'],
    ['docker://bad_host.example:5000/a', 'E_INVALID_REFERENCE'],
    ['oci:./dir', 'E_INVALID_REFERENCE'],
    [`docker://h.io/${'a'.repeat(260)}`, 'E_INVALID_REFERENCE'],
  ])('refuses %s with %s', (input, code) => {
    expect(() => parseRegistryRef(input)).toThrow(expect.objectContaining({ code }));
  });

  it.each(['docker://127.0.0.1:5000', 'docker://localhost:5000/', 'docker://reg.example'])(
    'refuses %s: a registry without repository (not library/HOST tagged PORT)',
    (input) => {
      expect(() => parseRegistryRef(input)).toThrow(
        expect.objectContaining({
          code: 'E_INVALID_REFERENCE',
          message: expect.stringContaining('no repository') as unknown,
        }),
      );
    },
  );

  it('round-trips through formatRegistryRef', () => {
    for (const s of ['docker://h.io:443/a/b:t', `docker://h.io/a@${D}`]) {
      expect(formatRegistryRef(parseRegistryRef(s))).toBe(s);
    }
  });

  it('recognises only the docker:// prefix as a registry', () => {
    expect(isRegistryRef('docker://x.io/a')).toBe(true);
    expect(isRegistryRef('./docker:/a')).toBe(false);
  });
});

describe('parseRegistryHost', () => {
  it.each([
    ['docker://127.0.0.1:5000', '127.0.0.1:5000'],
    ['docker://localhost:5000/', 'localhost:5000'],
    ['docker://localhost', 'localhost'],
    ['docker://reg.example', 'reg.example'],
    ['docker://[::1]:5000', '[::1]:5000'],
    ['docker://index.docker.io', 'docker.io'],
  ])('reads %s as registry %s', (input, host) => {
    expect(parseRegistryHost(input)).toBe(host);
  });

  it.each([
    'docker://alpine', // Docker Hub's library/alpine
    'docker://alpine:3', // an image and its tag, as docker reads it
    'docker://reg.example/app',
    `docker://reg.example@sha256:${'a'.repeat(64)}`,
    'docker://',
    'reg.example',
  ])('leaves %s to the reference parser', (input) => {
    expect(parseRegistryHost(input)).toBeUndefined();
  });
});
