// credential-helper.ts against real helper programs: small shell scripts named
// docker-credential-<name> on PATH, speaking docker's helper protocol.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { helperServerAddress, runCredentialHelper } from '../../src/registry/credential-helper.js';
import { tmpDir } from '../helpers/tmp.js';

/** A PATH holding docker-credential-<name> running `script` (sh), plus the system's sh. */
function helperOnPath(name: string, script: string): { env: NodeJS.ProcessEnv; dir: string } {
  const dir = tmpDir();
  const program = join(dir, `docker-credential-${name}`);
  writeFileSync(program, `#!/bin/sh\n${script}\n`);
  chmodSync(program, 0o755);
  return { env: { PATH: `${dir}:/usr/bin:/bin` }, dir };
}

describe('runCredentialHelper', () => {
  it('sends the server address on stdin to `get` and reads Username/Secret', () => {
    const { env, dir } = helperOnPath(
      'test',
      `cat > "${'$'}(dirname "$0")/asked"; echo "$1" > "${'$'}(dirname "$0")/verb"
echo '{"ServerURL":"x","Username":"alice","Secret":"s3cret"}'`,
    );
    expect(runCredentialHelper('test', 'reg.example:5000', env)).toEqual({
      kind: 'basic',
      username: 'alice',
      password: 's3cret',
    });
    expect(readFileSync(join(dir, 'asked'), 'utf8')).toBe('reg.example:5000');
    expect(readFileSync(join(dir, 'verb'), 'utf8').trim()).toBe('get');
  });

  it('asks about Docker Hub by its legacy v1 address', () => {
    expect(helperServerAddress('docker.io')).toBe('https://index.docker.io/v1/');
    expect(helperServerAddress('ghcr.io')).toBe('ghcr.io');
  });

  it('reads Username "<token>" as an identity token', () => {
    const { env } = helperOnPath('tok', `echo '{"Username":"<token>","Secret":"refresh"}'`);
    expect(runCredentialHelper('tok', 'r.example', env)).toEqual({
      kind: 'identity-token',
      token: 'refresh',
    });
  });

  it('answers undefined when the helper holds nothing for the server', () => {
    const { env } = helperOnPath('none', `echo 'credentials not found in native keychain'; exit 1`);
    expect(runCredentialHelper('none', 'r.example', env)).toBeUndefined();
  });

  it('judges a helper that answers without reading its stdin by its answer, not by EPIPE', () => {
    // Helpers may answer before reading the server address (a "not found" helper often does).
    // Writing to a pipe nobody reads then fails with EPIPE: a race with a short address (seen on
    // every Node version), certain with one longer than the pipe's buffer, as here.
    const registry = `r${'x'.repeat(256 * 1024)}.example`;
    const none = helperOnPath('none', `echo 'credentials not found in native keychain'; exit 1`);
    expect(runCredentialHelper('none', registry, none.env)).toBeUndefined();
    const tok = helperOnPath('tok', `echo '{"Username":"<token>","Secret":"refresh"}'`);
    expect(runCredentialHelper('tok', registry, tok.env)).toEqual({
      kind: 'identity-token',
      token: 'refresh',
    });
    const broken = helperOnPath('broken', `echo 'keychain locked' >&2; exit 3`);
    expect(() => runCredentialHelper('broken', registry, broken.env)).toThrow(/keychain locked/);
  });

  it('fails with E_UNAUTHORIZED naming the helper when it is missing, fails or prints junk', () => {
    const { env } = helperOnPath('broken', `echo 'keychain locked' >&2; exit 3`);
    const junk = helperOnPath('junk', `echo 'not json'`).env;
    const cases: [string, NodeJS.ProcessEnv, string][] = [
      ['absent', env, 'is not installed'],
      ['broken', env, 'keychain locked'],
      ['junk', junk, 'not {"Username","Secret"} JSON'],
      ['../evil', env, 'not a valid helper name'],
    ];
    for (const [name, e, says] of cases) {
      expect(() => runCredentialHelper(name, 'r.example', e)).toThrow(
        expect.objectContaining({ code: 'E_UNAUTHORIZED', message: expect.stringContaining(says) }),
      );
    }
  });
});
