// The field's playbooks common-account.yaml, trim-default-cron.yaml and cpu-guard.yaml on an emulated
// fleet: --check on a fresh fleet changes nothing, applying reaches the promised state (read from the
// guests' files), applying again changes nothing.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useFleet } from '../helpers/emulator.js';
import { fleet, jsonLines } from '../cli/cli-harness.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const F = useFleet({ guests: 3, subnet: '127.157.0.0/16', port: 2222 });

const sel = () => ['-i', F().emu.inventoryPath, '--identity', F().emu.clientKeyPath];
const play = (name: string, ...extra: string[]) => fleet('play', ...sel(), '--json', ...extra, join(ROOT, 'playbooks', name));
const guestFile = (i: number, p: string) => join(F().emu.guests[i - 1]!.cfg.dir, p);
const read = (i: number, p: string) => readFileSync(guestFile(i, p), 'utf8');
const summary = (out: string) => jsonLines(out).at(-1)!.summary;
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKc0mmonAccountTestKeyOnlyForTests0000000000 admin@fleet';
const etcSnapshot = () => [1, 2, 3].map((i) => ['etc/passwd', 'etc/shadow', 'etc/crontab'].map((p) => read(i, p)).join('\n'));

describe('field playbooks', () => {
  it('common-account.yaml: a normal user, sudo through a validated drop-in, key login, random locked password', async () => {
    const before = etcSnapshot();
    const check = await play('common-account.yaml', '--check', '-e', `admin_key=${KEY}`);
    expect(check.code, check.out).toBe(0);
    expect(etcSnapshot()).toEqual(before);

    const first = await play('common-account.yaml', '-e', `admin_key=${KEY}`);
    expect(first.code, first.out).toBe(0);
    const hashes = new Set<string>();
    for (let i = 1; i <= 3; i++) {
      const user = read(i, 'etc/passwd').split('\n').find((l) => l.startsWith('fleetops:'))!.split(':');
      expect(Number(user[2])).toBeGreaterThan(0);
      const hash = read(i, 'etc/shadow').split('\n').find((l) => l.startsWith('fleetops:'))!.split(':')[1]!;
      expect(hash).toMatch(/^!\$/); // locked, with a real hash behind the `!`
      hashes.add(hash);
      expect(read(i, 'home/fleetops/.ssh/authorized_keys')).toBe(`${KEY}\n`);
      expect(statSync(guestFile(i, 'home/fleetops/.ssh/authorized_keys')).mode & 0o777).toBe(0o600);
      expect(statSync(guestFile(i, 'home/fleetops/.ssh/authorized_keys')).uid).toBe(Number(user[2]));
      expect(read(i, 'etc/sudoers.d/fleetops')).toContain('fleetops ALL=(ALL:ALL) NOPASSWD: ALL\n');
      expect(statSync(guestFile(i, 'etc/sudoers.d/fleetops')).mode & 0o777).toBe(0o440);
    }
    expect(hashes.size).toBe(3); // each guest its own password

    const again = await play('common-account.yaml', '-e', `admin_key=${KEY}`);
    expect(summary(again.out)).toMatchObject({ ok: 3, changed: 0, stepsChanged: 0 });

    // A rule visudo refuses is never installed: the guest keeps its working drop-in.
    const bad = await play('common-account.yaml', 'guest001', '-e', `admin_key=${KEY}`, '-e', 'admin_user=fleetops ALL=(ALL');
    expect(bad.code).toBe(1);
    expect(read(1, 'etc/sudoers.d/fleetops')).toContain('fleetops ALL=(ALL:ALL) NOPASSWD: ALL\n');
  });

  it('trim-default-cron.yaml: the listed jobs lose their execute bits, are recorded, and can be put back', async () => {
    const mode = (i: number, p: string) => statSync(guestFile(i, p)).mode & 0o777;
    const check = await play('trim-default-cron.yaml', '--check');
    expect(check.code, check.out).toBe(0);
    expect(mode(1, 'etc/cron.daily/suse-updatedb')).toBe(0o755);

    const first = await play('trim-default-cron.yaml');
    expect(first.code, first.out).toBe(0);
    for (let i = 1; i <= 3; i++) {
      for (const j of ['cron.daily/suse-do_mandb', 'cron.daily/suse-updatedb', 'cron.daily/suse.de-clean-tmp', 'cron.weekly/suse-clean_catman']) {
        expect(mode(i, `etc/${j}`), j).toBe(0o644);
      }
      expect(mode(i, 'etc/cron.daily/logrotate')).toBe(0o755);
      expect(read(i, 'var/lib/clonefleet/cron-disabled').trim().split('\n')).toHaveLength(4);
    }
    expect(jsonLines(first.out)[0]!.steps[1].stdout).toContain('/etc/cron.daily/logrotate');

    const again = await play('trim-default-cron.yaml');
    expect(summary(again.out)).toMatchObject({ ok: 3, changed: 0, stepsChanged: 0 });

    // The reversal the playbook's header gives.
    const undo = await fleet('run', ...sel(), 'guest002', '--sudo', '--', 'xargs -r chmod a+x < /var/lib/clonefleet/cron-disabled && rm /var/lib/clonefleet/cron-disabled');
    expect(undo.code, undo.out).toBe(0);
    expect(mode(2, 'etc/cron.daily/suse-updatedb')).toBe(0o755);
  });

  it('cpu-guard.yaml: installs the watchdog and its cron entry; the watchdog stops a CPU hog, spares the allowed, logs it', async () => {
    const check = await play('cpu-guard.yaml', '--check');
    expect(check.code, check.out).toBe(0);
    expect(() => statSync(guestFile(1, 'etc/cron.d/fleet-cpu-guard'))).toThrow();

    // A short sample and one strike for the test; the threshold low enough for a busy machine.
    const vars = ['-e', 'sample=2', '-e', 'strikes=1', '-e', 'threshold=3', '-e', 'allow=keepbusy'];
    const first = await play('cpu-guard.yaml', ...vars);
    expect(first.code, first.out).toBe(0);
    expect(read(1, 'etc/cron.d/fleet-cpu-guard')).toContain('* * * * * root /var/lib/clonefleet/fleet-cpu-guard\n');
    expect(statSync(guestFile(1, 'var/lib/clonefleet/fleet-cpu-guard')).mode & 0o777).toBe(0o755);
    const again = await play('cpu-guard.yaml', ...vars);
    expect(summary(again.out)).toMatchObject({ ok: 3, changed: 0, stepsChanged: 0 });

    // Two busy loops in one guest command (its processes share one PID namespace), bounded by
    // --timeout; the allowed one is stopped by the command itself at the end.
    const hog = await fleet('run', ...sel(), 'guest001', '--sudo', '--timeout', '60', '--',
      'cp /bin/dash /tmp/keepbusy; /tmp/keepbusy -c "while :; do :; done" & a=$!; sh -c "while :; do :; done" & h=$!; ' +
      'sleep 1; /var/lib/clonefleet/fleet-cpu-guard; ' +
      'echo "hog $(cut -d" " -f3 /proc/$h/stat 2>/dev/null || echo gone)"; echo "allowed $(cut -d" " -f3 /proc/$a/stat)"; kill -KILL $a $h 2>/dev/null; wait; rm -f /tmp/keepbusy');
    expect(hog.code, hog.out).toBe(0);
    expect(hog.out).toMatch(/^hog (?:Z|gone)$/m); // stopped (reaped or not yet)
    expect(hog.out).toMatch(/^allowed [RS]$/m);
    expect(read(1, 'var/log/fleet-cpu-guard.log')).toMatch(/stopped pid \d+ \(sh\) at \d+% CPU over 2s, 1 checks in a row, by TERM: sh -c while :; do :; done/);
  });
});
