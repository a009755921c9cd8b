// One rotation per known_hosts file: while one runs, a second one on the same file, reached through a
// symlink or writing another journal, is refused at once (exit 2, naming the file and the holder's
// pid) instead of pinning and unpinning the same guests against the first.
import { existsSync, realpathSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fleet } from '../cli/cli-harness.js';
import { useFleet } from '../helpers/emulator.js';
import { adminKnownHosts, checkInvariant, rotate } from './helpers.js';

const F = useFleet({ guests: 4, subnet: '127.140.0.0/16' });
let kh: string;

beforeAll(() => {
  kh = adminKnownHosts(F().emu);
});

const rotateCli = (knownHosts: string, ...extra: string[]) =>
  fleet('keys', 'rotate', '-i', F().emu.inventoryPath, '--known-hosts', knownHosts, '--identity', F().emu.clientKeyPath,
    '--types', 'ed25519,ecdsa', '--yes', '--json', ...extra);

describe('one rotation per known_hosts file', () => {
  it('refuses a second rotation through a symlink or with another journal while one runs', async () => {
    const link = join(F().state, 'kh-link');
    symlinkSync(kh, link);
    let reachedPin!: () => void;
    const atPin = new Promise<void>((r) => (reachedPin = r));
    let carryOn!: () => void;
    const held = new Promise<void>((r) => (carryOn = r));
    const first = rotate(F().emu, kh, {
      onStep: async (host, step) => {
        if (host === 'guest001' && step === 'pin') {
          reachedPin();
          await held;
        }
      },
    });
    const settled = first.then(() => undefined, () => undefined);
    await Promise.race([atPin, settled]);
    try {
      const viaLink = await rotateCli(link);
      expect(viaLink.code, viaLink.err).toBe(2);
      expect(viaLink.err).toContain(`another key rotation is running on ${link} (${realpathSync(kh)})`);
      expect(viaLink.err).toContain(`pid ${process.pid}`);
      expect(existsSync(`${link}.rotate.jsonl`), 'the refused rotation journaled nothing').toBe(false);

      const otherJournal = join(F().state, 'other.rotate.jsonl');
      const viaJournal = await rotateCli(kh, '--journal', otherJournal);
      expect(viaJournal.code, viaJournal.err).toBe(2);
      expect(viaJournal.err).toContain(`another key rotation is running on ${kh}`);
      expect(viaJournal.err).toContain(realpathSync(kh));
      expect(viaJournal.err).toContain(`pid ${process.pid}`);
      expect(existsSync(otherJournal)).toBe(false);
    } finally {
      carryOn();
    }
    const report = await first;
    expect(report.results.map((r) => r.outcome)).toEqual(['done', 'done', 'done', 'done']);
    expect((await checkInvariant(F().emu, kh)).problems).toEqual([]);
    expect(existsSync(`${kh}.rotate.lock`), 'the rotation lock is released').toBe(false);

    // Once it is over, a rotation through the symlink with its own journal runs.
    const after = await rotateCli(link, '--journal', join(F().state, 'later.rotate.jsonl'));
    expect(after.code, after.err).toBe(0);
    expect((await checkInvariant(F().emu, kh)).problems).toEqual([]);
  }, 120_000);
});
