// Credentials from docker's config file (`docker login` writes it; podman and skopeo read it too):
// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`: inline `auths` entries, and the
// credential helpers it names (`credHelpers` for one registry, `credsStore` for all), which
// credential-helper.ts runs.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { IntegrityError, IoError, errnoCode } from '../errors.js';
import { parseJson } from '../schema/manifest.js';
import { runCredentialHelper, type HelperRunner } from './credential-helper.js';
import { DOCKER_HUB } from './reference.js';

export type Credentials =
  | { kind: 'basic'; username: string; password: string }
  /** An OAuth2 refresh token (`docker login` to some registries stores one). */
  | { kind: 'identity-token'; token: string; username?: string | undefined };

const AuthEntrySchema = z.lazy(() =>
  z.looseObject({
    auth: z.string().optional(),
    username: z.string().optional(),
    password: z.string().optional(),
    identitytoken: z.string().optional(),
  }),
);

export const DockerConfigSchema = z.lazy(() =>
  z.looseObject({
    auths: z.record(z.string(), AuthEntrySchema).optional(),
    credsStore: z.string().optional(),
    credHelpers: z.record(z.string(), z.string()).optional(),
  }),
);
export type DockerConfig = z.infer<typeof DockerConfigSchema>;

export interface LoadedDockerConfig {
  path: string;
  /** Credentials by normalised registry (`host[:port]`, Docker Hub as `docker.io`). */
  credentials: Map<string, Credentials>;
  /** Helper names by normalised registry; `*` is the `credsStore` for every other registry. */
  helpers: Map<string, string>;
}

export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env, home = homedir()): string {
  const dir = env['DOCKER_CONFIG'];
  return join(dir !== undefined && dir !== '' ? dir : join(home, '.docker'), 'config.json');
}

/**
 * `https://index.docker.io/v1/`, `http://host:5000`, `host:5000/some/path` → the registry key we
 * look up (`docker.io`, `host:5000`).
 */
export function normaliseConfigKey(key: string): string {
  let k = key.trim().replace(/^[a-z]+:\/\//i, '');
  const slash = k.indexOf('/');
  if (slash >= 0) k = k.slice(0, slash);
  k = k.toLowerCase();
  return k === 'index.docker.io' || k === 'registry-1.docker.io' ? DOCKER_HUB : k;
}

/** Decode one `auths` entry; undefined when it holds nothing usable. Throws E_SCHEMA for a bad `auth`. */
function entryCredentials(
  entry: z.infer<typeof AuthEntrySchema>,
  where: string,
): Credentials | undefined {
  let username = entry.username;
  let password = entry.password;
  if (entry.auth !== undefined && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) {
      throw new IntegrityError(
        'E_SCHEMA',
        `${where}: "auth" is not base64 of USER:PASSWORD`,
        { where },
        { hint: 'run `docker login` again, or pass --username and --password-stdin' },
      );
    }
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  if (entry.identitytoken !== undefined && entry.identitytoken !== '') {
    return { kind: 'identity-token', token: entry.identitytoken, username };
  }
  if (username !== undefined && username !== '' && password !== undefined) {
    return { kind: 'basic', username, password };
  }
  return undefined;
}

/** Parse config.json text. Throws E_INVALID_JSON / E_SCHEMA naming the file. */
export function parseDockerConfig(text: string, path: string): LoadedDockerConfig {
  const r = DockerConfigSchema.safeParse(parseJson(text, path));
  if (!r.success) {
    throw new IntegrityError('E_SCHEMA', `${path} is not a docker config file`, { path });
  }
  const credentials = new Map<string, Credentials>();
  for (const [key, entry] of Object.entries(r.data.auths ?? {})) {
    const creds = entryCredentials(entry, `${path} auths["${key}"]`);
    if (creds !== undefined) credentials.set(normaliseConfigKey(key), creds);
  }
  const helpers = new Map<string, string>();
  for (const [key, helper] of Object.entries(r.data.credHelpers ?? {})) {
    helpers.set(normaliseConfigKey(key), helper);
  }
  if (r.data.credsStore !== undefined && r.data.credsStore !== '')
    helpers.set('*', r.data.credsStore);
  return { path, credentials, helpers };
}

/**
 * Read the docker config; a missing file is an empty config. Throws E_IO (unreadable),
 * E_INVALID_JSON / E_SCHEMA (not a docker config file).
 */
export function loadDockerConfig(path = dockerConfigPath()): LoadedDockerConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') {
      return { path, credentials: new Map(), helpers: new Map() };
    }
    throw new IoError(
      'E_IO',
      `cannot read ${path}: ${(err as Error).message}`,
      { path },
      { cause: err },
    );
  }
  return parseDockerConfig(text, path);
}

export interface FoundCredentials {
  credentials: Credentials;
  /** Where they came from, as error messages name it. */
  source: string;
}

/**
 * `registry`'s credentials as docker resolves them: its `credHelpers` helper, else the
 * `credsStore` helper, else the inline `auths` entry (also when a helper holds nothing for it).
 * Undefined: anonymous. Throws E_UNAUTHORIZED when a named helper cannot be run.
 */
export function findCredentials(
  config: LoadedDockerConfig,
  registry: string,
  runHelper: HelperRunner = runCredentialHelper,
): FoundCredentials | undefined {
  const helper = config.helpers.get(registry) ?? config.helpers.get('*');
  if (helper !== undefined) {
    const credentials = runHelper(helper, registry);
    if (credentials !== undefined)
      return { credentials, source: `the credentials from docker-credential-${helper}` };
  }
  const inline = config.credentials.get(registry);
  return inline === undefined
    ? undefined
    : { credentials: inline, source: `the credentials from ${config.path}` };
}
