// Real peer tools for interop tests. Locally a missing tool skips with a clear message;
// in CI (CI=true) it is a failure, never a skip.
import { spawnSync } from 'node:child_process';

export function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** Returns true when the tools are present; otherwise throws in CI, or returns false locally. */
export function requireTools(...names: string[]): boolean {
  const missing = names.filter((n) => !hasTool(n));
  if (missing.length === 0) return true;
  const msg = `interop tools missing: ${missing.join(', ')} (install with: apt-get install -y skopeo umoci docker-registry oci-image-tool chromium)`;
  if (process.env['CI'] === 'true') throw new Error(`${msg}; CI requires them`);
  console.warn(`SKIP: ${msg}`);
  return false;
}
