import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  dockerConfigPath,
  findCredentials,
  loadDockerConfig,
  normaliseConfigKey,
  parseDockerConfig,
} from '../../src/registry/docker-config.js';
import { tmpDir } from '../helpers/tmp.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('docker config', () => {
  it('finds config.json under $DOCKER_CONFIG, else ~/.docker', () => {
    expect(dockerConfigPath({ DOCKER_CONFIG: '/etc/dc' }, '/home/u')).toBe('/etc/dc/config.json');
    expect(dockerConfigPath({}, '/home/u')).toBe('/home/u/.docker/config.json');
  });

  it('normalises the key spellings docker login writes', () => {
    expect(normaliseConfigKey('https://index.docker.io/v1/')).toBe('docker.io');
    expect(normaliseConfigKey('http://Reg.Example:5000')).toBe('reg.example:5000');
    expect(normaliseConfigKey('reg.example:5000/v2/')).toBe('reg.example:5000');
  });

  it('decodes auth (base64 user:password, password may contain colons), username/password and identitytoken', () => {
    const cfg = parseDockerConfig(
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: b64('hub:pa:ss') },
          'reg.example:5000': { username: 'u', password: 'p' },
          'tok.example': { auth: b64('<token>:'), identitytoken: 'refresh-me' },
          'empty.example': {},
        },
        credHelpers: { 'gcr.io': 'gcloud' },
      }),
      'config.json',
    );
    expect(cfg.credentials.get('docker.io')).toEqual({
      kind: 'basic',
      username: 'hub',
      password: 'pa:ss',
    });
    expect(cfg.credentials.get('reg.example:5000')).toEqual({
      kind: 'basic',
      username: 'u',
      password: 'p',
    });
    expect(cfg.credentials.get('tok.example')).toEqual({
      kind: 'identity-token',
      token: 'refresh-me',
      username: '<token>',
    });
    expect(cfg.credentials.has('empty.example')).toBe(false);
    expect(cfg.helpers.get('gcr.io')).toBe('gcloud');
  });

  it('refuses a malformed auth field and a non-object file', () => {
    expect(() =>
      parseDockerConfig(JSON.stringify({ auths: { h: { auth: b64('nocolon') } } }), 'c.json'),
    ).toThrow(expect.objectContaining({ code: 'E_SCHEMA' }));
    expect(() => parseDockerConfig('{"auths": 5}', 'c.json')).toThrow(
      expect.objectContaining({ code: 'E_SCHEMA' }),
    );
    expect(() => parseDockerConfig('{', 'c.json')).toThrow(
      expect.objectContaining({ code: 'E_INVALID_JSON' }),
    );
  });

  it('treats a missing file as no credentials and reads an existing one', () => {
    const dir = tmpDir();
    expect(loadDockerConfig(join(dir, 'nope.json')).credentials.size).toBe(0);
    mkdirSync(join(dir, 'd'));
    writeFileSync(
      join(dir, 'd', 'config.json'),
      JSON.stringify({ auths: { h: { auth: b64('a:b') } } }),
    );
    expect(loadDockerConfig(join(dir, 'd', 'config.json')).credentials.get('h')).toMatchObject({
      username: 'a',
      password: 'b',
    });
  });

  it('finds credentials as docker does: credHelpers, then credsStore, then inline auths', () => {
    const cfg = parseDockerConfig(
      JSON.stringify({
        auths: { 'a.example': { auth: b64('inline:a') }, 'b.example': { auth: b64('inline:b') } },
        credHelpers: { 'a.example': 'one' },
        credsStore: 'store',
      }),
      '/cfg.json',
    );
    const asked: string[] = [];
    const runner = (helper: string, registry: string) => {
      asked.push(`${helper}:${registry}`);
      // The store holds nothing for b.example: the inline entry is used.
      return registry === 'b.example'
        ? undefined
        : { kind: 'basic' as const, username: helper, password: 'x' };
    };
    expect(findCredentials(cfg, 'a.example', runner)).toEqual({
      credentials: { kind: 'basic', username: 'one', password: 'x' },
      source: 'the credentials from docker-credential-one',
    });
    expect(findCredentials(cfg, 'c.example', runner)?.credentials).toMatchObject({
      username: 'store',
    });
    expect(findCredentials(cfg, 'b.example', runner)).toEqual({
      credentials: { kind: 'basic', username: 'inline', password: 'b' },
      source: 'the credentials from /cfg.json',
    });
    expect(asked).toEqual(['one:a.example', 'store:c.example', 'store:b.example']);
    // No helper named: the inline entry, without running anything.
    const plain = parseDockerConfig(JSON.stringify({ auths: {} }), '/p.json');
    expect(
      findCredentials(plain, 'a.example', () => {
        throw new Error('must not run');
      }),
    ).toBeUndefined();
  });
});
