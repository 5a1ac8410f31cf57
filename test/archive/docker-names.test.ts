import { describe, expect, it } from 'vitest';
import {
  assertRepositoryName,
  bareTagOf,
  defaultRepositoryName,
  splitRepoTag,
} from '../../src/archive/docker-names.js';

describe('docker names', () => {
  it.each([
    ['/tmp/x/My Layout', 'my-layout'],
    ['/tmp/x/app_v2.1', 'app_v2.1'],
    ['/tmp/x/---', 'image'],
    ['/tmp/x/Ünïcode', 'n-code'],
  ])('default name of %s is %s', (dir, want) => {
    expect(defaultRepositoryName(dir)).toBe(want);
  });

  it('accepts repository names docker loads and refuses others', () => {
    for (const ok of ['app', 'example.com/team/app', 'localhost:5000/a/b', 'a__b', 'a-b.c']) {
      expect(assertRepositoryName(ok)).toBe(ok);
    }
    for (const bad of ['App', 'app:v1', '-app', 'a//b', '']) {
      expect(() => assertRepositoryName(bad)).toThrow(
        expect.objectContaining({ code: 'E_INVALID_REFERENCE' }),
      );
    }
  });

  it('splits RepoTags', () => {
    expect(splitRepoTag('example.com:5000/app:v1')).toEqual({
      repository: 'example.com:5000/app',
      tag: 'v1',
    });
    expect(splitRepoTag('example.com:5000/app')).toEqual({
      repository: 'example.com:5000/app',
      tag: 'latest',
    });
    expect(bareTagOf('a:v1')).toBe('v1');
    expect(bareTagOf('a:-bad')).toBeUndefined();
  });
});
