import { describe, expect, it } from 'vitest';
import { Annotation, MediaType } from '../../src/media-types.js';
import type { Descriptor } from '../../src/schema/descriptor.js';
import {
  assertWritableName,
  carriesDigestName,
  digestName,
  entryFullNames,
  entryName,
  exportName,
  exportRepoTag,
  isBareName,
  isDigestName,
  isFullImageName,
  isListedName,
  isWritableName,
  nameAnnotations,
  nameMatch,
  normalizeImageName,
  registryHostOf,
  splitImageName,
  tagOfName,
} from '../../src/layout/names.js';

const D = `sha256:${'a'.repeat(64)}`;
const entry = (annotations?: Record<string, string>): Descriptor => ({
  mediaType: MediaType.ImageManifest,
  digest: D,
  size: 1,
  ...(annotations === undefined ? {} : { annotations }),
});

describe('entryName: the name an entry carries, from both annotations', () => {
  it.each([
    ['oras/regctl bare tag', { [Annotation.RefName]: 'v1' }, 'v1'],
    [
      'podman/skopeo full ref.name',
      { [Annotation.RefName]: 'docker.io/library/a:1' },
      'docker.io/library/a:1',
    ],
    [
      'containerd/docker 25: bare ref.name, full containerd name',
      {
        [Annotation.RefName]: 'latest',
        [Annotation.ContainerdImageName]: 'docker.io/library/a:latest',
      },
      'docker.io/library/a:latest',
    ],
    ['BuildKit: containerd name only', { [Annotation.ContainerdImageName]: 'x/y:2' }, 'x/y:2'],
    ['empty annotations', { [Annotation.RefName]: '' }, undefined],
  ])('%s', (_n, annotations, expected) => {
    expect(entryName(entry(annotations))).toBe(expected);
  });

  it('is undefined for an untagged entry', () => {
    expect(entryName(entry())).toBeUndefined();
  });

  it('lists every full name an entry answers to, once', () => {
    const both = { [Annotation.RefName]: 'r/a:1', [Annotation.ContainerdImageName]: 'c/a:1' };
    expect(entryFullNames(entry(both))).toEqual(['c/a:1', 'r/a:1']);
    const same = { [Annotation.RefName]: 'r/a:1', [Annotation.ContainerdImageName]: 'r/a:1' };
    expect(entryFullNames(entry(same))).toEqual(['r/a:1']);
  });
});

describe('nameMatch', () => {
  const ctr = entry({
    [Annotation.RefName]: 'latest',
    [Annotation.ContainerdImageName]: 'docker.io/library/alpha:latest',
  });
  it('matches a full name exactly, a bare tag by the full name’s tag', () => {
    expect(nameMatch(ctr, 'docker.io/library/alpha:latest')).toBe('exact');
    expect(nameMatch(ctr, 'latest')).toBe('tag');
    expect(nameMatch(ctr, 'docker.io/library/beta:latest')).toBeUndefined();
    // No normalisation: docker's short form is another string.
    expect(nameMatch(ctr, 'alpha:latest')).toBeUndefined();
  });
  it('matches a bare entry only by the same bare tag', () => {
    const bare = entry({ [Annotation.RefName]: 'v1' });
    expect(nameMatch(bare, 'v1')).toBe('exact');
    expect(nameMatch(bare, 'example.com/app:v1')).toBeUndefined();
  });
});

describe('name grammar', () => {
  it.each([
    ['docker.io/library/app:v1', true],
    ['localhost:5000/app:v1', true],
    ['app:v1', true],
    ['app', false], // bare
    ['docker.io/app', false], // no tag
    ['Docker.io/App:v1', false], // uppercase repository
    [`docker.io/app:v1@${D}`, false], // digest: read, never written
    ['docker.io/app:-x', false],
  ])('isFullImageName(%s) = %s', (name, ok) => {
    expect(isFullImageName(name)).toBe(ok);
  });

  it('splits host:port/repo:tag@digest', () => {
    expect(splitImageName(`reg:5000/a/b:v1@${D}`)).toEqual({
      repository: 'reg:5000/a/b',
      tag: 'v1',
      digest: D,
    });
    expect(splitImageName('reg:5000/a')).toEqual({ repository: 'reg:5000/a' });
    expect(splitImageName('v1')).toBeUndefined();
    expect(isBareName('v1')).toBe(true);
  });

  it('assertWritableName takes a tag or a full name, and refuses the rest (E_INVALID_TAG)', () => {
    expect(assertWritableName('v1')).toBe('v1');
    expect(assertWritableName('docker.io/library/app:v1')).toBe('docker.io/library/app:v1');
    // app:v1 is a full name we read, but not one we write: LAYOUT:app:v1 could not name it.
    for (const bad of ['-v1', 'docker.io/app', 'up/Case:v1', `a/b:v1@${D}`, 'app:v1']) {
      expect(() => assertWritableName(bad)).toThrow(
        expect.objectContaining({ code: 'E_INVALID_TAG' }),
      );
    }
  });

  it('writes a bare tag in ref.name, a full name in both annotations', () => {
    expect(nameAnnotations('v1')).toEqual({ [Annotation.RefName]: 'v1' });
    expect(nameAnnotations('x/y:1')).toEqual({
      [Annotation.ContainerdImageName]: 'x/y:1',
      [Annotation.RefName]: 'x/y:1',
    });
  });
});

describe('normalizeImageName (docker familiar names in full, as containerd and podman store them)', () => {
  it.each([
    ['alpine:3', 'docker.io/library/alpine:3'],
    ['team/app:v1', 'docker.io/team/app:v1'],
    ['docker.io/library/alpine:3', 'docker.io/library/alpine:3'],
    ['example.com/app:v1', 'example.com/app:v1'],
    ['localhost/app:v1', 'localhost/app:v1'],
    ['localhost:5000/app:v1', 'localhost:5000/app:v1'],
    ['v1', 'v1'],
    ['Bad/Name:v1', 'Bad/Name:v1'],
  ])('%s → %s', (input, expected) => {
    expect(normalizeImageName(input)).toBe(expected);
  });
});

describe('registryHostOf (the one rule telling a registry host from a path component)', () => {
  it.each([
    ['example.com/app:v1', 'example.com'],
    ['localhost/app', 'localhost'],
    ['localhost:5000/team/app', 'localhost:5000'],
    ['[::1]:5000/app', '[::1]:5000'],
    ['host:5000/app', 'host:5000'],
    ['team/app:v1', undefined],
    ['app:v1', undefined],
    ['localhostx/app', undefined],
    ['/abs/path', undefined],
    ['', undefined],
  ])('%s → %s', (input, expected) => {
    expect(registryHostOf(input)).toBe(expected);
  });
});

describe("containerd's digest-only name (an image synced or copied by digest)", () => {
  const name = `registry.example/team/app@${D}`;

  it.each([
    [name, true],
    [`localhost:5000/app@${D}`, true],
    [`docker.io/library/app@${D}`, true],
    // No tag may come with it, the repository needs a `/`, the digest its grammar.
    [`registry.example/team/app:v1@${D}`, false],
    [`app@${D}`, false],
    [`registry.example/team/app@sha256:abc:def`, false],
    [`registry.example/Team/app@${D}`, false],
    ['registry.example/team/app:v1', false],
    ['v1', false],
  ])('isDigestName(%s) is %s', (input, expected) => {
    expect(isDigestName(input)).toBe(expected);
  });

  it('is never a tag: no tag part, not listed, not writable as a user name', () => {
    expect(tagOfName(name)).toBeUndefined();
    expect(isListedName(name)).toBe(false);
    expect(isWritableName(name)).toBe(false);
    expect(() => assertWritableName(name)).toThrow(
      expect.objectContaining({ code: 'E_INVALID_TAG' }),
    );
  });

  it('is written in io.containerd.image.name only (ref.name holds a tag)', () => {
    expect(nameAnnotations(name)).toEqual({ [Annotation.ContainerdImageName]: name });
  });

  it('digestName builds it in full, as containerd stores names, or refuses', () => {
    expect(digestName('registry.example/team/app', D)).toBe(name);
    expect(digestName('alpine', D)).toBe(`docker.io/library/alpine@${D}`);
    expect(digestName('127.0.0.1:5000/app', D)).toBe(`127.0.0.1:5000/app@${D}`);
    expect(digestName('registry.example/Bad', D)).toBeUndefined();
  });

  it('names its entry, which answers to it exactly and to no tag', () => {
    const e = entry({ [Annotation.ContainerdImageName]: name });
    expect(entryName(e)).toBe(name);
    expect(carriesDigestName(e)).toBe(true);
    expect(nameMatch(e, name)).toBe('exact');
    expect(nameMatch(e, 'latest')).toBeUndefined();
    expect(nameMatch(e, D.replace(':', '-'))).toBeUndefined();
    expect(carriesDigestName(entry({ [Annotation.RefName]: 'v1' }))).toBe(false);
  });

  it('--name REPO renames its repository and keeps the digest', () => {
    expect(exportName(name, 'other.example/x', true)).toBe(`other.example/x@${D}`);
    expect(exportName(name, undefined)).toBe(name);
    expect(exportName(name, 'app', true)).toBe(`docker.io/library/app@${D}`);
    // A docker archive needs NAME:TAG: a digest-only name gives none.
    expect(exportRepoTag(name, undefined)).toBeUndefined();
    expect(exportRepoTag(name, 'app', true)).toBeUndefined();
    expect(exportRepoTag('v1', 'app')).toBe('app:v1');
    expect(exportRepoTag('reg.example/app:v1', 'other', true)).toBe('other:v1');
  });
});
