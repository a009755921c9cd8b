// Running commands on an emulated guest: the exec contract shared with a real sshd
// (openssh-contract.test.ts), then what is the emulator's own: a command's lifetime, identity
// (hostname, uid, home, sudo), and the real OpenSSH client against the guests.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_USER, PLAIN_USER } from '../../src/emulator/index.js';
import { connectGuest, runOn, startFleet, type TestFleet } from '../helpers/emulator.js';
import { describeExecContract } from '../helpers/exec-contract.js';
import { runOpenssh, type OpensshTarget } from '../helpers/openssh.js';
import type { SshSession } from '../helpers/ssh-client.js';

let fleet: TestFleet | undefined;
const F = () => fleet!;
let s1: SshSession | undefined;
const S = () => s1!;

beforeAll(async () => {
  fleet = await startFleet({ guests: 3, subnet: '127.81.0.0/16' });
  s1 = await connectGuest(fleet, 1);
});
afterAll(async () => {
  s1?.close();
  await fleet?.stop();
});

/** Host pids whose command line (arguments joined by NUL) contains `marker`. */
function processesWith(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

async function waitUntil(what: string, cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(25);
  }
}

function firstOutput(channel: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => channel.once('data', (d: Buffer) => resolve(d.toString())));
}

describeExecContract('emulated guest', () => ({ connect: () => connectGuest(F(), 2) }), { signalRequests: true });

// Beyond the contract: the emulator's own promise about a command's lifetime (a real sshd lets a
// command without a pty run on after its channel or connection is gone).
describe('exec on a guest', () => {
  it('kills the command and everything it started when the channel closes', async () => {
    const tag = `${process.pid}-${Date.now()}`;
    // A background subshell: killing only the top shell would leave it to create the file.
    const command = (i: number, secs: string) => `echo started; (sleep ${secs}; touch /tmp/survived-${i}-${tag}) & wait`;
    const secs = { 1: `2.${String(process.pid).padStart(6, '0').slice(-6)}1`, 2: `2.${String(process.pid).padStart(6, '0').slice(-6)}2` };
    const guestFile = (i: number) => join(F().emu.guests[i - 1]!.cfg.dir, 'tmp', `survived-${i}-${tag}`);
    // Control: the same command on guest 2, left alone, does create its file.
    const s2 = await connectGuest(F(), 2);
    try {
      const control = s2.exec(command(2, secs[2]));
      const channel = await S().start(command(1, secs[1]));
      channel.stderr.resume();
      expect(await firstOutput(channel)).toBe('started\n');
      const sleeper = `sleep\0${secs[1]}`;
      await waitUntil('the sleep to start', () => processesWith(sleeper).length === 1, 3000);
      expect(processesWith(`survived-1-${tag}`).length).toBeGreaterThan(0);
      channel.close();
      await waitUntil('the command to be reaped', () => F().emu.guests[0]!.status().commands === 0, 5000);
      await waitUntil('guest 1\'s processes to go', () => processesWith(`-1-${tag}`).length + processesWith(secs[1]).length === 0, 3000);
      expect((await control).code).toBe(0);
      expect(existsSync(guestFile(2))).toBe(true);
      expect(existsSync(guestFile(1))).toBe(false);
      expect(processesWith(sleeper)).toEqual([]);
      expect((await S().exec('echo still here')).stdout).toBe('still here\n'); // the connection lives on
    } finally {
      s2.close();
    }
  });

  it('kills the command when the connection is lost', async () => {
    const secs = `3.${String(process.pid).slice(-5)}7`;
    const sleeper = `sleep\0${secs}`;
    const lost = await connectGuest(F(), 3);
    try {
      const channel = await lost.start(`echo started; sleep ${secs}; echo done`);
      channel.stderr.resume();
      expect(await firstOutput(channel)).toBe('started\n');
      await waitUntil('the sleep to start', () => processesWith(sleeper).length === 1, 3000);
      lost.client.destroy(); // the TCP connection dies without any SSH goodbye
      await waitUntil('the sleep to be killed', () => processesWith(sleeper).length === 0, 3000);
      await waitUntil('the command to be reaped', () => F().emu.guests[2]!.status().commands === 0, 3000);
    } finally {
      lost.close();
    }
  });

  it('keeps concurrent sessions on several guests apart', async () => {
    const sessions = await Promise.all([1, 2, 3].flatMap((i) => Array.from({ length: 6 }, () => connectGuest(F(), i).then((s) => ({ i, s })))));
    try {
      const results = await Promise.all(sessions.map(({ i, s }) => s.exec(`hostname; cat /etc/hostname; echo ${i}`)));
      results.forEach((r, k) => {
        const i = sessions[k]!.i;
        expect(r).toMatchObject({ code: 0, stdout: `guest00${i}\nguest00${i}\n${i}\n` });
      });
    } finally {
      for (const { s } of sessions) s.close();
    }
  });

  it('counts running commands in status()', async () => {
    const channel = await S().start('echo started; exec sleep 20');
    channel.stderr.resume();
    expect(await firstOutput(channel)).toBe('started\n');
    expect(F().emu.guests[0]!.status().commands).toBe(1);
    expect(F().emu.status().commands).toBe(1);
    channel.close();
    await waitUntil('the command to be reaped', () => F().emu.status().commands === 0, 5000);
  });
});

describe('identity on a guest', () => {
  it('prints the guest\'s own hostname', async () => {
    expect((await S().exec('hostname; cat /etc/hostname')).stdout).toBe('guest001\nguest001\n');
    expect((await runOn(F(), 3, 'hostname')).stdout).toBe('guest003\n');
  });

  it('runs as fleetadm (uid 1000) with its environment', async () => {
    expect((await S().exec('id -u; id -g; echo "$USER $LOGNAME $HOME"')).stdout).toBe(`1000\n1000\n${ADMIN_USER} ${ADMIN_USER} /home/${ADMIN_USER}\n`);
  });

  it('starts the login in the user\'s home, which the user owns and can write', async () => {
    const r = await S().exec('pwd; stat -c %u:%g "$HOME"; touch "$HOME/written" && echo wrote');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`/home/${ADMIN_USER}\n1000:1000\nwrote\n`);
  });

  it('gives fleetadm passwordless sudo', async () => {
    expect(await S().exec('sudo -n id -u')).toMatchObject({ code: 0, stdout: '0\n' });
  });

  it('refuses sudo to operator with sudo\'s usual message', async () => {
    const r = await runOn(F(), 1, 'sudo -n id -u', { username: PLAIN_USER });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/a password is required/);
    expect((await runOn(F(), 1, 'id -u', { username: PLAIN_USER })).stdout).toBe('1001\n');
  });
});

describe('the real OpenSSH client', () => {
  const target = (i: number, knownHosts?: string): OpensshTarget => ({
    state: F().state,
    address: F().emu.guests[i - 1]!.cfg.address,
    port: F().emu.port,
    user: ADMIN_USER,
    knownHosts,
  });

  it('runs sudo on a guest with StrictHostKeyChecking=yes against STATE/known_hosts', async () => {
    const r = await runOpenssh(target(2), 'sudo -n id -u');
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('0');
  });

  it('carries exit codes, stderr and hostname', async () => {
    const r = await runOpenssh(target(3), 'hostname; echo oops >&2; exit 7');
    expect(r).toMatchObject({ exitCode: 7, stdout: 'guest003', stderr: 'oops' });
  });

  it('refuses a guest whose key is not in the known_hosts it is given', async () => {
    const other = join(F().state, 'other_known_hosts');
    // Another guest's lines only: the right keys (clones) under the wrong name.
    const lines = readFileSync(F().emu.knownHostsPath, 'utf8').split('\n').filter((l) => l.startsWith(`[${F().emu.guests[0]!.cfg.address}]`));
    writeFileSync(other, `${lines.join('\n')}\n`);
    const r = await runOpenssh(target(2, other), 'true');
    expect(r.exitCode).toBe(255);
    expect(r.stderr).toMatch(/Host key verification failed/);
  });
});
