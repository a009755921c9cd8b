// A prepared guest as the golden image of a new fleet: golden-image-prep.yaml on guest001 of one
// emulator, its merged root imported as another emulator's image (fleet emulator up --golden-from),
// and the clones come up with host keys and machine-ids of their own, audited clean.
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fleet, jsonLines } from '../cli/cli-harness.js';
import { Emulator } from '../../src/emulator/index.js';
import { importGolden, parseGoldenFrom } from '../../src/emulator/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PREP = join(ROOT, 'playbooks', 'golden-image-prep.yaml');
let dir: string;
let src: Emulator;
const clones: Emulator[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleet-golden-from-'));
  src = await Emulator.start({ guests: 2, state: join(dir, 'src'), subnet: '127.186.0.0/16', port: 2222 });
});

afterAll(async () => {
  for (const e of clones) await e.stop();
  await src?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const srcSel = () => ['-i', src.inventoryPath, '--identity', src.clientKeyPath];
const g1 = (p: string) => join(src.guests[0]!.cfg.dir, p);
const hostKeyFiles = (root: string) => readdirSync(join(root, 'etc/ssh')).filter((n) => n.startsWith('ssh_host_'));

describe('golden-image-prep.yaml', () => {
  it('leaves no host keys, an empty machine-id, no logs, history or random seed; a second run changes nothing', async () => {
    // What a used image carries.
    const setup = await src.guests[0]!.consoleExec([
      'echo "ls -la" > /root/.bash_history', 'echo "sudo -i" > /home/fleetadm/.bash_history',
      'echo "Dec  1 sshd[1]: started" > /var/log/messages', 'echo old | gzip > /var/log/messages.1.gz',
      'mkdir -p /var/lib/systemd /var/log/journal/abc && echo seed > /var/lib/systemd/random-seed && echo j > /var/log/journal/abc/system.journal',
    ].join(' && '));
    expect(setup.exitCode, setup.stderr.toString()).toBe(0);
    const keysBefore = src.publicHostKeys(src.guests[0]!);

    const check = await fleet('play', ...srcSel(), 'guest001', '--check', '--json', PREP);
    expect(check.code, check.out + check.err).toBe(0);
    expect(hostKeyFiles(g1(''))).not.toEqual([]);

    const r = await fleet('play', ...srcSel(), 'guest001', '--json', PREP);
    expect(r.code, r.out + r.err).toBe(0);
    expect(jsonLines(r.out).filter((x) => x.host).map((x) => x.host)).toEqual(['guest001']);
    expect(hostKeyFiles(g1(''))).toEqual([]);
    expect(readFileSync(g1('etc/machine-id'), 'utf8')).toBe('');
    expect(readFileSync(g1('etc/systemd/system/ssh.service.d/regenerate-host-keys.conf'), 'utf8')).toMatch(/^ExecStartPre=\/usr\/bin\/ssh-keygen -A$/m);
    expect(existsSync(g1('root/.bash_history')) || existsSync(g1('home/fleetadm/.bash_history'))).toBe(false);
    expect(readFileSync(g1('var/log/messages'), 'utf8')).toBe('');
    expect(existsSync(g1('var/log/messages.1.gz')) || existsSync(g1('var/lib/systemd/random-seed'))).toBe(false);
    expect(readdirSync(g1('var/log/journal'))).toEqual([]);
    // The image keeps serving until it is stopped: its sshd holds its keys.
    expect(src.publicHostKeys(src.guests[0]!)).toEqual(keysBefore);
    const last = jsonLines(r.out).find((x) => x.host)!.steps.at(-1);
    expect(last.stdout).toBe('host keys: 0\nmachine-id bytes: 0\nlog bytes: 0\n');

    const again = await fleet('play', ...srcSel(), 'guest001', '--json', PREP);
    expect(again.code, again.out + again.err).toBe(0);
    expect(jsonLines(again.out).at(-1)!.summary).toMatchObject({ ok: 1, changed: 0 });
    // guest002 was not selected: untouched.
    expect(hostKeyFiles(src.guests[1]!.cfg.dir)).not.toEqual([]);
  });

  it('clones of the prepared guest make their own host keys and machine-ids at first boot; audit finds nothing', async () => {
    const state = join(dir, 'clones');
    const from = parseGoldenFrom(join(src.state, 'guests', 'guest001'));
    expect(from).toEqual({ state: src.state, guest: 'guest001' });
    await importGolden(from, state);
    // The image as the guest saw it, not the source fleet's own image underneath.
    expect(existsSync(join(state, 'golden/etc/systemd/system/ssh.service.d/regenerate-host-keys.conf'))).toBe(true);
    expect(hostKeyFiles(join(state, 'golden'))).toEqual([]);
    expect(existsSync(join(state, 'golden/run/fleet'))).toBe(false);
    expect(lstatSync(join(state, 'golden/home/fleetadm/.ssh/authorized_keys')).uid).toBe(1000);

    const emu = await Emulator.start({ guests: 4, state, subnet: '127.187.0.0/16', port: 2222 });
    clones.push(emu);
    const served = emu.guests.map((g) => emu.publicHostKeys(g));
    for (const keys of served) expect(keys.map((k) => k.split(' ')[0]).sort()).toEqual(['ecdsa-sha2-nistp256', 'ssh-ed25519', 'ssh-rsa']);
    const all = served.flat();
    expect(new Set(all).size).toBe(all.length);
    const old = new Set(src.guests.flatMap((g) => src.publicHostKeys(g)));
    expect(all.some((k) => old.has(k))).toBe(false);

    const sel = ['-i', emu.inventoryPath, '--identity', emu.clientKeyPath];
    const ids = await fleet('run', ...sel, '--json', '--', 'cat /etc/machine-id; hostname');
    expect(ids.code, ids.out + ids.err).toBe(0);
    const rows = jsonLines(ids.out).filter((x) => x.host);
    expect(rows).toHaveLength(4);
    const machineIds = rows.map((x) => x.stdout.split('\n')[0]);
    for (const id of machineIds) expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(machineIds).size).toBe(4);
    expect(rows.map((x) => x.stdout.split('\n')[1])).toEqual(['guest001', 'guest002', 'guest003', 'guest004']);

    const audit = await fleet('audit', ...sel, '--json');
    expect(audit.code, audit.out + audit.err).toBe(0);

    // A restart of a clone's sshd keeps its keys: ssh-keygen -A only makes missing ones.
    const restart = await fleet('run', ...sel, 'guest002', '--sudo', '--', 'systemctl restart ssh');
    expect(restart.code, restart.out + restart.err).toBe(0);
    expect(emu.publicHostKeys(emu.guests[1]!)).toEqual(served[1]);
  });

  it('refuses a source that is not a guest of a state directory, or whose emulator is not running, before starting anything', async () => {
    expect(() => parseGoldenFrom(join(dir, 'nowhere'))).toThrow(/expected STATE\/guests\/NAME/);
    const stopped = join(dir, 'stopped');
    const other = await Emulator.start({ guests: 1, state: stopped, subnet: '127.188.0.0/16', port: 2222 });
    await other.stop();
    await expect(importGolden(parseGoldenFrom(join(stopped, 'guests', 'guest001')), join(dir, 'x'))).rejects.toThrow(/is not running/);
    await expect(importGolden(parseGoldenFrom(join(src.state, 'guests', 'guest001')), join(dir, 'clones'))).rejects.toThrow(/already has a golden image/);
    const cli = await fleet('emulator', 'up', '--guests', '1', '--state', join(dir, 'y'), '--subnet', '127.188.0.0/16', '--golden-from', join(dir, 'nowhere'));
    expect(cli.code).toBe(2);
    expect(cli.err).toMatch(/--golden-from .*expected STATE\/guests\/NAME/);
    expect(existsSync(join(dir, 'y', 'golden'))).toBe(false);
  });
});
