import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration suites each start an emulated fleet; two cores, so keep files from piling up.
    maxWorkers: 2,
    // Emulated guest roots are thousands of small files: tmpfs keeps cloning them fast on a busy disk.
    // Runs record the guests to rerun under XDG_STATE_HOME: tests keep theirs out of the home directory.
    env: { ...(existsSync('/dev/shm') ? { TMPDIR: '/dev/shm' } : {}), XDG_STATE_HOME: join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'clonefleet-test-state') },
    fileParallelism: true,
  },
});
