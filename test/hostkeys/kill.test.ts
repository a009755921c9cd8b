// SIGKILL the rotation (bin/fleet, a separate process) at random moments, and the resume too, and
// check the invariant right after every kill: known_hosts is valid and every guest is reachable with
// strict checking against it. A last, unkilled resume must finish the run with no leftovers on any
// guest. Bounded in trials and in time; the delays are seeded so a failure can be replayed.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { readJournal, replay } from '../../src/hostkeys/index.js';
import { useFleet } from '../helpers/emulator.js';
import { adminKnownHosts, checkInvariant, sharedKeys } from './helpers.js';

const BIN = fileURLToPath(new URL('../../bin/fleet', import.meta.url));
const BUILT = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const MAX_TRIALS = 10;
const DEADLINE_MS = 150_000;

const F = useFleet({ guests: 16, subnet: '127.124.0.0/16' });
let kh: string;

beforeAll(async () => {
  kh = adminKnownHosts(F().emu);
});

/** mulberry32: a small seeded generator, so a failing sequence of kill moments can be replayed. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function fleetRotate(extra: string[]) {
  const args = ['keys', 'rotate', '-i', F().emu.inventoryPath, '--known-hosts', kh, '--identity', F().emu.clientKeyPath,
    '--types', 'ed25519,ecdsa', '--fanout', '8', '--connect-timeout', '5', '--yes', '--json', ...extra];
  return execa(process.execPath, [BIN, ...args], { reject: false, stdin: 'ignore', timeout: 120_000 });
}

/** Runs a rotation and SIGKILLs it after `delayMs` (if it is still running); returns whether it was killed. */
async function runAndKill(extra: string[], delayMs: number): Promise<boolean> {
  const child = fleetRotate(extra);
  const timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
  try {
    const r = await child;
    return r.signal === 'SIGKILL';
  } finally {
    clearTimeout(timer);
    child.kill('SIGKILL');
  }
}

async function expectInvariant(when: string): Promise<Map<string, string[]>> {
  const { problems, presented } = await checkInvariant(F().emu, kh);
  expect(problems, when).toEqual([]);
  expect(F().emu.status().sshdRunning, when).toBe(16);
  return presented;
}

describe('rotation killed at random moments', () => {
  it('keeps the invariant after every SIGKILL, and a resume always settles the run', async () => {
    expect(existsSync(BUILT), 'run `npm run build` first: this test runs bin/fleet').toBe(true);
    const seed = Number(process.env.FLEET_KILL_SEED ?? Date.now() % 100_000);
    const random = seeded(seed);
    const t0 = Date.now();
    // Calibrate: how long one whole rotation of this fleet takes as a child process.
    const full = await fleetRotate([]);
    expect(full.exitCode, full.stderr).toBe(0);
    const fullMs = Date.now() - t0;
    await expectInvariant('after the calibration run');
    const log: string[] = [];
    let interrupted = 0;
    for (let trial = 0; trial < MAX_TRIALS && Date.now() - t0 < DEADLINE_MS; trial++) {
      const at = Math.round(150 + random() * fullMs);
      const killed = await runAndKill([], at);
      const open = replay(await readJournal(`${kh}.rotate.jsonl`));
      const unfinished = !!open && !open.ended;
      if (unfinished) interrupted++;
      await expectInvariant(`seed ${seed}, trial ${trial}: after SIGKILL at ${at} ms`);
      let resumeKilled = '';
      if (unfinished && random() < 0.5) {
        const at2 = Math.round(150 + random() * fullMs);
        resumeKilled = (await runAndKill(['--resume'], at2)) ? ` resume killed at ${at2} ms` : ' resume finished';
        await expectInvariant(`seed ${seed}, trial ${trial}: after the resume killed at ${at2} ms`);
      }
      const resumed = await fleetRotate(['--resume']);
      expect(resumed.exitCode, `seed ${seed}, trial ${trial}: ${resumed.stderr}${resumed.stdout.slice(-2000)}`).toBe(0);
      const state = replay(await readJournal(`${kh}.rotate.jsonl`));
      expect(state?.ended ?? true, `seed ${seed}, trial ${trial}: run settled`).toBe(true);
      const presented = await expectInvariant(`seed ${seed}, trial ${trial}: after the resume`);
      expect(sharedKeys(presented)).toEqual([]);
      for (const g of F().emu.guests) expect(existsSync(join(g.cfg.dir, 'etc/ssh/fleet-rotate')), `${g.name} staging left`).toBe(false);
      expect(readdirSync(join(F().emu.guests[0]!.cfg.dir, 'etc/ssh')).filter((f) => f.includes('fleet-tmp'))).toEqual([]);
      log.push(`trial ${trial}: kill at ${at} ms (${killed ? 'killed' : 'had finished'}, run ${unfinished ? 'unfinished' : 'settled'})${resumeKilled}`);
    }
    console.log(`seed ${seed}, one rotation ${fullMs} ms, ${log.length} trials in ${((Date.now() - t0) / 1000).toFixed(0)} s:\n${log.join('\n')}`);
    expect(log.length).toBeGreaterThanOrEqual(3);
    expect(interrupted, 'some kills must land mid-rotation').toBeGreaterThan(0);
  }, 240_000);
});
