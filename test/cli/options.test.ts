// Every option of every command, walked from the program's own definition, refuses bad values with
// one line and exit 2 before anything connects; unknown options and extra words are usage errors
// too; an unexpected exception is one line unless --debug; the FLEET_* defaults and their precedence.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command, Option } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { commandPath, ENV_DEFAULTS } from '../../src/cli/options.js';
import { optionSpec } from '../../src/cli/option-specs.js';
import { fleet, jsonLines } from './cli-harness.js';
import { startFleet, type TestFleet } from '../helpers/emulator.js';

const leaves = (c: Command): Command[] => (c.commands.length ? c.commands.flatMap(leaves) : [c]);
const program = buildProgram();
const commands = leaves(program);

// Samples for required arguments and mandatory options, so only the option under test is wrong.
const SAMPLE_ARGS: Record<string, string> = { guest: 'guest001', action: 'start', fingerprint: `SHA256:${'A'.repeat(43)}` };
const SAMPLE_MANDATORY: Record<string, string> = { '--guests': '2' };

let dir: string;
let inv: string;
let knownHosts: string;
let listener: net.Server;
let connections = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleet-options-'));
  // A guest that counts every TCP connection: the checks must all come before any.
  listener = net.createServer((s) => (connections++, s.destroy()));
  await new Promise<void>((r) => listener.listen(0, '127.175.0.1', r));
  const port = (listener.address() as net.AddressInfo).port;
  inv = join(dir, 'hosts');
  writeFileSync(inv, `guest001 ansible_host=127.175.0.1 ansible_port=${port}\n`);
  knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, '');
});

afterAll(async () => {
  await new Promise((r) => listener.close(r));
  rmSync(dir, { recursive: true, force: true });
});

/** Arguments that make `cmd` otherwise well-formed: its required words, mandatory options, a harmless inventory/state. */
function baseArgs(cmd: Command, skip: Option): string[] {
  const args = [...commandPath(cmd).split(' ')];
  for (const a of cmd.registeredArguments) {
    if (!a.required) continue;
    const sample = SAMPLE_ARGS[a.name()];
    if (sample === undefined) throw new Error(`no sample value for <${a.name()}> of ${commandPath(cmd)}: add one to SAMPLE_ARGS`);
    args.push(sample);
  }
  for (const o of cmd.options) {
    if (o === skip) continue;
    if (o.mandatory) args.push(o.long!, SAMPLE_MANDATORY[o.long!] ?? 'x');
    if (o.long === '--inventory') args.push('-i', inv);
    if (o.long === '--state') args.push('--state', join(dir, 'state'));
    if (o.long === '--subnet') args.push('--subnet', '127.175.9.0/24');
    if (o.long === '--ssh-config') args.push('-F', 'none');
  }
  return args;
}

const valueOptions = commands.flatMap((cmd) =>
  cmd.options.filter((o) => o.required || o.optional).map((o) => ({ cmd, o, path: commandPath(cmd) })));

describe('every option of every command', () => {
  it('has a schema (a new option without one fails here)', () => {
    const missing = valueOptions.filter(({ o, path }) => !optionSpec(path, o)).map(({ o, path }) => `${path} ${o.flags}`);
    expect(missing).toEqual([]);
    expect(valueOptions.length).toBeGreaterThan(100);
  });

  const cases = valueOptions.flatMap(({ cmd, o, path }) =>
    ['', ...(optionSpec(path, o)?.refuses ?? [])].map((bad) => ({ cmd, o, name: `${path} ${o.long} '${bad}'`, bad })));
  it.each(cases)('$name: exit 2, one line naming the option, no stack, nothing connects', async ({ cmd, o, bad }) => {
    const r = await fleet(...baseArgs(cmd, o), `${o.long}=${bad}`, '--', 'true');
    expect({ code: r.code, out: r.out }).toEqual({ code: 2, out: '' });
    expect(r.err.trimEnd().split('\n')).toHaveLength(1);
    expect(r.err).toContain(o.long!);
    expect(r.err).not.toMatch(/internal error|\n\s+at /);
    expect(connections).toBe(0);
  });
});

describe('usage errors from commander', () => {
  it.each(commands.map((cmd) => ({ cmd, path: commandPath(cmd) })))('$path: an unknown option, then a word too many: exit 2, one line', async ({ cmd }) => {
    const base = baseArgs(cmd, undefined as unknown as Option);
    const unknown = await fleet(...base, '--no-such-option');
    expect([unknown.code, unknown.err.trimEnd().split('\n').length]).toEqual([2, 1]);
    expect(unknown.err).toContain("unknown option '--no-such-option'");
    const args = cmd.registeredArguments;
    if (args.at(-1)?.variadic) return;
    const words = args.map((a) => SAMPLE_ARGS[a.name()] ?? 'x');
    const extra = await fleet(...commandPath(cmd).split(' '), ...words, 'one-too-many', ...base.slice(commandPath(cmd).split(' ').length + args.filter((a) => a.required).length));
    expect([extra.code, extra.err.trimEnd().split('\n').length]).toEqual([2, 1]);
    expect(extra.err).toMatch(/too many arguments/);
    expect(connections).toBe(0);
  });

  it('a missing required option or argument: exit 2', async () => {
    expect((await fleet('emulator', 'up')).code).toBe(2);
    expect((await fleet('keys', 'revoke')).code).toBe(2);
  });
});

describe('words besides options', () => {
  it('an empty push destination, an empty console guest, a bad fault spec: exit 2 before anything else', async () => {
    const local = join(dir, 'file.txt');
    writeFileSync(local, 'x\n');
    for (const args of [
      ['push', '-i', inv, local, ''],
      ['push', '-i', inv, 'guest001', local, ''],
      ['emulator', 'console', '--state', join(dir, 'state'), '', '--', 'true'],
      ['emulator', 'fault', '--state', join(dir, 'state'), 'bogus@3'],
      ['emulator', 'fault', '--state', join(dir, 'state'), 'slow:abc@3'],
      ['emulator', 'sshd', '--state', join(dir, 'state'), 'restart', 'guest001'],
      ['run', '-i', inv, '', '--', 'true'],
    ]) {
      const r = await fleet(...args);
      expect([args.join(' '), r.code, r.err.trimEnd().split('\n').length]).toEqual([args.join(' '), 2, 1]);
    }
    expect(connections).toBe(0);
  });
});

describe('files the options name', () => {
  it('a .pub file as --identity, a missing --known-hosts, -u \'\': exit 2 saying why', async () => {
    const pub = join(dir, 'id_ed25519.pub');
    writeFileSync(pub, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@here\n');
    const id = await fleet('run', '-i', inv, '--identity', pub, '--', 'true');
    expect([id.code, id.err]).toEqual([2, `fleet: --identity must be a private key; this is a public key (try ${pub.slice(0, -4)}), got '${pub}'\n`]);
    const disguised = join(dir, 'key');
    writeFileSync(disguised, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n');
    expect((await fleet('run', '-i', inv, '--identity', disguised, '--', 'true')).err).toMatch(/--identity must be a private key/);
    const kh = await fleet('run', '-i', inv, '--known-hosts', join(dir, 'nope'), '--', 'true');
    expect([kh.code, kh.err]).toEqual([2, `fleet: --known-hosts must name an existing known_hosts file, got '${join(dir, 'nope')}'\n`]);
    const u = await fleet('run', '-i', inv, '-u', '', '--', 'true');
    expect([u.code, u.err]).toEqual([2, "fleet: --user needs a value, got an empty one\n"]);
    expect(connections).toBe(0);
  });
});

describe('an unexpected exception', () => {
  it('is one line; --debug adds the stack', async () => {
    // An emulator state whose pid file names a live process (this one) but has no control socket.
    const state = join(dir, 'broken-state');
    mkdirSync(state);
    writeFileSync(join(state, 'emulator.pid'), `${process.pid}\n`);
    const plain = await fleet('emulator', 'status', '--state', state);
    expect(plain.code).toBe(70);
    expect(plain.err.trimEnd().split('\n')).toHaveLength(1);
    expect(plain.err).toMatch(/^fleet: internal error: .*ENOENT.* \(--debug shows where\)\n$/);
    const debug = await fleet('--debug', 'emulator', 'status', '--state', state);
    expect(debug.code).toBe(70);
    expect(debug.err).toMatch(/\n\s+at /);
  });
});

describe('FLEET_* defaults', () => {
  const withEnv = async <T>(env: Record<string, string>, work: () => Promise<T>): Promise<T> => {
    const old = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    try {
      return await work();
    } finally {
      for (const [k, v] of Object.entries(old)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
  };

  it('FLEET_INVENTORY and FLEET_USER are used; a flag wins', async () => {
    const other = join(dir, 'other');
    writeFileSync(other, 'other001 ansible_host=127.175.0.2\n');
    const fromEnv = await withEnv({ FLEET_INVENTORY: inv, FLEET_USER: 'envuser' }, () => fleet('inventory', '-F', 'none', '--json'));
    expect(jsonLines(fromEnv.out).map((x) => [x.name, x.user])).toEqual([['guest001', 'envuser']]);
    const flags = await withEnv({ FLEET_INVENTORY: inv, FLEET_USER: 'envuser' }, () => fleet('inventory', '-F', 'none', '-i', other, '-u', 'flaguser', '--json'));
    expect(jsonLines(flags.out).map((x) => [x.name, x.user])).toEqual([['other001', 'flaguser']]);
  });

  it('fleet inventory names the variable each value came from; the command line beats it', async () => {
    const key = join(dir, 'id_test');
    writeFileSync(key, '-----BEGIN OPENSSH PRIVATE KEY-----\nnot read here\n-----END OPENSSH PRIVATE KEY-----\n');
    const cliKnown = join(dir, 'known_hosts_cli');
    writeFileSync(cliKnown, '');
    const env = { FLEET_INVENTORY: inv, FLEET_USER: 'envuser', FLEET_IDENTITY: key, FLEET_KNOWN_HOSTS: knownHosts };
    const fromEnv = await withEnv(env, () => fleet('inventory', '-F', 'none', '--json'));
    const [row] = jsonLines(fromEnv.out);
    expect([row!.user, row!.identityFiles, row!.knownHostsFiles, row!.inventory]).toEqual(['envuser', [key], [knownHosts], inv]);
    expect(row!.from).toMatchObject({
      user: 'env FLEET_USER', identityFiles: 'env FLEET_IDENTITY', knownHostsFiles: 'env FLEET_KNOWN_HOSTS', inventory: 'env FLEET_INVENTORY',
      port: `inventory ${inv}:1 (ansible_port)`, connectTimeoutMs: 'default', sshConfig: 'flag --ssh-config',
    });
    const flags = await withEnv(env, () => fleet('inventory', '-F', 'none', '-i', inv, '-u', 'flaguser', '--known-hosts', cliKnown, '--json'));
    const [over] = jsonLines(flags.out);
    expect([over!.user, over!.knownHostsFiles, over!.identityFiles]).toEqual(['flaguser', [cliKnown], [key]]);
    expect(over!.from).toMatchObject({ user: 'flag --user', knownHostsFiles: 'flag --known-hosts', identityFiles: 'env FLEET_IDENTITY', inventory: 'flag --inventory' });
    // Without a terminal or --json: one line per setting, with where it came from.
    const human = await withEnv(env, () => fleet('inventory', '-F', 'none', '-u', 'flaguser'));
    expect(human.out).toContain(`  inventory:       ${inv}  (env FLEET_INVENTORY)\n`);
    expect(human.out).toContain('  user:            flaguser  (flag --user)\n');
    expect(human.out).toContain(`  identity:        ${key}  (env FLEET_IDENTITY)\n`);
    expect(human.out).toContain(`  known_hosts:     ${knownHosts}  (env FLEET_KNOWN_HOSTS)\n`);
    expect(human.out).toContain('  connect timeout: 10 s  (default)\n');
  });

  it('a host\'s own inventory vars beat FLEET_USER and FLEET_IDENTITY (as Ansible ranks ansible_user above ANSIBLE_REMOTE_USER); the command line beats both', async () => {
    const envKey = join(dir, 'id_env');
    const invKey = join(dir, 'id_inv');
    for (const k of [envKey, invKey]) writeFileSync(k, '-----BEGIN OPENSSH PRIVATE KEY-----\nnot read here\n-----END OPENSSH PRIVATE KEY-----\n');
    const mixed = join(dir, 'mixed');
    writeFileSync(mixed, `own001 ansible_host=127.175.0.3 ansible_user=invuser ansible_ssh_private_key_file=${invKey}\nplain001 ansible_host=127.175.0.4\n`);
    const env = { FLEET_USER: 'envuser', FLEET_IDENTITY: envKey };
    const rows = jsonLines((await withEnv(env, () => fleet('inventory', '-F', 'none', '-i', mixed, '--json'))).out);
    expect(rows.map((x) => [x.name, x.user, x.identityFiles, x.from.user, x.from.identityFiles])).toEqual([
      ['own001', 'invuser', [invKey], `inventory ${mixed}:1 (ansible_user)`, `inventory ${mixed}:1 (ansible_ssh_private_key_file)`],
      ['plain001', 'envuser', [envKey], 'env FLEET_USER', 'env FLEET_IDENTITY'],
    ]);
    const flagged = jsonLines((await withEnv(env, () => fleet('inventory', '-F', 'none', '-i', mixed, '-u', 'flaguser', '--identity', envKey, '--json'))).out);
    expect(flagged.map((x) => [x.name, x.user, x.identityFiles])).toEqual([['own001', 'flaguser', [envKey]], ['plain001', 'flaguser', [envKey]]]);
  });

  it('a bad FLEET_* value names the variable: exit 2, one line, nothing connects', async () => {
    for (const [name, value] of [['FLEET_FANOUT', '0'], ['FLEET_KNOWN_HOSTS', join(dir, 'nope')], ['FLEET_IDENTITY', join(dir, 'nope')], ['FLEET_USER', 'a b']]) {
      const r = await withEnv({ [name!]: value! }, () => fleet('run', '-i', inv, '--', 'true'));
      expect([name, r.code, r.err.trimEnd().split('\n').length]).toEqual([name, 2, 1]);
      expect(r.err).toMatch(new RegExp(`^fleet: ${name} \\(--`));
    }
    expect(connections).toBe(0);
  });

  it('every variable the code reads is in fleet --help, in each --help that takes it, and in README with its precedence', async () => {
    expect(Object.values(ENV_DEFAULTS)).toEqual(expect.arrayContaining(['FLEET_INVENTORY', 'FLEET_IDENTITY', 'FLEET_KNOWN_HOSTS', 'FLEET_USER', 'FLEET_FANOUT']));
    const top = (await fleet('--help')).out;
    const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('**Defaults from the environment.**'), readme.indexOf('**Reruns, retries, progress.**'));
    expect(section).toContain('highest first: the command line, a host\'s own inventory vars');
    expect(top).toContain('highest first: the command line, a host\'s own inventory vars');
    expect(section.indexOf('inventory vars')).toBeLessThan(section.indexOf('the FLEET_* variable'));
    expect(top.indexOf('inventory vars')).toBeLessThan(top.indexOf('the FLEET_* variable'));
    for (const [flag, v] of Object.entries(ENV_DEFAULTS)) {
      expect(top).toMatch(new RegExp(`^  ${v} +${flag}$`, 'm'));
      expect(section).toMatch(new RegExp(`^\\| \`${v}\` \\| \`(-\\w, )?${flag}\``, 'm'));
      const takers = commands.filter((c) => c.options.some((o) => o.long === flag));
      expect(takers.length, flag).toBeGreaterThan(0);
      for (const c of takers) expect((await fleet(...commandPath(c).split(' '), '--help')).out.replace(/\s+/g, ' '), `${commandPath(c)} ${flag}`).toContain(`env: ${v}`);
    }
  });

  it('FLEET_EMULATOR_STATE stands for --state', async () => {
    const state = join(dir, 'state-from-env');
    const r = await withEnv({ FLEET_EMULATOR_STATE: state }, () => fleet('emulator', 'status', '--json'));
    expect(jsonLines(r.out)).toEqual([{ running: false, state }]);
    const flag = await withEnv({ FLEET_EMULATOR_STATE: state }, () => fleet('emulator', 'status', '--state', join(dir, 'other-state'), '--json'));
    expect(jsonLines(flag.out)).toEqual([{ running: false, state: join(dir, 'other-state') }]);
  });
});

describe('a running emulator refuses what it does not know with exit 2', () => {
  let emu: TestFleet;
  beforeAll(async () => {
    emu = await startFleet({ guests: 2, subnet: '127.176.0.0/24', port: 2222 });
  });
  afterAll(async () => emu?.stop());

  it('an unknown guest for console and sshd, a fault naming no guest', async () => {
    for (const args of [
      ['emulator', 'console', '--state', emu.state, 'guest999', '--', 'true'],
      ['emulator', 'sshd', '--state', emu.state, 'stop', 'nosuch'],
      ['emulator', 'fault', '--state', emu.state, 'refuse@guest999'],
    ]) {
      const r = await fleet(...args);
      expect([args[1], r.code, r.err.trimEnd().split('\n').length]).toEqual([args[1], 2, 1]);
      expect(r.err).not.toMatch(/internal error/);
    }
    const ok = await fleet('emulator', 'console', '--state', emu.state, 'guest001', '--', 'echo', 'hi');
    expect([ok.code, ok.out]).toEqual([0, 'hi\n']);
  });
});
