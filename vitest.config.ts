import { existsSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration suites each start an emulated fleet; two cores, so keep files from piling up.
    maxWorkers: 2,
    // Emulated guest roots are thousands of small files: tmpfs keeps cloning them fast on a busy disk.
    env: existsSync('/dev/shm') ? { TMPDIR: '/dev/shm' } : {},
    fileParallelism: true,
  },
});
