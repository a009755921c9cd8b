// `fleet audit` on an emulated fleet of fresh clones: it finds what cloning left (one host key, one
// machine-id, the run-crons storm) and what was planted (a UID-0 account, StrictHostKeyChecking no,
// a shared password hash, the golden hostname, a stale pin, a guest down, no sudo); after the
// playbooks and `fleet keys rotate` those findings are gone and the audit of the fleet is clean.
import { copyFileSync, appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { fleet, jsonLines } from '../cli/cli-harness.js';
import { useFleet } from '../helpers/emulator.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const GUESTS = 20;
const F = useFleet({ guests: GUESTS, subnet: '127.180.0.0/16', port: 2222 });
let kh: string;
const sel = () => ['-i', F().emu.inventoryPath, '--identity', F().emu.clientKeyPath, '--known-hosts', kh];
const HASH = '$6$sharedsalt$Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFy';

beforeAll(() => {
  kh = join(F().state, 'admin_known_hosts');
  copyFileSync(F().emu.knownHostsPath, kh);
});

async function audit(...extra: string[]) {
  const r = await fleet('audit', ...sel(), '--json', ...extra);
  const lines = jsonLines(r.out);
  const summary = lines.pop()!.summary;
  return { code: r.code, err: r.err, findings: lines, summary, by: (check: string) => lines.filter((x) => x.check === check) };
}

const sudoRun = async (target: string, script: string) => {
  const r = await fleet('run', ...sel(), target, '--sudo', '--', script);
  expect(r.code, r.out + r.err).toBe(0);
};

describe('fleet audit on cloned guests', () => {
  it('fresh clones: the shared host keys, the shared machine-id and the cron storm, worst first; the locked fleetadm hash is no finding', async () => {
    const r = await audit();
    expect(r.code, r.err).toBe(1);
    expect(r.findings.map((x) => [x.severity, x.check, x.hosts])).toEqual([
      ['critical', 'shared-host-key', 'guest[001-020]'],
      ['high', 'shared-machine-id', 'guest[001-020]'],
      ['high', 'cron-storm', 'guest[001-020]'],
    ]);
    expect(r.by('shared-host-key')[0].details).toHaveLength(3);
    expect(r.by('cron-storm')[0].data).toMatchObject({ peak: GUESTS, cap: 15, minutesAboveCap: 96 });
    expect(r.summary).toMatchObject({ guests: GUESTS, audited: GUESTS, unreachable: 0, findings: 3, cron: { peak: GUESTS, cap: 15 } });
    // The same as a table: one row per finding, its details and fix under it.
    const table = await fleet('audit', ...sel());
    expect(table.code).toBe(1);
    expect(table.out).toMatch(/^SEVERITY +CHECK +GUESTS +FINDING$/m);
    expect(table.out).toMatch(/^CRITICAL +shared-host-key +guest\[001-020\] \(20\) +20 guests present the same SSH host key/m);
    expect(table.out).toMatch(/^ +fix: fleet keys rotate --cloned-only/m);
    expect(table.out).toMatch(/^ +fix: playbooks\/stagger-nightly-cron\.yaml/m);
    expect(table.out).toMatch(/^audit: 3 findings \(1 critical, 2 high\); 20 of 20 guests audited; cron peak 20 guests a minute \(cap 15\)/m);
  });

  it('finds what was planted: a UID-0 account, StrictHostKeyChecking no, a shared password hash, the golden hostname', async () => {
    await sudoRun('guest003', `echo 'toor:x:0:0::/root:/bin/sh' >> /etc/passwd && echo 'toor:!:1::::::' >> /etc/shadow`);
    await sudoRun('guest[001-002]', `printf 'Host *\\n    StrictHostKeyChecking no\\n' >> /etc/ssh/ssh_config`);
    await sudoRun('guest[006-007]', `sed -i 's|^operator:[^:]*:|operator:${HASH}:|' /etc/shadow`);
    await sudoRun('guest[004-005]', 'echo golden > /etc/hostname');
    const r = await audit();
    expect(r.by('uid0-account')).toEqual([expect.objectContaining({ severity: 'critical', hosts: 'guest003', data: { account: 'toor' } })]);
    expect(r.by('strict-host-key-checking')).toEqual([expect.objectContaining({ severity: 'high', hosts: 'guest[001-002]', data: { file: '/etc/ssh/ssh_config', value: 'no', lines: [expect.any(Number)] } })]);
    expect(r.by('shared-password-hash')).toEqual([expect.objectContaining({ hosts: 'guest[006-007]', data: expect.objectContaining({ account: 'operator' }) })]);
    expect(r.by('shared-hostname')).toEqual([expect.objectContaining({ hosts: 'guest[004-005]', data: { hostname: 'golden' } })]);
    expect(JSON.stringify(r.findings)).not.toContain('sharedsalt');
    // The UID-0 account is an admin; locked, it cannot log in with a password.
    expect(r.by('admin-password')).toEqual([]);
  });

  it('a guest that is down is listed, not skipped; a login without sudo says what it could not check', async () => {
    await F().emu.setFault('refuse@9');
    try {
      const r = await audit();
      expect(r.by('unreachable')).toEqual([expect.objectContaining({ hosts: 'guest009', data: { status: 'unreachable' } })]);
      expect(r.summary).toMatchObject({ audited: GUESTS - 1, unreachable: 1 });
    } finally {
      await F().emu.clearFaults();
    }
    const plain = await audit('guest[001-002]', '-u', 'operator');
    expect(plain.by('not-checked')).toEqual([expect.objectContaining({ hosts: 'guest[001-002]', data: expect.objectContaining({ reason: 'no-sudo', unreadable: expect.arrayContaining(['/etc/shadow']) }) })]);
    expect(plain.by('not-checked')[0].details[0]).toMatch(/^sudo said: .*password/);
  });

  it('after unique-identity.yaml, keys rotate and stagger-nightly-cron.yaml (and the plants removed) the fleet is clean', async () => {
    const play = async (name: string) => {
      const r = await fleet('play', ...sel(), join(ROOT, 'playbooks', name));
      expect(r.code, r.out + r.err).toBe(0);
    };
    await play('unique-identity.yaml');
    await play('stagger-nightly-cron.yaml');
    const rot = await fleet('keys', 'rotate', ...sel(), '--cloned-only', '--types', 'ed25519,ecdsa', '--yes', '--journal', join(F().state, 'rotate.jsonl'));
    expect(rot.code, rot.out + rot.err).toBe(0);
    const fixed = await audit();
    expect(fixed.findings.map((x) => x.check).sort()).toEqual(['shared-hostname', 'shared-password-hash', 'strict-host-key-checking', 'uid0-account']);

    await sudoRun('guest003', `sed -i '/^toor:/d' /etc/passwd /etc/shadow`);
    await sudoRun('guest[001-002]', `sed -i '/StrictHostKeyChecking/Id' /etc/ssh/ssh_config`);
    await sudoRun('guest[006-007]', `sed -i 's|^operator:[^:]*:|operator:!:|' /etc/shadow`);
    await sudoRun('guest004', 'echo guest004 > /etc/hostname');
    await sudoRun('guest005', 'echo guest005 > /etc/hostname');
    const clean = await fleet('audit', ...sel());
    expect(clean.code, clean.out).toBe(0);
    expect(clean.out).toMatch(/^audit: clean: 20 of 20 guests audited, nothing found; cron peak \d+ guests a minute \(cap 15\)/m);
    const peak = (await audit()).summary.cron.peak;
    expect(peak).toBeLessThanOrEqual(15);
  });

  it('a pin of a key the guest does not present is stale, named by known_hosts line', async () => {
    // guest002's own ed25519 key pinned for guest001 too: guest001 never presents it.
    const pattern = (i: number) => F().emu.hostPattern(F().emu.guests[i - 1]!);
    const lines = readFileSync(kh, 'utf8').split('\n');
    const g2 = lines.find((l) => l.startsWith(`${pattern(2)} ssh-ed25519 `))!;
    appendFileSync(kh, `${g2.replace(pattern(2), pattern(1))}\n`);
    const line = readFileSync(kh, 'utf8').trimEnd().split('\n').length;
    const r = await audit();
    expect(r.code).toBe(1);
    expect(r.findings.map((x) => x.check)).toEqual(['stale-pin']);
    expect(r.findings[0]).toMatchObject({ severity: 'medium', hosts: 'guest001' });
    expect(r.findings[0].details[0]).toBe(`${kh}:${line}: guest001 ssh-ed25519 ${r.findings[0].data.pins[0].fingerprint}`);
  });

  it('a guest whose host key differs from its pin is a refused host key: exit 3, as every command', async () => {
    // After the rotation every guest has keys of its own: pin guest002's ed25519 key for guest001.
    const pattern = (i: number) => F().emu.hostPattern(F().emu.guests[i - 1]!);
    const lines = readFileSync(kh, 'utf8').split('\n');
    const g2 = lines.find((l) => l.startsWith(`${pattern(2)} ssh-ed25519 `))!;
    const swapped = join(F().state, 'swapped_known_hosts');
    writeFileSync(swapped, lines.map((l) => (l.startsWith(`${pattern(1)} ssh-ed25519 `) ? g2.replace(pattern(2), pattern(1)) : l)).join('\n'));
    const r = await fleet('audit', '-i', F().emu.inventoryPath, '--identity', F().emu.clientKeyPath, '--known-hosts', swapped, '--json');
    expect(r.code, r.err).toBe(3);
    const found = jsonLines(r.out).slice(0, -1);
    expect(found.find((x) => x.check === 'changed-host-key')).toMatchObject({ severity: 'critical', hosts: 'guest001' });
  });

  it('bad input is exit 2 before anything connects', async () => {
    for (const args of [['--ignore', 'bogus'], ['--cap', '0'], ['--fanout', 'x']]) {
      const r = await fleet('audit', ...sel(), ...args);
      expect([args.join(' '), r.code, r.out]).toEqual([args.join(' '), 2, '']);
    }
    const ignored = await audit('--ignore', 'stale-pin');
    expect([ignored.code, ignored.findings, ignored.summary.ignored]).toEqual([0, [], 1]);
  });
});
