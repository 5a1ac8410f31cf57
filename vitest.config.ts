import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// Three projects: unit tests import src/ directly; integration tests run the built CLI
// (npm test builds first); interop tests drive skopeo/umoci/docker-registry.
// vitest's default on a 2-core machine is ONE worker (cores - 1). Our tests spend most of their
// time in child processes, fsync and process start-up, so two files at a time keep both cores busy.
const WORKERS = Math.max(2, Math.min(4, availableParallelism()));
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          maxWorkers: WORKERS,
          include: ['test/**/*.test.ts'],
          exclude: ['test/integration/**', 'test/interop/**', 'test/reliability/**'],
          testTimeout: 30_000,
          // Some files compile a child library or start a registry in beforeAll: seconds on a
          // quiet machine, more than vitest's 10 s default on a loaded one.
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          maxWorkers: WORKERS,
          include: ['test/integration/**/*.test.ts', 'test/reliability/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'interop',
          include: ['test/interop/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          // The real tools are slow to start; a loopback registry is shared per file.
          fileParallelism: false,
        },
      },
    ],
  },
});
