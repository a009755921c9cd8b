// The YAML playbooks shipped in playbooks/, run with `fleet play` on an emulated fleet: --check on a
// fresh fleet changes nothing, applying reaches the state the playbook promises, applying again
// changes nothing.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useFleet } from '../helpers/emulator.js';
import { fleet, jsonLines } from '../cli/cli-harness.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const F = useFleet({ guests: 4, subnet: '127.146.0.0/16', port: 2222 });

const play = (name: string, ...extra: string[]) =>
  fleet('play', '-i', F().emu.inventoryPath, '--identity', F().emu.clientKeyPath, '--json', ...extra, join(ROOT, 'playbooks', name));
const guestFile = (i: number, p: string) => join(F().emu.guests[i - 1]!.cfg.dir, p);
const summary = (out: string) => jsonLines(out).at(-1)!.summary;
const stepsOf = (out: string, host: string) => jsonLines(out).find((x) => x.host === host)!.steps as Record<string, any>[];

describe('shipped playbooks', () => {
  it('update-config.yaml: validated drop-in, restart only where changed, health checked', async () => {
    const conf = 'etc/ssh/sshd_config.d/50-fleet.conf';
    const check = await play('update-config.yaml', '--check');
    expect(check.code, check.out + check.err).toBe(0);
    expect(stepsOf(check.out, 'guest001')[1]).toMatchObject({ changed: true, diff: expect.stringContaining('+ClientAliveInterval 60') });
    for (let i = 1; i <= 4; i++) expect(existsSync(guestFile(i, conf))).toBe(false);

    const first = await play('update-config.yaml');
    expect(first.code, first.out).toBe(0);
    expect(stepsOf(first.out, 'guest002').map((s) => [s.status, s.changed])).toEqual([['ok', true], ['ok', true], ['ok', true], ['ok', false]]);
    for (let i = 1; i <= 4; i++) expect(readFileSync(guestFile(i, conf), 'utf8')).toContain('ClientAliveInterval 60\nClientAliveCountMax 3\nMaxStartups 10:30:100\n');

    const again = await play('update-config.yaml');
    expect(summary(again.out)).toMatchObject({ ok: 4, changed: 0, stepsChanged: 0 });
    expect(stepsOf(again.out, 'guest001')[2]).toMatchObject({ status: 'skipped' });

    // A value sshd refuses: the validator stops it, the old file stays, nothing restarts.
    const refused = await play('update-config.yaml', 'guest001', '-e', 'client_alive_interval=soon');
    expect(refused.code).toBe(1);
    expect(stepsOf(refused.out, 'guest001').map((s) => s.status)).toEqual(['skipped', 'failed', 'not-run', 'not-run']);
    expect(stepsOf(refused.out, 'guest001')[1]!.error).toMatch(/^validate: \/usr\/sbin\/sshd -t -f %s refused/);
    expect(readFileSync(guestFile(1, conf), 'utf8')).toContain('ClientAliveInterval 60\n');

    // Only the guest whose file changed restarts sshd.
    const one = await play('update-config.yaml', '-e', 'client_alive_interval=30', 'guest003');
    expect(one.code).toBe(0);
    expect(stepsOf(one.out, 'guest003')[2]).toMatchObject({ status: 'ok', changed: true });
    expect(readFileSync(guestFile(3, conf), 'utf8')).toContain('ClientAliveInterval 30\n');
    expect(readFileSync(guestFile(4, conf), 'utf8')).toContain('ClientAliveInterval 60\n');
  });

  it('unique-identity.yaml: each guest its own machine-id, kept on a second run', async () => {
    const ids = () => F().emu.guests.map((_, i) => readFileSync(guestFile(i + 1, 'etc/machine-id'), 'utf8'));
    const cloned = ids();
    expect(new Set(cloned).size).toBe(1);
    const check = await play('unique-identity.yaml', '--check');
    expect(check.code).toBe(0);
    expect(stepsOf(check.out, 'guest001')[0]).toMatchObject({ changed: true, note: 'would run' });
    expect(ids()).toEqual(cloned);

    const first = await play('unique-identity.yaml');
    expect(first.code, first.out).toBe(0);
    const now = ids();
    expect(new Set(now).size).toBe(4);
    for (const id of now) {
      expect(id).toMatch(/^[0-9a-f]{32}\n$/);
      expect(id).not.toBe(cloned[0]);
    }
    expect(stepsOf(first.out, 'guest002')[1]!.stdout).toBe(now[1]);
    expect(readFileSync(guestFile(2, 'var/lib/clonefleet/identity'), 'utf8')).toBe(`guest002 ${F().emu.guests[1]!.cfg.address} ${now[1]}`);

    const again = await play('unique-identity.yaml');
    expect(summary(again.out)).toMatchObject({ ok: 4, changed: 0, stepsChanged: 0 });
    expect(ids()).toEqual(now);
  });
});
