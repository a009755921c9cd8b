// --confirm-with is tried once, on one guest, before any guest is touched: a command that fails,
// prints nothing, or leaves out a key type the rotation produces stops the run (exit 2), naming the
// guest, the command and what was missing, with nothing changed on any guest or in known_hosts.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfirmationError } from '../../src/hostkeys/index.js';
import { fleet } from '../cli/cli-harness.js';
import { useFleet } from '../helpers/emulator.js';
import { adminKnownHosts, checkInvariant, rotate } from './helpers.js';

const BIN = fileURLToPath(new URL('../../bin/fleet', import.meta.url));
const BUILT = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

const F = useFleet({ guests: 4, subnet: '127.168.0.0/16' });
let kh: string;
const consoleCat = (command: string, guestVar = '$FLEET_HOST') =>
  `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} emulator console --state ${JSON.stringify(F().state)} "${guestVar}" -- ${command}`;

beforeAll(() => {
  expect(existsSync(BUILT), 'run `npm run build` first: the console runs bin/fleet').toBe(true);
  kh = adminKnownHosts(F().emu);
});

/** Every guest still serves the golden keys and known_hosts is byte for byte what it was. */
async function untouched(before: string) {
  expect(readFileSync(kh, 'utf8')).toBe(before);
  const served = new Set(F().emu.guests.map((g) => F().emu.publicHostKeys(g).join('\n')));
  expect(served.size).toBe(1);
  expect((await checkInvariant(F().emu, kh, { login: false })).problems).toEqual([]);
}

describe('--confirm-with is checked before the rotation touches any guest', () => {
  it('a command that omits a type the rotation keeps (RSA, kept by default) stops the run, naming guest, command and type', async () => {
    const before = readFileSync(kh, 'utf8');
    const command = consoleCat('cat /etc/ssh/ssh_host_ed25519_key.pub /etc/ssh/ssh_host_ecdsa_key.pub');
    const err = await rotate(F().emu, kh, { types: null, confirmWith: command }).catch((e) => e);
    expect(err).toBeInstanceOf(ConfirmationError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain('tried on guest001 (127.168.0.1) before touching any guest');
    expect(err.message).toMatch(/did not print the guest's current ssh-rsa SHA256:\S+/);
    expect(err.message).toContain('rsa missing');
    expect(err.message).toContain(`command: ${command}`);
    await untouched(before);
    expect(readFileSync(`${kh}.rotate.jsonl`, 'utf8')).toBe(''); // no run was journaled
  });

  it('a quoting slip (an unset variable: the command fails) and a command printing nothing stop it too', async () => {
    const before = readFileSync(kh, 'utf8');
    const slip = await rotate(F().emu, kh, { confirmWith: consoleCat("'cat /etc/ssh/ssh_host_*_key.pub'", '$FLEET_GUEST') }).catch((e) => e);
    expect(slip).toBeInstanceOf(ConfirmationError);
    expect(slip.message).toMatch(/tried on guest001 .*, failed \(exit status \d+\b.*nothing was changed. command: .*FLEET_GUEST/);
    const empty = await rotate(F().emu, kh, { confirmWith: 'true' }).catch((e) => e);
    expect(empty).toBeInstanceOf(ConfirmationError);
    expect(empty.message).toMatch(/printed no public key \(it must print the guest's .pub or known_hosts lines: ssh-ed25519 SHA256:\S+, ecdsa-sha2-nistp256 SHA256:\S+\)/);
    await untouched(before);
  });

  it('through the CLI: exit 2, one line on stderr, nothing rotated', async () => {
    const before = readFileSync(kh, 'utf8');
    const r = await fleet('keys', 'rotate', '-i', F().emu.inventoryPath, '--known-hosts', kh, '--identity', F().emu.clientKeyPath,
      '--confirm-with', consoleCat('cat /etc/ssh/ssh_host_ed25519_key.pub'), '--types', 'ed25519,ecdsa', '--yes');
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/^fleet: --confirm-with, tried on guest001 .*ecdsa missing/);
    await untouched(before);
  });

  it('a command printing every type the guest keeps lets the rotation run and confirm each guest', async () => {
    const r = await rotate(F().emu, kh, { types: ['ed25519', 'ecdsa'], confirmWith: consoleCat("'cat /etc/ssh/ssh_host_*_key.pub'") });
    expect(r.results.map((x) => [x.host, x.outcome, x.error])).toEqual(F().emu.guests.map((g) => [g.cfg.name, 'done', undefined]));
    expect((await checkInvariant(F().emu, kh)).problems).toEqual([]);
  });
});
