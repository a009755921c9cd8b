// The playbooks that carry a fleet-wide step, run with `fleet play` on an emulated fleet: --check on
// a fresh fleet changes nothing, applying reaches the state the playbook promises (read from the
// guests' own files), applying again changes nothing.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fleet, jsonLines } from '../cli/cli-harness.js';
import { useFleet } from '../helpers/emulator.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const F = useFleet({ guests: 6, subnet: '127.150.0.0/16', port: 2222 });

const sel = () => ['-i', F().emu.inventoryPath, '--identity', F().emu.clientKeyPath];
const play = (name: string, ...extra: string[]) => fleet('play', ...sel(), '--json', ...extra, join(ROOT, 'playbooks', name));
const crontab = (i: number) => readFileSync(join(F().emu.guests[i]!.cfg.dir, 'etc/crontab'), 'utf8');
const summary = (out: string) => jsonLines(out).at(-1)!.summary;
const guests = (out: string) => jsonLines(out).filter((x) => x.host);

describe('playbooks', () => {
  it('stagger-nightly-cron.yaml replaces run-crons with each guest\'s planned slot, once', async () => {
    const before = F().emu.guests.map((_, i) => crontab(i));
    expect(before[0]).toMatch(/^-?\*\/15 .*run-crons/m);

    const check = await play('stagger-nightly-cron.yaml', '--check');
    expect(check.code, check.out + check.err).toBe(0);
    for (const g of guests(check.out)) {
      expect(g.steps[0]).toMatchObject({ status: 'ok', changed: true, diff: expect.stringContaining('+# BEGIN fleet:run-crons') });
      expect(g.steps[0].diff).toMatch(/^--?\*\/15 .*run-crons/m);
    }
    expect(F().emu.guests.map((_, i) => crontab(i))).toEqual(before);

    const first = await play('stagger-nightly-cron.yaml');
    expect(first.code, first.out + first.err).toBe(0);
    expect(summary(first.out)).toMatchObject({ ok: 6, changed: 6 });
    // The playbook's plan is the scheduler's: the same starts `fleet cron plan` gives each guest.
    const plan = await fleet('cron', 'plan', ...sel(), '--replace-run-crons', '--window', '23:00-06:00', '--slot', '12m', '--cap', '15', '--json');
    expect(plan.code, plan.err).toBe(0);
    const startOf = new Map(jsonLines(plan.out).filter((x) => x.host).map((x) => [x.host, x]));
    for (const [i, g] of guests(first.out).entries()) {
      const tab = crontab(i);
      expect(tab).toContain('# BEGIN fleet:run-crons');
      expect(tab).not.toMatch(/^-?\*\/15 .*run-crons/m);
      const { start, slot } = startOf.get(g.host)!;
      const [hh, mm] = start.split(':').map(Number);
      expect(tab).toMatch(new RegExp(`^${mm} ${hh} \\* \\* \\* root .*cron\\.daily`, 'm'));
      expect(g.steps[1].stdout).toBe(`${g.host} runs its daily scripts at ${start} (slot ${slot})\n`);
    }

    const again = await play('stagger-nightly-cron.yaml');
    expect(summary(again.out)).toMatchObject({ ok: 6, changed: 0, stepsChanged: 0 });
    expect(guests(again.out)[0]!.steps[0].note).toMatch(/^unchanged: \/etc\/crontab: fleet:run-crons at \d\d:\d\d/);
  });

  it('rotate-host-keys.yaml gives every cloned guest its own keys, then carries on pinned to them', async () => {
    const served = () => F().emu.guests.flatMap((g) => F().emu.publicHostKeys(g));
    const cloned = served();
    expect(new Set(cloned).size).toBeLessThan(cloned.length);
    const pins = readFileSync(F().emu.knownHostsPath, 'utf8');

    const check = await play('rotate-host-keys.yaml', '--check');
    expect(check.code, check.out + check.err).toBe(0);
    for (const g of guests(check.out)) expect(g.steps[0]).toMatchObject({ status: 'ok', changed: true, note: expect.stringMatching(/^would rotate/) });
    expect(served()).toEqual(cloned);
    expect(readFileSync(F().emu.knownHostsPath, 'utf8')).toBe(pins);

    const first = await play('rotate-host-keys.yaml');
    expect(first.code, first.out + first.err).toBe(0);
    expect(summary(first.out)).toMatchObject({ ok: 6, changed: 6 });
    const now = served();
    expect(new Set(now).size).toBe(now.length);
    expect(readFileSync(F().emu.knownHostsPath, 'utf8')).toMatch(/^@revoked /m);
    // The step after the rotation ran over a new connection that accepted only the new keys.
    for (const [i, g] of guests(first.out).entries()) {
      expect(g.steps[1]).toMatchObject({ status: 'ok' });
      const keys = F().emu.publicHostKeys(F().emu.guests[i]!);
      for (const k of keys) expect(g.steps[1].stdout).toContain(k.split(' ').slice(0, 2).join(' '));
    }

    const again = await play('rotate-host-keys.yaml');
    expect(again.code, again.out + again.err).toBe(0);
    expect(summary(again.out)).toMatchObject({ ok: 6, changed: 0, stepsChanged: 0 });
    expect(guests(again.out)[0]!.steps[0].note).toMatch(/nothing to rotate/);
    expect(served()).toEqual(now);
  });
});
