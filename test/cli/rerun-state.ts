// What the rerun tests share: a state directory of their own for the file's lifetime (rerun files
// land under $XDG_STATE_HOME), and the hosts the last run recorded as not done.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { rerunFile } from '../../src/cli/rerun.js';

/** Points XDG_STATE_HOME at a fresh directory for this test file, and puts it back afterwards. */
export function usePrivateStateHome(): void {
  let stateHome: string;
  const oldState = process.env.XDG_STATE_HOME;
  beforeAll(() => {
    stateHome = mkdtempSync(join(tmpdir(), 'fleet-state-'));
    process.env.XDG_STATE_HOME = stateHome;
  });
  afterAll(() => {
    if (oldState === undefined) delete process.env.XDG_STATE_HOME;
    else process.env.XDG_STATE_HOME = oldState;
    rmSync(stateHome, { recursive: true, force: true });
  });
}

/** The hosts the rerun file of `inventory` lists. */
export const recordedHosts = (inventory: string): string[] =>
  readFileSync(rerunFile(inventory), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
