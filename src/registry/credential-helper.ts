// docker's credential helpers: `docker-credential-<name> get` reads the server address on stdin
// and prints {"ServerURL","Username","Secret"} as JSON (Username "<token>" means Secret is an
// identity token). `docker login` stores credentials there instead of in config.json when
// config.json names a `credsStore` (every registry) or a `credHelpers` entry (one registry);
// skopeo, podman, oras and regctl all run them, so a user's login works for us too.
import { spawnSync } from 'node:child_process';
import { z } from 'zod';
import { RegistryError, errnoCode } from '../errors.js';
import { parseJson } from '../schema/manifest.js';
import type { Credentials } from './docker-config.js';
import { DOCKER_HUB } from './reference.js';

/** A helper that hangs (waiting on a keychain prompt) must not hang the copy forever. */
const HELPER_TIMEOUT_MS = 60_000;
/** What every helper prints (on stdout) when it holds nothing for the server. */
const NOT_FOUND = /credentials not found/i;

const HelperOutputSchema = z.lazy(() =>
  z.looseObject({
    Username: z.string(),
    Secret: z.string(),
  }),
);

/** The address a helper is asked about: docker stores Docker Hub under its legacy v1 URL. */
export function helperServerAddress(registry: string): string {
  return registry === DOCKER_HUB ? 'https://index.docker.io/v1/' : registry;
}

/** Runs a helper: the seam tests replace. */
export type HelperRunner = (helper: string, registry: string) => Credentials | undefined;

/**
 * Ask `docker-credential-<helper>` (found on PATH) for `registry`'s credentials. Undefined when
 * it has none. Throws E_UNAUTHORIZED when it is not installed, fails, times out or prints
 * something that is not its JSON answer.
 */
export function runCredentialHelper(
  helper: string,
  registry: string,
  env: NodeJS.ProcessEnv = process.env,
): Credentials | undefined {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(helper)) {
    throw helperError(helper, registry, 'is not a valid helper name');
  }
  const program = `docker-credential-${helper}`;
  const r = spawnSync(program, ['get'], {
    input: helperServerAddress(registry),
    encoding: 'utf8',
    env,
    timeout: HELPER_TIMEOUT_MS,
    maxBuffer: 1024 * 1024,
  });
  const code = errnoCode(r.error);
  // EPIPE: the helper answered and exited before reading the address we wrote (helpers that hold
  // nothing often do). Its exit status and output still say what it meant.
  if (r.error !== undefined && !(code === 'EPIPE' && r.status !== null)) {
    const why =
      code === 'ENOENT'
        ? `is not installed (no ${program} on PATH)`
        : code === 'ETIMEDOUT'
          ? `did not answer within ${HELPER_TIMEOUT_MS / 1000} s`
          : `could not run: ${r.error.message}`;
    throw helperError(helper, registry, why);
  }
  if (r.status !== 0) {
    const said = `${r.stdout} ${r.stderr}`.trim();
    if (NOT_FOUND.test(said)) return undefined;
    throw helperError(
      helper,
      registry,
      `failed (exit ${r.status ?? r.signal}): ${said.slice(0, 300)}`,
    );
  }
  let parsed: z.infer<typeof HelperOutputSchema>;
  try {
    parsed = HelperOutputSchema.parse(parseJson(r.stdout, `${program} output`));
  } catch {
    throw helperError(helper, registry, 'printed something that is not {"Username","Secret"} JSON');
  }
  if (parsed.Secret === '') return undefined;
  if (parsed.Username === '<token>') return { kind: 'identity-token', token: parsed.Secret };
  return { kind: 'basic', username: parsed.Username, password: parsed.Secret };
}

function helperError(helper: string, registry: string, why: string): RegistryError {
  return new RegistryError(
    'E_UNAUTHORIZED',
    `credential helper docker-credential-${helper} (named in the docker config for ${registry}) ${why}`,
    { helper, registry },
    {
      hint: 'install the helper, fix it, or pass --username and --password-stdin',
    },
  );
}
