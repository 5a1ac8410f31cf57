import { defineConfig } from 'vitest/config';

// Three projects: unit tests import src/ directly; integration tests run the built CLI
// (npm test builds first); interop tests drive skopeo/umoci/docker-registry.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/integration/**', 'test/interop/**', 'test/reliability/**'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
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
