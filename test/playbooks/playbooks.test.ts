// The shipped playbooks, run as a user runs them (bash, bin/fleet) on an emulated fleet: each must
// finish and leave the fleet in the state its header promises.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { useFleet } from '../helpers/emulator.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BUILT = join(ROOT, 'dist/cli/main.js');

const F = useFleet({ guests: 8, subnet: '127.98.0.0/16' });

function playbook(name: string, env: Record<string, string> = {}) {
  return execa('bash', [join(ROOT, 'playbooks', name), '-i', F().emu.inventoryPath, '--identity', F().emu.clientKeyPath], {
    env: { ...env, FLEET: join(ROOT, 'bin/fleet'), YES: '1' }, reject: false, stdin: 'ignore', timeout: 120_000, all: true,
  });
}

describe('playbooks', () => {
  it('stagger-cron.sh replaces run-crons on every guest and keeps each slot under the cap', async () => {
    expect(existsSync(BUILT), 'run `npm run build` first: the playbooks run bin/fleet').toBe(true);
    const before = await playbook('stagger-cron.sh', { CAP: '2', DRY_RUN: '1' });
    expect(before.exitCode, before.all).toBe(0);
    for (const g of F().emu.guests) expect(readFileSync(join(g.cfg.dir, 'etc/crontab'), 'utf8')).not.toContain('BEGIN fleet:');
    const r = await playbook('stagger-cron.sh', { CAP: '2' });
    expect(r.exitCode, r.all).toBe(0);
    for (const g of F().emu.guests) {
      const crontab = readFileSync(join(g.cfg.dir, 'etc/crontab'), 'utf8');
      expect(crontab, g.name).toContain('# BEGIN fleet:run-crons');
      expect(crontab, g.name).not.toMatch(/^-?\*\/15 .*run-crons/m);
    }
    const peaks = [...r.all!.matchAll(/^peak: (\d+) guests? start/gm)].map((m) => Number(m[1]));
    expect(peaks).toHaveLength(2); // before and after
    expect(peaks[0]).toBe(8); // the storm: every guest at every quarter hour
    expect(peaks[1]).toBeLessThanOrEqual(2);
  });

  it('declone.sh gives every cloned guest its own keys, pinned, and revokes the cloned one', async () => {
    const cloned = new Set(F().emu.guests.map((g) => F().emu.publicHostKeys(g).join('\n')));
    expect(cloned.size).toBe(1); // one golden image, one set of keys
    const r = await playbook('declone.sh');
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toMatch(/scan: 8 pinned of 8; 0 clone groups/);
    const served = F().emu.guests.flatMap((g) => F().emu.publicHostKeys(g));
    expect(new Set(served).size).toBe(served.length); // no key shared any more
    expect(readFileSync(F().emu.knownHostsPath, 'utf8')).toMatch(/^@revoked /m);
  });
});
