// The audit's checks on collected data alone: each hazard found with its guests and fix, the
// harmless look-alikes (locked hashes, narrow sudo rules, commented lines) left alone, worst first.
import { createHash } from 'node:crypto';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  analyzeAudit, parseAuditOutput, parseKexInit, readKexOffer, sudoersAdmins, usableHash, weakChecking,
  type GuestAudit, type GuestFacts,
} from '../../src/audit/index.js';
import type { PresentedKey } from '../../src/ssh/index.js';

const HASH = '$6$saltsalt$' + 'x'.repeat(86);
const key = (n: number, keyType = 'ssh-ed25519'): PresentedKey => {
  const blob = Buffer.from(`key-${keyType}-${n}`);
  return { type: keyType === 'ssh-ed25519' ? 'ed25519' : 'ecdsa', keyType, key: blob, fingerprint: `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}` };
};

const PASSWD = 'root:x:0:0:root:/root:/bin/bash\nfleetadm:x:1000:1000::/home/fleetadm:/bin/sh\noperator:x:1001:1001::/home/operator:/bin/sh\n';
const GROUP = 'root:x:0:\nsudo:x:27:\nfleetadm:x:1000:\noperator:x:1001:\n';
const SHADOW = (admin: string, op = '!') => `root:!:1::::::\nfleetadm:${admin}:1::::::\noperator:${op}:1::::::\n`;

function facts(files: Record<string, string>, o: Partial<GuestFacts> = {}): GuestFacts {
  return {
    files: new Map(Object.entries({ '/etc/passwd': PASSWD, '/etc/group': GROUP, '/etc/shadow': SHADOW('!'), '/etc/sudoers': 'root ALL=(ALL:ALL) ALL\n', ...files })),
    unreadable: [], nodename: 'n', privileged: true, ...o,
  };
}

/** A guest with its own identity and nothing wrong, unless `over` says otherwise. */
function guest(i: number, over: Partial<GuestAudit> & { files?: Record<string, string>; facts?: GuestFacts } = {}): GuestAudit {
  const host = `guest${String(i).padStart(3, '0')}`;
  const { files, ...rest } = over;
  const own = key(i);
  return {
    host, address: `10.0.0.${i}`, login: { status: 'ok' },
    facts: facts({ '/etc/hostname': `${host}\n`, '/etc/machine-id': `${i.toString(16).padStart(32, '0')}\n`, ...files }),
    keys: { presented: [own], verdicts: ['ok'] }, pins: [{ keyType: own.keyType, key: own.key, line: i }],
    kex: ['mlkem768x25519-sha256', 'curve25519-sha256'],
    ...rest,
  };
}

const audit = (guests: GuestAudit[], cap = 15, ignore?: string[]) =>
  analyzeAudit(guests, { cap, day: new Date('2026-03-02T12:00:00Z'), ...(ignore ? { ignore: ignore as never } : {}) });
const checks = (guests: GuestAudit[], cap = 15) => audit(guests, cap).findings.map((f) => f.check);
const range = (n: number, f: (i: number) => GuestAudit) => Array.from({ length: n }, (_, i) => f(i + 1));

describe('analyzeAudit', () => {
  it('a fleet of guests with their own identities is clean', () => {
    const r = audit(range(20, (i) => guest(i)));
    expect(r.findings).toEqual([]);
    expect(r.summary).toMatchObject({ guests: 20, audited: 20, unreachable: 0, findings: 0, cron: { peak: 0, cap: 15 } });
  });

  it('shared host keys, machine-ids (either file) and hostnames: one finding per shared value, with its guests', () => {
    const shared = key(99);
    const gs = range(4, (i) => guest(i, {
      keys: { presented: i <= 3 ? [shared] : [key(i)], verdicts: ['ok'] },
      pins: i <= 3 ? [{ keyType: 'ssh-ed25519', key: shared.key, line: i }] : [{ keyType: 'ssh-ed25519', key: key(i).key, line: i }],
      files: {
        '/etc/hostname': i <= 2 ? 'golden\n' : `g${i}\n`,
        '/etc/machine-id': i === 4 ? 'uninitialized\n' : i === 3 ? '' : `${'a'.repeat(32)}\n`,
        ...(i === 3 ? { '/var/lib/dbus/machine-id': `${'a'.repeat(32)}\n` } : {}),
      },
    }));
    const r = audit(gs);
    const by = Object.fromEntries(r.findings.map((f) => [f.check, f]));
    expect(by['shared-host-key']).toMatchObject({ severity: 'critical', hosts: ['guest001', 'guest002', 'guest003'], details: [`ssh-ed25519 ${shared.fingerprint}`] });
    expect(by['shared-host-key']!.remedy).toContain('fleet keys rotate');
    expect(by['shared-machine-id']).toMatchObject({ hosts: ['guest001', 'guest002', 'guest003'], remedy: 'playbooks/unique-identity.yaml' });
    expect(by['shared-machine-id']!.details[0]).toMatch(/^\/etc\/machine-id and \/var\/lib\/dbus\/machine-id: a{32}$/);
    expect(by['shared-hostname']).toMatchObject({ hosts: ['guest001', 'guest002'], data: { hostname: 'golden' } });
    expect(r.findings.map((f) => f.check)).toEqual(['shared-host-key', 'shared-machine-id', 'shared-hostname']); // worst first
  });

  it('a password hash shared by guests is found without ever printing it; locked and empty hashes are not shared hazards', () => {
    const locked = ['!', '!!', '*', '!*', `!${HASH}`, ''];
    for (const h of locked) expect([h, usableHash(h)]).toEqual([h, false]);
    expect(usableHash(HASH)).toBe(true);
    expect(usableHash('abcdefghijklm')).toBe(true); // old DES
    const quiet = range(6, (i) => guest(i, { files: { '/etc/shadow': SHADOW(locked[i - 1]!, locked[i - 1]!) } }));
    expect(checks(quiet).filter((c) => c === 'shared-password-hash')).toEqual([]);
    const loud = range(3, (i) => guest(i, { files: { '/etc/shadow': SHADOW('!', HASH) } }));
    const r = audit(loud);
    expect(r.findings).toHaveLength(1);
    expect(r.findings[0]).toMatchObject({ check: 'shared-password-hash', severity: 'critical', hosts: ['guest001', 'guest002', 'guest003'], data: { account: 'operator' } });
    expect(r.findings[0]!.remedy).toContain('playbooks/common-account.yaml');
    expect(JSON.stringify(r)).not.toContain(HASH.slice(3, 20));
  });

  it('a UID-0 account besides root, and admin accounts (UID 0, sudo ALL directly, by %group, by alias) with a password', () => {
    const passwd = `${PASSWD}toor:x:0:0::/root:/bin/sh\nbob:x:1002:1002::/home/bob:/bin/sh\nnarrow:x:1003:1003::/home/narrow:/bin/sh\n`;
    const group = `${GROUP.replace('sudo:x:27:', 'sudo:x:27:bob')}`;
    const sudoers = 'Defaults env_reset\nUser_Alias OPS = operator\n%sudo ALL=(ALL:ALL) ALL\nOPS ALL=(ALL) NOPASSWD: ALL\nnarrow ALL=(root) /usr/bin/systemctl restart nginx\n#includedir /etc/sudoers.d\n';
    expect(sudoersAdmins([sudoers])).toEqual({ users: new Set(['operator']), groups: new Set(['sudo']) });
    const shadow = `root:!:1::::::\nfleetadm:!:1::::::\noperator:${HASH}:1::::::\ntoor::1::::::\nbob:${HASH}x:1::::::\nnarrow:${HASH}y:1::::::\n`;
    const r = audit([guest(1, { files: { '/etc/passwd': passwd, '/etc/group': group, '/etc/sudoers': sudoers, '/etc/sudoers.d/fleetadm': 'fleetadm ALL=(ALL) NOPASSWD: ALL\n', '/etc/shadow': shadow } })]);
    const titles = r.findings.map((f) => `${f.severity} ${f.check}: ${f.title}`);
    expect(titles).toEqual([
      "critical uid0-account: account 'toor' has UID 0 (root by another name)",
      "critical admin-password: admin account 'toor' (UID 0) has an empty password",
      "high admin-password: admin account 'operator' (sudo ALL) can log in with a password",
      "high admin-password: admin account 'bob' (sudo ALL through %sudo) can log in with a password",
    ]);
  });

  it('StrictHostKeyChecking no / off / accept-new in any ssh client config, commented lines ignored', () => {
    expect(weakChecking('# StrictHostKeyChecking no\nHost *\n  stricthostkeychecking=Off\n  StrictHostKeyChecking yes\nStrictHostKeyChecking accept-new\n'))
      .toEqual([{ line: 3, value: 'off' }, { line: 5, value: 'accept-new' }]);
    const gs = range(3, (i) => guest(i, { files: i < 3
      ? { '/etc/ssh/ssh_config': '# defaults\nHost *\n    StrictHostKeyChecking no\n' }
      : { '/home/operator/.ssh/config': 'StrictHostKeyChecking accept-new\n', '/etc/ssh/ssh_config.d/10-x.conf': '#StrictHostKeyChecking no\n' } }));
    const r = audit(gs);
    expect(r.findings.map((f) => [f.severity, f.hosts, f.data])).toEqual([
      ['high', ['guest001', 'guest002'], { file: '/etc/ssh/ssh_config', value: 'no', lines: [3] }],
      ['medium', ['guest003'], { file: '/home/operator/.ssh/config', value: 'accept-new', lines: [1] }],
    ]);
  });

  it('a cron storm is a peak above the cap: 16 guests at the same quarter hours with cap 15, not 15', () => {
    const crontab = { '/etc/crontab': 'SHELL=/bin/sh\n-*/15 * * * *   root  test -x /usr/lib/cron/run-crons && /usr/lib/cron/run-crons\n' };
    const storm = audit(range(16, (i) => guest(i, { files: crontab })));
    expect(storm.findings).toHaveLength(1);
    expect(storm.findings[0]).toMatchObject({ check: 'cron-storm', severity: 'high', data: { peak: 16, cap: 15, minutesAboveCap: 96 } });
    expect(storm.findings[0]!.hosts).toHaveLength(16);
    expect(storm.findings[0]!.remedy).toContain('playbooks/stagger-nightly-cron.yaml');
    expect(audit(range(15, (i) => guest(i, { files: crontab }))).findings).toEqual([]);
    // Staggered: one guest per minute is no storm, whatever the fleet's size.
    expect(audit(range(16, (i) => guest(i, { files: { '/etc/crontab': `${i} 23 * * * root run-parts /etc/cron.daily\n` } }))).findings).toEqual([]);
  });

  it('pins: a revoked or changed key is critical; a pin the guest no longer presents is stale, with its file and line', () => {
    const g1 = guest(1, { keys: { presented: [key(1)], verdicts: ['revoked'] } });
    const g2 = guest(2, { keys: { presented: [key(2)], verdicts: ['changed'] } });
    const g3 = guest(3, { pins: [{ keyType: 'ssh-ed25519', key: key(3).key, line: 5 }, { keyType: 'ssh-rsa', key: Buffer.from('old-rsa'), line: 6 }], knownHostsFile: '/kh' });
    const r = audit([g1, g2, g3]);
    expect(r.findings.map((f) => [f.check, f.hosts])).toEqual([['revoked-host-key', ['guest001']], ['changed-host-key', ['guest002']], ['stale-pin', ['guest003']]]);
    expect(r.findings[2]!.details[0]).toMatch(/^\/kh:6: guest003 ssh-rsa SHA256:/);
  });

  it('guests not reached, not probed or without sudo are findings naming why, never skipped', () => {
    const gs = [
      guest(1, { login: { status: 'unreachable', error: 'guest001: ECONNREFUSED' }, facts: undefined, keys: undefined, keysError: 'refused' }),
      guest(2, { login: { status: 'unreachable', error: 'guest002: ECONNREFUSED' }, facts: undefined }),
      guest(3, { login: { status: 'hostkey-refused', error: 'guest003: host key changed' }, facts: undefined }),
      guest(4, { facts: facts({ '/etc/hostname': 'g4\n' }, { privileged: false, sudoError: 'sudo: a password is required', unreadable: ['/etc/shadow'] }) }),
      guest(5, { keys: undefined, keysError: 'timeout' }),
    ];
    gs[3]!.facts!.files.delete('/etc/shadow');
    const r = audit(gs);
    expect(r.findings.map((f) => [f.check, f.hosts])).toEqual([
      ['unreachable', ['guest001', 'guest002']],
      ['unreachable', ['guest003']],
      ['not-checked', ['guest004']],
      ['not-checked', ['guest005']],
    ]);
    expect(r.findings[0]!.details).toEqual(['e.g. guest001: ECONNREFUSED']);
    expect(r.findings[2]!.title).toMatch(/sudo -n refused on 1 guest: shared password hashes and admin passwords not checked; unreadable: \/etc\/shadow/);
    expect(r.summary).toMatchObject({ guests: 5, audited: 2, unreachable: 3 });
  });

  it('no post-quantum key exchange is a low finding; --ignore leaves checks out and counts them', () => {
    const gs = range(3, (i) => guest(i, i === 3 ? { kex: ['curve25519-sha256', 'ecdh-sha2-nistp256'] } : { kex: ['sntrup761x25519-sha512@openssh.com', 'curve25519-sha256'] }));
    expect(audit(gs).findings.map((f) => [f.check, f.severity, f.hosts])).toEqual([['no-pq-kex', 'low', ['guest003']]]);
    const ignored = audit(gs, 15, ['no-pq-kex']);
    expect([ignored.findings, ignored.summary.ignored]).toEqual([[], 1]);
  });
});

describe('reading a guest', () => {
  it('parses the audit command\'s output: values, files, unreadable paths, sudo refused', () => {
    const out = '@fleet-nosudo sudo: a password is required\n@fleet-value nodename guest007\n@fleet-file /etc/hostname\n|guest007\n|@fleet-end\n@fleet-end\n@fleet-unreadable /etc/shadow\n';
    const f = parseAuditOutput(out, 'guest007');
    // A line of content that reads like a marker stays content: every content line is behind a `|`.
    expect(f).toEqual({ files: new Map([['/etc/hostname', 'guest007\n@fleet-end\n']]), unreadable: ['/etc/shadow'], nodename: 'guest007', privileged: false, sudoError: 'sudo: a password is required' });
    expect(() => parseAuditOutput('@fleet-file /etc/x\nfake\n', 'g')).toThrow(/g: unexpected output inside \/etc\/x/);
    expect(() => parseAuditOutput('Welcome!\n', 'g')).toThrow(/g: unexpected output/);
  });

  const kexinit = (names: string) => {
    const list = Buffer.from(names);
    const payload = Buffer.concat([Buffer.from([20]), Buffer.alloc(16, 7), Buffer.from([0, 0, 0, list.length]), list, Buffer.alloc(9 * 4 + 5)]);
    const pad = 8 - ((payload.length + 5) % 8) + 8;
    const head = Buffer.alloc(5);
    head.writeUInt32BE(payload.length + pad + 1);
    head[4] = pad;
    return Buffer.concat([head, payload, Buffer.alloc(pad)]);
  };

  it('reads the key exchange methods from a server\'s first packet, waiting for whole packets', () => {
    const data = Buffer.concat([Buffer.from('a banner line\r\nSSH-2.0-OpenSSH_9.9\r\n'), kexinit('mlkem768x25519-sha256,curve25519-sha256')]);
    expect(parseKexInit(data.subarray(0, 30))).toBeUndefined();
    expect(parseKexInit(data.subarray(0, data.length - 3))).toBeUndefined();
    expect(parseKexInit(data)).toEqual({ kex: ['mlkem768x25519-sha256', 'curve25519-sha256'] });
    expect(parseKexInit(Buffer.from('SSH-1.5-old\r\n'))).toEqual({ error: 'not SSH 2: SSH-1.5-old' });
  });

  it('readKexOffer over TCP; a server that closes early or is not there is an error naming it', async () => {
    const listen = async (handler: (s: net.Socket) => void) => {
      const server = net.createServer((s) => s.once('data', () => handler(s)));
      await new Promise<void>((r) => server.listen(0, '127.180.0.1', r));
      return { server, port: (server.address() as net.AddressInfo).port };
    };
    const good = await listen((s) => s.end(Buffer.concat([Buffer.from('SSH-2.0-x\r\n'), kexinit('curve25519-sha256')])));
    const rude = await listen((s) => s.destroy());
    try {
      expect(await readKexOffer('127.180.0.1', good.port, 5000)).toEqual(['curve25519-sha256']);
      await expect(readKexOffer('127.180.0.1', rude.port, 5000)).rejects.toThrow(`127.180.0.1:${rude.port}: closed before its key exchange offer`);
      await expect(readKexOffer('127.180.0.1', 1, 5000)).rejects.toThrow(/127\.180\.0\.1:1: ECONNREFUSED/);
    } finally {
      for (const x of [good, rude]) await new Promise((r) => x.server.close(r));
    }
  });
});
