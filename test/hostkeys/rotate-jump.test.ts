// keys rotate through jump hosts and a ProxyCommand: cloned guests behind a bastion (a real OpenSSH
// sshd, as in test/ssh/jump.test.ts, reached through a relay the test can cut) each get their own keys,
// re-pinned, every step going through the bastion; a guest reachable only through its ProxyCommand
// likewise; the bastion going away mid-run leaves every guest settled or resumable, never half-pinned,
// and a resume (refused while a guest's route differs from the run's) finishes the run through it.
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fleet, jsonLines } from '../cli/cli-harness.js';
import { channels, jumpsClosed, logins, sinceMark } from '../helpers/jump.js';
import { startFleet, type TestFleet } from '../helpers/emulator.js';
import { startRealSshd, type RealSshd } from '../helpers/real-sshd.js';
import { hopWaves, readJournal, replay, rotateFleet, routeChanges, targetRecord, type RotateTarget } from '../../src/hostkeys/index.js';
import { loadKnownHosts, lookup, probeHostKeys, verify } from '../../src/ssh/index.js';

const PORT = 2222;
const GUESTS = 12;
const guestAddr = (i: number) => `127.216.0.${i}`;
/** Guest 5 as the inventory names it: nothing listens there, only its ProxyCommand reaches it. */
const HIDDEN = '127.218.0.5';
const RELAY = { address: '127.217.0.2', port: PORT };
/** The hypervisor console of the emulated guests: out of band, no SSH, so no route either. */
const console = (args: string) => `${JSON.stringify(process.execPath)} ${JSON.stringify(fileURLToPath(new URL('../../bin/fleet', import.meta.url)))} emulator console --state ${JSON.stringify(tf.state)} "$FLEET_HOST" ${args}`;

let tf: TestFleet;
let bastion: RealSshd;
let relay: Relay;
let dir: string;
const names: string[] = [];

/** A TCP relay in front of the bastion: the bastion's address for fleet, and a way to take it down. */
interface Relay {
  up(): Promise<void>;
  /** Stops listening and drops every connection through it: the bastion is gone. */
  down(): Promise<void>;
}

function startRelay(to: { address: string; port: number }): Relay {
  let server: net.Server | undefined;
  const socks = new Set<net.Socket>();
  return {
    up: () => new Promise((resolve, reject) => {
      server = net.createServer((c) => {
        const s = net.connect(to.port, to.address);
        for (const x of [c, s]) {
          socks.add(x);
          x.on('close', () => socks.delete(x));
          x.on('error', () => {});
        }
        c.pipe(s).pipe(c);
        c.on('close', () => s.destroy());
        s.on('close', () => c.destroy());
      });
      server.once('error', reject);
      server.listen(RELAY.port, RELAY.address, () => resolve());
    }),
    down: () => new Promise((resolve) => {
      for (const s of socks) s.destroy();
      if (!server) return resolve();
      server.close(() => resolve());
      server = undefined;
    }),
  };
}

/** The usual bastion form in the field: ansible_ssh_common_args with `ssh -W %h:%p`, per group. */
function inventory(file: string, ids: number[]): string {
  const hosts = ids.map((i) => `${names[i - 1]} ansible_host=${guestAddr(i)} ansible_port=${PORT} ansible_user=${tf.emu.user}`);
  writeFileSync(file, `[behind]\n${hosts.join('\n')}\n[behind:vars]\nansible_ssh_common_args='-o ProxyCommand="ssh -W %h:%p -p ${RELAY.port} root@${RELAY.address}"'\n`);
  return file;
}

/** The admin's known_hosts: the emulator's pins (the cloned keys), guest 5's under its hidden address, and the bastion's. */
function adminKnownHosts(file: string): string {
  const emu = readFileSync(tf.emu.knownHostsPath, 'utf8');
  const five = emu.split('\n').filter((l) => l.startsWith(`[${guestAddr(5)}]:${PORT} `)).map((l) => l.replace(`[${guestAddr(5)}]`, `[${HIDDEN}]`));
  writeFileSync(file, `${emu}${five.join('\n')}\n[${RELAY.address}]:${RELAY.port} ssh-ed25519 ${bastion.hostKey}\n`);
  return file;
}

/**
 * Every guest presents only keys pinned for it (nothing half-pinned: a guest serving new keys has
 * them pinned, one serving old keys still has those); returns the base64 ed25519 key each presents.
 */
async function pinnedAsPresented(kh: string, ids: number[]): Promise<Map<number, string>> {
  const known = await loadKnownHosts(kh);
  const presented = new Map<number, string>();
  for (const i of ids) {
    const p = await probeHostKeys({ address: guestAddr(i), port: PORT, timeoutMs: 5000 });
    expect(p.error, names[i - 1]).toBeUndefined();
    for (const k of p.keys) expect(verify(known, guestAddr(i), PORT, k.keyType, k.key), `${names[i - 1]} ${k.fingerprint}`).toBe('ok');
    presented.set(i, p.keys.find((k) => k.type === 'ed25519')!.key.toString('base64'));
  }
  return presented;
}

beforeAll(async () => {
  tf = await startFleet({ guests: GUESTS, subnet: '127.216.0.0/16', port: PORT });
  names.push(...tf.emu.guests.map((g) => g.cfg.name));
  bastion = await startRealSshd('127.217.0.1', PORT, { logLevel: 'DEBUG1' });
  // The bastion lets the fleet's key in, as a bastion does for its admins.
  appendFileSync(join(bastion.dir, 'authorized_keys'), readFileSync(`${tf.emu.clientKeyPath}.pub`));
  relay = startRelay(bastion);
  await relay.up();
  dir = mkdtempSync(join(tmpdir(), 'fleet-rotate-jump-'));
}, 60_000);

afterAll(async () => {
  await relay?.down();
  await bastion?.stop();
  await tf?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('keys rotate through a jump host', () => {
  it('gives 4 cloned guests behind a bastion their own keys, every step through it; fleet run through it then passes strict checking', async () => {
    const ids = [1, 2, 3, 4];
    const inv = inventory(join(dir, 'behind'), ids);
    const kh = adminKnownHosts(join(dir, 'kh-behind'));
    const sel = ['-i', inv, '--identity', tf.emu.clientKeyPath, '--known-hosts', kh, '--ssh-config', 'none'];
    const log = sinceMark(bastion);
    const confirmWith = console('-- cat /etc/ssh/ssh_host_ed25519_key.pub /etc/ssh/ssh_host_ecdsa_key.pub');
    const r = await fleet('keys', 'rotate', ...sel, '--cloned-only', '--types', 'ed25519,ecdsa', '--confirm-with', confirmWith, '--yes', '--json');
    expect([r.code, r.err]).toEqual([0, '']);
    const rows = jsonLines(r.out);
    const summary = rows.pop()!.summary;
    expect(summary).toMatchObject({ done: 4, total: 4, ended: true, unreachable: [], confirmed: true });
    expect(rows.map((x) => [x.host, x.outcome])).toEqual(ids.map((i) => [names[i - 1], 'done']));
    await jumpsClosed();
    // Every step went through the bastion: the scan, the login of step 1, the login and probe of step 6.
    const through = channels(log());
    for (const i of ids) expect(through.filter((c) => c === `${guestAddr(i)}:${PORT}`).length, names[i - 1]).toBeGreaterThanOrEqual(4);
    expect(new Set(through)).toEqual(new Set(ids.map((i) => `${guestAddr(i)}:${PORT}`)));
    expect(logins(log())).toBeGreaterThanOrEqual(1);
    expect(logins(log())).toBeLessThan(ids.length * 4); // shared logins, not one per guest and step
    // Each its own keys, pinned alone; the cloned key no longer pinned for them.
    const presented = await pinnedAsPresented(kh, ids);
    expect(new Set(presented.values()).size).toBe(ids.length);
    const known = await loadKnownHosts(kh);
    for (const i of ids) expect(lookup(known, guestAddr(i), PORT).pinned.map((p) => p.key.toString('base64'))).toContain(presented.get(i));
    const run = await fleet('run', ...sel, '--json', '--', 'hostname');
    expect(run.code).toBe(0);
    expect(jsonLines(run.out).filter((x) => x.host).map((x) => x.status)).toEqual(ids.map(() => 'ok'));
    await jumpsClosed();
    const scan = await fleet('keys', 'scan', ...sel, '--json');
    expect(jsonLines(scan.out).pop()!.summary).toMatchObject({ pinned: 4, cloneGroups: [] });
    await jumpsClosed();
  });

  it('rotates a guest reachable only through its ProxyCommand', async () => {
    const proxy = `${process.execPath} ${join(import.meta.dirname, '..', 'ssh', 'tcp-proxy.mjs')} ${guestAddr(5)} ${PORT} ${dir}/proxy-%n.pid`;
    const inv = join(dir, 'proxied');
    writeFileSync(inv, `${names[4]} ansible_host=${HIDDEN} ansible_port=${PORT} ansible_user=${tf.emu.user} ansible_ssh_common_args='-o "ProxyCommand=${proxy}"'\n`);
    const kh = adminKnownHosts(join(dir, 'kh-proxied'));
    const sel = ['-i', inv, '--identity', tf.emu.clientKeyPath, '--known-hosts', kh, '--ssh-config', 'none'];
    const before = readFileSync(kh, 'utf8').split('\n').filter((l) => l.startsWith(`[${HIDDEN}]`));
    const r = await fleet('keys', 'rotate', ...sel, '--types', 'ed25519,ecdsa', '--no-revoke', '--yes', '--json');
    expect([r.code, r.err]).toEqual([0, '']);
    expect(jsonLines(r.out)[0]).toMatchObject({ host: names[4], address: HIDDEN, outcome: 'done' });
    // Pinned under the address the inventory gives, to the keys the guest serves now.
    const now = (await probeHostKeys({ address: guestAddr(5), port: PORT, timeoutMs: 5000 })).keys;
    const known = await loadKnownHosts(kh);
    const pinned = lookup(known, HIDDEN, PORT).pinned.map((p) => p.key.toString('base64')).sort();
    expect(pinned).toEqual(now.map((k) => k.key.toString('base64')).sort());
    expect(before.some((l) => pinned.includes(l.split(' ')[2]!))).toBe(false);
    const run = await fleet('run', ...sel, '--json', '--', 'hostname');
    expect(run.code).toBe(0);
  });

  it('--console gives a guest behind the bastion that presents the revoked golden key its own keys, checked through the bastion', async () => {
    const inv = inventory(join(dir, 'revoked'), [12]);
    const kh = join(dir, 'kh-revoked');
    const golden = readFileSync(tf.emu.knownHostsPath, 'utf8').split('\n').filter((l) => l.startsWith(`[${guestAddr(12)}]:${PORT} `));
    writeFileSync(kh, `${golden.map((l) => `@revoked * ${l.split(' ').slice(1).join(' ')}`).join('\n')}\n[${RELAY.address}]:${RELAY.port} ssh-ed25519 ${bastion.hostKey}\n`);
    const sel = ['-i', inv, '--identity', tf.emu.clientKeyPath, '--known-hosts', kh, '--ssh-config', 'none'];
    const log = sinceMark(bastion);
    const r = await fleet('keys', 'rotate', ...sel, '--types', 'ed25519,ecdsa', '--console', console('--stdin -- sh'), '--yes', '--json');
    expect([r.code, r.err]).toEqual([0, '']);
    expect(jsonLines(r.out)[0]).toMatchObject({ host: names[11], outcome: 'done' });
    await jumpsClosed();
    // Scanned, then logged into pinned to the new keys alone and probed, through the bastion.
    expect(channels(log()).filter((c) => c === `${guestAddr(12)}:${PORT}`).length).toBeGreaterThanOrEqual(3);
    await pinnedAsPresented(kh, [12]);
    expect((await fleet('run', ...sel, '--', 'true')).code).toBe(0);
    await jumpsClosed();
  });

  it('a playbook keys step rotates guests behind the bastion, and the steps after it go through it too', async () => {
    const ids = [10, 11];
    const inv = inventory(join(dir, 'play'), ids);
    const kh = adminKnownHosts(join(dir, 'kh-play'));
    const pb = join(dir, 'rotate.yaml');
    writeFileSync(pb, 'steps:\n  - keys: {types: "ed25519,ecdsa"}\n  - run: hostname\n');
    const log = sinceMark(bastion);
    const r = await fleet('play', '-i', inv, '--identity', tf.emu.clientKeyPath, '--known-hosts', kh, '--ssh-config', 'none', '--json', pb);
    expect([r.code, r.err]).toEqual([0, '']);
    expect(jsonLines(r.out).at(-1)!.summary).toMatchObject({ ok: 2 });
    await jumpsClosed();
    expect(new Set(channels(log()))).toEqual(new Set(ids.map((i) => `${guestAddr(i)}:${PORT}`)));
    const presented = await pinnedAsPresented(kh, ids);
    expect(new Set(presented.values()).size).toBe(2);
  });
});

describe('the bastion goes down mid-run', () => {
  const ids = [6, 7, 8, 9];
  let inv: string;
  let kh: string;
  const sel = () => ['-i', inv, '--identity', tf.emu.clientKeyPath, '--known-hosts', kh, '--ssh-config', 'none'];

  beforeAll(() => {
    inv = inventory(join(dir, 'down'), ids);
    kh = adminKnownHosts(join(dir, 'kh-down'));
  });

  it('leaves every guest pinned as it presents, the run open; a resume with the route changed is refused; one through the bastion finishes it', async () => {
    const targets: RotateTarget[] = ids.map((i) => ({
      name: names[i - 1]!, address: guestAddr(i), port: PORT, user: tf.emu.user,
      jump: [{ host: RELAY.address, address: RELAY.address, port: RELAY.port, user: 'root' }],
    }));
    let cut = false;
    const r = await rotateFleet({
      targets, knownHostsPath: kh, journalPath: `${kh}.rotate.jsonl`, credentials: { privateKey: tf.clientKey },
      connectTimeoutMs: 5000, commandTimeoutMs: 30_000, fanout: 4, types: ['ed25519', 'ecdsa'], clonedOnly: false,
      restartCommand: null, confirmWith: null, resume: false,
      // The first guest about to swap its keys loses the bastion (and its step-1 session with it).
      onStep: async (_host, step) => {
        if (step === 'swap' && !cut) {
          cut = true;
          await relay.down();
        }
      },
    });
    try {
      expect(cut).toBe(true);
      expect(r.ended).toBe(false);
      expect(r.results.some((x) => x.outcome === 'pending')).toBe(true);
      expect(r.results.filter((x) => x.outcome === 'done')).toEqual([]);
      // Nothing half-pinned: whatever each guest serves is pinned for it.
      await pinnedAsPresented(kh, ids);
      const state = replay(await readJournal(`${kh}.rotate.jsonl`))!;
      expect(state.run.targets[0]!.jump).toEqual(targets[0]!.jump);
      const st = jsonLines((await fleet('keys', 'status', ...sel(), '--json')).out);
      const waiting = st.filter((x) => x.state === 'in-progress');
      expect(waiting.length).toBeGreaterThan(0);
      expect(waiting.every((x) => x.next === 'wait (unreachable)')).toBe(true);
    } finally {
      if (cut) await relay.up();
    }
    await jumpsClosed();
    // With the bastion back, status probes through it and says what a resume will do.
    const st = jsonLines((await fleet('keys', 'status', ...sel(), '--json')).out);
    expect(st.filter((x) => x.state === 'in-progress').every((x) => x.next === 'finish' || x.next === 'roll back')).toBe(true);
    await jumpsClosed();
    // The selection now reaches them straight: the journal says the run went through the bastion.
    const journal = readFileSync(`${kh}.rotate.jsonl`, 'utf8');
    const moved = await fleet('keys', 'rotate', ...sel(), '--jump', 'none', '--resume', '--yes');
    expect(moved.code).toBe(2);
    expect(moved.err).toContain(`fleet: cannot resume the rotation ${r.run}: 4 of its guests are no longer reached the way the run reached them`);
    expect(moved.err).toContain(`${names[5]}: the run went to ${guestAddr(6)}:${PORT} through jump host root@${RELAY.address}:${RELAY.port}; the selection now says ${guestAddr(6)}:${PORT} directly`);
    expect(readFileSync(`${kh}.rotate.jsonl`, 'utf8')).toBe(journal);
    const res = await fleet('keys', 'rotate', ...sel(), '--resume', '--yes', '--json');
    expect([res.code, res.err]).toEqual([0, '']);
    expect(jsonLines(res.out).pop()!.summary).toMatchObject({ resumed: true, done: 4, total: 4, ended: true });
    await jumpsClosed();
    const presented = await pinnedAsPresented(kh, ids);
    expect(new Set(presented.values()).size).toBe(ids.length);
    const run = await fleet('run', ...sel(), '--json', '--', 'true');
    expect(run.code).toBe(0);
    await jumpsClosed();
  });
});

describe('hopWaves', () => {
  const t = (name: string, address: string, via: string[] = []): RotateTarget => ({
    name, address, port: 22, user: 'root', jump: via.map((a) => ({ host: a, address: a, port: 22, user: 'root' })),
  });

  it('rotates the guests behind a jump host before the jump host, a chain from the far end', () => {
    const b1 = t('b1', '10.0.0.1');
    const b2 = t('b2', '10.0.1.1', ['10.0.0.1']);
    const g1 = t('g1', '10.0.1.5', ['10.0.0.1', '10.0.1.1']);
    const g2 = t('g2', '10.0.0.5', ['10.0.0.1']);
    const lone = t('lone', '10.9.0.1');
    expect(hopWaves([b1, b2, g1, g2, lone]).map((w) => w.map((x) => x.name))).toEqual([['g1', 'g2', 'lone'], ['b2'], ['b1']]);
    expect(hopWaves([g1, g2]).map((w) => w.map((x) => x.name))).toEqual([['g1', 'g2']]);
  });
});

describe('routeChanges', () => {
  const hop = (address: string, user = 'ops') => ({ host: 'bastion', address, port: 22, user });
  const g = (extra: Partial<RotateTarget> = {}): RotateTarget => ({ name: 'g1', address: '10.1.0.5', port: 22, user: 'root', jump: [hop('10.9.0.1')], ...extra });

  it('names a guest whose address, port, hops or ProxyCommand differ; another login on the same hops is the same route', () => {
    expect(routeChanges([g()], [g({ jump: [hop('10.9.0.1', 'admin')], identityFiles: ['/k'] })])).toEqual([]);
    expect(routeChanges([g()], [{ ...g(), name: 'other', jump: [] }])).toEqual([]); // not selected now: the journal's route is taken
    expect(routeChanges([g()], [g({ jump: [hop('10.9.0.2')] })])).toEqual([
      { host: 'g1', was: '10.1.0.5:22 through jump host ops@10.9.0.1:22', now: '10.1.0.5:22 through jump host ops@10.9.0.2:22' },
    ]);
    expect(routeChanges([g()], [g({ jump: undefined, proxyCommand: 'nc %h %p' })])[0]!.now).toBe('10.1.0.5:22 through ProxyCommand `nc %h %p`');
    expect(routeChanges([g()], [g({ port: 2222 })])).toHaveLength(1);
  });

  it('the journal keeps where and how a guest is reached, not whatever else the caller passed', () => {
    const rec = targetRecord({ ...g({ identityFiles: [] }), sources: { user: { from: 'default' } } } as RotateTarget);
    expect(rec).toEqual({ name: 'g1', address: '10.1.0.5', port: 22, user: 'root', jump: [hop('10.9.0.1')] });
  });
});
